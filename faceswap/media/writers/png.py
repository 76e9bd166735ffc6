"""PNG frames: a numbered sequence of one size (with its sound and a `sequence.json`),
or images under their input names, each of its own size.

Both are written into `.name.partial/` and renamed to `name/` by `close()`, so
each file needs no rename of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ... import defaults
from ...errors import FaceswapError
from ...log import get_logger
from ..audio import AudioSource, probe_audio, write_audio_file
from ..codecs import check_not_input, check_output, exact_rate
from ..images import encode_png
from ..plates import Plate, write_plate
from ..timing import Timeline
from .base import (
    FrameWriter,
    Patch,
    Pump,
    check_frame,
    check_overwrite_folder,
    header_tags,
    oserror_line,
    partial_folder,
    publish_folder,
    remove,
    write_file,
)

__all__ = ["ImageSetWriter", "PngSequenceWriter", "png_text"]

log = get_logger(__name__)


def png_text(metadata: dict[str, str]) -> dict[str, str]:
    """A still's PNG text entries from the synthetic-media tags (`header_tags`; the comment as
    PNG's standard `Comment` keyword)."""
    return header_tags(metadata, "Comment")


class PngSequenceWriter(FrameWriter):
    """A folder of `000000.png ...` frames, written by a thread into
    `.name.partial/` and renamed to `name/` by `close()`.

    Beside the frames: `sequence.json` (size, exact rate, frame range, the
    metadata tags, audio file) and `audio.m4a` / `audio.wav` when there is audio.
    Raises FaceswapError (one line) for a path that is a file, an output that would
    contain an input, or a non-empty folder without `overwrite` (or holding files a
    writer did not make).
    """

    PATTERNS = (r"\d+\.png", r"audio\.(m4a|wav)", r"sequence\.json", r"provenance\.json")

    def __init__(self, folder: str | Path, *, width: int, height: int, fps: float | Fraction | str,
                 codec: str | None = "png", crf: int | None = None, preset: str | None = None,
                 audio: AudioSource | None = None, metadata: dict[str, str] | None = None,
                 overwrite: bool = False, inputs: Sequence[str | Path] = (), start_number: int = 0,
                 compression: int = defaults.PNG_COMPRESSION, queue_size: int = defaults.WRITER_QUEUE,
                 timeline: Timeline | None = None) -> None:
        self.path = Path(folder)
        if codec not in (None, "png"):
            raise FaceswapError(f"PngSequenceWriter writes png, not {codec}")
        check_output(self.path, "png")
        if crf is not None or preset is not None:
            log.warning("png frames are lossless: crf/preset are ignored")
        self.width, self.height = int(width), int(height)
        self.rate = exact_rate(fps)
        check_not_input(self.path, [*inputs, *([audio.path] if audio else [])])
        check_overwrite_folder(self.path, overwrite, self.PATTERNS, "a PNG sequence")
        self.audio = audio
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        self.compression = compression
        self.frames_written = 0
        # variable-frame-rate footage: PNGs carry no time, so sequence.json lists each frame's
        self.timeline = timeline
        self._indices: list[int] = []
        self.first_index: int | None = None
        self.last_index: int | None = None
        self._next = start_number
        self._closed = False
        self.tmp = partial_folder(self.path)
        self._pump = Pump((self.height, self.width, 3), queue_size, self._save, "png-writer")

    def _save(self, buf: np.ndarray, index: int) -> None:
        write_file(self.tmp / f"{index:06d}.png", encode_png(buf, self.compression))

    def write(self, frame: np.ndarray, index: int | None = None, *, name: str | None = None,
              patches: Sequence[Patch] = (), plate: Plate | None = None) -> None:
        """Queue a frame as `{index:06d}.png` (index: as given, else counted on); `name` and
        `patches` are ignored. Raises ValueError for a frame of another size or type,
        FaceswapError (after aborting) when a frame could not be written."""
        self._check_open()
        check_frame(frame, (self.height, self.width, 3))
        index = self._next if index is None else int(index)
        try:
            self._pump.put(frame, index)
        except FaceswapError:
            self.abort()
            raise
        except OSError as err:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: {oserror_line(err)}") from err
        self._written(index)

    def _written(self, index: int) -> None:
        self.first_index = index if self.first_index is None else min(self.first_index, index)
        self.last_index = index if self.last_index is None else max(self.last_index, index)
        self._next = index + 1
        self.frames_written += 1
        if self.timeline is not None:
            self._indices.append(index)

    def close(self) -> Path:
        """Wait for the frames, add the sound and `sequence.json`, and rename the folder into
        place; returns its name. Raises FaceswapError (after aborting) on any failure."""
        if self._was_closed():
            return self.path
        self._pump.finish()
        if self._pump.error is not None:
            err = self._pump.error
            self.abort()
            if isinstance(err, FaceswapError):
                raise err
            raise FaceswapError(f"cannot write {self.path}: {err}") from err
        if self.frames_written == 0:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: no frames were written")
        try:
            audio_name = self._extract_audio()
            info = {"format": "faceswap-png-sequence", "version": 1, "width": self.width, "height": self.height,
                    "fps": float(self.rate), "rate": f"{self.rate.numerator}/{self.rate.denominator}",
                    "frames": self.frames_written, "first": self.first_index, "last": self.last_index,
                    "pattern": "%06d.png", "audio": audio_name, "tags": self.metadata}
            if self.timeline is not None:
                # seconds from the first frame written, per frame in file order ("fps" is then
                # only the average): where each frame belongs on a timeline, as the footage shows it
                first = min(self._indices)
                info["variable_rate"] = True
                info["times"] = [round(self.timeline.seconds(i, first), 6) for i in sorted(self._indices)]
            write_file(self.tmp / "sequence.json", (json.dumps(info, indent=2) + "\n").encode())
            publish_folder(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def _extract_audio(self) -> str | None:
        if self.audio is None:
            return None
        probe = probe_audio(self.audio.path)
        if not probe.codecs:
            log.info("%s has no audio: the sequence will have none", self.audio.path.name)
            return None
        # Without a duration the audio stops with the last frame written.
        duration = self.audio.duration_s or self.frames_written / float(self.rate)
        return write_audio_file(self.audio, probe, duration, self.tmp)

    def abort(self) -> None:
        """Stop the writer thread and delete the partial folder. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._aborted = True
        self._pump.finish(cancel=True)
        remove(self.tmp)


class ImageSetWriter(PngSequenceWriter):
    """Images named after the input images, each of its own size: what converting a folder of
    images gives. 8-bit images become PNGs (`photo.jpg` -> `photo.png`); plates (EXR, DPX,
    16-bit PNG/TIFF) keep their format and depth (`shot.0101.exr` -> `shot.0101.exr`). Written
    into `.name.partial/` and renamed into place by `close()`, as a PNG sequence."""

    PATTERNS = (r".+\.(png|exr|dpx|cin|hdr|tiff?)", r"sequence\.json", r"provenance\.json")

    def write(self, frame: np.ndarray, index: int | None = None, *, name: str | None = None,
              patches: Sequence[Patch] = (), plate: Plate | None = None) -> None:
        """Write `plate` as `name` in its own format when given, else an HxWx3 uint8 RGB frame of
        any size as `{stem of name}.png` (no name: `{index:06d}.png`); `patches` are ignored.
        Raises ValueError for a frame that is not HxWx3 uint8, FaceswapError (after aborting)
        when it could not be written."""
        self._check_open()
        check_frame(frame, None)
        index = self._next if index is None else int(index)
        stem = Path(name).stem if name else f"{index:06d}"
        try:
            if plate is not None:
                write_plate(self.tmp / f"{stem}{Path(name or '.png').suffix.lower()}", plate,
                            header_tags(self.metadata, "ImageDescription"))
            else:   # the tags in the PNG's text, as a plate's are in its header
                write_file(self.tmp / f"{stem}.png", encode_png(frame, self.compression, png_text(self.metadata)))
        except BaseException:
            self.abort()
            raise
        self._written(index)
