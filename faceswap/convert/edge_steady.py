"""The edge match's colour field steadied over time: averaged over each track's neighbouring frames.

The edge match (edge_match.py) reads the footage-minus-face difference along the face's outline in
each frame. Where the outline crosses something that moves (a brow the crop's edge cuts through,
strands of hair at a temple) or the model's render of the edge changes from frame to frame, that
difference, and the field spread from it, changes too: on d14 -> d10 it doubled qc's flicker
(0.41 -> 0.79 levels/frame). Here each face's normalised-convolution terms (numerator and
denominator) are carried into its stabilised crop, where the face holds still, averaged over a
Gaussian window of its track's frames within the shot (never across a cut, like the landmarks),
and only then divided and carried back: a normalised convolution in space and time (Knutsson &
Westin 1993), so a frame where the ring is covered borrows from its neighbours. The window is
centred, so the field does not lag: a frame is blended once the frames `reach` after it are
rendered.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..faces.geometry import box_matrix, compose, translation, warp, warp_back
from ..faces.types import Face
from .composite import CompositeSettings, Layout, Placed, place
from .edge_match import field as colour_field
from .stabilize import FrameItem

# The side of the crop-space grid the terms are averaged on: finer than the field's smoothing
# (half the edge depth) at any render size.
GRID = 128


def reach(sigma: float) -> int:
    """Frames either side of the window of a Gaussian of `sigma` frames (0: no window)."""
    return math.ceil(2 * sigma) if sigma > 0 else 0


@dataclass
class Rendered:
    """A frame whose faces are rendered and laid out, waiting to be blended."""

    item: FrameItem
    faces: list[tuple[Face, Layout | None]]
    keys: list[int | None]        # each face's track (None: untracked, steadied with nothing)
    sizes: list[int]              # each face's crop side (the render's), px
    terms: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)  # on the grid


def _to_grid(layout: Layout, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid matrix frame -> grid, numerator, denominator on the grid) of a face's edge terms."""
    grid = compose(box_matrix((0, 0, size, size), GRID), layout.matrix)
    x0, y0 = layout.region[:2]
    from_region = compose(grid, translation(x0, y0))
    num = warp(layout.terms.num, from_region, GRID, border=cv2.BORDER_CONSTANT, interpolation=cv2.INTER_LINEAR)
    den = warp(layout.terms.den, from_region, GRID, border=cv2.BORDER_CONSTANT, interpolation=cv2.INTER_LINEAR)
    return grid, num, den


class EdgeSteadier:
    """Rendered frames in (`push`), the same frames out `reach` frames later with their faces
    blended (`Rendered.faces` then holds each face's Placed), each face's edge-match field
    averaged over its track's frames within `sigma` (Gaussian, frames) in its shot."""

    def __init__(self, settings: CompositeSettings, sigma: float) -> None:
        self.settings = settings
        self.sigma = sigma
        self.reach = reach(sigma) if settings.edge_match > 0 else 0
        self._frames: deque[Rendered] = deque()
        self._next = 0   # position in _frames of the next frame to blend

    def push(self, rendered: Rendered) -> Iterator[Rendered]:
        if self.reach:
            rendered.terms = [None if key is None or lay is None or lay.terms is None
                              else _to_grid(lay, size)[1:]
                              for (_, lay), key, size in zip(rendered.faces, rendered.keys, rendered.sizes,
                                                             strict=True)]
        self._frames.append(rendered)
        while len(self._frames) - self._next > self.reach:
            yield self._blend()

    def flush(self) -> Iterator[Rendered]:
        while self._next < len(self._frames):
            yield self._blend()

    def _blend(self) -> Rendered:
        now = self._frames[self._next]
        placed: list[tuple[Face, Placed | None]] = []
        for k, (face, lay) in enumerate(now.faces):
            if lay is None:
                placed.append((face, None))
                continue
            steady = None
            if self.reach and now.terms[k] is not None:
                steady = self._steady_field(now, k, lay)
            placed.append((face, place(now.item.image, lay, self.settings, steady)))
        now.faces = placed
        self._next += 1
        while self._next > self.reach:     # what no later frame's window reaches
            self._frames.popleft()
            self._next -= 1
        return now

    def _steady_field(self, now: Rendered, k: int, lay: Layout) -> np.ndarray:
        """The face's field in its frame region, from the terms of its track's frames around it."""
        key, shot, index = now.keys[k], now.item.shot, now.item.index
        num = np.zeros((GRID, GRID, 3), np.float32)
        den = np.zeros((GRID, GRID), np.float32)
        for other in self._frames:
            if other.item.shot != shot or abs(other.item.index - index) > self.reach:
                continue
            z = abs(other.item.index - index) / self.sigma   # a tiny sigma: a huge z, weight 0, not an overflow
            w = math.exp(-0.5 * z * z) if z < 40 else 0.0
            for j, terms in enumerate(other.terms):
                if other.keys[j] == key and terms is not None:
                    num += w * terms[0]
                    den += w * terms[1]
                    break
        grid = compose(box_matrix((0, 0, now.sizes[k], now.sizes[k]), GRID), lay.matrix)
        return warp_back(colour_field(num, den), grid, lay.region, border=cv2.BORDER_REPLICATE,
                         interpolation=cv2.INTER_LINEAR)


__all__ = ["GRID", "EdgeSteadier", "Rendered", "reach"]
