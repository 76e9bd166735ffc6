"""What every writer shares: the `write(frame, index)` protocol and its per-face `Patch`
payload, closing and aborting, the buffer ring a worker thread drains, and publishing
under a temporary name.

Outputs appear under their final name only when `close()` has succeeded (temp
name + rename, as DESIGN.md asks); `abort()`, or an exception inside a `with`
block, leaves nothing behind.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ...errors import FaceswapError, os_reason
from ..plates import Plate


@dataclass
class Patch:
    """A face composited into a frame, as an RGBA layer: `rgba` (HxWx4 uint8, straight
    alpha) goes at (`x`, `y`) in the frame (pixels; it may hang over the edge);
    `face_matrix` (2x3) maps frame coordinates to the aligned crop the model saw;
    `track` is the face track; `plate_rgba`, for a plate, the same layer in the plate's own
    colour space, premultiplied, at full precision (written as half-float EXR)."""

    rgba: np.ndarray
    x: int
    y: int
    face_matrix: Any
    track: int = 0
    # over a plate: (h, w, 4) float32, colour premultiplied by alpha, in the plate's own space
    plate_rgba: np.ndarray | None = None


_W = TypeVar("_W", bound="FrameWriter")


class FrameWriter:
    """One output. `write(frame, index)` for each frame, then `close()` (publish) or
    `abort()` (remove the partial output); `with writer:` does either.

    Every writer takes the same call, so a caller never asks which kind it holds:
    `frame` is the HxWx3 uint8 RGB frame as it should look; `index` its frame number
    in the source (None: one after the last); `name` the source image's file name
    (used by writers that keep names); `patches` the faces composited into it as RGBA
    layers (kept by writers for compositors). A writer ignores what it does not need;
    `keeps_patches` says whether it reads `patches`, so a caller can skip building them.
    """

    keeps_patches = False
    path: Path
    width: int
    height: int
    rate: Fraction
    frames_written: int = 0
    _closed = False
    _aborted = False

    def write(self, frame: np.ndarray, index: int | None = None, *, name: str | None = None,
              patches: Sequence[Patch] = (), plate: Plate | None = None) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> Path:  # pragma: no cover - interface
        """Finish writing and give the output its final name; returns that name."""
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - interface
        """Stop and remove the partial output. Safe to call twice."""
        raise NotImplementedError

    @property
    def fps(self) -> float:
        """The frame rate, in frames a second."""
        return float(self.rate)

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _check_open(self) -> None:
        if self._closed:
            raise FaceswapError(f"{self.path.name}: writer is closed")

    def _was_closed(self) -> bool:
        """Whether close() has nothing left to do; after an abort that is an error."""
        if self._closed and self._aborted:
            raise FaceswapError(f"cannot write {self.path}: writing was stopped")
        return self._closed


class Pump:
    """Preallocated frame buffers between the caller and one worker thread.

    `put` copies the frame and blocks only when every buffer is queued (the
    encoder is behind), so the caller's compute overlaps encoding and memory does
    not grow with the length of the video. An error in the worker is kept and
    raised to the caller.
    """

    _STOP = object()

    def __init__(self, shape: tuple[int, ...], size: int, consume: Callable[[np.ndarray, int], None],
                 name: str, dtype: Any = np.uint8) -> None:
        self._consume = consume
        self._free: queue.Queue = queue.Queue()
        for _ in range(max(size, 2)):
            self._free.put(np.empty(shape, dtype))
        self._full: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, frame: np.ndarray, index: int) -> None:
        """Queue a copy of `frame` for the worker; raises the worker's error, if any."""
        while True:
            if self.error is not None:
                raise self.error
            try:
                buf = self._free.get(timeout=0.2)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise RuntimeError("writer thread stopped") from self.error
        np.copyto(buf, frame)
        self._full.put((buf, index))

    def _run(self) -> None:
        while True:
            item = self._full.get()
            if item is self._STOP:
                return
            buf, index = item
            # After an error, keep taking buffers so the caller never blocks; it sees the error.
            if self.error is None and not self._cancelled:
                try:
                    self._consume(buf, index)
                except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                    self.error = err
            self._free.put(buf)

    def finish(self, cancel: bool = False) -> None:
        """Let the worker drain the queue (or drop it, when cancelling) and stop."""
        self._cancelled = self._cancelled or cancel
        if self._thread.is_alive():
            self._full.put(self._STOP)
            self._thread.join()


def header_tags(metadata: dict[str, str] | None, description: str) -> dict[str, str]:
    """An image file's header entries from the synthetic-media tags: `faceswap:<key>` for each,
    the comment under the format's own `description` keyword (EXR/DPX/TIFF ImageDescription,
    PNG Comment), which viewers show."""
    tags = {f"faceswap:{k}": str(v) for k, v in (metadata or {}).items() if k != "comment"}
    if metadata and "comment" in metadata:
        tags[description] = str(metadata["comment"])
    return tags


def check_frame(frame: np.ndarray, shape: tuple[int, ...] | None) -> None:
    """Raise ValueError unless `frame` is a uint8 RGB array of `shape` (None: any HxWx3)."""
    ok = isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and (
        frame.shape == shape if shape is not None else frame.ndim == 3 and frame.shape[2] == 3)
    if not ok:
        got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"frame must be a {shape or 'HxWx3'} uint8 RGB array, not {got}")


def partial_file(path: Path) -> Path:
    """Temp name beside the output, keeping the real suffix so ffmpeg picks the muxer."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def partial_folder(path: Path) -> Path:
    """Create (empty) and return the temp folder beside the output folder `path`;
    a previous run's leftover of that name is removed: the name is ours."""
    tmp = path.with_name(f".{path.name}.partial")
    remove(tmp)
    try:
        tmp.mkdir()
    except OSError as err:
        raise FaceswapError(f"cannot create {tmp}: {oserror_line(err)}") from err
    return tmp


def remove(path: Path) -> None:
    """Delete a file or folder tree if it is there; errors are ignored (best effort on cleanup)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def check_overwrite_folder(folder: Path, overwrite: bool, patterns: Sequence[str], what: str) -> None:
    """Raise FaceswapError unless `folder` may be replaced by `what`: it does not exist, is
    empty, or (with `overwrite`) holds only files matching `patterns` (what a writer makes)."""
    if folder.exists() and not folder.is_dir():
        raise FaceswapError(f"{folder} is a file: {what} needs a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise FaceswapError(f"{folder} exists and is not empty: pass overwrite (--overwrite) to replace it")
        regs = [re.compile(p) for p in patterns]
        if not all(any(r.fullmatch(p.name) for r in regs) or p.name.startswith(".") for p in folder.iterdir()):
            # Never delete a folder of someone's other work because of --overwrite.
            raise FaceswapError(f"{folder} holds files that faceswap did not write: choose an empty or new folder")


def write_file(path: Path, data: bytes) -> None:
    """Write bytes into a writer's temp folder (the folder is published whole, so
    the file itself need not be atomic). Raises FaceswapError on an OS error."""
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as err:
        remove(path)
        raise FaceswapError(f"cannot write {path}: {oserror_line(err)}") from err


def publish_folder(tmp: Path, path: Path) -> None:
    """Rename the finished folder `tmp` to `path`; a replaced one is moved aside first
    (a folder cannot be renamed over a non-empty one) and put back on failure."""
    old = None
    try:
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
    except OSError as err:
        if old is not None and not path.exists():
            os.replace(old, path)
        raise FaceswapError(f"cannot write {path}: {oserror_line(err)}") from err
    if old is not None:
        remove(old)


def oserror_line(err: OSError) -> str:
    """An OSError as the few words a user needs."""
    return os_reason(err)
