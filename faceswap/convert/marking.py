"""The invisible watermark (media/watermark.py) on what convert writes.

`frame`: every output frame carries it, faces or not (outputs made from video). `face`: only
the swapped faces carry it, weighted by their blend alpha, so every other pixel stays the
input's (plates, stills; also the layers of `--codec patch`). The payload is the tool byte and
an output id, the first 40 bits of the job's key (provenance.record_job_key), so the id is the
same for every segment and every resumed run of one job and leads back to its record.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import FaceswapError
from ..media import watermark
from ..provenance import job_key, record_job_key
from .composite import Placed

__all__ = ["CACHED_SIZES", "SCHEME", "Marker", "job_mark_id", "output_id", "resolve_mode"]

# media/watermark.py's layout; verify reads it, tile-4 (the same layout at fixed amplitudes), and tile-2/3 by
# their luma tile (unchanged). The reader needs nothing new for tile-5's amplitudes.
SCHEME = "faceswap-tile-5"
# Frame sizes whose mark a Marker keeps made (the least recently used goes first): a clip has one
# size, a plate with proxies two; each costs about 50 MB at 1080p (the three amplitude levels' adds
# and subs and the embedders' working copies), 200 MB at 4K.
CACHED_SIZES = 2


def resolve_mode(mode: str, source_kind: str) -> str:
    """The mode `auto` stands for with this input (frame for video, face for the rest). Raises
    FaceswapError for `frame` on images or plates, whose other pixels must stay the input's."""
    if mode == "auto":
        return "frame" if source_kind == "video" else "face"
    if mode == "frame" and source_kind != "video":
        raise FaceswapError("--watermark frame is for video input: images and plates keep every pixel outside "
                            "the face (use face, the default for them, or off)")
    return mode


def _ident(key: str) -> int:
    return int(key[:10], 16)   # the job key's first 40 bits


def output_id(record: dict[str, Any]) -> int:
    """The 40-bit output id of the job `record` describes."""
    key = record_job_key(record)
    if key is None:
        raise ValueError("the record lacks its job's inputs, model or settings")
    return _ident(key)


def job_mark_id(input_path: str | Path, model_dir: str | Path, options: Any) -> int:
    """The output id of the job that converts `input_path` with `model_dir` and `options` (a
    ConvertOptions) in one piece: what its segments mark their frames with."""
    return _ident(job_key({"input": input_path}, model_dir, options.to_dict()))


class Marker:
    """Adds the mark for one output. `mode`: frame or face (see the module)."""

    def __init__(self, mode: str, ident: int) -> None:
        self.mode = mode
        self.ident = ident
        self._cache: dict[tuple[int, int], dict[str, Any]] = {}

    def _patterns(self, height: int, width: int) -> dict[str, Any]:
        """The mark for a frame size, made once a run: `pattern` (watermark.Pattern), and the
        embedders that mark a clip's frames one after another, `uint8` and `uint16` (10/12-bit
        video, the mark scaled to the same levels), made when first needed."""
        key = (height, width)
        if key in self._cache:
            self._cache[key] = self._cache.pop(key)   # the most recently used goes last
        else:
            # a folder of stills of many sizes would otherwise keep every size's (50 MB at 1080p)
            while len(self._cache) >= CACHED_SIZES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = {"pattern": watermark.mark_pattern(self.ident, height, width)}
        return self._cache[key]

    def frame(self, pixels: np.ndarray) -> None:
        """Mark a whole frame in place: (H, W, 3) uint8, or uint16 (deep video)."""
        p = self._patterns(*pixels.shape[:2])
        kind = pixels.dtype.name
        if kind not in p:
            p[kind] = watermark.Embedder(p["pattern"].deep() if pixels.dtype == np.uint16 else p["pattern"])
        p[kind](pixels)

    def face(self, placed: Placed, frame_shape: tuple[int, ...]) -> Placed:
        """A copy of `placed` whose colour carries the mark (for plates and patches, which lay the
        face over the input with its alpha). Raises ValueError for a face placed outside the
        frame's top or left edge (the compositor clips every face's box to the frame)."""
        if placed.x < 0 or placed.y < 0:
            raise ValueError("a face's box must start inside the frame")
        # the face where it lands decides the squares' levels, its edges stretched over the rest of
        # the frame (black there would make every square across its border busy)
        height, width = frame_shape[:2]
        rgb = placed.rgb[:height - placed.y, :width - placed.x]
        canvas = cv2.copyMakeBorder(rgb, placed.y, height - placed.y - rgb.shape[0], placed.x,
                                    width - placed.x - rgb.shape[1], cv2.BORDER_REPLICATE)
        region = self._region(placed, canvas)
        rgb = placed.rgb.copy()
        h, w = region.shape[:2]
        rgb[:h, :w] = np.clip(rgb[:h, :w].astype(np.int16) + region, 0, 255).astype(np.uint8)
        return dataclasses.replace(placed, rgb=rgb)

    def face_into(self, image: np.ndarray, placed: Placed) -> None:
        """Add the mark to the face `placed` already composited into `image` ((H, W, 3) uint8),
        weighted by its alpha: pixels the face did not touch stay as they are."""
        region = self._region(placed, image)
        h, w = region.shape[:2]
        alpha = placed.alpha[:h, :w, None]
        inside = alpha[..., 0] > 0
        target = image[placed.y:placed.y + h, placed.x:placed.x + w]
        moved = target.astype(np.float32) + region * alpha
        target[inside] = np.clip(np.rint(moved[inside]), 0, 255).astype(np.uint8)

    def _region(self, placed: Placed, image: np.ndarray) -> np.ndarray:
        """(h, w, 3) int16: the mark over `placed`, each square at the level `image` (the frame the
        face lands in) gives it (watermark.square_levels)."""
        pattern = self._patterns(*image.shape[:2])["pattern"]
        h, w = placed.alpha.shape
        return pattern.signed(watermark.square_levels(image, pattern.block),
                              slice(placed.y, placed.y + h), slice(placed.x, placed.x + w))

    def record(self) -> dict[str, Any]:
        """The provenance record's `watermark` section."""
        return {"scheme": SCHEME, "mode": self.mode, "output_id": f"{self.ident:010x}"}
