"""Image sequences named as VFX pipelines name them, found on disk with fileseq.

A plate is a numbered run of files: `sh010_plate.1001.exr ... sh010_plate.1240.exr`.
Users name it by a pattern: `sh010_plate.####.exr` (one `#` per digit, or a single `#`
for any padding), `sh010_plate.%04d.exr`, `sh010_plate.@@@@.exr`, `sh010_plate.$F4.exr`,
or a frame range in fileseq's notation, `sh010_plate.1001-1240#.exr`. The frame numbers
are the plate's own (1001, not 0): outputs keep them, alignments key on them and
`--frames` takes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FaceswapError

__all__ = ["PlateSequence", "check_pattern_folder", "find_sequence", "first_number", "is_sequence_spec", "output_pattern", "plates_pattern",
           "sequence_stem"]

# A padding token in a file name (Nuke/Houdini hashes, printf, fileseq's @, Houdini $F), with an
# optional fileseq frame range before it ("1001-1240#"): what makes a path a sequence pattern.
_SPEC_RE = re.compile(r"(?:#+|@+|%0?\d*d|\$F\d*)(\.[A-Za-z0-9]+)?$")


def is_sequence_spec(path: str | Path) -> bool:
    """True when the file name of `path` carries a padding token (`#`, `@`, `%04d`, `$F4`)."""
    return _SPEC_RE.search(Path(path).name) is not None


def _parse(spec: Path):
    import fileseq

    # one # per digit (Nuke's convention), not fileseq's default of four
    return fileseq.FileSequence(str(spec), pad_style=fileseq.PAD_STYLE_HASH1)


@dataclass(frozen=True)
class PlateSequence:
    """A numbered image sequence on disk: `folder/basename + frame (zero-padded to pad) + ext`."""

    folder: Path
    basename: str        # "sh010_plate." (everything before the number)
    pad: int             # digits of the frame number
    ext: str             # ".exr"
    frames: tuple[int, ...]  # the plate frame numbers present, ascending

    def path(self, frame: int) -> Path:
        """The file of plate frame `frame`."""
        return self.folder / f"{self.basename}{frame:0{self.pad}d}{self.ext}"

    def name(self, frame: int) -> str:
        """The frame number as the files write it ("1001"): the key of the frame in alignments."""
        return f"{frame:0{self.pad}d}"

    @property
    def spec(self) -> str:
        """The pattern with one `#` per digit: `folder/sh010_plate.####.exr`."""
        return str(self.folder / f"{self.basename}{'#' * self.pad}{self.ext}")

    @property
    def stem(self) -> str:
        """A name for files about this sequence ("sh010_plate"): the basename without its separator."""
        return self.basename.rstrip("._-") or "sequence"

    def missing(self) -> list[int]:
        """Frame numbers between the first and last that are not on disk."""
        have = set(self.frames)
        return [f for f in range(self.frames[0], self.frames[-1] + 1) if f not in have]


def find_sequence(spec: str | Path) -> PlateSequence:
    """The frames on disk that `spec` names (see the module's notations; fileseq finds them,
    whatever their padding). A range in the spec limits the frames to it. Raises FaceswapError
    (one line) when no file matches, or none of the range's frames exists."""
    import fileseq

    spec = Path(spec)
    if not is_sequence_spec(spec):
        raise FaceswapError(f"{spec} is not an image sequence pattern (e.g. plate.####.exr, plate.%04d.exr)")
    if not spec.parent.is_dir():
        raise FaceswapError(f"no such folder: {spec.parent} (for the sequence {spec.name})")
    try:
        asked = _parse(spec).frameSet()
        found = fileseq.findSequenceOnDisk(str(spec), pad_style=fileseq.PAD_STYLE_HASH1)
    except fileseq.FileSeqException:
        raise FaceswapError(f"no files of the sequence {spec.name} in {spec.parent}") from None
    frames = sorted(found.frameSet()) if found.frameSet() is not None else []
    if asked is not None:
        allowed = set(asked)
        frames = [f for f in frames if f in allowed]
    if not frames:
        raise FaceswapError(f"none of the frames {asked} of {spec.name} is in {spec.parent}")
    return PlateSequence(Path(found.dirname() or "."), found.basename(), found.zfill(), found.extension(),
                         tuple(frames))


def output_pattern(output: str | Path, source: PlateSequence) -> PlateSequence:
    """Where a converted sequence goes: `output` a pattern (`out/sh010_comp.####.exr`: its name,
    its padding, else the source's) or a folder (the source's own file names inside it). The
    frames are the source's. Raises FaceswapError for a pattern whose folder cannot be made
    (its parent does not exist; the writer makes the folder itself) or whose file type is not
    the source's."""
    output = Path(output)
    if not is_sequence_spec(output):
        return PlateSequence(output, source.basename, source.pad, source.ext, source.frames)
    check_pattern_folder(output)
    parsed = _parse(output)
    ext = parsed.extension() or source.ext
    if ext.lower() != source.ext.lower():
        # a float EXR written as .dpx would silently become a float DPX few tools read;
        # converting plate formats (and their colour) is oiiotool's job
        raise FaceswapError(f"the output keeps the plates' file type: write {parsed.basename()}"
                            f"{'#' * max(parsed.zfill(), 1)}{source.ext}, not {output.name}")
    # a single # (or %d, $F, @) says "numbered", not "one digit": the source's padding then
    pad = parsed.zfill() if parsed.zfill() > 1 else source.pad
    return PlateSequence(output.parent, parsed.basename(), pad, ext, source.frames)


def check_pattern_folder(output: Path) -> None:
    """Raise FaceswapError (one line) when a pattern's folder cannot be made: the writer makes
    the folder itself, so only its parent must exist."""
    if not output.parent.is_dir() and not output.parent.parent.is_dir():
        raise FaceswapError(f"cannot write {output}: folder {output.parent.parent} does not exist")


def first_number(spec: str | Path, default: int) -> int:
    """The first frame of the range a pattern names (`out.1-240#.exr` -> 1), else `default`."""
    frames = _parse(Path(spec)).frameSet()
    return int(frames.start()) if frames is not None and len(frames) else default


def plates_pattern(output: str | Path, frames: range) -> PlateSequence:
    """Where a video's frames go as plates: the pattern `output` (its padding; a single `#` or
    none: 4 digits, or more when the last number needs them) holding plate numbers `frames`."""
    parsed = _parse(Path(output))
    pad = parsed.zfill() if parsed.zfill() > 1 else max(4, len(str(max(frames.stop - 1, 0))))
    return PlateSequence(Path(output).parent, parsed.basename(), pad, parsed.extension(), tuple(frames))


def sequence_stem(path: str | Path) -> str:
    """The name files about a source are called by: a sequence pattern's basename
    ("sh010_plate" for sh010_plate.####.exr), else the file's or folder's stem."""
    path = Path(path)
    if is_sequence_spec(path):
        return _parse(path).basename().rstrip("._-") or "sequence"
    return path.stem
