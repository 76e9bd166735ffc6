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

from dataclasses import dataclass

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


@dataclass
class EdgeTerms:
    """One face's edge match before it is applied, in its frame region: the normalised
    convolution's numerator `num` (h, w, 3) and denominator `den` (h, w), whose ratio is the
    colour field (`field`), and `fade` (h, w), how much of the field each pixel takes. Kept apart
    so that convert can average num and den over neighbouring frames of a track before dividing
    (a normalised convolution in space and time), which steadies the field."""

    num: np.ndarray
    den: np.ndarray
    fade: np.ndarray


def field(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """The colour field (h, w, 3) float32 from a normalised convolution's terms; zero where no
    weighted pixel is near (den under 1e-2, faded in above it)."""
    return num / np.maximum(den, 1e-3)[..., None] * np.clip(den / 1e-2, 0.0, 1.0)[..., None]


def edge_terms(face: np.ndarray, footage: np.ndarray, alpha: np.ndarray, face_width: float,
               depth: float = defaults.EDGE_MATCH, visible: np.ndarray | None = None,
               features: np.ndarray | None = None) -> EdgeTerms | None:
    """The edge match's terms (EdgeTerms) for `face` over `footage`; arguments as match_edge.
    None when there is nothing to match (depth 0, or no alpha)."""
    if depth <= 0 or not (alpha > RING_ALPHA).any():
        return None
    d = depth * face_width / 100.0                     # px
    inside = cv2.distanceTransform((alpha > CLEAN).astype(np.uint8), cv2.DIST_L2, 5)
    weight = (alpha * ((alpha > RING_ALPHA) & (inside <= d))).astype(np.float32)
    if visible is not None:
        weight *= visible
    if features is not None:
        weight *= 1.0 - features
    values = footage.astype(np.float32) - face.astype(np.float32)
    sigma = max(SMOOTH * d, 1.0)
    num = cv2.GaussianBlur(values * weight[..., None], (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    den = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    return EdgeTerms(num, den, (1.0 - smoothstep(inside, d, 2 * d)).astype(np.float32))


def apply_field(face: np.ndarray, colour_field: np.ndarray, fade: np.ndarray) -> np.ndarray:
    """`face` (h, w, 3) uint8 plus `colour_field` (h, w, 3) times `fade` (h, w): a new uint8 array."""
    out = face.astype(np.float32) + colour_field * fade[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def match_edge(face: np.ndarray, footage: np.ndarray, alpha: np.ndarray, face_width: float,
               depth: float = defaults.EDGE_MATCH, visible: np.ndarray | None = None,
               features: np.ndarray | None = None) -> np.ndarray:
    """`face` with its colour matched to `footage` along the edge of `alpha`, from this frame
    alone: a new uint8 array.

    face, footage: (h, w, 3) uint8, the rendered face warped into the frame region and the
    footage there; alpha: (h, w) float32 in [0, 1], the blend's alpha before any occlusion cut
    (its edge is the face's outline); face_width: pixels; depth: % of face_width over which the
    match is full (measured inward from the alpha's edge); it fades out over the next `depth`;
    visible: (h, w) in [0, 1] or None, the share of each pixel not covered by an occluder: a
    hand's colour is not read as the footage's skin; features: (h, w) in [0, 1] or None, where the
    face has its brows, eyes and lips (faces.masks.features_mask at the footage face's landmarks,
    where convert draws the face's own): a brow against the footage's forehead is a feature, not a
    difference of tone, and read into the field it is lifted to the skin's colour (d10's brows on
    d14's face came out as pale patches). They are left out of the reading, and the field over them
    is the skin's around them. depth 0 returns `face` itself.
    """
    terms = edge_terms(face, footage, alpha, face_width, depth, visible, features)
    if terms is None:
        return face
    return apply_field(face, field(terms.num, terms.den), terms.fade)


__all__ = ["EdgeTerms", "apply_field", "edge_terms", "field", "match_edge"]
