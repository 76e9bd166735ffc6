"""Glasses' frames in footage: where each face's rims and bridge are, as a matte in frame pixels.

A swap's blend mask covers part of a pair of glasses and not the rest, so the frames come out half
the footage's and half painted over (issue 16). Convert's `--glasses keep` keeps the matte's pixels
the footage's, `--glasses remove` fills them from around them (docs/occlusion.md).

Method (no learned weights): each face is seen in a view normalised by its eyes (eyes level,
NORM_IOD px apart). Around each eye a rim is a thin line that runs round it, so in polar
coordinates about the eye's centre it is a ridge across every angle: the ridge strength is the
second derivative of the blurred luma across the line (the radial direction of the Hessian, Frangi
et al. 1998, "Multiscale vessel enhancement filtering", at two scales for thin metal and thick
plastic frames), less half of the derivative along it (an edge or a blob is not a line). A closed
path through the polar map, one radius per angle, moving at most a pixel between angles, is
found by dynamic programming (the classic minimal-path contour; Amini et al. 1990, "Using dynamic
programming for solving variational problems in vision"). A pair of glasses is rigid on the face
and its two rims mirror each other, so each track sums its last WINDOW frames' maps (the right
eye's mirrored onto the left's) and finds its rim there: a rim seen through motion blur or a
reflection in one frame is held by the others. Each frame then finds its own rim within BAND px
of the track's (a face turning changes the rims' shape faster than the window follows), centres
it on its line to a sub-pixel (a parabola through the luma across it) and smooths it round the
circle. The
bridge is the strongest horizontal line between the two rims' inner sides; each arm the
strongest straight line from a rim's outer side (`_arms`).

It finds where the rims are, not whether a face wears glasses: `--glasses` is the user's word that
the shot's faces do (`line_contrast` tells a found line from none, for a warning).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from .geometry import invert, similarity, transform_points

__all__ = ["BARE_CONTRAST", "GlassesTracker", "Rims", "find_rims", "line_contrast", "rims_matte"]

NORM_IOD = 128            # eye-to-eye distance of the normalised view, px
ANGLES = 96               # polar samples round each eye
RADII = (0.24, 0.72)      # the search's inner and outer radius round an eye's centre, in IODs
SIGMAS = (1.5, 3.0)       # ridge scales in normalised px: metal rims, plastic frames
# A track's evidence: the sum of its last WINDOW frames' (a window, not a decaying sum, so a segment
# whose context reads WINDOW frames back finds what a one-piece run finds: convert/segments.py)
WINDOW = 8
BAND = 4                  # a frame's own rim stays within this many px of its track's
SMOOTH = 1.0              # the rim smoothed round the circle: a Gaussian of this many angles
STEP = 1                  # the path's largest radial move between neighbouring angles, px
_BRIDGE = (-0.3, 0.05)    # where the bridge is looked for: IODs above (-) / below the eyes' line
# Arms: looked for from the outer side of each rim, at heights between its top and the eyes' line,
# within ARM_TILT degrees of level, out to the face's outline and ARM_PAST IODs beyond; one counts
# when its line strength over its first ARM_PROBE IODs is ARM_SHARE of the rims' own.
ARM_TILT = 30
JOIN = 0.06               # IODs the bridge and arms reach into the rims, so no gap is left where they meet
ARM_PAST = 0.4
ARM_PROBE = 0.15
ARM_SHARE = 0.35
ARM_END, ARM_GAP = 0.3, 16
ARM_EXTRA = ARM_GAP // 2  # an arm runs on this far past where it fades (into hair of its own colour)
# A face whose found rims' median line_contrast is under this does not seem to wear glasses: bare
# faces read 0.9-1.3, worn ones 1.3-1.6 (docs/occlusion.md); convert and qc say so in a warning
BARE_CONTRAST = 1.2


@dataclass
class Rims:
    """One face's glasses in frame pixels: each rim a closed polyline (ANGLES, 2) round the image's
    left and right eye, the bridge (2, 2) from the left rim to the right, the arms (each (2, 2),
    from a rim's outer side outwards; none where none was seen) and the frames' width."""

    left: np.ndarray
    right: np.ndarray
    bridge: np.ndarray
    width: float
    arms: list[np.ndarray] = field(default_factory=list)

    def moved(self, dx: float, dy: float) -> Rims:
        """The same glasses with every point moved by (-dx, -dy): in a region whose corner is (dx, dy)."""
        off = np.array([dx, dy], np.float64)
        return Rims(self.left - off, self.right - off, self.bridge - off, self.width, [a - off for a in self.arms])

    def points(self) -> np.ndarray:
        """Every point of the frames (N, 2)."""
        return np.concatenate([self.left, self.right, self.bridge, *self.arms])


def _view(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The normalised view's 2x3 matrix (frame -> view) and the eyes' centres in it."""
    left, right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    d = right - left
    scale = NORM_IOD / max(float(np.hypot(*d)), 1e-3)
    centre = (left + right) / 2
    target = np.array([1.5, 1.2]) * NORM_IOD
    mat = similarity(-np.arctan2(d[1], d[0]), scale, centre, shift=target - centre)
    eyes = transform_points(np.stack([left, right]), mat)
    return mat, eyes[0], eyes[1]


def _hessians(luma: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
    """(sigma, d2/dx2, d2/dy2, d2/dxdy) of the luma blurred at each of SIGMAS: one face's view's
    second derivatives, computed once for both eyes' rims and the arms."""
    out = []
    for sigma in SIGMAS:
        g = cv2.GaussianBlur(luma, (0, 0), sigma)
        out.append((sigma, cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3),
                    cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)))
    return out


def _ridges(hessians: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]], centre: np.ndarray) -> np.ndarray:
    """Line strength across lines that run round `centre` (H, W) float32, the best over the
    scales of `hessians` (_hessians; scale-normalised)."""
    h, w = hessians[0][1].shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = xx - centre[0], yy - centre[1]
    norm = np.hypot(nx, ny) + 1e-6
    nx, ny = nx / norm, ny / norm
    best = None
    for sigma, gxx, gyy, gxy in hessians:
        across = gxx * nx * nx + 2 * gxy * nx * ny + gyy * ny * ny
        along = gxx * ny * ny - 2 * gxy * nx * ny + gyy * nx * nx
        r = (np.abs(across) - 0.5 * np.abs(along)) * (sigma / SIGMAS[0]) ** 2
        best = r if best is None else np.maximum(best, r)
    return best


def _polar_grid(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    radii = np.arange(RADII[0] * NORM_IOD, RADII[1] * NORM_IOD, 1.0, dtype=np.float32)
    theta = np.linspace(0, 2 * np.pi, ANGLES, endpoint=False).astype(np.float32)
    mx = centre[0] + np.cos(theta)[:, None] * radii[None]
    my = centre[1] + np.sin(theta)[:, None] * radii[None]
    return mx, my, radii


def _smooth_round(radius: np.ndarray, sigma: float) -> np.ndarray:
    """A closed path's radii (ANGLES,) smoothed round the circle (a Gaussian of `sigma` angles): a
    rim is a smooth curve, the per-angle search is not."""
    reach = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2)
    padded = np.concatenate([radius[-reach:], radius, radius[:reach]])
    return np.convolve(padded, kernel / kernel.sum(), mode="valid")


def _centred(polar_luma: np.ndarray, path: np.ndarray, reach: int = 3) -> np.ndarray:
    """Sub-pixel moves (ANGLES,) of the path's radius onto the rim's centre line: at each angle
    the extremum (of the sign the median profile's centre has against its sides) of the luma
    within `reach` px, by a parabola through it and its neighbours, smoothed over 5 angles (a
    ridge's strongest response sits up to a pixel off its centre, a third of a thin rim)."""
    offsets = np.arange(-reach - 1, reach + 2)
    cols = np.clip(path[:, None] + offsets[None], 0, polar_luma.shape[1] - 1)
    values = np.take_along_axis(polar_luma, cols, axis=1)
    profile = np.median(values, axis=0)
    sign = -1.0 if profile[reach + 1] < 0.5 * (profile[0] + profile[-1]) else 1.0
    v = sign * values
    inner = v[:, 1:-1]
    j = np.argmax(inner, axis=1) + 1
    rows = np.arange(len(path))
    left, mid, right = v[rows, j - 1], v[rows, j], v[rows, j + 1]
    curve = left - 2 * mid + right
    shift = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1.0), 0.0)
    moves = offsets[j] + np.clip(shift, -0.5, 0.5)
    padded = np.concatenate([moves[-2:], moves, moves[:2]])
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)


def _profile_width(polar_luma: np.ndarray, path: np.ndarray, reach: int = 12) -> float:
    """A rim's width in the view's px: the full width at half depth of the luma across it, the
    median profile over all angles (ANGLES, R) taken about the path's radius (ANGLES,) at each, its
    depth measured from its level `reach` px either side. At least 1.5, at most 2 x SIGMAS[-1] x 2."""
    offsets = np.arange(-reach, reach + 1)
    cols = np.clip(path[:, None] + offsets[None], 0, polar_luma.shape[1] - 1)
    profile = np.median(np.take_along_axis(polar_luma, cols, axis=1), axis=0)
    level = np.median(profile[np.abs(offsets) >= reach - 3])
    dev = np.abs(profile - level)
    centre = int(np.argmax(np.where(np.abs(offsets) <= 3, dev, -1.0)))
    half = 0.5 * dev[centre]
    lo = hi = centre
    while lo > 0 and dev[lo - 1] >= half:
        lo -= 1
    while hi < len(dev) - 1 and dev[hi + 1] >= half:
        hi += 1
    return float(np.clip(hi - lo + 1, 1.5, 4 * SIGMAS[-1]))


def _closed_path(score: np.ndarray) -> np.ndarray:
    """The radius index per angle (ANGLES,) of the closed path of most `score` (ANGLES, R) that
    moves at most STEP per angle: a minimal-path search over the angles twice round, the second
    turn's path kept (it has forgotten where the first began)."""
    n, r = score.shape
    tiled = np.concatenate([score, score])
    moves = np.arange(-STEP, STEP + 1)
    idx = np.arange(r)
    padded = np.full(r + 2 * STEP, -np.inf)
    back = np.zeros(tiled.shape, np.int32)
    acc = tiled[0].copy()
    for t in range(1, len(tiled)):
        padded[STEP:STEP + r] = acc
        # candidate j comes from radius i - moves[j]
        cands = np.stack([padded[STEP - d:STEP - d + r] for d in moves])
        j = cands.argmax(axis=0)
        back[t] = idx - moves[j]
        acc = cands[j, idx] + tiled[t]
    path = np.zeros(len(tiled), np.int32)
    path[-1] = int(acc.argmax())
    for t in range(len(tiled) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path[n:]


# the left eye's angle index that mirrors each of the right eye's (theta -> pi - theta)
_MIRROR = np.round((np.pi - np.linspace(0, 2 * np.pi, ANGLES, endpoint=False)) / (2 * np.pi / ANGLES)
                   ).astype(int) % ANGLES


def find_rims(image: np.ndarray, landmarks: np.ndarray, prior: np.ndarray | None = None
              ) -> tuple[Rims, np.ndarray]:
    """One face's rims in `image` (H, W, 3) uint8 RGB, from its 68 landmarks (68, 2) in frame px.

    `prior`: the track's evidence so far (ANGLES, R) float32 (GlassesTracker), or None. Returns the
    rims and this frame's own evidence (both eyes' polar ridge maps, the right one mirrored onto
    the left's, each divided by its median), to add to the track's."""
    mat, left_eye, right_eye = _view(landmarks)
    w, h = int(3 * NORM_IOD), int(2.4 * NORM_IOD)
    luma = cv2.cvtColor(cv2.warpAffine(image, mat[:2], (w, h), flags=cv2.INTER_LINEAR),
                        cv2.COLOR_RGB2GRAY).astype(np.float32)
    maps, scales = [], []   # scales: each eye's polar luma, for the rims' centre line and width
    eyes = (left_eye, right_eye)
    theta = np.linspace(0, 2 * np.pi, ANGLES, endpoint=False)
    hessians = _hessians(luma)
    for eye in eyes:
        strength = _ridges(hessians, eye)
        mx, my, radii = _polar_grid(eye)
        polar = cv2.remap(strength, mx, my, cv2.INTER_LINEAR)
        maps.append(polar / max(float(np.median(np.abs(polar))), 1e-3))
        scales.append(cv2.remap(luma, mx, my, cv2.INTER_LINEAR))
    evidence = (maps[0] + maps[1][_MIRROR]).astype(np.float32)
    track_path = _closed_path(evidence if prior is None else prior + evidence)
    to_frame = invert(mat)
    rims, widths = [], []
    band = np.abs(np.arange(evidence.shape[1])[None] - track_path[:, None]) <= BAND
    for k, polar in enumerate(maps):
        near = band if k == 0 else band[_MIRROR]
        own = _closed_path(np.where(near, polar, -5.0))
        radius = radii[own] + _centred(scales[k], own)
        radius = _smooth_round(radius, SMOOTH) if SMOOTH else radius
        pts = np.stack([eyes[k][0] + np.cos(theta) * radius, eyes[k][1] + np.sin(theta) * radius], 1)
        rims.append(transform_points(pts, to_frame))
        widths.append(_profile_width(scales[k], own))
    bridge = _bridge(hessians[0][2], rims, mat, left_eye, right_eye)
    outline = transform_points(landmarks[[0, 16]], mat)[:, 0]
    arms = [transform_points(a, to_frame) for a in _arms(hessians[0][1:], [transform_points(r, mat) for r in rims],
                                                         outline)]
    width = float(np.mean(widths)) / NORM_IOD * float(np.hypot(*(landmarks[42:48].mean(0) - landmarks[36:42].mean(0))))
    return Rims(rims[0], rims[1], transform_points(bridge, to_frame), width, arms), evidence


def _bridge(gyy: np.ndarray, rims: list[np.ndarray], mat: np.ndarray, left_eye: np.ndarray,
            right_eye: np.ndarray) -> np.ndarray:
    """The bridge in the normalised view (2, 2): the row of most horizontal-line strength between
    the rims' inner sides, within _BRIDGE of the eyes' line."""
    inner_l = transform_points(rims[0], mat)[:, 0].max()
    inner_r = transform_points(rims[1], mat)[:, 0].min()
    x0, x1 = int(min(inner_l, inner_r)), int(max(inner_l, inner_r)) + 1
    y_eyes = (left_eye[1] + right_eye[1]) / 2
    y0 = int(max(0, y_eyes + _BRIDGE[0] * NORM_IOD))
    y1 = int(min(gyy.shape[0], y_eyes + _BRIDGE[1] * NORM_IOD))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.array([[inner_l, y_eyes], [inner_r, y_eyes]])
    rows = np.abs(gyy[y0:y1, x0:x1]).mean(axis=1)
    y = y0 + int(np.argmax(rows))
    # into the rims: it meets them above their innermost points, where they have curved away
    return np.array([[inner_l - JOIN * NORM_IOD, y], [inner_r + JOIN * NORM_IOD, y]], np.float64)


def _arms(hessian: tuple[np.ndarray, np.ndarray, np.ndarray], rims: list[np.ndarray], outline: np.ndarray
          ) -> list[np.ndarray]:
    """The arms in the normalised view, each (2, 2) from a rim's outer side outwards: of the
    straight lines from there within ARM_TILT of level (5-degree steps), the one of most line
    strength across itself over its first ARM_PROBE IODs, if that is ARM_SHARE of the rims'
    strength; its tilt is then refined in 1-degree steps to the line that runs strong longest
    (a long arm drifts off a line a few degrees off). It ends where its strength stays under
    ARM_END of the probe's for ARM_GAP px, or ARM_PAST IODs past the face's outline (`outline`:
    the x of landmarks 0 and 16 in the view); `hessian`: the view's second derivatives at the
    finest scale (_hessians)."""
    gxx, gyy, gxy = hessian
    h, w = gxx.shape

    def at(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.clip(np.round(pts[..., 1]).astype(int), 0, h - 1),
                np.clip(np.round(pts[..., 0]).astype(int), 0, w - 1))

    def strength(pts: np.ndarray, angle: float) -> np.ndarray:
        """Line strength at points (..., 2) across a line at `angle` (radians)."""
        ys, xs = at(pts)
        xx, yy, xy = gxx[ys, xs], gyy[ys, xs], gxy[ys, xs]
        nx, ny = -np.sin(angle), np.cos(angle)
        across = xx * nx * nx + 2 * xy * nx * ny + yy * ny * ny
        along = xx * ny * ny - 2 * xy * nx * ny + yy * nx * nx
        return np.abs(across) - 0.5 * np.abs(along)

    def length(along: np.ndarray, score: float, skip: int) -> int:
        """Samples of `along` before it stays under ARM_END * score for ARM_GAP samples (after `skip`)."""
        run = np.convolve(along, np.ones(7) / 7, mode="same")[skip:]
        weak = np.convolve((run < ARM_END * score).astype(np.float32), np.ones(ARM_GAP), mode="valid") >= ARM_GAP
        end = np.nonzero(weak)[0]
        return min(skip + int(end[0]) + ARM_EXTRA, len(along)) if len(end) else len(along)

    rim_strength = float(np.mean([np.abs(gxx + gyy)[at(r)].mean() for r in rims]))
    arms = []
    for rim, side, edge in ((rims[0], -1.0, outline[0]), (rims[1], 1.0, outline[1])):
        outer = rim[np.argmax(side * rim[:, 0])]
        reach = max(side * (edge - outer[0]), 0.0) + ARM_PAST * NORM_IOD
        steps = np.arange(0, reach, 1.0) + 2.0
        probe = int(np.count_nonzero(steps < ARM_PROBE * NORM_IOD + 2.0))
        level = np.pi if side < 0 else 0.0
        best = (-np.inf, None, 0.0)
        for y in np.arange(rim[:, 1].min(), outer[1] + 1, 2.0):
            # start on the rim at this height, on its outer side
            near = rim[(np.abs(rim[:, 1] - y) < 3) & (side * rim[:, 0] >= side * outer[0] - 0.1 * NORM_IOD)]
            if not len(near):
                continue
            start = np.array([near[np.argmax(side * near[:, 0]), 0], y])
            for tilt in np.radians(np.arange(-ARM_TILT, ARM_TILT + 1, 5)):
                angle = level - side * tilt
                pts = start + steps[:probe, None] * [np.cos(angle), np.sin(angle)]
                score = float(strength(pts, angle).mean())
                if score > best[0]:
                    best = (score, start, angle)
        score, start, coarse = best
        if start is None or score < ARM_SHARE * rim_strength:
            continue
        found = []
        for angle in coarse + np.radians(np.arange(-4, 5, 1.0)):
            along = strength(start + steps[:, None] * [np.cos(angle), np.sin(angle)], angle)
            n = length(along, score, probe)
            found.append((float(along[:n].sum()), n, angle))
        _, n, angle = max(found)
        direction = np.array([np.cos(angle), np.sin(angle)])
        arms.append(np.stack([start - JOIN * NORM_IOD * direction, start + steps[n - 1] * direction]))
    return arms


# The matte is drawn this many times larger and area-averaged down: each pixel's exact covered share
# (OpenCV's anti-aliased thick lines come out about a pixel wider than asked).
_SUPERSAMPLE = 4


def rims_matte(shape: tuple[int, int], rims: Rims, grow: float = 1.0) -> np.ndarray:
    """The glasses' frames as a matte (H, W) float32 in [0, 1] of a frame of `shape`: the rims,
    bridge and arms drawn `rims.width` + 2 x `grow` px wide, each pixel holding its covered share
    (drawn _SUPERSAMPLE times larger, area-averaged down)."""
    s = _SUPERSAMPLE
    h, w = shape
    canvas = np.zeros((h * s, w * s), np.uint8)
    thickness = max(1, int(round((rims.width + 2 * grow) * s)))
    # a pixel's centre at x is the centre of the block [x*s, x*s + s): x*s + (s - 1)/2 on the canvas
    big = lambda p: np.round(p * s + (s - 1) / 2).astype(np.int32)  # noqa: E731
    cv2.polylines(canvas, [big(rims.left), big(rims.right)], True, 255, thickness, cv2.LINE_8)
    for segment in (rims.bridge, *rims.arms):
        ends = big(segment)
        cv2.line(canvas, tuple(ends[0]), tuple(ends[1]), 255, thickness, cv2.LINE_8)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def line_contrast(image: np.ndarray, rims: Rims) -> float:
    """How much more line detail the found rims and bridge carry than the pixels just beside them:
    the mean |Laplacian| of the blurred luma (sigma SIGMAS[0]) on them over that in a 3 px band
    round them, for `image` (H, W, 3) uint8 RGB. Real rims read 1.4-1.6 (d19's metal frames,
    1.0-1.6 d12's clear ones), a path through a bare face's brows and creases 0.9-1.3."""
    lo = np.floor(np.concatenate([rims.left, rims.right, rims.bridge]).min(0) - rims.width - 8).astype(int)
    hi = np.ceil(np.concatenate([rims.left, rims.right, rims.bridge]).max(0) + rims.width + 8).astype(int)
    x0, y0 = np.maximum(lo, 0)
    x1, y1 = np.minimum(hi, [image.shape[1], image.shape[0]])
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    bare = Rims(rims.left, rims.right, rims.bridge, rims.width).moved(x0, y0)
    on = rims_matte((y1 - y0, x1 - x0), bare, grow=0) >= 0.5
    beside = (cv2.dilate(on.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & ~on
    luma = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = np.abs(cv2.Laplacian(cv2.GaussianBlur(luma, (0, 0), SIGMAS[0]), cv2.CV_32F))
    if not on.any() or not beside.any():
        return 0.0
    return float(detail[on].mean() / max(float(detail[beside].mean()), 1e-6))


class GlassesTracker:
    """Each track's glasses, frame by frame, with the evidence of its last WINDOW frames; a cut or
    a new shot (`reset`) starts it again."""

    def __init__(self) -> None:
        self._evidence: dict[int, deque[tuple[np.ndarray, float]]] = {}

    def rims(self, image: np.ndarray, landmarks: np.ndarray, track: int) -> Rims:
        """The face's rims in this frame (find_rims), with its track's evidence (track < 0: none)."""
        seen = self._evidence.setdefault(track, deque(maxlen=WINDOW)) if track >= 0 else None
        prior = np.sum([e for e, _ in seen], axis=0) if seen else None
        rims, evidence = find_rims(image, landmarks, prior)
        if seen is not None:
            # the width too is the frames': a reflection or motion blur widens one frame's profile
            seen.append((evidence, rims.width))
            rims.width = float(np.median([w for _, w in seen]))
        return rims

    def reset(self) -> None:
        self._evidence.clear()
