"""B's own detail on the rendered face: the render enlarged, with the fine detail of B's nearest real crops.

A `quick` model draws its face at 64 px; on a close-up convert shows it at 200-300 px, a 3-5x
enlargement that no training at 64 px can fill (qc's sharpness on d19 sits near 0.25 whatever
the loss). The B faceset holds that detail, B's lashes, lids, brows, lip lines and skin, at the
resolution it was filmed at; the model folder keeps a few dozen of those crops
(data/references.py). For each face, convert:

1. enlarges the render to S = s x R (s: how many frame pixels a crop pixel covers, rounded up
   unless within a quarter of the integer below, at most the references' scale; a face shown at
   up to 1.25x the model's size is left as it is);
2. picks the K references whose landmarks (in crop coordinates) are nearest the footage face's
   (the render follows the footage's pose and expression), weighted softly by that distance so a
   face moving between two references cross-fades rather than switching;
3. aligns each reference to the render by dense optical flow between the render and the reference
   blurred to the render's resolution (DIS: Kroeger et al., "Fast Optical Flow using Dense Inverse
   Search", ECCV 2016; OpenCV), so its eyes, nostrils and lips land on the render's;
4. takes the reference's detail as the ratio of its luma to its own blur at the model's resolution
   (the band the render lacks), trusts it only where the aligned blur agrees with the render (a
   flow that failed, an expression the reference does not have: no detail rather than a ghost),
   and multiplies the render by it inside the hull of the jaw and brows (not onto hair).

This is reference-based super-resolution by warping (Zheng et al., "CrossNet", ECCV 2018, with
a flow instead of a learnt warp) and example-based face hallucination (Liu, Shum & Zhang, CVPR
2001) with the identity's own examples: the detail is B's, never the footage's. Per frame and
stateless, so segments equal a one-piece run.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..data.references import References
from ..faces.geometry import zoom

# References blended per face (d19 -> d18: 2 gave sharpness 0.349 against 0.344 for 3, same identity).
NEAREST = 2
# Softness of the choice, in crop widths of landmark distance: references within about this much
# of the nearest share the face; a larger value cross-fades more (steadier, less detail).
SOFTNESS = 0.01
# Luma disagreement (levels) between the render and the aligned reference's blur at which the
# reference's detail is trusted at exp(-1) (the face's overall tone is matched first). 10 kept
# too little (d19 sharpness 0.318 against 0.349); 30 (0.357) lets more of a disagreeing reference through.
AGREEMENT = 20.0
# The detail's relative luma change is kept within this: a reference's specular glint or black lash
# line must not burn a hole in the face.
MAX_GAIN = 0.5
# DIS's speed/quality preset for aligning a reference to the render.
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
# The flow is found at at most this many times the model's resolution and enlarged: both images
# hold only the model's resolution of detail (held-out d18 faces, 4x: at 2x the detail kept
# 0.809 of the truth's against 0.827 at full size, in a third of the time).
FLOW_SCALE = 2
# Where the detail fades out: this share of the side inside the hull of the jaw and brows.
INSET = 0.05
# Landmark groups by how much they decide which reference fits: eyes, brows and mouth (expression)
# count twice the jaw and nose.
_WEIGHTS = np.ones(68, np.float32)
_WEIGHTS[17:27] = 2.0
_WEIGHTS[36:68] = 2.0


def scale_for(matrix: np.ndarray, limit: int) -> int:
    """How many times to enlarge a render whose crop is placed by `matrix` (2x3 frame -> crop): the
    frame pixels per crop pixel, rounded up unless within a quarter of the integer below, within
    1..`limit`."""
    return int(np.clip(np.ceil(1.0 / float(zoom(matrix)) - 0.25), 1, limit))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _inside(landmarks: np.ndarray, side: int) -> np.ndarray:
    """(side, side) float32: 0 outside the hull of the jaw and brows (68-point 0-26, in pixels),
    rising to 1 at INSET x side inside it. Hair at the temples and the hairline is not B's identity
    and moves: its strands must not be drawn onto the skin of a render that has none there."""
    outline = np.array(landmarks[:27], np.float32)
    # the brows raised (away from the chin, point 8) by twice the inset: they get the full detail
    up = outline[17:27].mean(0) - outline[8]
    outline[17:27] += 2 * INSET * side * up / max(float(np.linalg.norm(up)), 1.0)
    hull = np.zeros((side, side), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(outline).astype(np.int32)), 1)
    return np.clip(cv2.distanceTransform(hull, cv2.DIST_L2, 3) / (INSET * side), 0.0, 1.0)


class ReferenceDetail:
    """B's reference crops (data/references.py) made ready for faces rendered at `resolution`."""

    def __init__(self, refs: References, resolution: int) -> None:
        self.refs = refs
        self.resolution = resolution
        self.max_scale = max(1, refs.side // resolution)
        self.shapes = refs.landmarks / refs.side          # (N, 68, 2) in crop widths
        self._at: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._grids: dict[int, np.ndarray] = {}     # (2, S, S) pixel coordinates, made once per side
        self._flow = cv2.DISOpticalFlow_create(FLOW_PRESET)

    def _references(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        """The crops at `side`: float32 (N,S,S,2) of their luma and its blur at the model's resolution
        (warped together), and that blur as uint8 for the flow (N,S,S)."""
        if side not in self._at:
            r = self.resolution
            crops = [c if c.shape[0] == side else cv2.resize(c, (side, side), interpolation=cv2.INTER_AREA)
                     for c in self.refs.crops]
            luma = np.stack([_luma(c) for c in crops]).astype(np.float32)
            low = np.stack([cv2.resize(cv2.resize(y, (r, r), interpolation=cv2.INTER_AREA), (side, side),
                                       interpolation=cv2.INTER_CUBIC) for y in luma])
            self._at[side] = (np.stack([luma, low], -1), np.clip(low + 0.5, 0, 255).astype(np.uint8))
        return self._at[side]

    def nearest(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The NEAREST references to a face with `landmarks` (68, 2) in model-crop pixels, and
        their weights (summing to 1): exp(-(d^2 - d_min^2) / (2 SOFTNESS^2)) of the weighted RMS
        landmark distance d in crop widths."""
        shape = np.asarray(landmarks, np.float32) / self.resolution
        d2 = (np.square(self.shapes - shape).sum(2) * _WEIGHTS).sum(1) / _WEIGHTS.sum()
        order = np.argsort(d2, kind="stable")[:NEAREST]
        w = np.exp(-(d2[order] - d2[order[0]]) / (2 * SOFTNESS ** 2))
        return order, w / w.sum()

    def enlarge(self, render: np.ndarray, landmarks: np.ndarray, scale: int) -> np.ndarray:
        """`render` (R,R,3) float32 RGB in [0,1] -> (S,S,3), S = scale x R, with B's detail.

        landmarks: (68, 2) of the face the render follows, in model-crop pixels. scale 1 returns
        the render as it is."""
        if scale <= 1:
            return render
        side = scale * self.resolution
        up = cv2.resize(render, (side, side), interpolation=cv2.INTER_CUBIC)
        y_up = _luma(np.clip(up, 0, 1)) * 255.0
        pairs, low_u8 = self._references(side)
        order, weights = self.nearest(landmarks)
        grid = self._grids.get(side)
        if grid is None:
            grid = self._grids[side] = np.mgrid[0:side, 0:side][::-1].astype(np.float32)
        y_u8 = np.clip(y_up + 0.5, 0, 255).astype(np.uint8)
        # both images hold only the model's resolution of detail: the flow is found at most
        # FLOW_SCALE x R and enlarged (a quarter of the pixels at scale 4)
        small = min(side, FLOW_SCALE * self.resolution)
        if small < side:
            y_u8 = cv2.resize(y_u8, (small, small), interpolation=cv2.INTER_AREA)
            low_u8 = self._references(small)[1]
        detail = np.zeros((side, side), np.float32)
        for k, w in zip(order, weights):
            flow = self._flow.calc(y_u8, low_u8[k], None)
            if small < side:
                flow = cv2.resize(flow, (side, side), interpolation=cv2.INTER_LINEAR) * (side / small)
            mx, my = grid[0] + flow[..., 0], grid[1] + flow[..., 1]
            # cubic: the reference's detail is the band a bilinear lookup averages away (of d18's 1.88
            # levels of fine-detail RMS, 1.50 survived a linear warp and 1.76 a cubic one; d19 -> d18's
            # qc sharpness over its first 60 frames 0.485 -> 0.539, docs/quality.md)
            ref, blur = cv2.split(cv2.remap(pairs[k], mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
            gain = np.clip((ref + 16.0) / (blur + 16.0) - 1.0, -MAX_GAIN, MAX_GAIN)
            # agreement after matching the reference's tone to the render's (lighting differs)
            toned = (blur - blur.mean()) * (y_up.std() / max(float(blur.std()), 1.0)) + y_up.mean()
            miss = cv2.GaussianBlur(np.abs(toned - y_up), (0, 0), max(1.0, scale / 2))
            detail += w * gain * np.exp(-np.square(miss / AGREEMENT))
        return np.clip(up * (1.0 + (detail * _inside(landmarks * scale, side))[..., None]), 0.0, 1.0)


__all__ = ["AGREEMENT", "MAX_GAIN", "NEAREST", "ReferenceDetail", "SOFTNESS", "scale_for"]
