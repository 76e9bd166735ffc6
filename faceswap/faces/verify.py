"""A second opinion that a detected face is human.

MediaPipe's detector and mesh fire on face-like animals (a capuchin monkey
scores 0.85 there and gets a full mesh). dlib's MMOD CNN face detector,
trained on human faces only, scores that monkey 0.19 and people in our
footage 0.6 to 1.07, paintings and statues included. It costs ~0.1 s a
call, so it runs once per new track (and per still image), not per frame.
"""

from __future__ import annotations

import numpy as np

from .dlib_models import dlib_model, import_dlib
from .geometry import crop_matrix, warp
from .types import Face

THRESHOLD = 0.5
CROP = 150  # the MMOD model's sliding window is 80 px: a face fills ~110 px of this crop
COVERAGE = 1.4


class HumanVerifier:
    def __init__(self, threshold: float = THRESHOLD) -> None:
        dlib = import_dlib()
        self._cnn = dlib.cnn_face_detection_model_v1(dlib_model("mmod_human_face_detector.dat"))
        self.threshold = threshold

    def score(self, image: np.ndarray, face: Face) -> float:
        """Best MMOD confidence in an aligned crop around the face (-inf if none)."""
        crop = warp(image, crop_matrix(face.landmarks, CROP, "face", COVERAGE), CROP)
        found = self._cnn(np.ascontiguousarray(crop), 0)
        return max((d.confidence for d in found), default=float("-inf"))

    def check(self, image: np.ndarray, face: Face) -> bool:
        return self.score(image, face) >= self.threshold
