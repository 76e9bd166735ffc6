"""Default backend: MediaPipe's full-range face detector + Face Mesh (478 points).

Both models ship inside the mediapipe 0.10.21 wheel, so nothing is downloaded.
The mesh's own detector is short-range (faces close to the camera), so it
never sees whole frames: every face found by the full-range detector, or
predicted from the previous frame's landmarks while tracking, is cut out as
an upscaled square crop and the mesh runs on that crop. This is what lets
small faces in 720p wide shots get a full mesh.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from .. import defaults
from ..errors import FaceswapError
from .geometry import box_matrix, invert, square_box, transform_points, warp, zoom
from .landmarks68 import mesh_to_68
from .tracking import box_iou
from .types import Face

os.environ.setdefault("GLOG_minloglevel", "2")

# Side of the square the mesh sees, and how much wider than the face box that
# square is: the short-range detector inside Face Mesh wants a face at about
# half the image, and the margin lets it find turned heads too.
MESH_INPUT = 256
MESH_CONTEXT = 2.0


class MediaPipeBackend:
    """Finds faces and their landmarks in RGB frames."""

    name = "mediapipe"

    def __init__(self, confidence: float = defaults.DETECT_CONFIDENCE) -> None:
        try:
            import mediapipe as mp
        except ImportError as err:  # pragma: no cover - hard dependency
            raise FaceswapError("the mediapipe backend needs `pip install mediapipe==0.10.21`") from err
        if not hasattr(mp, "solutions"):
            raise FaceswapError("this mediapipe has no legacy solutions API; install mediapipe==0.10.21")
        # The full-range model finds small and distant faces but misses some that
        # fill the frame; the short-range model finds those. Both run, results merge.
        self._detectors = [mp.solutions.face_detection.FaceDetection(
            model_selection=sel, min_detection_confidence=confidence) for sel in (1, 0)]
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=2, refine_landmarks=True,
            min_detection_confidence=0.3)
        self._crop = np.empty((MESH_INPUT, MESH_INPUT, 3), np.uint8)

    def close(self) -> None:
        for det in self._detectors:
            det.close()
        self._mesh.close()

    # -- stage 1: where are the faces ------------------------------------------
    def detect_boxes(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """(box x0,y0,x1,y1 in pixels, score) for every face the full-range detector finds."""
        h, w = image.shape[:2]
        boxes: list[tuple[np.ndarray, float]] = []
        for detector in self._detectors:
            for det in detector.process(image).detections or []:
                rb = det.location_data.relative_bounding_box
                box = np.array([rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h],
                               np.float32)
                if not any(box_iou(box, b) > 0.3 for b, _ in boxes):
                    boxes.append((box, float(det.score[0])))
        return boxes

    # -- stage 2: the mesh on a crop around one face ----------------------------
    def mesh_in_box(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """478x3 mesh (pixels) of the face in `box`, or None if the mesh finds no face there."""
        square = square_box(box, MESH_CONTEXT)
        if square[2] - square[0] < 4:
            return None
        # The placement and the bilinear filter (also when shrinking: warpAffine took
        # INTER_AREA as linear) are the ones the mesh always saw, so extract's
        # landmarks stay as they were; box_crop would area-average instead.
        mat = box_matrix(square, MESH_INPUT, edges=False)
        warp(image, mat, MESH_INPUT, border=cv2.BORDER_CONSTANT, out=self._crop, interpolation=cv2.INTER_LINEAR)
        result = self._mesh.process(self._crop)
        if not result.multi_face_landmarks:
            return None
        best, best_d = None, np.inf
        for lms in result.multi_face_landmarks:
            pts = np.array([(p.x, p.y, p.z) for p in lms.landmark], np.float32) * MESH_INPUT
            # with two faces in the crop, take the one centred where we asked
            d = float(np.linalg.norm(pts[:, :2].mean(axis=0) - MESH_INPUT / 2))
            if d < best_d:
                best, best_d = pts, d
        if best_d > MESH_INPUT * 0.25:
            return None
        best[:, :2] = transform_points(best, invert(mat))
        best[:, 2] /= zoom(mat)
        return best

    def faces_in_boxes(self, image: np.ndarray, boxes: list[tuple[np.ndarray, float]]) -> list[Face]:
        faces = []
        for box, score in boxes:
            mesh = self.mesh_in_box(image, box)
            if mesh is not None:
                faces.append(Face(landmarks=mesh_to_68(mesh), score=score, mesh=mesh))
        return faces

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in a still image (no tracking)."""
        return self.faces_in_boxes(image, self.detect_boxes(image))
