"""Glasses at convert (`--glasses keep|remove`): each footage face's frames found (faces/glasses.py)
and either kept in front of the swapped face or filled from around them.

`keep` gives each face a matte of its frames (rims and bridge) in frame pixels, which composite
multiplies out of the blend's alpha: the footage's frames stay whole, in front of the swap, and
the edge match does not read them as the face's outline. `remove` fills the frames from the pixels
around them in the footage frame itself (OpenCV's inpainting, Telea 2004, "An Image Inpainting
Technique Based on the Fast Marching Method") before anything else sees it: the model's input, the
colour statistics, the blend's background and the output all have no frames there, and the swap
draws the face the model knows over the rest. Each track's evidence of its glasses is held within
its shot and starts again at a cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..faces.glasses import BARE_CONTRAST, GlassesTracker, line_contrast, rims_matte
from ..log import get_logger
from .blend import smoothstep
from .occlusion import face_key
from .stabilize import FrameItem

log = get_logger(__name__)

KEY = "glasses"
# px of the frame's border round a matte's box, for the anti-aliased edge and the inpainting's reach
_PAD = 4
# px the matte is drawn wider than the frames' measured width (their profile's width at half depth,
# which already holds their anti-aliased edge) on each side: keep 0 (at 1, a 1 px ring of the
# footage's skin showed round d14's rims on the swapped face), remove 1.5 (a filled rim must take
# its edge with it, or it leaves a ghost of itself)
GROW = {"keep": 0.0, "remove": 1.5}
# keep: a pixel the frames cover by 0.6 or more keeps the footage's, one covered by 0.2 or less the swap's
# (a smoothstep between): a mixed edge pixel otherwise brings its share of the footage's skin, a pale
# or dark ring round the rims on a swapped face of another tone (d14: a third fewer ring pixels)
FIRM = (0.2, 0.6)
# A track whose found frames' median line_contrast over its first _JUDGED frames is under
# BARE_CONTRAST (faces/glasses.py) is said in a warning: no glasses there
_JUDGED = 24


@dataclass
class GlassesMatte:
    """A face's glasses' frames: the matte (h, w) float32 in [0, 1] whose top-left corner sits at
    frame pixel (x, y)."""

    x: int
    y: int
    matte: np.ndarray

    def within(self, region: tuple[int, int, int, int]) -> np.ndarray:
        """The matte over a frame region (x0, y0, x1, y1): (y1 - y0, x1 - x0) float32, 0 outside it."""
        x0, y0, x1, y1 = region
        out = np.zeros((y1 - y0, x1 - x0), np.float32)
        h, w = self.matte.shape
        ax0, ay0 = max(x0, self.x), max(y0, self.y)
        ax1, ay1 = min(x1, self.x + w), min(y1, self.y + h)
        if ax1 > ax0 and ay1 > ay0:
            out[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0] = self.matte[ay0 - self.y:ay1 - self.y, ax0 - self.x:ax1 - self.x]
        return out


def mark_glasses(items: Iterator[FrameItem], mode: str) -> Iterator[FrameItem]:
    """`items` with their faces' glasses handled: `keep` puts {face_key: GlassesMatte} in
    item.extra["glasses"]; `remove` fills the frames in item.image in place."""
    tracker, shot = GlassesTracker(), None
    contrast: dict[int, list[float]] = {}
    said = False
    for item in items:
        if mode == "remove" and not said and "plate" in item.extra:
            said = True
            log.warning("--glasses remove on plates: the frames are filled within the swapped face only; outside "
                        "its matte the plate is written as it was read, arms and all")
        if item.shot != shot:
            tracker.reset()
            shot = item.shot
        mattes = {}
        height, width = item.image.shape[:2]
        for i, face in enumerate(item.faces):
            rims = tracker.rims(item.image, face.landmarks, face.track)
            if len(seen := contrast.setdefault(face.track, [])) < _JUDGED:
                seen.append(line_contrast(item.image, rims))
            pts = rims.points()
            reach = rims.width + _PAD
            x0, y0 = np.maximum(np.floor(pts.min(0) - reach), 0).astype(int)
            x1, y1 = np.minimum(np.ceil(pts.max(0) + reach), [width, height]).astype(int)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            matte = rims_matte((y1 - y0, x1 - x0), rims.moved(x0, y0), GROW[mode])
            if mode == "remove":
                holes = (matte > 0.02).astype(np.uint8)
                region = np.ascontiguousarray(item.image[y0:y1, x0:x1])
                item.image[y0:y1, x0:x1] = cv2.inpaint(region, holes, max(3.0, rims.width), cv2.INPAINT_TELEA)
            else:
                mattes[face_key(i, face.track)] = GlassesMatte(int(x0), int(y0), smoothstep(matte, *FIRM))
        item.extra[KEY] = mattes
        yield item
    bare = sorted(track for track, seen in contrast.items() if seen and np.median(seen) < BARE_CONTRAST)
    if bare:
        log.warning("--glasses %s: %s does not seem to wear glasses (no rim stands out round the eyes), so rings "
                    "of its own brows and lids were %s; convert it with --glasses face", mode,
                    "an untracked face" if bare == [-1] else "track " + ", ".join(map(str, bare)),
                    "kept" if mode == "keep" else "filled")


__all__ = ["GlassesMatte", "KEY", "mark_glasses"]
