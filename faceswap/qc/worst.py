"""The few worst frames of each measure, kept as small original | output thumbnails.

Frames are not kept: a thumbnail is cut only when a frame enters a
measure's top list, so memory is a fixed number of tiles whatever the
video's length.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .. import defaults
from ..faces.geometry import box_crop, square_box
from ..faces.types import Face

# The thumbnail shows a square this many face sizes wide around the face.
CONTEXT = 1.6


@dataclass(order=True)
class Worst:
    value: float
    order: int  # -frame: on equal values the earlier frame is kept
    frame: int = field(compare=False)
    tile: np.ndarray = field(compare=False)  # tile x 2*tile x 3 RGB: original | output
    text: str = field(default="", compare=False)  # what the sheet prints (default: the value)


def thumbnail_pair(original: np.ndarray, output: np.ndarray, faces: list[Face | None],
                   tile: int = defaults.QC_TILE) -> np.ndarray:
    """Original | output, each cut to the same square around the face(s) (the whole frame
    when there is none) and scaled to `tile` pixels."""
    h, w = original.shape[:2]
    boxes = [f.bbox for f in faces if f is not None]
    if boxes:
        b = np.array(boxes)
        square = square_box((b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()), CONTEXT, 8.0)
    else:
        square = square_box((0, 0, w, h))

    def cut(img: np.ndarray) -> np.ndarray:
        if img.shape[:2] != (h, w):  # an output of another size: shown whole
            return cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)
        return box_crop(img, square, tile, border_value=(32, 32, 32))

    return np.concatenate([cut(original), cut(output)], axis=1)


class WorstFrames:
    """Keeps, per measure, the `keep` frames with the highest value (values <= 0 are never kept)."""

    def __init__(self, keep: int = defaults.QC_WORST_FRAMES) -> None:
        self.keep = keep
        self._heaps: dict[str, list[Worst]] = {}

    def wants(self, measure: str, value: float | None, frame: int) -> bool:
        if value is None or not value > 0 or self.keep <= 0:
            return False
        heap = self._heaps.get(measure, [])
        return len(heap) < self.keep or (value, -frame) > (heap[0].value, heap[0].order)

    def offer(self, measure: str, value: float | None, frame: int, make_tile: Callable[[], np.ndarray],
              text: str = "") -> None:
        """Keep this frame if it is among the worst so far; `make_tile` is only called then.
        Equal values keep the earlier frame, so a constant value keeps the first frames seen."""
        if not self.wants(measure, value, frame):
            return
        heap = self._heaps.setdefault(measure, [])
        item = Worst(float(value), -frame, frame, make_tile(), text)
        if len(heap) < self.keep:
            heapq.heappush(heap, item)
        else:
            heapq.heapreplace(heap, item)

    def worst(self, measure: str) -> list[Worst]:
        """Worst first."""
        return sorted(self._heaps.get(measure, []), reverse=True)

    def measures(self) -> list[str]:
        return list(self._heaps)
