"""A faceset folder: aligned crops (PNG + metadata) and one alignments file per source.

Layout::

    FACESET/
      <source>_<frame>_<n>.png        one aligned crop per face, metadata inside
      <source>.alignments.jsonl       header line, then one line per processed frame
      contact_sheet.png               optional preview

The crops are the training set: deleting a file removes that face and
nothing else needs editing. The alignments file records every processed
frame (with or without faces) so a second run resumes where the first
stopped; a torn last line from a crash is ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FaceswapError, os_reason
from ..media.images import atomic_write_bytes, encode_png, read_image
from ..media.sequence import sequence_stem
from .png_meta import add_metadata, read_metadata

FORMAT = "faceswap-alignments"
VERSION = 1
CROP_FORMAT = "faceswap-face"


def alignments_path(faceset: str | Path, source: str | Path) -> Path:
    """`<faceset>/<source stem>.alignments.jsonl` (a sequence plate.####.exr: plate.alignments.jsonl)."""
    return Path(faceset) / f"{sequence_stem(source)}.alignments.jsonl"


def crop_filename(source: str | Path, frame_name: str, face_index: int) -> str:
    """The crop's file name: `<source stem>_<frame name stem>_<face index>.png`."""
    return f"{sequence_stem(source)}_{Path(frame_name).stem}_{face_index}.png"


def round_array(arr: np.ndarray, decimals: int = 2) -> list:
    return np.round(np.asarray(arr, np.float64), decimals).tolist()


def write_crop(path: str | Path, crop: np.ndarray, meta: dict[str, Any]) -> None:
    """Atomically write an RGB crop as a PNG that carries `meta`."""
    atomic_write_bytes(path, add_metadata(encode_png(crop, compression=1), {"format": CROP_FORMAT, **meta}))


def read_crop(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """(RGB crop, metadata) of a faceset PNG."""
    meta = read_metadata(path)
    if meta is None or meta.get("format") != CROP_FORMAT:
        raise FaceswapError(f"{path} is not a faceswap face crop (no metadata)")
    img = read_image(path)
    if img is None:
        raise FaceswapError(f"cannot read image {path}")
    return img, meta


@dataclass
class FaceRecord:
    """A crop in a faceset: its path and metadata."""

    path: Path
    meta: dict[str, Any]

    @property
    def landmarks(self) -> np.ndarray:
        """68 landmarks in frame pixels."""
        return np.asarray(self.meta["landmarks"], np.float64)

    @property
    def matrix(self) -> np.ndarray:
        """2x3 frame -> crop pixels."""
        return np.asarray(self.meta["crop"]["matrix"], np.float64)


def iter_faceset(folder: str | Path) -> Iterator[FaceRecord]:
    """Every face crop left in a faceset folder (what the user has not deleted)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FaceswapError(f"no such faceset folder: {folder}")
    for path in sorted(folder.glob("*.png")):
        meta = read_metadata(path)
        if meta is not None and meta.get("format") == CROP_FORMAT:
            yield FaceRecord(path, meta)


def working_spaces(folder: str | Path) -> set[str]:
    """The working spaces a faceset's crops were extracted in, from its alignments files' headers
    (files written before extract recorded it: defaults.WORKING_SPACE, the only one there was)."""
    from .. import defaults

    spaces = set()
    for path in sorted(Path(folder).glob("*.alignments.jsonl")):
        try:
            with open(path, encoding="utf-8") as fh:
                header = json.loads(fh.readline() or "{}")
        except (OSError, json.JSONDecodeError):
            continue  # loading the faceset says what is wrong with it
        spaces.add(str(header.get("working_space", defaults.WORKING_SPACE)))
    return spaces


class AlignmentsFile:
    """Append-only JSON Lines record of one source's processed frames."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.header: dict[str, Any] | None = None
        self.frames: dict[str, dict[str, Any]] = {}
        self._fh = None
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        good_bytes = 0
        with open(self.path, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # torn write from an interrupted run
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError:
                    break
                good_bytes += len(raw)
                if self.header is None:
                    if record.get("format") != FORMAT:
                        raise FaceswapError(f"{self.path} is not a faceswap alignments file")
                    self.header = record
                else:
                    self.frames[record["name"]] = record
        if good_bytes < self.path.stat().st_size:
            with open(self.path, "r+b") as fh:
                fh.truncate(good_bytes)

    def track_ids(self) -> set[int]:
        """Every face track id the recorded frames use."""
        return {int(f["track"]) for record in self.frames.values() for f in record["faces"]}

    def open(self, header: dict[str, Any]) -> None:
        """Start appending; writes the header if the file is new."""
        try:
            self._fh = open(self.path, "a", encoding="utf-8")
            if self.header is None:
                self.header = {"format": FORMAT, "version": VERSION, **header}
                self._write(self.header)
        except OSError as err:
            raise FaceswapError(f"cannot write {self.path}: {os_reason(err)}") from err

    def _write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._fh.flush()

    def append(self, record: dict[str, Any]) -> None:
        """Record one processed frame; durable once this returns."""
        try:
            self._write(record)
        except OSError as err:
            raise FaceswapError(f"cannot write {self.path}: {os_reason(err)}") from err
        self.frames[record["name"]] = record

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
