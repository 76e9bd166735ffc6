"""What the eye sees first in a swapped face: lost detail, and a step at the blend's edge.

Both measures look at the same pixels of the output and of the footage, placed by the
footage's landmarks, so an unchanged frame measures exactly sharpness 1 and seam 0.
Frames are RGB uint8 (H, W, 3); landmarks are the 68 iBUG points in frame pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..faces import landmarks68 as L
from ..faces.masks import landmark_mask

# Sharpness: the high-pass takes luma minus its Gaussian blur at this sigma (pixels), twice. Its
# gain (1 - exp(-2 pi^2 sigma^2 f^2))^2 is one half at a period of about 6 px and falls as f^4
# below: it keeps the detail a model rendering at 64-128 px loses once convert enlarges its face
# 2-4x onto a 200-300 px face, and not the large dark edges of eyes and brows, which a blur
# keeps and a single residual (gain f^2) lets through.
DETAIL_SIGMA = 1.5
# RMS detail (8-bit luma levels) added to both energies, so a flat or clipped face (no detail in
# the footage) does not divide by almost nothing: it reads near 1. The sample footage's faces
# carry 1.3-3.5 levels of this detail.
DETAIL_FLOOR = 0.25
# The inner face: the hull of the brows, eyes, nose and mouth (not the jaw line or the cheeks,
# whose smooth skin carries little detail and whose edge is the blend's).
INNER_FACE = slice(L.RIGHT_BROW.start, L.MOUTH.stop)
# The mask convert blends with by default (defaults.LANDMARK_MASK); qc does not know the mask
# a shot was made with, so it measures at the edge of the default one.
SEAM_MASK = "extended"
# Bands beside the mask's outline, in face widths (Face.size, convert's unit for the feather):
# inside past convert's default feather (5 %: alpha reaches 1 there), outside clear of the
# outline's anti-aliasing.
SEAM_INSIDE = (0.05, 0.10)
SEAM_OUTSIDE = (0.01, 0.05)
# Angular sectors around the face centre: a dark wedge on one temple is not averaged away by
# the rest of the outline.
SEAM_SECTORS = 12
# A sector needs this many pixels in both bands to be compared (a face cut by the frame edge).
SEAM_MIN_PIXELS = 12
# Each sector by the hours of a clock face laid over the frame (12 up, 3 to the frame's right): sector
# k spans the angles -180 + 30k to -150 + 30k degrees about the face centre, image y pointing down,
# so sector 0 is the frame's left side just above the face's centre, where a temple is.
SEAM_SECTOR_HOURS = tuple((9 + k - 1) % 12 + 1 for k in range(SEAM_SECTORS))   # the hour each sector starts at
SEAM_SECTOR_NAMES = tuple(f"{h}-{h % 12 + 1} o'clock" for h in SEAM_SECTOR_HOURS)


def _cut(landmarks: np.ndarray, shape: tuple[int, int], margin: float) -> tuple[int, int, int, int] | None:
    """x0, y0, x1, y1 of the landmarks' box grown by `margin` pixels, clipped to the frame."""
    lo, hi = landmarks.min(axis=0) - margin, landmarks.max(axis=0) + margin
    h, w = shape
    x0, y0 = int(max(np.floor(lo[0]), 0)), int(max(np.floor(lo[1]), 0))
    x1, y1 = int(min(np.ceil(hi[0]), w)), int(min(np.ceil(hi[1]), h))
    return (x0, y0, x1, y1) if x1 - x0 >= 4 and y1 - y0 >= 4 else None


def _detail(luma: np.ndarray, inside: np.ndarray) -> float:
    """Mean squared high-pass of `luma` (float32) over the pixels where `inside` is set."""
    high = luma
    for _ in range(2):
        high = high - cv2.GaussianBlur(high, (0, 0), DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT)
    return float(np.mean(np.square(high[inside], dtype=np.float64)))


def inner_face(landmarks: np.ndarray, shape: tuple[int, int]
               ) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Where `sharpness` looks: the box (x0, y0, x1, y1) round the hull of the brows, eyes, nose and
    mouth of `landmarks` (68, 2), padded so that the high-pass's blurs see real pixels at the hull's
    edge and clipped to a frame of `shape` (H, W), and the hull inside it (y1 - y0, x1 - x0) bool.
    None when the box is off the frame."""
    lm = np.asarray(landmarks, np.float64)[INNER_FACE]
    box = _cut(lm, shape, int(np.ceil(6 * DETAIL_SIGMA)) + 1)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    hull = cv2.convexHull(np.round((lm - (x0, y0)) * 4).astype(np.int32))
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(inside, hull, 1, lineType=cv2.LINE_8, shift=2)
    return box, inside.astype(bool)


def sharpness(output: np.ndarray, original: np.ndarray, landmarks: np.ndarray,
              exclude: np.ndarray | None = None) -> float | None:
    """Detail of the inner face in `output` against the same pixels of `original`, as a ratio:
    1.0 = as sharp as the footage, 0.5 = half its detail contrast, above 1 = more (noise).

    landmarks: (68, 2) of the original's face. exclude: (H, W) of the frame, pixels (non-zero) left
    out of both images' region (the footage's glasses' rims, bridge and arms, which a swap may
    remove by design and without which d19's inner face has 40 % less detail energy), or None.

    The measure is the energy E (mean square) of the luma's high-pass (BT.601 luma minus its
    Gaussian blur at DETAIL_SIGMA px, applied twice), a high-frequency-energy focus measure of the
    kind compared by Pertuz, Puig & Garcia, "Analysis of focus measure operators for
    shape-from-focus", Pattern Recognition 46 (2013), taken over
    the hull of the brows, eyes, nose and mouth; the figure is sqrt((E_out + f^2) / (E_orig + f^2))
    with f = DETAIL_FLOOR levels. Chosen over the variance of the Laplacian (Pech-Pacheco et al.,
    ICPR 2000) because the Laplacian's gain keeps growing with frequency, so codec noise and
    grain at the pixel scale outweigh the facial detail a soft swap loses, and it rises only as
    f^2, so a blurred face's large edges still count; the twice-applied Gaussian residual is
    flat above its cut-off and steep below it. A square root (RMS, not energy) so the figure
    scales with contrast as the eye reads it: 0.5 shows half the footage's detail contrast.
    Returns None when the region is under 16 pixels or off the frame.
    """
    region = inner_face(landmarks, original.shape[:2])
    if region is None:
        return None
    (x0, y0, x1, y1), inside = region
    if exclude is not None:
        inside &= ~np.asarray(exclude[y0:y1, x0:x1], bool)
    if inside.sum() < 16:
        return None
    energies = []
    for image in (output, original):
        luma = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
        energies.append(_detail(luma, inside))
    floor = DETAIL_FLOOR ** 2
    return float(np.sqrt((energies[0] + floor) / (energies[1] + floor)))


def seam(output: np.ndarray, original: np.ndarray, landmarks: np.ndarray, face_size: float) -> float | None:
    """The colour step across the blend's edge in `output` beyond the footage's own step at the
    same place, in 8-bit levels: the largest over SEAM_SECTORS angular sectors around the face
    (`seam_sectors`). None when no sector has pixels in both bands."""
    steps = seam_sectors(output, original, landmarks, face_size)
    return None if steps is None else float(np.nanmax(steps))


def seam_sectors(output: np.ndarray, original: np.ndarray, landmarks: np.ndarray,
                 face_size: float) -> np.ndarray | None:
    """The colour step across the blend's edge in `output` beyond the footage's own, per angular
    sector around the face: (SEAM_SECTORS,) float64 in 8-bit levels, NaN where a sector has too few
    pixels in a band (SEAM_SECTOR_NAMES says where each lies in the frame).

    landmarks: (68, 2) of the original's face; face_size: its width in pixels (Face.size). The
    edge is the outline of convert's default landmark mask (SEAM_MASK) drawn from them. In each
    sector, the step is the mean RGB of a band just inside the outline minus that of a band just
    outside it (SEAM_INSIDE, SEAM_OUTSIDE); the seam is the output's step minus the footage's,
    as the RMS over the three channels (a step of L levels in every channel reads L). So a face
    brightened by 15 levels with a hard edge reads about 15, and the footage's own edges (jaw
    shadow, hairline) cancel. Returns None when no sector has pixels in both bands.
    """
    lm = np.asarray(landmarks, np.float64)
    size = max(float(face_size), 1.0)
    reach = SEAM_OUTSIDE[1] * size + 2
    # the extended mask's brows move up by 0.75 of their distance to the eyes: beyond the landmarks' box
    box = _cut(lm, original.shape[:2], reach + 0.5 * size)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    mask = landmark_mask(lm - (x0, y0), (y1 - y0, x1 - x0), SEAM_MASK) >= 128
    if not mask.any():
        return None
    into = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    out_of = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    inner = (into > SEAM_INSIDE[0] * size) & (into <= SEAM_INSIDE[1] * size)
    outer = (out_of > SEAM_OUTSIDE[0] * size) & (out_of <= SEAM_OUTSIDE[1] * size)
    cx, cy = lm.mean(axis=0) - (x0, y0)
    steps = []
    for band in (inner, outer):
        ys, xs = np.nonzero(band)
        sector = ((np.arctan2(ys - cy, xs - cx) + np.pi) * (SEAM_SECTORS / (2 * np.pi))).astype(int) % SEAM_SECTORS
        count = np.bincount(sector, minlength=SEAM_SECTORS)
        means = []
        for image in (output, original):
            px = image[y0:y1, x0:x1][ys, xs].astype(np.float64)
            sums = np.stack([np.bincount(sector, px[:, c], SEAM_SECTORS) for c in range(3)], axis=1)
            means.append(sums / np.maximum(count, 1)[:, None])
        steps.append((count, means))
    (n_in, (in_out, in_orig)), (n_out, (out_out, out_orig)) = steps
    # the output's step minus the footage's, per sector: (in - out) of the output - (in - out) of the original
    excess = np.sqrt(np.mean(np.square((in_out - out_out) - (in_orig - out_orig)), axis=1))
    valid = (n_in >= SEAM_MIN_PIXELS) & (n_out >= SEAM_MIN_PIXELS)
    return np.where(valid, excess, np.nan) if valid.any() else None
