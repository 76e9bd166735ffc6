"""The one geometry layer: alignment to a mean face, crops, boxes and their inverses.

Three coordinate spaces:

* frame: pixels of the original footage;
* face: a normalised space where the mean face below sits upright, the
  centroid of its stable points at the origin and its jaw one unit wide;
* crop: pixels of a square crop of `size`, defined by a centering (which part
  of face space is the centre) and a coverage (how much of it is shown).

Every matrix is a 2x3 affine that maps points *from* frame pixels *to* the
named space; the functions that take matrices also take stacks of them,
(..., 2, 3). Extract, training, convert and qc call these functions and never
do their own matrix arithmetic or call cv2.warpAffine themselves.

Pixel coordinates follow OpenCV, which cv2.warpAffine, cv2.remap and
cv2.transform assume: the centre of pixel (column i, row j) is the point
(i, j), so an image W pixels wide spans x in [-0.5, W - 0.5]. Points
(landmarks, corners) and matrices are all in this convention. Two things are
stated in other terms:

* a box (x0, y0, x1, y1) is a half-open pixel range [x0, x1) x [y0, y1), as
  detectors report boxes ("pixels from the left/top edge"): its left edge is
  the point x0 - 0.5. `box_matrix` maps a box's edges onto the crop's edges,
  so a box of integer corners and the crop's own size is a plain copy
  (MediaPipe's mesh crops keep an older placement, see `box_matrix`);
* `face_to_crop` puts the centering point at (size / 2, size / 2), half a
  pixel right of and below the crop's middle ((size - 1) / 2). That is a
  definition stored facesets and trained models were made with, so it stays;
  it means crops of one face at two sizes differ by a sub-pixel shift besides
  the scale, so convert between them with `recrop_matrix`, never cv2.resize.

Landmarks are taken as given. FAN's (detect_fan) are measured from pixel edges,
half a frame pixel right of and below this convention: their crops sit half a
frame pixel off where the mean face would put them, while every round trip
(crop, then warp back with the same matrix) stays exact. Moving them would
change extract's output, so it is left to a change of its own.
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
    """(..., 3, 3) homogeneous forms of (..., 2, 3) or (..., 3, 3) affines."""
    mat = np.asarray(mat, np.float64)
    out = np.zeros((*mat.shape[:-2], 3, 3))
    out[..., :2, :] = mat[..., :2, :]
    out[..., 2, 2] = 1.0
    return out


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The (..., 2, 3) affine that applies `first`, then `second`. Either may be a
    stack (..., 2, 3) or (..., 3, 3); the leading dimensions broadcast."""
    a = np.asarray(second, np.float64)[..., :2, :]
    b = np.asarray(first, np.float64)[..., :2, :]
    out = a[..., :2] @ b
    out[..., 2] += a[..., 2]
    return out


def invert(mat: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine, or of each of a stack (..., 2, 3) (3x3 forms are
    accepted); (..., 2, 3). Raises numpy's LinAlgError for a singular matrix."""
    m = np.asarray(mat, np.float64)[..., :2, :]
    out = np.empty_like(m)
    out[..., :2] = np.linalg.inv(m[..., :2])
    out[..., 2] = -(out[..., :2] @ m[..., 2:])[..., 0]
    return out


def zoom(mat: np.ndarray) -> float | np.ndarray:
    """How much a 2x3 affine enlarges (its linear scale, sqrt |det|), or an array
    of them for a stack."""
    m = np.asarray(mat, np.float64)
    z = np.sqrt(np.abs(np.linalg.det(m[..., :2, :2])))
    return float(z) if z.ndim == 0 else z


def translation(dx: float, dy: float) -> np.ndarray:
    """The 2x3 affine that moves points by (dx, dy) pixels."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def similarity(angle: float | np.ndarray, scale: float | np.ndarray, centre: tuple[float, float] | float,
               shift: np.ndarray | tuple[float, float] = (0.0, 0.0),
               mirror: bool | np.ndarray = False) -> np.ndarray:
    """Similarities about `centre`: mirror left-right (optional), rotate by `angle`
    radians (clockwise on screen, y pointing down) and scale, all about `centre`,
    then move by `shift` pixels. Scalars give one 2x3; arrays (n,) (shift (n, 2))
    give a stack (n, 2, 3). A bare mirror about the grid's middle, (size - 1) / 2,
    is exactly image[:, ::-1]."""
    angle, scale, mirror = np.asarray(angle, np.float64), np.asarray(scale, np.float64), np.asarray(mirror)
    lead = np.broadcast_shapes(angle.shape, scale.shape, mirror.shape, np.shape(shift)[:-1])
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    out = np.empty((*lead, 2, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1] = cos, -sin, sin, cos
    out[..., 0] *= np.where(mirror, -1.0, 1.0)[..., None]     # linear @ diag(-1, 1)
    c = np.broadcast_to(np.asarray(centre, np.float64), (2,))
    out[..., 2] = c + np.asarray(shift, np.float64) - out[..., :2] @ c
    return out


def transform_points(points: np.ndarray, mat: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Apply a 2x3 affine to (..., 2) points (extra columns, e.g. a mesh's z, are
    dropped): float64 (..., 2).

    With `out` (float32, shaped like `points`, may be `points` itself) the result
    is written there by cv2.transform instead: a sampling grid per training
    sample, where a float64 copy would cost more than the transform."""
    if out is not None:
        return cv2.transform(points, np.asarray(mat, np.float64)[:2], dst=out)
    pts = np.asarray(points, np.float64)[..., :2]
    return pts @ mat[:2, :2].T + mat[:2, 2]


def box_matrix(box: np.ndarray | tuple[float, float, float, float], size: int | tuple[int, int],
               edges: bool = True) -> np.ndarray:
    """2x3 frame -> crop pixels that maps the box (x0, y0, x1, y1), a half-open
    pixel range, onto a crop of `size` (or (width, height)) pixels, edges onto
    edges: the box's left edge, the point x0 - 0.5, goes to the crop's, -0.5.

    edges=False keeps the scale but puts the content 0.5 * (1 - scale) crop
    pixels further right and down: the point (x0, y0) lands on crop pixel
    (0, 0)'s centre. MediaPipe's mesh crops have always been placed so; its mesh
    answers that sub-pixel move with 0.5 px (mean, up to 5 px) of landmark
    jitter on the footage, so they stay."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    w, h = (size, size) if isinstance(size, int) else size
    sx, sy = w / max(x1 - x0, 1e-6), h / max(y1 - y0, 1e-6)
    if not edges:
        return np.array([[sx, 0.0, -sx * x0], [0.0, sy, -sy * y0]])
    return np.array([[sx, 0.0, sx * (0.5 - x0) - 0.5],
                     [0.0, sy, sy * (0.5 - y0) - 0.5]])


def square_box(box: np.ndarray | tuple[float, float, float, float], context: float = 1.0,
               min_side: float = 0.0) -> np.ndarray:
    """The square box (x0, y0, x1, y1) centred on `box`, `context` times its longer
    side (at least `context` * `min_side`) wide: the region a detector or a
    thumbnail shows around a face."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    half = context * max(x1 - x0, y1 - y0, min_side) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([cx - half, cy - half, cx + half, cy + half])


def align_matrix(landmarks: np.ndarray) -> np.ndarray:
    """2x3 frame -> face space similarity fitted on the stable 68-point landmarks."""
    return umeyama(np.asarray(landmarks)[STABLE], MEAN_FACE[STABLE])[:2]


def face_roll(landmarks: np.ndarray) -> float:
    """In-plane rotation of the face with these 68-point landmarks (N >= 68, x, y in
    pixels), in radians in (-pi, pi], clockwise on screen as in `similarity`: 0 for an
    upright face, pi for one upside down. It is the angle of `align_matrix`, negated."""
    m = align_matrix(landmarks)
    return float(np.arctan2(-m[1, 0], m[0, 0]))


def upright_matrix(centre: tuple[float, float] | np.ndarray, roll: float, span: float, size: int) -> np.ndarray:
    """2x3 frame -> view pixels of a square view `size` pixels wide showing `span` frame
    pixels around `centre`, turned by -`roll` radians: a face rolled by `roll` sits
    upright in it, `centre` on the view's middle pixel ((size - 1) / 2). How a face
    lying on its side or upside down is shown to a backend made for upright faces."""
    cx, cy = (float(v) for v in centre[:2])
    mid = (size - 1) / 2
    return similarity(-roll, size / max(span, 1e-6), (cx, cy), shift=(mid - cx, mid - cy))


def quarter_turn(image: np.ndarray, turns: int) -> tuple[np.ndarray, np.ndarray]:
    """`image` (H, W, ...) turned clockwise by `turns` quarter turns, exactly (np.rot90, a
    contiguous copy, no resampling), and the 2x3 frame -> turned-image pixels that maps
    points the same way."""
    turns %= 4
    h, w = image.shape[:2]
    turned = np.ascontiguousarray(np.rot90(image, -turns))
    mat = np.rint(similarity(turns * np.pi / 2, 1.0, 0.0))
    corners = transform_points(np.array([[0.0, 0.0], [w - 1.0, h - 1.0]]), mat)
    mat[:, 2] = -corners.min(axis=0)
    return turned, mat


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
         border: int = cv2.BORDER_REFLECT_101, out: np.ndarray | None = None,
         interpolation: int | None = None, border_value: float | tuple[float, ...] = 0) -> np.ndarray:
    """Resample `image` into the space `mat` maps to (a square crop of `size`, or
    (width, height)). `interpolation` defaults to cubic when enlarging (it keeps
    edges sharp) and linear otherwise: warpAffine has no area filter (it treats
    INTER_AREA as linear), so a large reduction aliases; `box_crop` avoids that."""
    dsize = (size, size) if isinstance(size, int) else size
    if interpolation is None:
        interpolation = cv2.INTER_LINEAR if zoom(mat) < 1.0 else cv2.INTER_CUBIC
    return cv2.warpAffine(image, np.asarray(mat, np.float64)[:2], dsize, dst=out, flags=interpolation,
                          borderMode=border, borderValue=border_value)


def box_crop(image: np.ndarray, box: np.ndarray | tuple[float, float, float, float], size: int,
             border_value: float | tuple[float, ...] = 0) -> np.ndarray:
    """The box (x0, y0, x1, y1) of `image` resampled to size x size (a square box
    keeps its aspect), `border_value` outside the image.

    A large reduction is warped (bilinear) to the largest whole multiple k of
    `size` that is not bigger than the box, then averaged k x k down exactly
    (INTER_AREA), so it does not alias the way a direct bilinear warp would; the
    bilinear step shrinks by less than 2x."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    k = max(1, int(max(x1 - x0, y1 - y0, 1.0) // size))
    out = warp(image, box_matrix(box, size * k), size * k, border=cv2.BORDER_CONSTANT,
               interpolation=cv2.INTER_LINEAR, border_value=border_value)
    if k > 1:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    return out


def covering_box(points: np.ndarray, mat: np.ndarray, pad: int,
                 shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The whole-pixel box (x0, y0, x1, y1) that holds `points` (N, 2) mapped by
    `mat`, grown by `pad` pixels and clipped to an image of `shape` (H, W, ...);
    it may be empty (x1 <= x0) when the points lie outside."""
    mapped = transform_points(points, mat)
    lo = np.floor(mapped.min(axis=0)).astype(int) - pad
    hi = np.ceil(mapped.max(axis=0)).astype(int) + pad
    h, w = shape[:2]
    return max(int(lo[0]), 0), max(int(lo[1]), 0), min(int(hi[0]), w), min(int(hi[1]), h)


def warp_back(image: np.ndarray, mat: np.ndarray, region: tuple[int, int, int, int],
              border: int = cv2.BORDER_REPLICATE, interpolation: int | None = None,
              border_value: float | tuple[float, ...] = 0) -> np.ndarray:
    """A crop (`image`, in the space `mat` maps frame pixels to) resampled into the
    frame's region (x0, y0, x1, y1): (y1 - y0, x1 - x0, ...), what the crop puts
    on those frame pixels. Interpolation as in `warp`."""
    x0, y0, x1, y1 = region
    to_region = compose(translation(-x0, -y0), invert(mat))
    return warp(image, to_region, (x1 - x0, y1 - y0), border=border, interpolation=interpolation,
                border_value=border_value)
