"""Occlusion at convert: what covers each footage face, from the model's occlusion net, steadied over time.

The net (model/occlusion.py) runs on the footage's own crop of each face: the footage decides what
is in front of it, never the render. Its per-frame mask would flicker at an occluder's edge, so
each face's mask is steadied over a few frames of its track, within its shot (never across a
cut, like the landmarks): first eroded in time (a pixel is visible only if it was in the frames
either side too), then averaged over the same reach. The result is never more visible than the
frame's own mask, so an occluder is kept whole in every frame it covers, while a pixel that
toggles from frame to frame holds still. The face moves little between neighbouring frames in
its stabilised crop, so the masks are compared in crop space.

`blend_occlusion` turns the steadied mask into the factor the blend mask is multiplied by: a
firm edge, and the covered region grown a little, so the occluder's anti-aliased edge and the
net's uncertainty there keep the footage's pixels too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

import cv2
import numpy as np

from .. import defaults
from .stabilize import FrameItem

# Frames either side of the time erosion and of the average: each frame's mask waits for 2 x REACH
# frames after it.
REACH = 1
KEY = "occlusion"


def face_key(index: int, track: int) -> int:
    """A face's key in a frame's masks: its track, or its place in the frame when untracked."""
    return track if track >= 0 else -1 - index


class OcclusionSmoother:
    """Frames in, the same frames out 2 x REACH later, each with ``extra["occlusion"]``: {face_key:
    (R, R) float32 visible share in [0, 1]} for its faces.

    `masks(item)` gives a frame's raw masks by face_key (the net's output for its faces)."""

    def __init__(self, masks: Callable[[FrameItem], dict[int, np.ndarray]]) -> None:
        self.masks = masks
        self.ahead = 2 * REACH
        self._frames: deque[tuple[FrameItem, dict[int, np.ndarray]]] = deque()
        self._next = 0  # position in _frames of the next frame to hand on

    def push(self, item: FrameItem) -> Iterator[FrameItem]:
        self._frames.append((item, self.masks(item) if item.faces else {}))
        yield from self._ready(final=False)

    def flush(self) -> Iterator[FrameItem]:
        yield from self._ready(final=True)

    def _ready(self, final: bool) -> Iterator[FrameItem]:
        while self._next < len(self._frames) and (final or len(self._frames) - 1 - self._next >= self.ahead):
            item, raw = self._frames[self._next]
            item.extra[KEY] = {key: self._steadied(self._next, key) for key in raw}
            yield item
            self._next += 1
            while self._next > self.ahead:  # frames no later mask looks back to
                self._frames.popleft()
                self._next -= 1

    def _raw(self, pos: int, key: int, shot: int) -> np.ndarray | None:
        if 0 <= pos < len(self._frames) and self._frames[pos][0].shot == shot:
            return self._frames[pos][1].get(key)
        return None

    def _eroded(self, pos: int, key: int, shot: int) -> np.ndarray | None:
        seen = [m for p in range(pos - REACH, pos + REACH + 1) if (m := self._raw(p, key, shot)) is not None]
        return np.minimum.reduce(seen) if seen else None

    def _steadied(self, pos: int, key: int) -> np.ndarray:
        shot = self._frames[pos][0].shot
        # a neighbour's eroded mask counts only when the face is in that frame too (pos itself always is)
        near = [self._eroded(p, key, shot) for p in range(pos - REACH, pos + REACH + 1)
                if self._raw(p, key, shot) is not None]
        return np.mean(near, axis=0, dtype=np.float32)


def smooth_occlusion(items: Iterator[FrameItem], masks: Callable[[FrameItem], dict[int, np.ndarray]]
                     ) -> Iterator[FrameItem]:
    """`items` with their steadied occlusion masks (OcclusionSmoother)."""
    smoother = OcclusionSmoother(masks)
    for item in items:
        yield from smoother.push(item)
    yield from smoother.flush()


def blend_occlusion(visible: np.ndarray, size: int, grow: float = defaults.OCCLUSION_GROW) -> np.ndarray:
    """The factor (size, size) float32 in [0, 1] the blend mask is multiplied by, from a steadied
    visible mask (R, R) in [0, 1] of the net's crop: a firm edge (a smoothstep from 0.3 to 0.7, the
    net's uncertain middle), resized to the blended crop's `size`, with the covered region grown by
    `grow` (share of the crop side) so that the occluder's edge keeps the footage's pixels."""
    t = np.clip((visible.astype(np.float32) - 0.3) / 0.4, 0.0, 1.0)
    firm = t * t * (3 - 2 * t)
    if firm.shape[0] != size:
        firm = cv2.resize(firm, (size, size), interpolation=cv2.INTER_LINEAR)
    radius = int(round(grow * size))
    if radius > 0:
        firm = cv2.erode(firm, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)),
                         borderType=cv2.BORDER_REPLICATE)
    return firm


__all__ = ["KEY", "OcclusionSmoother", "REACH", "blend_occlusion", "face_key", "smooth_occlusion"]
