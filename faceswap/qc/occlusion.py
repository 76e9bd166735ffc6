"""Occlusion: did the swap paint over what is not the face (hair, hands, microphones, glasses)?

Two measures. `occlusion` is qc's per-frame figure, from the footage and the output alone:
the share of the pixels around the face that are not face skin (by the footage's own skin
colour and landmarks) which the swap changed. `occluder_frame` is the exact measure of the
occlusion benchmark (`make occlusion`, docs/occlusion.md), where the occluder's matte is
known: how much of the occluder kept the footage's pixels, and how much of the rest of the
face was still swapped. Frames are RGB uint8 (H, W, 3); landmarks the 68 iBUG points in
frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..faces import landmarks68 as L
from ..faces.masks import SKIN_MIN_LUMA, landmark_mask, off_skin

# A pixel changed when the mean of its three channels' differences, averaged over 3x3
# pixels, exceeds this many 8-bit levels: above the 1-3 levels H.264 at convert's default
# CRF moves untouched pixels, far below what a swap does (15-40 levels).
CHANGE_LEVEL = 4.0
# The region looked at: the landmarks' box grown by these shares of its width / height
# (left-right, top: forehead and hair, bottom: chin and neck).
GROW_SIDE, GROW_TOP, GROW_BOTTOM = 0.15, 0.35, 0.1
# Face skin: a pixel whose (Cr, Cb) lies within SKIN_DISTANCE (Mahalanobis) of the footage's
# skin (the landmarks' `skin` mask) and whose luma is above SKIN_MIN_LUMA (faces/masks.py), inside
# the `extended` mask grown by FACE_GROW of the face width.
FACE_GROW = 0.05
# Fewer skin pixels than this: the skin colour is not known, the frame is not measured.
MIN_SKIN_PIXELS = 50


def _box(lm: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    lo, hi = lm.min(axis=0), lm.max(axis=0)
    bw, bh = hi - lo
    h, w = shape
    x0, y0 = int(max(np.floor(lo[0] - GROW_SIDE * bw), 0)), int(max(np.floor(lo[1] - GROW_TOP * bh), 0))
    x1, y1 = int(min(np.ceil(hi[0] + GROW_SIDE * bw), w)), int(min(np.ceil(hi[1] + GROW_BOTTOM * bh), h))
    return (x0, y0, x1, y1) if x1 - x0 >= 8 and y1 - y0 >= 8 else None


def _features(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Eyes with their brows and the lips (bool): face, whatever their colour."""
    out = np.zeros(shape, np.uint8)
    for part in (np.concatenate([lm[L.RIGHT_EYE], lm[L.RIGHT_BROW]]), np.concatenate([lm[L.LEFT_EYE], lm[L.LEFT_BROW]]),
                 lm[L.OUTER_MOUTH]):
        centre = part.mean(axis=0)
        hull = cv2.convexHull(np.round((centre + (part - centre) * 1.25) * 4).astype(np.int32))
        cv2.fillConvexPoly(out, hull, 1, cv2.LINE_8, 2)
    return out.astype(bool)


@dataclass
class FaceSkin:
    """What of the region around a face (`box` = x0, y0, x1, y1 in frame pixels) is face: `skin`,
    pixels of the footage's own skin colour in the grown `extended` mask, and `features`, the
    eyes with their brows and the lips whatever their colour (bool masks of the box's shape)."""

    box: tuple[int, int, int, int]
    skin: np.ndarray
    features: np.ndarray

    @property
    def not_face(self) -> np.ndarray:
        return ~(self.skin | self.features)


def face_skin(original: np.ndarray, landmarks: np.ndarray) -> FaceSkin | None:
    """Face skin and features of the footage around its face (see `FaceSkin`). Face skin is a
    pixel of the footage's own skin colour (see SKIN_DISTANCE) in the `extended` landmark mask
    grown by FACE_GROW; everything else in the grown box (hair, background, neck, clothing,
    glasses frames, a microphone or a cup over the face) is not, but for the eyes, brows and
    lips. None when the box is off the frame or the skin is not seen."""
    lm = np.asarray(landmarks, np.float64)
    box = _box(lm, original.shape[:2])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    local = lm - (x0, y0)
    shape = (y1 - y0, x1 - x0)
    ycc = cv2.cvtColor(np.ascontiguousarray(original[y0:y1, x0:x1]), cv2.COLOR_RGB2YCrCb).astype(np.float64)
    skin = (landmark_mask(local, shape, "skin") >= 128) & (ycc[..., 0] > SKIN_MIN_LUMA)
    if skin.sum() < MIN_SKIN_PIXELS:
        return None
    chroma = ycc[..., 1:]
    mean = chroma[skin].mean(axis=0)
    cov = np.cov(chroma[skin].T) + np.eye(2) * 4.0  # +2 levels of spread: a flat skin patch is not a point
    skin_coloured = ~off_skin(chroma, mean, np.linalg.inv(cov)) & (ycc[..., 0] > SKIN_MIN_LUMA)
    width = float(lm[:, 0].max() - lm[:, 0].min())
    grow = max(int(round(FACE_GROW * width)), 1)
    face_area = cv2.dilate(landmark_mask(local, shape, "extended"),
                           cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))) >= 128
    return FaceSkin(box, skin_coloured & face_area, _features(local, shape))


def not_face(original: np.ndarray, landmarks: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The region around the face that is not face skin nor an eye, brow or the lips (`face_skin`):
    (box x0, y0, x1, y1; bool mask of the box's shape), or None."""
    found = face_skin(original, landmarks)
    return None if found is None else (found.box, found.not_face)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels (bool, HxW) where two RGB images differ by more than CHANGE_LEVEL (mean of the
    channels, averaged over 3x3)."""
    diff = cv2.absdiff(a, b).astype(np.float32).mean(axis=2)
    return cv2.blur(diff, (3, 3)) > CHANGE_LEVEL


def occlusion(output: np.ndarray, original: np.ndarray, landmarks: np.ndarray,
              region: tuple[tuple[int, int, int, int], np.ndarray] | None = None) -> float | None:
    """Share (0-1) of the pixels around the face that are not face skin (`not_face`, from the
    footage and its landmarks) that the output changed (`changed`): 0 for an unchanged copy;
    a swap kept to the face measures a few hundredths (its feathered edge); one painted over
    hair, glasses' frames, a microphone or the background measures more. A skin-coloured
    occluder over the face reads as skin and is not counted (the benchmark's exact matte,
    `occluder_frame`, measures those). None when the face's skin is not seen. `region`: `not_face`
    of these frames, when the caller has it already."""
    region = region or not_face(original, landmarks)
    if region is None:
        return None
    (x0, y0, x1, y1), outside = region
    if not outside.any():
        return None
    moved = changed(output[y0:y1, x0:x1], original[y0:y1, x0:x1])
    return float(np.count_nonzero(moved & outside) / np.count_nonzero(outside))


# --- the benchmark's exact measure (the occluder's matte is known) ---

# A pixel is the footage's own when no channel differs by more than this (the 3 levels).
KEEP_LEVEL = 3
# Matte values at or above this are the occluder's pixels (mostly occluder, not its soft edge).
OCCLUDER_ALPHA = 128
# A frame overlaps the face when at least this many occluder pixels fall on the swap region.
MIN_OVERLAP = 50


@dataclass
class OccluderFrame:
    """One frame of an occluded clip: `overlap`, the occluder's pixels on the face (the swap
    region); `kept`, the share of them within KEEP_LEVEL of the footage; `occluder_change`,
    their mean change (8-bit levels, all channels); `swapped`, how much of the rest of the
    face carries the swap (see `occluder_frame`); `swapped_matte`, the same read from convert's
    own matte (`matte_swapped`). None where not measured."""

    overlap: int
    kept: float | None
    occluder_change: float | None
    swapped: float | None
    swapped_matte: float | None = None


def swap_region(clean_output: np.ndarray, clean_footage: np.ndarray) -> np.ndarray:
    """Where the swap changes the face when nothing is in front of it (bool, HxW): the pixels
    of a conversion of the clip without the occluder that differ from that clip by more than
    KEEP_LEVEL in any channel, closed over 7x7 pixels (a swapped pixel can match the footage
    by chance)."""
    moved = (cv2.absdiff(clean_output, clean_footage).max(axis=2) > KEEP_LEVEL).astype(np.uint8)
    return cv2.morphologyEx(moved, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0


def occluder_frame(output: np.ndarray, footage: np.ndarray, clean_output: np.ndarray, matte: np.ndarray,
                   region: np.ndarray) -> OccluderFrame:
    """The figures of one frame. output: the conversion of the occluded clip; footage: the
    occluded clip's frame; clean_output: the conversion of the clip without the occluder (the
    swap the face would get); matte: the occluder's alpha (uint8); region: `swap_region`.
    An occluder pixel is kept when no channel of output differs from footage by more than
    KEEP_LEVEL. Swapped: of the face pixels the occluder does not touch (region, matte 0),
    the number the output changes (more than KEEP_LEVEL in a channel) over the number the
    clean conversion changes, at most 1. Counts, not pixel by pixel: two conversions of the
    same face differ by 1-5 levels wherever detection noise moves the swap (even in frames
    where the occluder is away from the face only 1-11 % of the face's pixels are identical
    between them), and about 12 % of a blurred swap's own pixels stay within 3 levels of the
    footage at places that move with that noise; a mask that cuts into the face leaves its
    pixels as the footage's, and the count drops by them."""
    occ = (matte >= OCCLUDER_ALPHA) & region
    n = int(np.count_nonzero(occ))
    kept = change = swapped = None
    if n:
        diff = cv2.absdiff(output, footage)
        kept = float(np.count_nonzero(diff.max(axis=2)[occ] <= KEEP_LEVEL) / n)
        change = float(diff[occ].astype(np.float64).mean())
    free = region & (matte == 0)
    would = np.count_nonzero(free & (cv2.absdiff(clean_output, footage).max(axis=2) > KEEP_LEVEL))
    if would:
        does = np.count_nonzero(free & (cv2.absdiff(output, footage).max(axis=2) > KEEP_LEVEL))
        swapped = min(does / would, 1.0)
    return OccluderFrame(n, kept, change, swapped)


def matte_swapped(matte: np.ndarray, clean_matte: np.ndarray, occluder: np.ndarray) -> float | None:
    """Of the face the swap replaces when nothing is in front of it (`clean_matte`, the matte of
    the conversion of the clip without the occluder, (H, W) in [0, 1], at 0.5 or more) less the
    occluder's pixels (`occluder`, its alpha (H, W) uint8, above 0), the share that the occluded
    clip's conversion replaces too (its `matte` at 0.5 or more). The mattes are convert's own
    (`--codec patch`, media.writers.patch_matte): unlike `occluder_frame`'s count of changed pixels,
    a swapped pixel that happens to match the footage's colour still counts, so what this misses is
    what the masks left out: the occlusion cut beyond the occluder, and the landmark mask's outline
    moving when the detector guesses at the covered part of the face. None when no face pixel is
    free of the occluder."""
    free = (clean_matte >= 0.5) & (occluder == 0)
    n = int(np.count_nonzero(free))
    return float(np.count_nonzero(free & (matte >= 0.5)) / n) if n else None


# A glasses' pixel is seen when the glasses change the footage there by more than this (levels).
SEEN_LEVEL = 8


@dataclass
class GlassesFrame:
    """One frame of a clip whose face wears glasses of a known matte: `pixels`, the frames' visible
    pixels (wherever they are: on the face or past it; glasses_frame); `kept`, the share of them
    within KEEP_LEVEL of the footage (the glasses stayed); `gone`, the share nearer the conversion
    of the clip without glasses than the footage (the glasses went); `swapped` as in OccluderFrame."""

    pixels: int
    kept: float | None
    gone: float | None
    swapped: float | None


def glasses_frame(output: np.ndarray, footage: np.ndarray, clean_output: np.ndarray, matte: np.ndarray,
                  region: np.ndarray, clean_footage: np.ndarray) -> GlassesFrame:
    """The figures of one frame (GlassesFrame): output, footage (with the glasses), clean_output
    (the conversion of the footage without them), the glasses' matte (uint8), `swap_region` and
    the footage without the glasses. Only the frames' visible pixels count: matte >=
    OCCLUDER_ALPHA where the glasses change the footage by more than SEEN_LEVEL (an arm over hair
    of its own colour can be neither kept nor removed to the eye). A pixel is kept when no channel
    of output differs from the footage by more than KEEP_LEVEL, gone when output is nearer
    clean_output than the footage (largest channel difference). Entirely kept or entirely gone is
    `kept` or `gone` near 1; half is neither."""
    rim = (matte >= OCCLUDER_ALPHA) & (cv2.absdiff(footage, clean_footage).max(axis=2) > SEEN_LEVEL)
    n = int(np.count_nonzero(rim))
    if not n:
        return GlassesFrame(0, None, None, None)
    to_footage = cv2.absdiff(output, footage).max(axis=2)[rim]
    to_clean = cv2.absdiff(output, clean_output).max(axis=2)[rim]
    swapped = occluder_frame(output, footage, clean_output, matte, region).swapped
    return GlassesFrame(n, float(np.mean(to_footage <= KEEP_LEVEL)), float(np.mean(to_clean < to_footage)), swapped)


def summarise_glasses(frames: list[GlassesFrame], share: float = 0.9) -> dict[str, float | int | None]:
    """A clip's glasses figures: `kept_frames` / `gone_frames`, the share of the frames with glasses
    in which at least `share` of their pixels were kept / went; the mean shares; `swapped_mean`."""
    seen = [f for f in frames if f.pixels]

    def mean(values: list[float]) -> float | None:
        return round(float(np.mean(values)), 4) if values else None

    return {
        "frames": len(frames), "glasses_frames": len(seen),
        "kept_frames": round(sum(f.kept >= share for f in seen) / len(seen), 4) if seen else None,
        "gone_frames": round(sum(f.gone >= share for f in seen) / len(seen), 4) if seen else None,
        "kept_mean": mean([f.kept for f in seen]), "gone_mean": mean([f.gone for f in seen]),
        "swapped_mean": mean([f.swapped for f in seen if f.swapped is not None]),
    }


def summarise(frames: list[OccluderFrame], kept_share: float = 0.9) -> dict[str, float | int | None]:
    """One occluder's figures over a clip: frames where it overlaps the face (MIN_OVERLAP);
    `kept_frames`, the share of them in which at least `kept_share` of its pixels kept the
    footage's; `kept_mean`, the mean kept share; `occluder_change`, the mean change of its
    pixels (levels); `swapped_mean` / `swapped_min`, the share of the rest of the face still
    swapped in those frames; `swapped_clear`, the same over frames it does not overlap;
    `swapped_matte_mean`, `swapped_mean` read from convert's mattes (None when not measured)."""
    over = [f for f in frames if f.overlap >= MIN_OVERLAP and f.kept is not None]
    clear = [f.swapped for f in frames if f.overlap < MIN_OVERLAP and f.swapped is not None]
    swapped = [f.swapped for f in over if f.swapped is not None]
    by_matte = [f.swapped_matte for f in over if f.swapped_matte is not None]

    def mean(values: list[float]) -> float | None:
        return round(float(np.mean(values)), 4) if values else None

    return {
        "frames": len(frames), "overlap_frames": len(over),
        "kept_frames": round(sum(f.kept >= kept_share for f in over) / len(over), 4) if over else None,
        "kept_mean": mean([f.kept for f in over]),
        "occluder_change": mean([f.occluder_change for f in over]),
        "swapped_mean": mean(swapped), "swapped_min": round(min(swapped), 4) if swapped else None,
        "swapped_clear": mean(clear), "swapped_matte_mean": mean(by_matte),
    }
