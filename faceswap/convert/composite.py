"""Put a rendered face back into its frame: mask, colour match, warp back, blend.

Everything up to the warp happens in the model's crop space (small, so cheap);
the warp back and the blend touch only the face's region of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .. import defaults
from ..faces.geometry import covering_box, invert, warp_back, zoom
from ..faces.masks import features_mask, landmark_mask
from ..media.colour import PlateColour
from ..media.plates import Plate
from .blend import CLEAN, SPILL, blend, refine_mask, smoothstep
from .color import match_color
from .edge_match import EdgeTerms, apply_field, edge_terms, field
from .glasses import GlassesMatte
from .grain import regrain
from .occlusion import frame_occlusion

# Reenact regions drawn from landmarks; "face" uses the swap's landmark mask.
REGION_MASKS = {"mouth": "mouth", "lower": "lower"}


# The blend mask fades out inside the model's crop: zero over the outer TAPER_GAP of its side,
# rising to one over the next TAPER_RAMP. A model renders its crop's border worst (it is where
# training crops were mirrored padding, and where augmentation shifted the face in and out), and a
# landmark mask cut off by the crop ends in a hard line there: on a high forehead both showed as a
# band across it, and as dark wedges at the temples.
TAPER_GAP = 0.03
TAPER_RAMP = 0.08
# Below this share of the crop the skin mask is too small to trust (a face seen from the side,
# covered by a hand): the colour statistics come from the whole blend mask instead.
_MIN_SKIN = 0.01


@dataclass
class CompositeSettings:
    mask: str = defaults.MASK                    # predicted | landmarks | both | occlusion
    landmark_mask: str = defaults.LANDMARK_MASK  # components | extended (or a reenact region: mouth | lower)
    erode: float = defaults.ERODE                # % of face width
    blur: float = defaults.BLUR                  # % of face width
    color: str = defaults.COLOR
    blend: str = defaults.BLEND
    color_from: str = defaults.COLOR_FROM        # face | skin: where colour statistics come from
    occlusion_grow: float = defaults.OCCLUSION_GROW  # % of face width the occlusion net's cut is grown by
    edge_match: float = defaults.EDGE_MATCH      # % of face width matched to the footage's colour at the edge
    grain: float = defaults.GRAIN                # share of the footage's finest grain laid over the face


@dataclass
class Placed:
    """What was put into the frame: the region's corner, and the layer (straight-alpha colour and
    alpha) that composited over the original region gives the result (for the patch writer)."""

    x: int
    y: int
    rgb: np.ndarray     # (h, w, 3) uint8
    alpha: np.ndarray   # (h, w) float32 in [0, 1]
    matrix: np.ndarray  # 2x3 frame -> the model's crop


@lru_cache(maxsize=8)
def crop_taper(size: int) -> np.ndarray:
    """(size, size) float32 in [0, 1]: 0 within TAPER_GAP * size of the crop's edge, 1 from
    (TAPER_GAP + TAPER_RAMP) * size inward, a smoothstep between. Read-only (cached)."""
    edge = np.minimum(np.arange(size) + 0.5, size - 0.5 - np.arange(size))  # px to the nearest edge
    t = smoothstep(edge, TAPER_GAP * size, (TAPER_GAP + TAPER_RAMP) * size)
    out = np.minimum.outer(t, t).astype(np.float32)
    out.flags.writeable = False
    return out


def crop_mask(pred: np.ndarray | None, landmarks_in_crop: list[np.ndarray], size: int,
              settings: CompositeSettings) -> np.ndarray:
    """The float mask (size, size) in crop space: predicted, landmark (union over the given
    landmark sets) or their product ("both"; "occlusion" is the landmark mask here, given no
    `pred`: the occlusion net's cut is applied by `composite`), times crop_taper: it is 0 at and
    near the crop's edge whatever the face's shape, centering or coverage."""
    return _untapered(pred, landmarks_in_crop, size, settings) * crop_taper(size)


def color_weights(mask: np.ndarray, landmarks_in_crop: np.ndarray) -> np.ndarray:
    """Where the colour statistics come from, (R, R) float32: the footage face's skin (see
    faces.masks.skin_mask; landmarks (68, 2) in crop pixels) inside the blend `mask` (R, R), so
    that neither hair, brows, eyes, lips, glasses nor background, nor an occluder the predicted
    mask left out, pulls the face's colour. Falls back to `mask` when too little skin shows."""
    size = mask.shape[0]
    skin = landmark_mask(landmarks_in_crop, mask.shape, "skin").astype(np.float32) / 255.0 * mask
    return skin if skin.sum() >= _MIN_SKIN * size * size else mask


def _untapered(pred: np.ndarray | None, landmarks_in_crop: list[np.ndarray], size: int,
               settings: CompositeSettings) -> np.ndarray:
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
    return pred * drawn   # both


@dataclass
class Layout:
    """A rendered face laid out in its frame region, before the edge match and the blend:
    what `place` needs, and the edge match's terms (convert/edge_match.py), which convert may
    average over a track's neighbouring frames first (convert/edge_steady.py)."""

    region: tuple[int, int, int, int]   # x0, y0, x1, y1 in the frame
    face: np.ndarray                    # (h, w, 3) uint8: the colour-matched render, warped there
    alpha: np.ndarray                   # (h, w) float32 in [0, 1]: the blend's alpha, occluders cut out
    footprint: np.ndarray               # (h, w) float32: the rendered crop's taper; nothing spills past it
    matrix: np.ndarray                  # 2x3 frame -> the model's crop
    terms: EdgeTerms | None             # None: no edge match


def lay_out(frame: np.ndarray, matrix: np.ndarray, crop: np.ndarray, rgb: np.ndarray,
            mask: np.ndarray, face_width: float, settings: CompositeSettings,
            weights: np.ndarray | None = None, occlusion: np.ndarray | None = None,
            kept: GlassesMatte | None = None, landmarks: np.ndarray | None = None) -> Layout | None:
    """Colour-match one rendered face and lay it out in its frame region (Layout); the frame is
    not touched. Arguments as `composite`; `kept`: what stays the footage's in front of the face
    whatever the mask (`--glasses keep`: the glasses' frames); `landmarks`: the footage face's (68, 2)
    in frame pixels, where the render's brows, eyes and lips are drawn, which the edge match does not
    read as tone (edge_match.match_edge). None when the face lies outside the frame."""
    stats = mask if weights is None else weights
    rgb = match_color(rgb, crop.astype(np.float32) / 255.0, stats, settings.color)
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
    # A grown mask (negative erode) would otherwise spread past the part of the crop that was rendered.
    footprint = warp_back(crop_taper(mask.shape[0]), matrix, region, border=cv2.BORDER_CONSTANT,
                          interpolation=cv2.INTER_LINEAR)
    np.minimum(alpha, footprint, out=alpha)
    outline, uncovered = alpha, None
    if occlusion is not None:
        visible = warp_back(occlusion, matrix, region, border=cv2.BORDER_REPLICATE, interpolation=cv2.INTER_LINEAR)
        uncovered = frame_occlusion(visible, frame[y0:y1, x0:x1], face_width, settings.occlusion_grow, alpha > 0.5)
        alpha = alpha * uncovered
    if kept is not None:
        cut = 1.0 - kept.within(region)
        uncovered = cut if uncovered is None else uncovered * cut
        alpha = alpha * cut
    alpha[alpha < CLEAN] = 0.0
    features = None
    if landmarks is not None and settings.edge_match > 0:
        features = features_mask(landmarks - (x0, y0), (y1 - y0, x1 - x0)).astype(np.float32) / 255.0
    terms = edge_terms(face_region, frame[y0:y1, x0:x1], outline, face_width, settings.edge_match, uncovered,
                       features)
    return Layout(region, face_region, alpha, footprint, matrix, terms)


def place(frame: np.ndarray, layout: Layout, settings: CompositeSettings,
          colour_field: np.ndarray | None = None) -> Placed:
    """Blend a laid-out face into `frame` in place: the edge match (with `colour_field`, (h, w, 3)
    float32 in the region, when given: a field steadied over time; else this frame's own from
    layout.terms), the grain, then the blend. Returns what was put there."""
    x0, y0, x1, y1 = layout.region
    background = frame[y0:y1, x0:x1]
    face_region, alpha = layout.face, layout.alpha
    if layout.terms is not None:
        if colour_field is None:
            colour_field = field(layout.terms.num, layout.terms.den)
        face_region = apply_field(face_region, colour_field, layout.terms.fade)
    face_region = regrain(face_region, background, alpha, settings.grain)
    result = blend(background, face_region, alpha, settings.blend)
    # laplacian's coarse bands spill a few pixels past the alpha: not past the rendered crop
    beyond = layout.footprint <= 0.0
    result[beyond] = background[beyond]
    layer = face_region
    if settings.blend != "feather":
        # A compositor lays the patch "over" the plate with straight alpha; for a blend that
        # changed the face's colours, the layer is whatever makes that operation give `result`.
        a = alpha[..., None]
        solved = (result.astype(np.float32) - background.astype(np.float32) * (1 - a)) / np.maximum(a, 1e-3)
        layer = np.where(a > 0.02, np.clip(solved + 0.5, 0, 255), face_region).astype(np.uint8)
    background[:] = result
    return Placed(int(x0), int(y0), layer, alpha, layout.matrix)


def composite(frame: np.ndarray, matrix: np.ndarray, crop: np.ndarray, rgb: np.ndarray,
              mask: np.ndarray, face_width: float, settings: CompositeSettings,
              weights: np.ndarray | None = None, occlusion: np.ndarray | None = None) -> Placed | None:
    """Blend one rendered face into `frame` in place, from this frame alone (`lay_out`, then `place`).

    frame: (H, W, 3) uint8; matrix: 2x3 frame -> crop; crop: the model's input crop (R, R, 3)
    uint8; rgb: the rendered face (R, R, 3) float32; mask: (R, R) float32 crop-space mask (from
    crop_mask); face_width: in frame pixels, the unit of the erode and blur settings; weights:
    (R, R) where the colour statistics come from (color_weights), default `mask`; occlusion:
    (R, R) in [0, 1], the steadied share of each pixel the occlusion net sees as face; its cut is
    made at the frame's resolution (convert/occlusion.frame_occlusion) and multiplied into the
    alpha after erode and feather: the face-outline feather is not taken out of the face again
    along an occluder's edge, which keeps an edge of its own, snapped to the footage's.
    The alpha never reaches past the model's crop: it is capped by the crop's taper warped into
    the frame, after erode/grow and feather. Returns the region written, or None when the face
    lies outside the frame.
    """
    layout = lay_out(frame, matrix, crop, rgb, mask, face_width, settings, weights, occlusion)
    return None if layout is None else place(frame, layout, settings)


def composite_plate(plate: Plate, placed: Placed, colour: PlateColour) -> np.ndarray:
    """Lay a face, as `composite` put it into the working-space frame, over the plate it came
    from, in place and in the plate's own colour space and type: the layer's colour goes back
    through `colour` (OCIO working space -> the plate's space) and is mixed with the plate by the
    same alpha. Pixels where the alpha is 0 are not touched: they stay bit-identical to the
    input plate whatever its format (8/10/16-bit integer, half or full float).

    Returns the layer as a compositor lays it "over" the plate: (h, w, 4) float32, colour
    premultiplied by alpha, in the plate's space (its code values divided by code_max for
    integer plates), so that layer + plate * (1 - alpha) is the result."""
    h, w = placed.alpha.shape
    region = plate.pixels[placed.y:placed.y + h, placed.x:placed.x + w]
    alpha = placed.alpha[:region.shape[0], :region.shape[1]]
    layer = np.zeros((*alpha.shape, 4), np.float32)
    inside = alpha > 0
    if not inside.any():
        return layer
    face = colour.to_plate(placed.rgb[:region.shape[0], :region.shape[1]][inside].astype(np.float32) / 255.0, plate)
    a = alpha[inside][:, None]
    mixed = region[inside].astype(np.float32) * (1.0 - a) + face * a
    if not plate.is_float:
        mixed = np.clip(np.rint(mixed), 0, plate.code_max)
    region[inside] = mixed.astype(plate.pixels.dtype)
    layer[inside] = np.concatenate([face * a / plate.code_max, a], axis=1)
    return layer


__all__ = ["CompositeSettings", "Layout", "Placed", "TAPER_GAP", "TAPER_RAMP", "color_weights", "composite",
           "composite_plate", "crop_mask", "crop_taper", "lay_out", "place"]
