"""The swapped face's colour matched to the footage's along the blend's edge, fading inward.

Convert's colour transfer (convert/color.py) matches the face's colour statistics as a whole; a
face lit differently from the footage's (a shadow on one temple, a warmer jaw) still differs from
the footage next to its edge by 10-20 levels in some places, and the eye reads that as a seam
however wide the feather. A compositor fixes it with a local colour correction along the edge.
Here: the footage-minus-face difference is taken over a ring just inside the blend's edge,
spread by normalised convolution (Knutsson & Westin, "Normalized and differential convolution",
CVPR 1993) into a smooth field, and added to the face fully within `depth` of the edge, fading
to nothing at twice that depth, so the edge takes the footage's local tone and shading while the
eyes, nose and mouth keep the face's own. It is a cheap stand-in for a membrane (Poisson)
interpolation of the boundary difference (Farbman, Hoffer, Lipman, Cohen-Or & Lischinski,
"Coordinates for instant image cloning", SIGGRAPH 2009), without cloning the footage's
gradients; docs/convert.md ("Edge match") gives what it measured.
"""

from __future__ import annotations

import cv2
import numpy as np

from .. import defaults
from .blend import CLEAN, smoothstep

# The ring the difference is read from: within `depth` of the edge (the feather and just past
# it), where the face is drawn (alpha above RING_ALPHA).
RING_ALPHA = 0.05
# The difference field is smoothed by a Gaussian of this share of `depth` (px): a colour and
# shading field, not detail.
SMOOTH = 0.5
# Ring pixels where the footage has structure (a hairline, strands, an ear's edge) are read less:
# weight 1 / (1 + (local std / STRUCTURE)^2), the local std of the footage's luma taken over a
# Gaussian of STRUCTURE_SIGMA of `depth`. 0 = off.
STRUCTURE = 0.0
STRUCTURE_SIGMA = 0.1


def _spread(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution of `values` (h, w, 3) with `weight` (h, w) by a Gaussian of `sigma`
    px; zero where no weighted pixel is near."""
    num = cv2.GaussianBlur(values * weight[..., None], (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    den = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    return num / np.maximum(den, 1e-3)[..., None] * np.clip(den / 1e-2, 0.0, 1.0)[..., None]


def _flatness(footage: np.ndarray, sigma: float) -> np.ndarray:
    """(h, w) float32 in (0, 1]: 1 where the footage's luma is locally flat, falling as its local
    standard deviation (over a Gaussian of `sigma` px) rises past STRUCTURE levels."""
    luma = cv2.cvtColor(footage, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.GaussianBlur(luma, (0, 0), sigma)
    var = np.maximum(cv2.GaussianBlur(luma * luma, (0, 0), sigma) - mean * mean, 0.0)
    return 1.0 / (1.0 + var / STRUCTURE ** 2)


def match_edge(face: np.ndarray, footage: np.ndarray, alpha: np.ndarray, face_width: float,
               depth: float = defaults.EDGE_MATCH, visible: np.ndarray | None = None) -> np.ndarray:
    """`face` with its colour matched to `footage` along the edge of `alpha`: a new uint8 array.

    face, footage: (h, w, 3) uint8, the rendered face warped into the frame region and the
    footage there; alpha: (h, w) float32 in [0, 1], the blend's alpha before any occlusion cut
    (its edge is the face's outline); face_width: pixels; depth: % of face_width over which the
    match is full (measured inward from the alpha's edge); it fades out over the next `depth`;
    visible: (h, w) in [0, 1] or None, the share of each pixel not covered by an occluder: a
    hand's colour is not read as the footage's skin. depth 0 returns `face` itself.
    """
    if depth <= 0 or not (alpha > RING_ALPHA).any():
        return face
    d = depth * face_width / 100.0                     # px
    inside = cv2.distanceTransform((alpha > CLEAN).astype(np.uint8), cv2.DIST_L2, 5)
    weight = (alpha * ((alpha > RING_ALPHA) & (inside <= d))).astype(np.float32)
    if visible is not None:
        weight *= visible
    if STRUCTURE > 0:
        weight *= _flatness(footage, max(STRUCTURE_SIGMA * d, 1.0))
    face_f = face.astype(np.float32)
    field = _spread(footage.astype(np.float32) - face_f, weight, max(SMOOTH * d, 1.0))
    out = face_f + field * (1.0 - smoothstep(inside, d, 2 * d))[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


__all__ = ["match_edge"]
