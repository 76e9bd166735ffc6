"""The one geometry layer: alignment to a mean face, crops, and their inverses.

Three coordinate spaces:

* frame: pixels of the original footage;
* face: a normalised space where the mean face below sits upright, the
  centroid of its stable points at the origin and its jaw one unit wide;
* crop: pixels of a square crop of `size`, defined by a centering (which part
  of face space is the centre) and a coverage (how much of it is shown).

Every matrix is a 2x3 affine that maps points *from* frame pixels *to* the
named space. Extract, training and convert call these functions and never do
their own matrix arithmetic.
"""

from __future__ import annotations

import cv2
import numpy as np

from .landmarks68 import STABLE

# Mean of MediaPipe-derived 68-point landmarks over ~300 frames of six people
# (Procrustes-aligned on the stable points, levelled and made left-right
# symmetric), centred on the stable points' centroid, jaw width 1.
MEAN_FACE = np.array([
    [-0.5000, -0.1060], [-0.4893, 0.0038], [-0.4690, 0.1210], [-0.4342, 0.2443],
    [-0.3875, 0.3452], [-0.3347, 0.4203], [-0.2687, 0.4855], [-0.1557, 0.5713],
    [-0.0000, 0.6106], [0.1557, 0.5713], [0.2687, 0.4855], [0.3347, 0.4203],
    [0.3875, 0.3452], [0.4342, 0.2443], [0.4690, 0.1210], [0.4893, 0.0038],
    [0.5000, -0.1060], [-0.4219, -0.3543], [-0.3788, -0.3986], [-0.3100, -0.4198],
    [-0.2187, -0.4134], [-0.1110, -0.3960], [0.1110, -0.3960], [0.2187, -0.4134],
    [0.3100, -0.4198], [0.3788, -0.3986], [0.4219, -0.3543], [-0.0000, -0.2438],
    [-0.0000, -0.1187], [-0.0000, -0.0103], [-0.0000, 0.0564], [-0.1245, 0.1229],
    [-0.0563, 0.1406], [-0.0000, 0.1446], [0.0563, 0.1406], [0.1245, 0.1229],
    [-0.3349, -0.2210], [-0.2872, -0.2490], [-0.2085, -0.2522], [-0.1293, -0.2010],
    [-0.1989, -0.1876], [-0.2748, -0.1877], [0.1293, -0.2010], [0.2085, -0.2522],
    [0.2872, -0.2490], [0.3349, -0.2210], [0.2748, -0.1877], [0.1989, -0.1876],
    [-0.1849, 0.2919], [-0.1088, 0.2491], [-0.0560, 0.2359], [-0.0000, 0.2462],
    [0.0560, 0.2359], [0.1088, 0.2491], [0.1849, 0.2919], [0.1070, 0.3794],
    [0.0580, 0.4006], [-0.0000, 0.4067], [-0.0580, 0.4006], [-0.1070, 0.3794],
    [-0.1681, 0.2934], [-0.0460, 0.2867], [-0.0000, 0.2895], [0.0460, 0.2867],
    [0.1681, 0.2934], [0.0462, 0.3285], [-0.0000, 0.3326], [-0.0462, 0.3285],], dtype=np.float64)

# centering -> (centre x, centre y, extent) in face space. "face" spans brows to
# chin and ear to ear with a margin; "head" moves up and out to include the
# forehead, hair and ears, as a head-and-shoulders compositor crop would.
CENTERINGS: dict[str, tuple[float, float, float]] = {
    "face": (0.0, 0.05, 1.40),
    "head": (0.0, -0.20, 2.20),
}


def umeyama(src: np.ndarray, dst: np.ndarray, scale: bool = True) -> np.ndarray:
    """Least-squares similarity transform (3x3) taking points `src` onto `dst`
    (Umeyama 1991): rotation, uniform scale and translation, no reflection."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n, dim = src.shape
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s_c, d_c = src - mu_s, dst - mu_d
    cov = d_c.T @ s_c / n
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(dim)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[-1, -1] = -1
    rot = u @ fix @ vt
    var_s = (s_c ** 2).sum() / n
    c = float(np.trace(np.diag(sig) @ fix) / var_s) if scale and var_s > 0 else 1.0
    out = np.eye(dim + 1)
    out[:dim, :dim] = c * rot
    out[:dim, dim] = mu_d - c * rot @ mu_s
    return out


def to3x3(mat: np.ndarray) -> np.ndarray:
    out = np.eye(3)
    out[:2] = mat[:2]
    return out


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The 2x3 affine that applies `first`, then `second`."""
    return (to3x3(second) @ to3x3(first))[:2]


def invert(mat: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine."""
    return np.linalg.inv(to3x3(mat))[:2]


def transform_points(points: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (N, 2) points."""
    pts = np.asarray(points, np.float64)[:, :2]
    return pts @ mat[:2, :2].T + mat[:2, 2]


def align_matrix(landmarks: np.ndarray) -> np.ndarray:
    """2x3 frame -> face space similarity fitted on the stable 68-point landmarks."""
    return umeyama(np.asarray(landmarks)[STABLE], MEAN_FACE[STABLE])[:2]


def face_to_crop(size: int, centering: str = "face", coverage: float = 1.0) -> np.ndarray:
    """2x3 face space -> crop pixels for a square crop of `size` pixels."""
    if centering not in CENTERINGS:
        raise ValueError(f"centering must be one of {sorted(CENTERINGS)}, not {centering!r}")
    if not 0.1 <= coverage <= 2.0:
        raise ValueError(f"coverage must be between 0.1 and 2.0, not {coverage}")
    cx, cy, extent = CENTERINGS[centering]
    scale = size / (extent * coverage)
    return np.array([[scale, 0.0, size / 2 - scale * cx],
                     [0.0, scale, size / 2 - scale * cy]])


def crop_matrix(landmarks: np.ndarray, size: int, centering: str = "face",
                coverage: float = 1.0) -> np.ndarray:
    """2x3 frame -> crop pixels for the face with these 68-point landmarks."""
    return compose(face_to_crop(size, centering, coverage), align_matrix(landmarks))


def recrop_matrix(src_size: int, src_centering: str, src_coverage: float,
                  size: int, centering: str, coverage: float) -> np.ndarray:
    """2x3 that takes pixels of one crop of a face to pixels of another crop of
    the same face: how training and convert get a model's crop out of a stored
    faceset crop without the original frame. Only the crop definitions matter,
    because both crops share the same frame -> face alignment."""
    return compose(face_to_crop(size, centering, coverage),
                   invert(face_to_crop(src_size, src_centering, src_coverage)))


def warp(image: np.ndarray, mat: np.ndarray, size: int | tuple[int, int],
         border: int = cv2.BORDER_REFLECT_101, out: np.ndarray | None = None) -> np.ndarray:
    """Resample `image` into the space `mat` maps to (a square crop of `size`, or
    (width, height))."""
    dsize = (size, size) if isinstance(size, int) else size
    zoom = float(np.sqrt(abs(np.linalg.det(np.asarray(mat)[:2, :2]))))
    # cubic sharpens upscales; warpAffine has no area filter, linear is its best for downscales
    flags = cv2.INTER_LINEAR if zoom < 1.0 else cv2.INTER_CUBIC
    return cv2.warpAffine(image, np.asarray(mat, np.float64), dsize, dst=out, flags=flags, borderMode=border)
