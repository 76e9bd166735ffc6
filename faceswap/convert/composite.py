"""Put a rendered face back into its frame: mask, colour match, warp back, blend.

Everything up to the warp happens in the model's crop space (small, so cheap);
the warp back and the blend touch only the face's region of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..faces.geometry import covering_box, invert, warp_back, zoom
from ..faces.masks import landmark_mask
from .blend import SPILL, blend, refine_mask
from .color import match_color

# Reenact regions drawn from landmarks; "face" uses the swap's landmark mask.
REGION_MASKS = {"mouth": "mouth", "lower": "lower"}


@dataclass
class CompositeSettings:
    mask: str = "both"                # predicted | landmarks | both
    landmark_mask: str = "extended"   # components | extended (or a reenact region: mouth | lower)
    erode: float = 0.0                # % of face width
    blur: float = 5.0                 # % of face width
    color: str = "rct"
    blend: str = "feather"


@dataclass
class Placed:
    """What was put into the frame: the region's corner, and the layer (straight-alpha colour and
    alpha) that composited over the original region gives the result (for the patch writer)."""

    x: int
    y: int
    rgb: np.ndarray     # (h, w, 3) uint8
    alpha: np.ndarray   # (h, w) float32 in [0, 1]
    matrix: np.ndarray  # 2x3 frame -> the model's crop


def crop_mask(pred: np.ndarray | None, landmarks_in_crop: list[np.ndarray], size: int,
              settings: CompositeSettings) -> np.ndarray:
    """The float mask (size, size) in crop space: predicted, landmark (union over the given
    landmark sets) or their product."""
    drawn = None
    if settings.mask != "predicted" or pred is None:
        drawn = np.zeros((size, size), np.uint8)
        for lm in landmarks_in_crop:
            np.maximum(drawn, landmark_mask(lm, (size, size), settings.landmark_mask), out=drawn)
        drawn = drawn.astype(np.float32) / 255.0
    if pred is None or settings.mask == "landmarks":
        return drawn
    if settings.mask == "predicted":
        return pred
    return pred * drawn


def composite(frame: np.ndarray, matrix: np.ndarray, crop: np.ndarray, rgb: np.ndarray,
              mask: np.ndarray, face_width: float, settings: CompositeSettings) -> Placed | None:
    """Blend one rendered face into `frame` in place.

    frame: (H, W, 3) uint8; matrix: 2x3 frame -> crop; crop: the model's input crop (R, R, 3)
    uint8; rgb: the rendered face (R, R, 3) float32; mask: (R, R) float32 crop-space mask;
    face_width: in frame pixels, the unit of the erode and blur settings.
    Returns the region written, or None when the face lies outside the frame.
    """
    rgb = match_color(rgb, crop.astype(np.float32) / 255.0, mask, settings.color)
    # The region of the frame the mask covers (not the whole crop): the warp and blend cost scale with it.
    ys, xs = np.nonzero(mask > 1e-3)
    if len(xs) == 0:
        return None
    corners = np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.min()], [xs.min(), ys.max() + 1],
                        [xs.max() + 1, ys.max() + 1]], np.float64)
    to_frame = invert(matrix)
    scale = zoom(to_frame)
    # room for a grown mask (negative erode) and for what laplacian blending spills past the mask
    pad = int(np.ceil(scale * 2 + face_width * max(-settings.erode, 0) / 100)) + SPILL + 2
    x0, y0, x1, y1 = region = covering_box(corners, to_frame, pad, frame.shape)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    face_u8 = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    face_region = warp_back(face_u8, matrix, region, border=cv2.BORDER_REPLICATE)
    alpha = warp_back(mask, matrix, region, border=cv2.BORDER_CONSTANT, interpolation=cv2.INTER_LINEAR)
    alpha = refine_mask(np.clip(alpha, 0, 1), face_width, settings.erode, settings.blur)
    background = frame[y0:y1, x0:x1]
    result = blend(background, face_region, alpha, settings.blend)
    layer = face_region
    if settings.blend != "feather":
        # A compositor lays the patch "over" the plate with straight alpha; for a blend that
        # changed the face's colours, the layer is whatever makes that operation give `result`.
        a = alpha[..., None]
        solved = (result.astype(np.float32) - background.astype(np.float32) * (1 - a)) / np.maximum(a, 1e-3)
        layer = np.where(a > 0.02, np.clip(solved + 0.5, 0, 255), face_region).astype(np.uint8)
    background[:] = result
    return Placed(int(x0), int(y0), layer, alpha, matrix)


__all__ = ["CompositeSettings", "Placed", "composite", "crop_mask"]
