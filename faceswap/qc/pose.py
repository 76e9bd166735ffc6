"""Head pose (yaw, pitch, roll in degrees) from 68 landmarks: cv2.solvePnP on a generic head.

The head is the 14-point anthropometric model widely used for this
(glAnthropometric3DModel, as in lincolnhard/head-pose-estimation): brow
corners, eye corners, nostrils, mouth corners, lower lip and chin. The model
is in its own axes (x to the subject's left, y up, z out of the face); it is
turned here into the camera's (x right, y down, z away from the camera), so
a face looking straight into the lens has angles near zero.

Only differences between two poses of the same face are reported (output vs
original), so the unknown lens (focal length = the frame's longer side, a
normal ~50 degree lens) and the generic head cancel out to first order.
"""

from __future__ import annotations

import cv2
import numpy as np

# iBUG indices of the model points, in the model's order.
HEAD_INDICES = np.array([17, 21, 22, 26, 36, 39, 42, 45, 31, 35, 48, 54, 57, 8], np.int64)
_MODEL = np.array([
    [6.825897, 6.760612, 4.402142],    # 17 right brow, outer end (image left)
    [1.330353, 7.122144, 6.903745],    # 21 right brow, inner end
    [-1.330353, 7.122144, 6.903745],   # 22 left brow, inner end
    [-6.825897, 6.760612, 4.402142],   # 26 left brow, outer end
    [5.311432, 5.485328, 3.987654],    # 36 right eye, outer corner
    [1.789930, 5.393625, 4.413414],    # 39 right eye, inner corner
    [-1.789930, 5.393625, 4.413414],   # 42 left eye, inner corner
    [-5.311432, 5.485328, 3.987654],   # 45 left eye, outer corner
    [2.005628, 1.409845, 6.165652],    # 31 right nostril
    [-2.005628, 1.409845, 6.165652],   # 35 left nostril
    [2.774015, -2.080775, 5.048531],   # 48 right mouth corner
    [-2.774015, -2.080775, 5.048531],  # 54 left mouth corner
    [0.000000, -3.116408, 6.097667],   # 57 lower lip, centre
    [0.000000, -7.415691, 4.070434],   # 8 chin
], np.float64)
# Model axes -> camera axes: every axis flips (a reflection, which also turns the
# model's left-handed axes into OpenCV's right-handed camera frame).
HEAD_POINTS = -_MODEL


def head_pose(landmarks: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray | None:
    """(yaw, pitch, roll) in degrees of a face's 68 landmarks in a frame of `frame_size`
    (width, height); None when the fit fails or puts the head behind the camera."""
    w, h = frame_size
    f = float(max(w, h))
    camera = np.array([[f, 0.0, w / 2.0], [0.0, f, h / 2.0], [0.0, 0.0, 1.0]])
    points = np.ascontiguousarray(np.asarray(landmarks, np.float64)[HEAD_INDICES])
    try:
        ok, rvec, tvec = cv2.solvePnP(HEAD_POINTS, points, camera, None, flags=cv2.SOLVEPNP_ITERATIVE)
    except cv2.error:
        return None
    if not ok or tvec[2, 0] <= 0:
        return None
    rot, _ = cv2.Rodrigues(rvec)
    pitch, yaw, roll = cv2.RQDecomp3x3(rot)[0]  # degrees about x, y, z
    return np.array([yaw, pitch, roll], np.float64)


def angle_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| per angle, wrapped into 0..180 degrees."""
    d = (np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0
    return np.abs(d)
