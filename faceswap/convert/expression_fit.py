"""The footage's expression on the rendered face: the render warped so its landmarks land on the footage's.

A `quick` model trained for half an hour draws B's nearest expression, not always the footage's:
a closed smile comes out as a half-open mouth, raised brows lower, a squint wider (qc's landmark
error, output against footage, 0.04 inter-ocular distances on d14 -> d10). Everything needed to
correct that is at hand at convert: the footage face's landmarks (the expression to keep) and the
render, whose own landmarks the run's detector finds. For each face:

1. the detector's landmarks of the render, looked for in the box of the footage face's (the render
   is drawn at the same place in the same crop); none found, or found far from the footage's
   (not this face), leaves the render as it is;
2. a smooth displacement field that carries each render landmark onto the footage's, zero along
   the crop's border: a thin-plate spline (Bookstein, "Principal warps", IEEE TPAMI 1989;
   scipy's RBFInterpolator) with a little smoothing, so one misplaced landmark bends the face
   less than it moves the point;
3. the render (and the model's predicted mask) resampled through it (OpenCV remap), every shift
   clipped to MAX_SHIFT of the side.

The mouth, eyes and brows then open, close and rise as the footage's do while the pixels stay
B's. Landmark-driven image warping of this kind is how expression was transferred before learnt
models (e.g. Averbuch-Elor et al., "Bringing portraits to life", SIGGRAPH Asia 2017). Per face
and stateless, so segments equal a one-piece run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator

from ..faces import expression as X
from ..faces import landmarks68 as L
from ..faces.landmarks68 import mesh_to_68
from .edge_steady import reach

# The largest shift, as a share of the crop's side: an expression differs by a few % of the face;
# more than this is a bad detection, not an expression.
MAX_SHIFT = 0.06
# A render whose landmarks sit this far from the footage's on average (inter-ocular distances)
# is not the same face's or was misread: left as it is.
REJECT = 0.17
# Shifts below this (inter-ocular distances) are mostly the detector's noise on the render, not
# an expression: faded in as d^2 / (d^2 + DEAD_ZONE^2), so a render already on the footage's
# expression is left still rather than trembling with each frame's reading.
DEAD_ZONE = 0.01
# An inner-lip pair whose targets are closer than this (inter-ocular distances) is a shut mouth: its
# upper point is left out of the spline (Fit.apply).
SHUT = 0.05
# Thin-plate spline smoothing (crop pixels squared, per point): fits a landmark to about a pixel
# and keeps a lone outlier from folding the face.
SMOOTHING = 1.0
# The render's landmarks are read anew each frame and jump by about 2 % of the inter-ocular
# distance between frames where the footage's smoothed ones move 0.1 %: each face's shift is
# averaged over its track's frames within a Gaussian of this many frames (sigma; the window reaches
# 2 sigma either way, within the shot), centred so it does not lag.
STEADY = 3.0
# Zero-shift anchors along each side of the crop: the face's surroundings do not move.
BORDER_ANCHORS = 8
# The field is found on a grid this many times coarser than the crop and enlarged (it is smooth).
GRID_STEP = 8


def irises(mesh: np.ndarray | None, landmarks: np.ndarray) -> np.ndarray | None:
    """The irises' centres (2, 2), pixels, ordered as the 68 landmarks' eyes (36-41, then 42-47),
    placed on `landmarks`' eyes: each is the mesh's iris centre (points 468 and 473 of MediaPipe's
    refined mesh) less the mesh's own eye centre, added to `landmarks`' eye centre, so smoothed
    landmarks keep the mesh's gaze without its jitter. None when there is no refined mesh (the fan
    detector gives none)."""
    if mesh is None or len(mesh) < 478:
        return None
    own = mesh_to_68(mesh)
    centres = np.stack([own[L.RIGHT_EYE].mean(axis=0), own[L.LEFT_EYE].mean(axis=0)]).astype(np.float64)
    iris = mesh[[468, 473], :2].astype(np.float64)
    # which refined iris belongs to which 68-point eye: the nearer one
    if np.linalg.norm(iris[0] - centres[0]) > np.linalg.norm(iris[0] - centres[1]):
        iris = iris[::-1]
    placed = np.stack([landmarks[L.RIGHT_EYE].mean(axis=0), landmarks[L.LEFT_EYE].mean(axis=0)])
    return placed + (iris - centres)


def _eyes_apart(landmarks: np.ndarray) -> float:
    """Distance between the eyes' centres (pixels): the faces' scale ratio, which unlike the outer
    corners' distance does not grow with the eyes' size."""
    return max(float(np.linalg.norm(landmarks[L.LEFT_EYE].mean(axis=0) - landmarks[L.RIGHT_EYE].mean(axis=0))), 1e-6)


def expression_targets(render: np.ndarray, footage: np.ndarray, render_irises: np.ndarray | None = None,
                       footage_irises: np.ndarray | None = None) -> np.ndarray:
    """Where the render's points go to show the footage's expression and keep the render's build.

    render, footage: (68, 2) landmarks of the render and the footage face, in the same crop's pixels;
    the irises (2, 2) of each (`irises`) or None. Returns (68, 2), or (70, 2) with the irises when
    both are given: the render's own points with only these moved, each measured on the face's own
    parts (faces/expression.py) and scaled by the faces' inter-ocular ratio, so eye size, lip
    fullness, mouth width and brow line stay the render's (B's):
    - the mouth's opening: each inner-lip pair's gap vector becomes the footage's, the lower lip
      moving (the jaw opens the mouth), its outer points with it;
    - the mouth corners' height against the lips' middle (a smile, a frown, a smirk);
    - each eye's openness as a share of its width, the upper lid moving (a blink, a squint);
    - the gaze: each iris at the footage's place within its eye, in units of the eye's width.
    The brows and the jaw stay where the render has them: a brow's height is as much the person's as
    the expression's, and the jaw is the blend's outline.
    """
    render = np.asarray(render, np.float64)
    footage = np.asarray(footage, np.float64)
    k = _eyes_apart(render) / _eyes_apart(footage)
    target = render.copy()
    change = (footage[X.INNER_LOWER] - footage[X.INNER_UPPER]) * k - (render[X.INNER_LOWER] - render[X.INNER_UPPER])
    target[X.INNER_LOWER] += change
    target[X.OUTER_LOWER] += change.mean(axis=0)      # 5 outer points against 3 inner pairs
    # against the lips' middle once the lower lip has moved: a mouth closed by its lower lip does not
    # read as a frown
    raise_by = X.corner_heights(footage) * k - X.corner_heights(target)
    up = -X.down(render)
    for side, (outer, inner) in enumerate(((48, 60), (54, 64))):
        target[[outer, inner]] += raise_by[side] * up
    open_f, open_r = X.eye_openness(footage), X.eye_openness(render)
    gaze = []
    for e, (corners, upper, _) in enumerate(X.EYES):
        mid_r, axis_r, normal_r, width_r = X.eye_frame(render, corners)
        target[upper] -= (open_f[e] - open_r[e]) * width_r * normal_r
        if render_irises is not None and footage_irises is not None:
            mid_f, axis_f, normal_f, width_f = X.eye_frame(footage, corners)
            rel = np.asarray(footage_irises[e], np.float64) - mid_f
            along, across = float(rel @ axis_f) / width_f, float(rel @ normal_f) / width_f
            gaze.append(mid_r + (along * axis_r + across * normal_r) * width_r)
    if len(gaze) == 2:
        target = np.concatenate([target, np.stack(gaze)])
    return target


def displacement(render_lm: np.ndarray, footage_lm: np.ndarray, size: int) -> np.ndarray:
    """Backward map offsets (size, size, 2) float32, in pixels: the output pixel q samples the render
    at q + offset(q), so the render's landmark i lands on footage_lm[i].

    render_lm, footage_lm: (N, 2) matching points in the crop's pixels (the 68 landmarks, then the
    irises when both have them). Raises nothing; a field of zeros when the
    two sets coincide."""
    step = GRID_STEP
    border = np.linspace(0, size - 1, BORDER_ANCHORS)
    edge = np.concatenate([np.stack([border, np.zeros_like(border)], 1),
                           np.stack([border, np.full_like(border, size - 1)], 1),
                           np.stack([np.zeros_like(border), border], 1),
                           np.stack([np.full_like(border, size - 1), border], 1)])
    points = np.concatenate([footage_lm, edge]).astype(np.float64)
    values = np.concatenate([render_lm - footage_lm, np.zeros_like(edge)]).astype(np.float64)
    spline = RBFInterpolator(points, values, kernel="thin_plate_spline", smoothing=SMOOTHING)
    coarse = np.arange(0, size + step, step, dtype=np.float64)
    gx, gy = np.meshgrid(coarse, coarse)
    field = spline(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(len(coarse), len(coarse), 2)
    limit = MAX_SHIFT * size
    field = np.clip(field, -limit, limit).astype(np.float32)
    # the grid's last node lies at or beyond size - 1: resize over the whole span, then cut
    span = (len(coarse) - 1) * step + 1
    full = cv2.resize(field, (span, span), interpolation=cv2.INTER_LINEAR)
    return full[:size, :size]


def warp_by(image: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """`image` (size, size[, C]) resampled at each pixel plus `offsets` (size, size, 2); bicubic,
    edges replicated."""
    size = image.shape[0]
    grid = np.arange(size, dtype=np.float32)
    map_x = offsets[..., 0] + grid[None, :]
    map_y = offsets[..., 1] + grid[:, None]
    return cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class Fit:
    """What one face's fit needs, in shares of its crop's side: where its points go (`target`, the
    footage's landmarks, then its irises) and how far the render's are from there (`shift`)."""

    target: np.ndarray   # (N, 2)
    shift: np.ndarray    # (N, 2)
    iod: float           # the footage face's inter-ocular distance, same unit


class ExpressionFit:
    """Warps renders onto the footage's expression (module docstring), with a detector of its own.

    backend: a faces.backends.Backend used only here (detectors are not shared between threads)."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.fitted = 0
        self.skipped = 0

    def render_landmarks(self, render: np.ndarray, footage_lm: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The render's 68 landmarks and irises (crop pixels; irises None without a refined mesh),
        looked for in the footage face's box, or None when not found there."""
        box = np.concatenate([footage_lm.min(axis=0), footage_lm.max(axis=0)]).astype(np.float32)
        faces = self.backend.faces_in_boxes(render, [(box, 1.0)])
        if not faces:
            return None
        found = np.asarray(faces[0].landmarks, np.float64)
        iod = max(X.inter_ocular(footage_lm), 1.0)
        if float(np.linalg.norm(found - footage_lm, axis=1).mean()) > REJECT * iod:
            return None
        return found, irises(faces[0].mesh, found)

    def measure(self, render: np.ndarray, footage_lm: np.ndarray,
                footage_irises: np.ndarray | None = None) -> Fit | None:
        """How far the render is from the footage's expression.

        render: (S, S, 3) RGB of the model's face in the crop, float32 in [0, 1] (as the model gives
        it) or uint8; footage_lm: (68, 2) the footage face's landmarks in the same crop's pixels;
        footage_irises: (2, 2) the footage's iris centres there (`irises`) or None. None when the
        render's landmarks are not found (the render is then blended as drawn)."""
        size = render.shape[0]
        footage_lm = np.asarray(footage_lm, np.float64)
        seen = render if render.dtype == np.uint8 else \
            (np.clip(render, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        found = self.render_landmarks(seen, footage_lm)
        if found is None:
            self.skipped += 1
            return None
        self.fitted += 1
        render_pts = found[0]
        both = found[1] is not None and footage_irises is not None
        if both:
            render_pts = np.concatenate([render_pts, found[1]])
        target = expression_targets(found[0], footage_lm, found[1], footage_irises if both else None)
        return Fit(target / size, (render_pts - target) / size, X.inter_ocular(footage_lm) / size)

    @staticmethod
    def offsets(fit: Fit, size: int, shift: np.ndarray | None = None) -> np.ndarray:
        """The backward map (size, size, 2) pixels that carries the render's points (fit.target + shift,
        shift defaulting to fit.shift, steadied by FitWindow) onto fit.target (`displacement`); shifts
        within DEAD_ZONE fade out (the detector's noise)."""
        shift = fit.shift if shift is None else shift
        length2 = np.square(shift).sum(axis=1, keepdims=True)
        shift = shift * (length2 / (length2 + (DEAD_ZONE * fit.iod) ** 2))
        # a shut mouth puts each inner-lip pair's targets (nearly) on one point with two different
        # shifts: a spline through both folds the lip over (a torn-looking notch). The upper one goes,
        # and the upper lip follows the field between its outer edge and the lower lip.
        keep = np.ones(len(shift), bool)
        gaps = np.linalg.norm(fit.target[X.INNER_LOWER] - fit.target[X.INNER_UPPER], axis=1)
        keep[np.asarray(X.INNER_UPPER)[gaps < SHUT * fit.iod]] = False
        return displacement((fit.target + shift)[keep] * size, fit.target[keep] * size, size)

    @staticmethod
    def apply(render: np.ndarray, pred: np.ndarray | None, fit: Fit,
              shift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """render (S, S, C) and pred (S, S) or None resampled through `offsets`."""
        offsets = ExpressionFit.offsets(fit, render.shape[0], shift)
        warped = warp_by(render, offsets)
        if pred is not None:
            pred = np.clip(warp_by(pred.astype(np.float32), offsets), 0.0, 1.0)
        return warped, pred


def steady_shift(fits: list[tuple[int, Fit]], index: int, sigma: float = STEADY) -> np.ndarray:
    """The shift of the face at frame `index` averaged over `fits` ((frame index, Fit) of the same
    track and shot, its own among them) with Gaussian weights of `sigma` frames; fits with another
    number of points (irises found in one frame, not the next) count only by their 68 landmarks."""
    own = next(f for i, f in fits if i == index)
    total = np.zeros_like(own.shift)
    weight = np.zeros((len(own.shift), 1))
    for i, fit in fits:
        z = abs(i - index) / sigma if sigma > 0 else (0.0 if i == index else math.inf)
        if z > 2 * max(sigma, 0.5):
            continue
        w = math.exp(-0.5 * z * z)
        n = min(len(fit.shift), len(own.shift))
        total[:n] += w * fit.shift[:n]
        weight[:n] += w
    return total / np.maximum(weight, 1e-12)


def fit_reach(options) -> int:
    """Frames either side whose renders the expression fit reads for a face (ConvertOptions):
    `edge_steady.reach(STEADY)` for swaps with --expression fit, else 0 (a reenactment's render follows its
    driver's expression by design)."""
    return reach(STEADY) if options.expression == "fit" and options.mode == "swap" else 0


@dataclass
class Drawn:
    """A face rendered and drawn at the size it is shown, waiting for its frame's fit window."""

    matrix: np.ndarray            # 2x3 frame -> the render's pixels
    crop: np.ndarray              # the footage at the same place and size
    rgb: np.ndarray               # (S, S, 3) float32 render
    pred: np.ndarray | None       # (S, S) the model's mask
    lm: list[np.ndarray]          # landmarks in the render's pixels: the footage face's first
    occluded: np.ndarray | None   # the occlusion net's view, or None
    kept: np.ndarray | None       # the glasses' matte kept in front, or None
    fit: Fit | None               # the expression fit's measure, or None


class FitWindow:
    """Frames whose faces are `Drawn` in (`push`), the same frames out once the frames `reach` after
    them are in, so each face's shift can be steadied over its track's neighbours (`shift`).
    Frames are objects with `.item` (index, shot), `.faces` [(face, Drawn)] and `.keys` (track or
    None)."""

    def __init__(self, reach: int) -> None:
        self.reach = reach
        self._frames: list = []
        self._next = 0

    def push(self, frame) -> Iterator:
        self._frames.append(frame)
        while len(self._frames) - self._next > self.reach:
            yield self._release()

    def flush(self) -> Iterator:
        while self._next < len(self._frames):
            yield self._release()

    def _release(self):
        # what no window from here on reaches goes first, so the frame released (whose shift is asked
        # for before the next one is) still has the `reach` frames before it
        while self._next > self.reach:
            self._frames.pop(0)
            self._next -= 1
        frame = self._frames[self._next]
        self._next += 1
        return frame

    def shift(self, frame, k: int) -> np.ndarray:
        """Face k of `frame`'s shift steadied over its track's frames in the window (steady_shift);
        its own for an untracked face."""
        drawn, key = frame.faces[k][1], frame.keys[k]
        fits = [(frame.item.index, drawn.fit)]
        if key is not None:
            for other in self._frames:
                if other is frame or other.item.shot != frame.item.shot:
                    continue
                for (_, d), other_key in zip(other.faces, other.keys, strict=True):
                    if other_key == key and getattr(d, "fit", None) is not None:
                        fits.append((other.item.index, d.fit))
                        break
        return steady_shift(fits, frame.item.index)
