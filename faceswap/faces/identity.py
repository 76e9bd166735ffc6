"""Who a face is: dlib's 128-d face descriptor, an optional extra.

dlib-bin and face-recognition-models ship the network inside their wheels,
so this works offline. It is only used to pick a person (`--reference`) and
to measure results, never trained against.
"""

from __future__ import annotations

import numpy as np

from .dlib_models import dlib_model, import_dlib
from .types import Face


class IdentityEncoder:
    """128-d descriptors of faces; distances under ~0.6 mean the same person."""

    def __init__(self) -> None:
        dlib = import_dlib()
        self._dlib = dlib
        self._shape = dlib.shape_predictor(dlib_model("shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(dlib_model("dlib_face_recognition_resnet_model_v1.dat"))

    def describe(self, image: np.ndarray, face: Face) -> np.ndarray:
        """Descriptor of `face` in the RGB `image`."""
        x0, y0, x1, y1 = (int(round(v)) for v in face.bbox)
        rect = self._dlib.rectangle(x0, y0, x1, y1)
        shape = self._shape(image, rect)
        return np.asarray(self._net.compute_face_descriptor(image, shape), np.float32)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
