"""Masks drawn from 68-point landmarks, in whatever space the landmarks are in.

`components`: the union of convex hulls of face parts (jaw/cheeks, nose,
eyes and brows), as faceswap draws it: follows the face outline closely.
`extended`: the same with the brow line pushed up to cover the forehead,
for swaps where the source has a different hairline.
`mouth`, `lower`: regions for reenactment blending (dubbing).
`skin`: bare skin only (cheeks, nose, the brow ridge and a low band of forehead), without eyes,
brows, lips, hair or background: where convert takes its colour statistics from.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from . import landmarks68 as L

# Skin colour: a pixel is of a face's skin colour when its (Cr, Cb) lies within this Mahalanobis
# distance of the skin's (the `skin` mask's pixels) and its luma is above SKIN_MIN_LUMA: the chroma
# of near-black pixels is noise. qc's occlusion figure and extract's covered faces use both.
SKIN_DISTANCE = 3.0
SKIN_MIN_LUMA = 30


def off_skin(chroma: np.ndarray, mean: np.ndarray, inverse_cov: np.ndarray) -> np.ndarray:
    """(...) bool: where (..., 2) Cr/Cb `chroma` lies beyond SKIN_DISTANCE of a skin colour
    (`mean` (2,), `inverse_cov` (2, 2)) by Mahalanobis distance."""
    d = np.asarray(chroma, np.float64) - mean
    return np.einsum("...i,ij,...j->...", d, inverse_cov, d) > SKIN_DISTANCE ** 2


def _parts(lm: np.ndarray) -> list[np.ndarray]:
    jaw, rb, lb = lm[L.JAW], lm[L.RIGHT_BROW], lm[L.LEFT_BROW]
    nose = lm[L.NOSE_BRIDGE.start:L.NOSE_BASE.stop]
    return [
        np.concatenate([jaw[:9], rb]),            # right cheek and jaw up to the brow
        np.concatenate([jaw[8:], lb]),            # left cheek and jaw
        np.concatenate([jaw[2:15], nose[:1]]),    # the middle of the face down to the chin
        np.concatenate([rb, lb, nose]),           # brows and nose
    ]


def _extend_brows(lm: np.ndarray, amount: float = 0.75) -> np.ndarray:
    """Push the brows away from the eyes by `amount` of their distance."""
    out = lm.copy()
    for brow, eye in ((L.RIGHT_BROW, L.RIGHT_EYE), (L.LEFT_BROW, L.LEFT_EYE)):
        centre = lm[eye].mean(axis=0)
        out[brow] = lm[brow] + (lm[brow] - centre) * amount
    return out


def _fill(shape: tuple[int, int], polys: list[np.ndarray]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for poly in polys:
        hull = cv2.convexHull(np.round(poly * 4).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA, shift=2)
    return mask


def components_mask(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return _fill(shape, _parts(lm))


def extended_mask(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return _fill(shape, _parts(_extend_brows(lm)))


def mouth_mask(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The lips with a margin of half the mouth height."""
    mouth = lm[L.OUTER_MOUTH]
    centre = mouth.mean(axis=0)
    return _fill(shape, [centre + (mouth - centre) * 1.5])


def lower_mask(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Below the nose bridge: jaw, cheeks, nose base and mouth."""
    jaw = lm[L.JAW]
    return _fill(shape, [np.concatenate([jaw[1:16], lm[29:30]])])


def _scaled(points: np.ndarray, factor: float) -> np.ndarray:
    centre = points.mean(axis=0)
    return centre + (points - centre) * factor


def features_mask(lm: np.ndarray, shape: tuple[int, int], brow_stroke: float = 0.6) -> np.ndarray:
    """(H, W) uint8, 255 over what is not skin in a face, grown by its own size: the eyes (lids and
    lashes: 1.8 times their outline), the lips (1.3 times) and the brows, a line of points drawn as a
    stroke `brow_stroke` times the brow-eye distance thick. lm: (68, 2) in the mask's pixels."""
    brows = np.concatenate([lm[L.RIGHT_BROW], lm[L.LEFT_BROW]])
    eye_brow = np.linalg.norm(brows.mean(axis=0) - lm[L.RIGHT_EYE.start:L.LEFT_EYE.stop].mean(axis=0))
    cut = _fill(shape, [_scaled(lm[L.RIGHT_EYE], 1.8), _scaled(lm[L.LEFT_EYE], 1.8),
                        _scaled(lm[L.OUTER_MOUTH], 1.3)])
    stroke = max(1, int(round(eye_brow * brow_stroke)))
    for brow in (L.RIGHT_BROW, L.LEFT_BROW):
        cv2.polylines(cut, [np.round(lm[brow] * 4).astype(np.int32)], False, 255, stroke, cv2.LINE_AA, 2)
    return cut


def skin_mask(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Skin that every face shows: the cheeks between the lower lids, the nose and the mouth
    corners, the nose, and the brow ridge with a low forehead band (0.6 of the brow-eye
    distance: a fringe or hat sits higher on most faces). Eyes (with lashes and lids), brows and
    lips are cut out with a margin, and the rest is eroded by 3% of the side so that hair, beard
    shadow and background beside the jaw line stay out of it."""
    h, w = shape
    right_cheek = np.concatenate([lm[1:6], lm[[48, 31, 39, 40, 41, 36]]])
    left_cheek = np.concatenate([lm[11:16], lm[[54, 35, 42, 47, 46, 45]]])
    # the nose's points are a line and two nostrils: its sides reach out to the inner eye corners
    nose = np.concatenate([lm[L.NOSE_BRIDGE.start:L.NOSE_BASE.stop], lm[[39, 42]]])
    brows = np.concatenate([lm[L.RIGHT_BROW], lm[L.LEFT_BROW]])
    forehead = np.concatenate([brows, _extend_brows(lm, 0.6)[17:27], lm[[39, 42]]])
    mask = np.minimum(_fill(shape, [right_cheek, left_cheek, nose, forehead]), 255 - features_mask(lm, shape))
    erode = max(1, int(round(0.03 * min(h, w))))
    return cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1)),
                     borderType=cv2.BORDER_CONSTANT, borderValue=0)


MASKS: dict[str, Callable[[np.ndarray, tuple[int, int]], np.ndarray]] = {
    "components": components_mask,
    "extended": extended_mask,
    "mouth": mouth_mask,
    "lower": lower_mask,
    "skin": skin_mask,
}


def landmark_mask(lm: np.ndarray, shape: tuple[int, int], kind: str = "components") -> np.ndarray:
    """uint8 mask (0/255, anti-aliased edges) of `shape` (h, w) for landmarks `lm`."""
    try:
        return MASKS[kind](np.asarray(lm, np.float64), shape)
    except KeyError:
        raise ValueError(f"unknown mask {kind!r}; choose from {', '.join(MASKS)}") from None
