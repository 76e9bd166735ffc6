"""Per-frame measures of one output frame against its original frame.

Both frames go through the same stateless detector (`backend.detect`, no
tracking), so identical frames give identical landmarks and every error
below is exactly zero for an unchanged copy. The face measured is the
original's largest face; in the output, the face that overlaps it most.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..faces.expression import expression_error, inter_ocular
from ..faces.glasses import GlassesTracker, line_contrast, rims_matte
from ..faces.masks import landmark_mask
from ..faces.tracking import box_iou
from ..faces.types import Face
from .appearance import DETAIL_SIGMA, inner_face, seam_sectors, sharpness
from .occlusion import face_skin, occlusion
from .pose import angle_difference, head_pose

# iBUG outer eye corners: the inter-ocular distance of the 300-W benchmark.
# The colour region is cut this much wider than the landmarks' box before masking.
REGION_MARGIN = 0.1
# The glasses' rims left out of sharpness are grown by this many px on each side: the high-pass's
# two blurs at DETAIL_SIGMA spread a thin rim's energy about that far beside it.
GLASSES_GROW = 2 * DETAIL_SIGMA
# The measured face is taken for the same one (its glasses' evidence kept) while its landmark box
# overlaps the last frame's by this IoU; a cut, a gap or another face starts the search afresh.
GLASSES_SAME_FACE = 0.3


class GlassesTrack:
    """The glasses of the face qc measures, frame after frame: convert's GlassesTracker on one
    track, started again whenever the face is not the last frame's (convert starts it again at
    each shot and keeps one per track). qc sees no shots: a cut from one face to another at the
    same place in the frame is not seen, and the new face's rims are looked for near the last
    one's for the tracker's WINDOW frames."""

    def __init__(self) -> None:
        self.tracker = GlassesTracker()
        self._last: np.ndarray | None = None   # the last measured face's landmark box

    def mask(self, image: np.ndarray, face: Face) -> tuple[np.ndarray, float, float | None]:
        """The face's glasses in `image` (H, W, 3) uint8 RGB: their rims, bridge and arms grown by
        GLASSES_GROW as an (H, W) bool mask (drawn within the sharpness region only), the rims'
        line contrast (faces.glasses.line_contrast) and the share of the region they cover (None
        when the region is off the frame)."""
        if self._last is None or box_iou(self._last, face.bbox) < GLASSES_SAME_FACE:
            self.tracker.reset()
        self._last = face.bbox
        worn = self.tracker.rims(image, face.landmarks, 0)
        contrast = line_contrast(image, worn)
        mask = np.zeros(image.shape[:2], bool)
        region = inner_face(face.landmarks, image.shape[:2])
        if region is None:
            return mask, contrast, None
        (x0, y0, x1, y1), inside = region
        mask[y0:y1, x0:x1] = rims_matte((y1 - y0, x1 - x0), worn.moved(x0, y0), grow=GLASSES_GROW) > 0
        return mask, contrast, float(mask[y0:y1, x0:x1][inside].mean()) if inside.any() else None

    def lost(self) -> None:
        """No face measured in this frame: the next one starts afresh."""
        self._last = None


def largest(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.size) if faces else None


def matching(faces: list[Face], ref: Face | None) -> Face | None:
    """The face of `faces` that overlaps `ref` most (any overlap), else the largest."""
    if not faces:
        return None
    if ref is not None:
        best = max(faces, key=lambda f: box_iou(f.bbox, ref.bbox))
        if box_iou(best.bbox, ref.bbox) > 0:
            return best
    return largest(faces)


def landmark_error(output: np.ndarray, original: np.ndarray, iod: float) -> float:
    """Mean distance of the 68 points, in inter-ocular distances."""
    diff = np.asarray(output, np.float64) - np.asarray(original, np.float64)
    return float(np.linalg.norm(diff, axis=1).mean() / iod)


def landmark_motion(now: np.ndarray, before: np.ndarray, iod: float) -> float:
    """Mean displacement of the 68 points between two frames, in inter-ocular distances."""
    return landmark_error(now, before, iod)


@dataclass
class Region:
    """The face's landmark mask, cut out of the frame around the face."""

    x0: int
    y0: int
    mask: np.ndarray  # uint8, 0..255

    @classmethod
    def of(cls, landmarks: np.ndarray, shape: tuple[int, int]) -> Region | None:
        lm = np.asarray(landmarks, np.float64)
        lo, hi = lm.min(axis=0), lm.max(axis=0)
        pad = (hi - lo) * REGION_MARGIN
        h, w = shape
        x0, y0 = (int(max(np.floor(v), 0)) for v in lo - pad)
        x1, y1 = int(min(np.ceil(hi[0] + pad[0]), w)), int(min(np.ceil(hi[1] + pad[1]), h))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        mask = landmark_mask(lm - (x0, y0), (y1 - y0, x1 - x0), "components")
        if not mask.any():
            return None
        return cls(x0, y0, mask)

    def skin_only(self, box: tuple[int, int, int, int], skin: np.ndarray) -> Region:
        """This region less what is not face skin (`skin`, a bool mask of `box` = x0, y0, x1, y1
        in frame pixels; `occlusion.face_skin`): a hand, a microphone, glasses' frames or hair
        over the face, and the eyes and lips, leave the colour measures. Itself when too little
        skin would remain (fewer than a quarter of its pixels)."""
        x0, y0, x1, y1 = box
        h, w = self.mask.shape
        keep = np.ones((h, w), bool)
        # the overlap of the two boxes, in each one's own coordinates
        ax0, ay0 = max(x0, self.x0), max(y0, self.y0)
        ax1, ay1 = min(x1, self.x0 + w), min(y1, self.y0 + h)
        if ax1 > ax0 and ay1 > ay0:
            keep[ay0 - self.y0:ay1 - self.y0, ax0 - self.x0:ax1 - self.x0] = \
                skin[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
        mask = np.where(keep, self.mask, 0).astype(np.uint8)
        if np.count_nonzero(mask) * 4 < np.count_nonzero(self.mask):
            return self
        return Region(self.x0, self.y0, mask)

    def cut(self, image: np.ndarray) -> np.ndarray:
        h, w = self.mask.shape
        return image[self.y0:self.y0 + h, self.x0:self.x0 + w]

    def mean_colour(self, image: np.ndarray) -> np.ndarray:
        """Mean RGB (8-bit levels) inside the mask."""
        return np.array(cv2.mean(self.cut(image), mask=self.mask)[:3], np.float64)

    def mean_abs_diff(self, a: np.ndarray, b: np.ndarray) -> float:
        """Mean absolute difference of two frames inside the mask, in 8-bit levels (all channels)."""
        diff = cv2.absdiff(self.cut(a), self.cut(b))
        return float(np.mean(cv2.mean(diff, mask=self.mask)[:3]))


@dataclass
class FrameMeasures:
    """What one frame pair gives; None where it could not be measured."""

    original_face: Face | None
    output_face: Face | None
    iod: float | None = None
    landmark_error: float | None = None
    expression_error: float | None = None   # mouth opening, corners, eye openness vs the original's, IOD
    pose_original: np.ndarray | None = None
    pose_output: np.ndarray | None = None
    pose_diff: np.ndarray | None = None       # |d yaw|, |d pitch|, |d roll| in degrees
    colour_original: np.ndarray | None = None  # mean RGB of the original face's skin (mask less occluders)
    colour_output: np.ndarray | None = None    # the same pixels of the output frame
    face_change: float | None = None          # mean abs difference output vs original in that region
    sharpness: float | None = None            # inner-face detail of the output / the original's (1 = as sharp)
    seam: float | None = None                 # colour step at the blend edge beyond the original's, 8-bit levels
    seam_sectors: np.ndarray | None = None    # the same per sector round the face (appearance.SEAM_SECTOR_NAMES)
    occlusion: float | None = None            # share of the not-face pixels around the face the output changed
    glasses_contrast: float | None = None     # qc --glasses: the found rims' line contrast in the original
    glasses_share: float | None = None        # ... and the share of the sharpness region they took out

    @property
    def pose_error(self) -> float | None:
        return None if self.pose_diff is None else float(self.pose_diff.max())


def measure_pair(original: np.ndarray, output: np.ndarray, original_faces: list[Face],
                 output_faces: list[Face], glasses: GlassesTrack | None = None) -> FrameMeasures:
    """Landmark error, pose difference, face-region colours, sharpness, seam and occlusion of one frame
    pair; the regions are placed by the original's face, so both frames are measured on the
    same pixels. `glasses`: the original's faces wear glasses, followed by this track (as convert
    finds them); their rims, bridge and arms are left out of sharpness in both frames."""
    face_o = largest(original_faces)
    face_x = matching(output_faces, face_o)
    m = FrameMeasures(face_o, face_x)
    if face_o is None or output.shape != original.shape:
        if glasses is not None:
            glasses.lost()
        return m  # frames of different sizes: only whether each has a face is comparable
    h, w = original.shape[:2]
    m.iod = inter_ocular(face_o.landmarks)
    m.pose_original = head_pose(face_o.landmarks, (w, h))
    region = Region.of(face_o.landmarks, (h, w))
    found = face_skin(original, face_o.landmarks)
    if region is not None:
        skin = region if found is None else region.skin_only(found.box, found.skin)
        m.colour_original = skin.mean_colour(original)
        m.colour_output = skin.mean_colour(output)
        m.face_change = region.mean_abs_diff(original, output)
    rims = None
    if glasses is not None:
        rims, m.glasses_contrast, m.glasses_share = glasses.mask(original, face_o)
    m.sharpness = sharpness(output, original, face_o.landmarks, rims)
    m.seam_sectors = seam_sectors(output, original, face_o.landmarks, face_o.size)
    m.seam = None if m.seam_sectors is None else float(np.nanmax(m.seam_sectors))
    m.occlusion = occlusion(output, original, face_o.landmarks,
                            None if found is None else (found.box, found.not_face))
    if face_x is not None:
        m.landmark_error = landmark_error(face_x.landmarks, face_o.landmarks, m.iod)
        m.expression_error = expression_error(face_x.landmarks, face_o.landmarks)
        m.pose_output = head_pose(face_x.landmarks, (w, h))
        if m.pose_original is not None and m.pose_output is not None:
            m.pose_diff = angle_difference(m.pose_output, m.pose_original)
    return m


def jitter(now: FrameMeasures, before: FrameMeasures) -> float | None:
    """Frame-to-frame landmark motion of the output beyond the original's: the change of
    the landmark error vector between two consecutive frames, in inter-ocular distances."""
    if None in (now.original_face, now.output_face, before.original_face, before.output_face):
        return None
    err_now = now.output_face.landmarks.astype(np.float64) - now.original_face.landmarks
    err_before = before.output_face.landmarks.astype(np.float64) - before.original_face.landmarks
    return float(np.linalg.norm(err_now - err_before, axis=1).mean() / now.iod)


def flicker(now: FrameMeasures, before: FrameMeasures) -> float | None:
    """Frame-to-frame change of the face skin's mean colour in the output beyond the
    original's change (length of the RGB difference, 8-bit levels). The skin is the landmark
    mask less what the footage shows in front of it (`Region.skin_only`), so an occluder the
    swap keeps, crossing the face, is not counted as the face's flicker."""
    if now.colour_output is None or before.colour_output is None:
        return None
    change = (now.colour_output - before.colour_output) - (now.colour_original - before.colour_original)
    return float(np.linalg.norm(change))
