"""Put a colour-matched face, already warped into a region of the frame, onto that region.

`refine_mask` turns the warped mask into the blend's alpha (erode or grow, then feather inward);
`blend` composites by one of BLEND_METHODS. Every method leaves the background bit-identical
where the mask is 0 and more than a few pixels (`SPILL`) away from it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

# Mask values within this of 0 or 1 are snapped to it (under a quarter of a grey level even on a
# 0 -> 255 edge): it cuts the Gaussian's tails so that the mask has a hard support, "mask == 0"
# means something, and the blur's rounding does not leave the interior at 0.9999999.
CLEAN = 1.0 / 1024
# Pixels outside the mask's support that laplacian may still touch (its low bands spill out;
# they are faded back to the background over this distance).
SPILL = 6
# Regions smaller than this have no room for a pyramid or a Poisson boundary: feather instead.
_MIN_ROI = 8
# A disc as the union of inscribed rectangles with corners at these angles: rectangular min/max
# filters cost O(pixels) each, an elliptic kernel O(pixels * kernel size) (erode by 100 px on a
# 300 px region: ~6 ms against ~230 ms). The union is within 3.5% of the radius of the disc.
_DISC_ANGLES = np.radians([0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0])


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at and below `lo`, 1 at and above `hi`, the cubic 3t^2 - 2t^3 between (zero slope at both
    ends, so a mask shaped by it has no visible kink): same shape and dtype as `x`."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _disc_filter(m: np.ndarray, radius: int, grow: bool) -> np.ndarray:
    """Dilate (grow) or erode `m` by a disc of `radius` pixels."""
    op, combine = (cv2.dilate, np.maximum) if grow else (cv2.erode, np.minimum)
    halves = {(round(radius * np.cos(t)), round(radius * np.sin(t))) for t in _DISC_ANGLES}
    out = None
    for a, b in sorted(halves):
        # Default borders: the ROI edge neither erodes a mask cut by the frame edge nor grows one.
        f = op(m, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * a + 1, 2 * b + 1)))
        out = f if out is None else combine(out, f)
    return out


def refine_mask(mask: np.ndarray, face_size: float, erode: float, blur: float) -> np.ndarray:
    """The blend alpha from a warped face mask (H, W) float in [0, 1], in region pixels.

    erode: % of face_size (pixels) to shrink the mask by, or, negative, to grow it.
    blur: width of the feather, % of face_size: alpha goes from 0 to 1 over that many pixels.
    The feather lies inside the eroded (or grown) outline, never outside it: the mask is eroded by
    half the feather more, then blurred by a Gaussian cut at that same radius. So the alpha never
    reaches past the outline, and never ends in a hard step at the region's edge, which a feather
    spreading outward would whenever the caller's region is not padded by half the feather.
    Returns (H, W) float32 in [0, 1].
    """
    m = np.asarray(mask, np.float32)
    if m.ndim == 3:
        m = m[..., 0]
    sigma = max(blur, 0.0) * face_size / 100 / 6  # +-3 sigma spans the feather
    reach = int(np.ceil(3 * sigma)) if sigma >= 0.3 else 0
    # Erode then blur, in one morphological pass: the user's erode (or grow) plus the feather's reach.
    shift = round(erode * face_size / 100 + reach)
    if shift:
        m = _disc_filter(m, abs(shift), grow=shift < 0)
    if reach:
        m = cv2.GaussianBlur(m, (2 * reach + 1, 2 * reach + 1), sigma, borderType=cv2.BORDER_REPLICATE)
    m = np.clip(m, 0.0, 1.0)
    m[m < CLEAN] = 0.0
    m[m > 1.0 - CLEAN] = 1.0
    return m


def _composite(background: np.ndarray, fg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """background + (fg - background) * alpha, rounded; exactly the background where alpha == 0."""
    bg = background.astype(np.float32)
    out = bg + (fg.astype(np.float32) - bg) * alpha[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _feather(background: np.ndarray, face: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return _composite(background, face, mask)


def _poisson(background: np.ndarray, face: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson (seamless) cloning: the face's gradients, its level set by the background at the
    mask's edge; then alpha-composited with the mask, so nothing outside it changes."""
    h, w = mask.shape
    inside = mask > CLEAN
    if min(h, w) < _MIN_ROI or not inside.any():
        return _feather(background, face, mask)
    # Stable placement: seamlessClone cuts the source at the bounding rectangle of its mask and
    # pastes that rectangle centred on `center`, rounding half its size down. A centre guessed
    # from the outline (the region's middle, the mask's centroid, a box centre rounded up) puts
    # the source off its place by an amount that changes with the outline's size and parity, so
    # the face jitters from frame to frame. Here the rectangle is ours: four dots at its corners pin
    # it (one px round the mask's box, inside the region), and `center` is computed from it with
    # the same rounding, so every source pixel lands on the same destination pixel, always.
    # seamlessClone erodes its mask by 3 px (3 x 3, three times): that removes the dots and undoes
    # the 3 px dilation below. It also clears the mask's outer pixel row and holds the rectangle's
    # outline at the background (its boundary condition): the 4 px replicated pad keeps both
    # outside the region, so a mask running off the region's edge (a face cut by the frame edge)
    # is still cloned right up to that edge.
    pad = 4
    src = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    dst = cv2.copyMakeBorder(background, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    hp, wp = h + 2 * pad, w + 2 * pad
    binary = np.zeros((hp, wp), np.uint8)
    binary[pad:-pad, pad:-pad][inside] = 255
    binary = cv2.dilate(binary, np.ones((3, 3), np.uint8), iterations=3)
    x, y, bw, bh = cv2.boundingRect(binary)
    x0, y0, x1, y1 = max(x - 1, 1), max(y - 1, 1), min(x + bw, wp - 2), min(y + bh, hp - 2)
    binary[[y0, y0, y1, y1], [x0, x1, x0, x1]] = 255
    center = (x0 + (x1 - x0 + 1) // 2, y0 + (y1 - y0 + 1) // 2)
    cloned = cv2.seamlessClone(src, dst, binary, center, cv2.NORMAL_CLONE)
    return _composite(background, cloned[pad:-pad, pad:-pad], mask)


def _laplacian(background: np.ndarray, face: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Multi-band blending (Burt & Adelson 1983): each band of the Laplacian pyramids is mixed
    by the matching level of the mask's Gaussian pyramid, so low frequencies (colour, shading)
    cross the seam over a wide band and fine detail over a narrow one."""
    h, w = mask.shape
    levels = int(np.clip(np.log2(min(h, w) / 16), 0, 6))  # the coarsest level keeps 16-32 px
    if levels < 1 or not (mask > CLEAN).any():
        return _feather(background, face, mask)
    # Face, background and mask as one 7-channel image: one pyrDown / pyrUp call per level.
    gauss = [np.dstack([face.astype(np.float32), background.astype(np.float32), mask])]
    for _ in range(levels):
        gauss.append(cv2.pyrDown(gauss[-1]))
    top = gauss[-1]
    out = top[..., 3:6] + (top[..., :3] - top[..., 3:6]) * top[..., 6:7]
    for level in range(levels - 1, -1, -1):
        fine, coarse = gauss[level], gauss[level + 1]
        size = (fine.shape[1], fine.shape[0])
        band = fine[..., :6] - cv2.pyrUp(np.ascontiguousarray(coarse[..., :6]), dstsize=size)
        out = cv2.pyrUp(out, dstsize=size) + band[..., 3:6] + (band[..., :3] - band[..., 3:6]) * fine[..., 6:7]
    # The coarse bands reach far past the mask: keep them over its support, fade them out within
    # SPILL pixels of it, so the background further out is untouched.
    outside = (mask <= CLEAN).astype(np.uint8)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    return _composite(background, out, np.clip(1.0 - dist / SPILL, 0.0, 1.0))


BLEND_METHODS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "feather": _feather,
    "poisson": _poisson,
    "laplacian": _laplacian,
}


def blend(background: np.ndarray, face: np.ndarray, mask: np.ndarray, method: str) -> np.ndarray:
    """Composite `face` onto `background` by `method`.

    background, face: (H, W, 3) uint8 of the same region; mask: (H, W) float in [0, 1], already
    refined (see refine_mask). Returns a new (H, W, 3) uint8; background pixels where the mask is
    0 and more than SPILL pixels from it come back bit-identical.
    """
    if method not in BLEND_METHODS:
        raise ValueError(f"blend method must be one of {', '.join(BLEND_METHODS)}, not {method!r}")
    m = np.asarray(mask, np.float32)
    if m.ndim == 3:
        m = m[..., 0]
    if background.shape != face.shape or background.shape[:2] != m.shape:
        raise ValueError(f"shapes differ: background {background.shape}, face {face.shape}, mask {m.shape}")
    return BLEND_METHODS[method](background, face, np.clip(m, 0.0, 1.0))


__all__ = ["BLEND_METHODS", "CLEAN", "SPILL", "blend", "refine_mask", "smoothstep"]
