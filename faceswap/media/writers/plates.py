"""Image sequences written as plates: each frame under its plate frame number, in the
sequence's own format, type and bit depth (OpenImageIO), with its header kept.

Frames are written into a hidden `.{name}.partial/` folder beside the output and moved
to their final names by `close()`, each with one rename: no half-written file is ever
under a final name, and an interrupted run leaves the output folder as it was.

A video written as plates (`PlateFormat`, media/output_plan.py) goes through the same
writer: frame N becomes plate `first + N` in the planned type, with its timecode, rate
and colour encoding in each header and the sound beside the frames (`{name}.wav`/`.m4a`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ...errors import FaceswapError
from ...log import get_logger
from ..audio import AudioSource, probe_audio, write_audio_file
from ..codecs import exact_rate
from ..colour import VIDEO_ENCODING_TAG
from ..output_plan import PlateFormat
from ..plates import Plate, lossy_compression, write_plate
from ..sequence import PlateSequence, find_sequence, is_sequence_spec
from ..timecode import shift_timecode, timecode_words
from .base import FrameWriter, Patch, check_frame, header_tags, oserror_line, partial_folder, remove

__all__ = ["PlateSequenceWriter"]

log = get_logger(__name__)


class PlateSequenceWriter(FrameWriter):
    """Writes frame `index` (a plate frame number) to `target.path(index)`.

    `metadata`: string tags added to each file's header (the synthetic-media tags, as
    `faceswap:<key>`, and the comment as ImageDescription); `inputs`: files that must not be
    overwritten (the source plates). `form`: a video's frames, written as that type with frame
    index N at plate `form.first + N`, `timecode` (of `target.frames[0]`, None: none) and
    `colour` (the video's tags) in each header and `audio` cut beside them. Raises
    FaceswapError (one line) for a target folder that does not exist, a target file that is an
    input, or target files that exist without `overwrite`."""

    def __init__(self, target: PlateSequence, *, fps: float | Fraction | str = 25.0,
                 metadata: dict[str, str] | None = None, overwrite: bool = False,
                 inputs: Sequence[str | Path] = (), form: PlateFormat | None = None,
                 timecode: str | None = None, colour: dict[str, str | None] | None = None,
                 audio: AudioSource | None = None) -> None:
        self.target = target
        self.form = form
        self.timecode = timecode
        self.audio = audio
        self.path = Path(target.spec)
        self.rate = exact_rate(fps)
        self.width = self.height = 0
        folder = target.folder
        if not folder.is_dir():
            if not folder.parent.is_dir():
                raise FaceswapError(f"cannot write {self.path}: folder {folder.parent} does not exist")
            try:
                folder.mkdir()
            except OSError as err:
                raise FaceswapError(f"cannot create {folder}: {oserror_line(err)}") from err
        sources = set()
        for given in map(Path, inputs):  # a sequence input: each of its frames' files
            seq = find_sequence(given) if is_sequence_spec(given) and not given.exists() else None
            sources.update(seq.path(f).resolve() for f in seq.frames) if seq else sources.add(given.resolve())
        existing = [target.path(f) for f in target.frames if target.path(f).exists()]
        if audio is not None:   # the sound written beside a video's plates
            existing += [p for p in sorted(folder.glob(f"{target.stem}.*")) if re.fullmatch(
                rf"{re.escape(target.stem)}(\.\d+)?\.(wav|m4a)", p.name)]
        for path in existing:
            if path.resolve() in sources:
                raise FaceswapError(f"output {path} would overwrite the input plate: choose another name or folder")
        if existing and not overwrite:
            raise FaceswapError(f"{len(existing)} frames of {self.path.name} exist in {folder} "
                                f"(e.g. {existing[0].name}): pass --overwrite to replace them")
        tags = header_tags(metadata, "ImageDescription")
        if form is not None:
            tags.update(_colour_tags(colour or {}, form))
        self.tags = tags
        self.tmp = partial_folder(folder / f"{target.stem}")
        self.written: list[int] = []

    def write(self, frame: np.ndarray, index: int | None = None, *, name: str | None = None,
              patches: Sequence[Patch] = (), plate: Plate | None = None) -> None:
        """Write plate frame `index`: `plate` (the converted plate at its own depth) when given,
        else `frame` (HxWx3 uint8 RGB) as an 8-bit image. Raises FaceswapError (after aborting)
        when it cannot be written."""
        self._check_open()
        if index is None:
            raise ValueError("a plate sequence writer needs each frame's plate number")
        if self.form is not None:
            index += self.form.first
            plate = self._video_plate(frame if plate is None else plate.pixels, index)
        elif plate is None:
            check_frame(frame, None)
            plate = Plate(frame, None, ("R", "G", "B"), "uint8", 8)
        if not self.written and (lossy := lossy_compression(plate)) and self.target.ext.lower() == ".exr":
            log.info("the plates are %s compressed, which is lossy: the output is written zip compressed so "
                     "nothing outside the face changes", lossy)
        try:
            write_plate(self.tmp / self.target.path(index).name, plate, self.tags)
        except BaseException:
            self.abort()
            raise
        self.height, self.width = plate.pixels.shape[:2]
        self.written.append(index)
        self.frames_written += 1

    def _video_plate(self, rgb: np.ndarray, number: int) -> Plate:
        """A video frame (HxWx3 uint8, or uint16 for video of more than 8 bits) as plate `number`
        in the planned type: the same code values scaled to it, and its timecode and rate."""
        form = self.form
        assert form is not None
        scale = 1.0 / np.iinfo(rgb.dtype).max
        if form.format in ("half", "float"):
            pixels = (rgb.astype(np.float32) * scale).astype(np.float16 if form.format == "half" else np.float32)
        elif form.format == "uint16":
            pixels = rgb.astype(np.uint16) * 257 if rgb.dtype == np.uint8 else rgb
        else:
            pixels = rgb if rgb.dtype == np.uint8 else (rgb.astype(np.uint32) * 255 + 32767) // 65535
            pixels = pixels.astype(np.uint8)
        import OpenImageIO as oiio

        attributes: list = [("FramesPerSecond", oiio.TypeRational, [self.rate.numerator, self.rate.denominator])]
        if form.ext == ".dpx":   # DPX's own field (the film and television headers' frame rate)
            attributes.append(("dpx:FrameRate", oiio.TypeFloat, float(self.rate)))
        if self.timecode is not None:
            tc = shift_timecode(self.timecode, number - self.target.frames[0], float(self.rate))
            attributes.append(("smpte:TimeCode", oiio.TypeTimeCode, list(timecode_words(tc, float(self.rate)))))
        return Plate(np.ascontiguousarray(pixels), None, ("R", "G", "B"), form.format, form.bits, attributes)

    def close(self) -> Path:
        """Move every written frame (and a video's sound) to its final name; returns the
        sequence's pattern. Raises FaceswapError (after aborting) when nothing was written, the
        sound cannot be cut or a rename fails."""
        if self._was_closed():
            return self.path
        if not self.written:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: no frames were written")
        try:
            for name in self._cut_audio():
                os.replace(self.tmp / name, self.target.folder / name)
            for index in self.written:
                final = self.target.path(index)
                os.replace(self.tmp / final.name, final)
        except OSError as err:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: {oserror_line(err)}") from err
        except BaseException:
            self.abort()
            raise
        remove(self.tmp)
        self._closed = True
        return self.path

    def _cut_audio(self) -> list[str]:
        """The video's audio tracks for the frames written, in the temporary folder as
        `{stem}.wav` (or .m4a, see audio.write_audio_file), the second `{stem}.2.wav` and so on."""
        if self.audio is None:
            return []
        probe = probe_audio(self.audio.path)
        duration = self.audio.duration_s or len(self.written) / float(self.rate)
        names = [write_audio_file(self.audio, probe, duration, self.tmp, track,
                                  self.target.stem + (f".{track + 1}" if track else ""))
                 for track in range(len(probe.codecs))]
        if names:
            log.info("sound: %s beside the plates (an image sequence holds none)", ", ".join(names))
        return names

    def abort(self) -> None:
        """Remove the frames not yet moved into place. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._aborted = True
        remove(self.tmp)


# DPX's transfer/colorimetric names (SMPTE 268) for the video tags they have one for.
_DPX_CURVES = {"bt709": "ITU-R 709-4", "smpte170m": "ITU-R 601-5 525-line", "bt470bg": "ITU-R 601-5 625-line"}


def _colour_tags(colour: dict[str, str | None], form: PlateFormat) -> dict[str, str]:
    """Header entries that say how a video's frames are encoded: its tags as ffmpeg names them
    (`faceswap:colour_*`; `colour_source_range` is the video's, whose code values were scaled to
    full range on decoding), and DPX's own transfer/colorimetric fields where SMPTE 268 names them."""
    tags = {f"faceswap:colour_{'source_range' if k == 'range' else k}": str(v) for k, v in colour.items() if v}
    tags[VIDEO_ENCODING_TAG] = "video R'G'B' code values, full range, not linearised"
    if form.ext == ".dpx":
        if colour.get("transfer") in _DPX_CURVES:
            tags["dpx:Transfer"] = _DPX_CURVES[str(colour["transfer"])]
        if colour.get("primaries") in _DPX_CURVES:
            tags["dpx:Colorimetric"] = _DPX_CURVES[str(colour["primaries"])]
    return tags
