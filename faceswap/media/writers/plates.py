"""Image sequences written as plates: each frame under its plate frame number, in the
sequence's own format, type and bit depth (OpenImageIO), with its header kept.

Frames are written into a hidden `.{name}.partial/` folder beside the output and moved
to their final names by `close()`, each with one rename: no half-written file is ever
under a final name, and an interrupted run leaves the output folder as it was.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ...errors import FaceswapError
from ...log import get_logger
from ..codecs import exact_rate
from ..plates import Plate, lossy_compression, write_plate
from ..sequence import PlateSequence, find_sequence, is_sequence_spec
from .base import FrameWriter, Patch, check_frame, oserror_line, partial_folder, remove

__all__ = ["PlateSequenceWriter"]

log = get_logger(__name__)


class PlateSequenceWriter(FrameWriter):
    """Writes frame `index` (a plate frame number) to `target.path(index)`.

    `metadata`: string tags added to each file's header (the synthetic-media tags, as
    `faceswap:<key>`, and the comment as ImageDescription); `inputs`: files that must not be
    overwritten (the source plates). Raises FaceswapError (one line) for a target folder that
    does not exist, a target file that is an input, or target files that exist without
    `overwrite`."""

    def __init__(self, target: PlateSequence, *, fps: float | Fraction | str = 25.0,
                 metadata: dict[str, str] | None = None, overwrite: bool = False,
                 inputs: Sequence[str | Path] = ()) -> None:
        self.target = target
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
        for path in existing:
            if path.resolve() in sources:
                raise FaceswapError(f"output {path} would overwrite the input plate: choose another name or folder")
        if existing and not overwrite:
            raise FaceswapError(f"{len(existing)} frames of {self.path.name} exist in {folder} "
                                f"(e.g. {existing[0].name}): pass --overwrite to replace them")
        tags = {f"faceswap:{k}": v for k, v in (metadata or {}).items() if k != "comment"}
        if metadata and "comment" in metadata:
            tags["ImageDescription"] = metadata["comment"]
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
        if plate is None:
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

    def close(self) -> Path:
        """Move every written frame to its final name; returns the sequence's pattern. Raises
        FaceswapError (after aborting) when nothing was written or a rename fails."""
        if self._was_closed():
            return self.path
        if not self.written:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: no frames were written")
        try:
            for index in self.written:
                final = self.target.path(index)
                os.replace(self.tmp / final.name, final)
        except OSError as err:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: {oserror_line(err)}") from err
        remove(self.tmp)
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Remove the frames not yet moved into place. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._aborted = True
        remove(self.tmp)
