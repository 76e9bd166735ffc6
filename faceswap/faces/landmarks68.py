"""The 68-point iBUG convention and how MediaPipe's 478-point mesh maps onto it.

Everything downstream (alignment, masks, FAN interop) speaks 68 points.
Indices below pick, for each iBUG point, the mesh vertex at the same
anatomical place. Subject's right is image left, as in iBUG.
"""

import numpy as np

# iBUG 68 point groups (index ranges into the 68 points).
JAW = slice(0, 17)
RIGHT_BROW = slice(17, 22)
LEFT_BROW = slice(22, 27)
NOSE_BRIDGE = slice(27, 31)
NOSE_BASE = slice(31, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
OUTER_MOUTH = slice(48, 60)
INNER_MOUTH = slice(60, 68)
MOUTH = slice(48, 68)
STABLE = slice(17, 68)  # everything but the jaw, which moves with the mouth

MESH_TO_68 = np.array([
    # jaw, from the subject's right ear line round the chin (152) to the left
    234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454,
    # right brow (outer -> inner), left brow (inner -> outer)
    70, 63, 105, 66, 107,
    336, 296, 334, 293, 300,
    # nose bridge top -> tip, then nostril base right -> left
    168, 197, 5, 4,
    98, 97, 2, 326, 327,
    # right eye: outer corner, upper lid x2, inner corner, lower lid x2
    33, 160, 158, 133, 153, 144,
    # left eye: inner corner, upper lid x2, outer corner, lower lid x2
    362, 385, 387, 263, 373, 380,
    # outer lip from the right corner clockwise (upper lip first)
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # inner lip from the right corner clockwise
    78, 82, 13, 312, 308, 317, 14, 87,
], dtype=np.int64)

# Left/right mirror of the 68 points: FLIP_68[i] is the point that i becomes
# when the face is mirrored horizontally (used for flip augmentation).
FLIP_68 = np.array(
    list(range(16, -1, -1))
    + list(range(26, 21, -1)) + list(range(21, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46]
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65],
    dtype=np.int64,
)


def mesh_to_68(mesh: np.ndarray) -> np.ndarray:
    """(478|468, >=2) mesh points -> (68, 2) iBUG landmarks."""
    return np.ascontiguousarray(mesh[MESH_TO_68, :2], dtype=np.float32)
