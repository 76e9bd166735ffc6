"""Landmarks of a face with something in front of it, found again with the occluder painted out.

A face mesh that sees a hand or a microphone over the mouth guesses the hidden mouth and jaw, and
the guess moves the points around it too: on d18 with synthetic occluders (docs/occlusion.md), the
covered points of MediaPipe's 68 were 0.09-0.15 inter-ocular distances from where the clean clip put
them. The swap is then aligned to a mouth that is not there, and the mask's outline (from the
landmarks) leaves the footage's own chin beside the occluder unswapped.

So where the occlusion net (the footage identity's own view of the face) says part of the face is
covered, the occluder's pixels are filled from their surroundings (Telea's fast marching inpainting,
"An image inpainting technique based on the fast marching method", J. Graphics Tools 2004, in
OpenCV) and the mesh is run again on the filled frame in the face's own box: it then sees a face with
a smooth patch where the occluder was and places the hidden points by the face around it. The hole
is the net's cut inside the face's outline, and the pixels of the occluder's colour joined to it
within the model's crop (the fingers and palm below a misplaced jaw, which the outline leaves out;
one Gaussian colour model a side, as `occlusion.colour_refine`).

Not when the occluder hides most of the lower face (a box over nose and mouth): the fill leaves no
feature to place the points by and the mesh's own guess is no worse, so such faces keep it
(`MAX_SHARE`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from ..faces.backends import Backend
from ..faces.geometry import compose, invert, transform_points
from ..faces.roll import track_faces
from ..faces.types import Face
from .occlusion import SKIN_LIKE, colour_distance, colour_model

__all__ = ["MAX_SHARE", "MIN_SHARE", "OccludedLandmarks", "occluder_hole", "refind"]

# share of the face (its landmarks' hull) the net must call covered before the mesh is run again:
# below it the cut is a rim of hair or shadow, and a second mesh run would only jitter the points
MIN_SHARE = 0.01
# beyond it the fill is a featureless patch over most of the lower face (see the module)
MAX_SHARE = 0.20
_COVERED = 0.3      # the net's visible share under which a pixel inside the face is the occluder
_MAYBE = 0.7        # ... and under which a pixel of the occluder's colour joins it
_GROW = 0.02        # the hole grown by this share of the face width: the occluder's anti-aliased rim
_FILL_WIDTH = 160   # faces wider than this (px) are cut and filled at this width, then scaled back
_PAD = 0.5          # the region filled and searched: the face's box grown by this share of its width


def _hull(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) uint8, 1 inside the convex hull of `points` (N, 2) px, for an image of `shape`."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask


class _Occlusion(Protocol):
    size: int

    def matrix(self, landmarks: np.ndarray) -> np.ndarray: ...
    def crop(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray: ...
    def occlusion(self, crops: np.ndarray) -> np.ndarray: ...


def occluder_hole(visible: np.ndarray, guide: np.ndarray, inside: np.ndarray) -> tuple[float, np.ndarray]:
    """The occluder's pixels in a region of the frame, and the share of the face it covers.

    visible: (H, W) float32, the net's visible share warped into the region, 1 outside the model's
    crop (nothing is known to cover the face there). guide: (H, W, 3) uint8 RGB, the footage there. inside: (H, W) bool, the face's
    landmark hull.
    Returns (covered share of `inside`, (H, W) bool hole): the net's cut inside the face (visible
    < 0.3), with the pixels within the crop that the net doubts (< 0.7) and whose colour is the
    cut's, not the face's (squared Mahalanobis distance in CIELAB under SKIN_LIKE from the cut's
    colours, over it from the face's), where they join the cut.
    """
    core = inside & (visible < _COVERED)
    share = float(np.count_nonzero(core) / max(np.count_nonzero(inside), 1))
    skin = inside & (visible > 0.9)
    if np.count_nonzero(core) < 30 or np.count_nonzero(skin) < 100:
        return share, core
    lab = cv2.cvtColor(np.ascontiguousarray(guide), cv2.COLOR_RGB2LAB).astype(np.float32)
    occluder, face = colour_model(lab[core]), colour_model(lab[skin])
    like = (visible < _MAYBE) & (colour_distance(lab, occluder) < SKIN_LIKE) \
        & (colour_distance(lab, face) > SKIN_LIKE)
    _, label = cv2.connectedComponents((core | like).astype(np.uint8))
    joined = np.unique(label[core])
    return share, np.isin(label, joined[joined > 0]) | core


def refind(image: np.ndarray, face: Face, hole: np.ndarray, box: tuple[int, int, int, int],
           backend: Backend) -> Face:
    """`face` found again on `image` with the pixels of `hole` painted out.

    image: (H, W, 3) uint8 RGB frame (not modified). box: (x0, y0, x1, y1) px, the region of the
    frame `hole` covers; hole: (h, w) bool, the occluder's pixels in that region at any scale (the
    fill is made at that scale: Telea's cost grows with the hole's area, and the mesh sees the face
    at 256 px anyway). Returns a Face with the new landmarks and `face`'s track and score (and the
    new mesh where `face` had one: a face read from an alignments file keeps none, so nothing
    downstream sees a mesh come and go along its track), or `face` itself when the mesh finds no
    face in the filled frame.
    """
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1]
    h, w = region.shape[:2]
    hs, ws = hole.shape
    small = region if (hs, ws) == (h, w) else cv2.resize(region, (ws, hs), interpolation=cv2.INTER_AREA)
    grow = max(1, round(_GROW * face.size * ws / w))
    mask = cv2.dilate(hole.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    fill = cv2.inpaint(small, mask, 3, cv2.INPAINT_TELEA)
    if (hs, ws) != (h, w):
        fill = cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    filled = image.copy()
    filled[y0:y1, x0:x1] = np.where(mask[..., None] > 0, fill, region)
    found = track_faces(backend, filled, face.landmarks, face.bbox, face.score)
    if not found:
        return face
    best = min(found, key=lambda f: float(np.linalg.norm(f.landmarks.mean(0) - face.landmarks.mean(0))))
    return Face(best.landmarks, face.score, best.mesh if face.mesh is not None else None, face.track)


class OccludedLandmarks:
    """`(image, faces) -> faces`: each face the model's occlusion net sees covered by between
    MIN_SHARE and MAX_SHARE of its area found again with the occluder painted out (`refind`); the
    others as they are. `model`: the convert's Swapper (its crop and occlusion net);
    `backend_factory`: makes the face backend that finds faces again, on first need (its mesh runs
    on single images: no state is carried from frame to frame, so a run in segments finds what a
    run in one piece does)."""

    def __init__(self, model: _Occlusion, backend_factory: Callable[[], Backend]) -> None:
        self.model, self._factory = model, backend_factory
        self._backend: Backend | None = None
        self.refound = 0   # faces found again, for the log

    def __call__(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        if not faces:
            return faces
        matrices = [self.model.matrix(f.landmarks) for f in faces]
        visible = self.model.occlusion(np.stack([self.model.crop(image, m) for m in matrices]))
        return [self._one(image, face, v, m) for face, v, m in zip(faces, visible, matrices, strict=True)]

    def _one(self, image: np.ndarray, face: Face, visible: np.ndarray, matrix: np.ndarray) -> Face:
        # the share first, in the crop (64 px: cheap), so an uncovered face, the common case, costs the
        # net alone; over the outline less its rim, whose pixels the net calls half face
        hull = cv2.erode(_hull(transform_points(face.landmarks, matrix), visible.shape), np.ones((3, 3), np.uint8)) > 0
        share = float(np.count_nonzero(hull & (visible < _COVERED)) / max(np.count_nonzero(hull), 1))
        if not MIN_SHARE <= share <= MAX_SHARE:
            return face
        h, w = image.shape[:2]
        bx0, by0, bx1, by1 = face.bbox
        pad = _PAD * face.size
        x0, y0 = max(int(bx0 - pad), 0), max(int(by0 - pad), 0)
        x1, y1 = min(int(np.ceil(bx1 + pad)), w), min(int(np.ceil(by1 + pad)), h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return face
        # the hole is found and filled at _FILL_WIDTH: its cost then does not grow with the face's size
        scale = min(1.0, _FILL_WIDTH / max(face.size, 1.0))
        size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
        sx, sy = size[0] / (x1 - x0), size[1] / (y1 - y0)
        to_region = compose(np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]]), invert(matrix))
        seen = cv2.warpAffine(visible.astype(np.float32), to_region, size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=1.0)
        guide = image[y0:y1, x0:x1]
        if size != (x1 - x0, y1 - y0):
            guide = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
        _, hole = occluder_hole(seen, guide, _hull((face.landmarks - (x0, y0)) * (sx, sy), seen.shape) > 0)
        if self._backend is None:
            self._backend = self._factory()
        found = refind(image, face, hole, (x0, y0, x1, y1), self._backend)
        self.refound += found is not face
        return found
