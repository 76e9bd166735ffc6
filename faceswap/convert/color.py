"""Colour transfer of the model's rendered face toward the footage's face, in crop space.

Every method maps the whole rendered face (src) so that its colour statistics inside the mask
match those of the footage crop (target); the caller masks the result later. Statistics are
weighted by the soft mask rather than thresholded, so a mask edge that moves by a pixel shifts
them a little instead of adding or dropping whole pixels (less frame-to-frame flicker).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

# Floor on RGB variances, (1% of the range)^2: a flat render (or a flat target) must not make a
# transfer matrix blow up; added to both sides so that src == target still maps to itself.
_EPS_RGB = 1e-4
# The same floor for Reinhard's LAB channels (L in 0..100, a/b in about -128..127).
_EPS_LAB = 1.0
# Below this much mask weight (in pixels) the statistics are noise: leave the face as rendered.
_MIN_WEIGHT = 16.0
_MIN_WEIGHT_FRACTION = 0.002
_HIST_BINS = 256


def _masked(src: np.ndarray, target: np.ndarray, mask: np.ndarray):
    """(src pixels (N, 3), target pixels (N, 3), weights (N,) summing to 1) under the mask, or None."""
    w = mask.reshape(-1)
    keep = w > 1e-3  # skipping the zero-weight pixels is what makes this cheap for a small face
    w = w[keep].astype(np.float64)
    total = w.sum()
    if total < max(_MIN_WEIGHT, _MIN_WEIGHT_FRACTION * mask.size):
        return None
    return src.reshape(-1, 3)[keep], target.reshape(-1, 3)[keep], w / total


def _mean_cov(x: np.ndarray, w: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    mu = w @ x
    d = x - mu
    return mu, (d * w[:, None]).T @ d + eps * np.eye(3)


def _sqrt_and_inv(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric square root of a covariance and its inverse."""
    vals, vecs = np.linalg.eigh(cov)
    root = np.sqrt(np.maximum(vals, 1e-12))  # only rounding can make a PSD matrix's eigenvalue negative
    return (vecs * root) @ vecs.T, (vecs / root) @ vecs.T


def _affine(src: np.ndarray, a: np.ndarray, mu_s: np.ndarray, mu_t: np.ndarray) -> np.ndarray:
    """src -> a @ (src - mu_s) + mu_t for every pixel, as one cv2.transform."""
    m = np.hstack([a, (mu_t - a @ mu_s)[:, None]]).astype(np.float32)
    return cv2.transform(src, m)


def _none(src: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return src


def _rct(src: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Reinhard et al. 2001: per-channel mean and standard deviation in LAB, where the channels
    are nearly decorrelated so matching them one by one is a fair approximation."""
    lab_s = cv2.cvtColor(src, cv2.COLOR_RGB2LAB)
    lab_t = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)
    picked = _masked(lab_s, lab_t, mask)
    if picked is None:
        return src
    xs, xt, w = picked
    mu_s, mu_t = w @ xs, w @ xt
    std_s = np.sqrt(w @ (xs - mu_s) ** 2 + _EPS_LAB)
    std_t = np.sqrt(w @ (xt - mu_t) ** 2 + _EPS_LAB)
    out = _affine(lab_s, np.diag(std_t / std_s), mu_s, mu_t)
    return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)


def _gaussians(src: np.ndarray, target: np.ndarray, mask: np.ndarray):
    """(mean, covariance) of the masked RGB of src and of target, or None for a too-small mask."""
    picked = _masked(src, target, mask)
    if picked is None:
        return None
    xs, xt, w = picked
    return (*_mean_cov(xs, w, _EPS_RGB), *_mean_cov(xt, w, _EPS_RGB))


def _lct(src: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Linear colour transfer: match the mean and the full RGB covariance with
    A = Ct^1/2 Cs^-1/2 (symmetric roots: no preferred channel order, unlike Cholesky)."""
    stats = _gaussians(src, target, mask)
    if stats is None:
        return src
    mu_s, cov_s, mu_t, cov_t = stats
    _, inv_root_s = _sqrt_and_inv(cov_s)
    root_t, _ = _sqrt_and_inv(cov_t)
    return _affine(src, root_t @ inv_root_s, mu_s, mu_t)


def _mkl(src: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Monge-Kantorovich linear transfer (Pitie & Kokaram 2007): of all linear maps taking the
    source Gaussian to the target one, the one that moves colours least (the L2 optimal transport),
    A = Cs^-1/2 (Cs^1/2 Ct Cs^1/2)^1/2 Cs^-1/2; less hue rotation than lct."""
    stats = _gaussians(src, target, mask)
    if stats is None:
        return src
    mu_s, cov_s, mu_t, cov_t = stats
    root_s, inv_root_s = _sqrt_and_inv(cov_s)
    middle, _ = _sqrt_and_inv(root_s @ cov_t @ root_s)
    return _affine(src, inv_root_s @ middle @ inv_root_s, mu_s, mu_t)


def _cdf(values: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted CDF of values in [0, 1] over 256 bins: (mean value of each occupied bin, CDF at
    its middle). Both strictly increase, as np.interp needs; bin means (not centres) keep
    src == target an exact identity."""
    idx = np.minimum((values * _HIST_BINS).astype(np.intp), _HIST_BINS - 1)
    h = np.bincount(idx, weights=w, minlength=_HIST_BINS)
    sums = np.bincount(idx, weights=w * values, minlength=_HIST_BINS)
    occupied = h > 0
    cum = np.cumsum(h)
    return sums[occupied] / h[occupied], (cum - h / 2)[occupied] / cum[-1]


def _hist(src: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-channel histogram matching: each value goes to its quantile under the masked src
    histogram, then to the target value at that quantile (piecewise linear, so no banding)."""
    picked = _masked(src, target, mask)
    if picked is None:
        return src
    xs, xt, w = picked
    out = np.empty_like(src)
    for c in range(3):
        vs, qs = _cdf(xs[:, c], w)
        vt, qt = _cdf(xt[:, c], w)
        out[..., c] = np.interp(np.interp(src[..., c], vs, qs), qt, vt)
    return out


COLOR_METHODS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "none": _none,
    "rct": _rct,
    "lct": _lct,
    "hist": _hist,
    "mkl": _mkl,
}


def match_color(src: np.ndarray, target: np.ndarray, mask: np.ndarray, method: str) -> np.ndarray:
    """Colour-match the rendered face `src` to the footage crop `target` inside `mask`.

    src, target: (H, W, 3) float RGB in [0, 1]; mask: (H, W) float in [0, 1], weighting the
    statistics. Returns (H, W, 3) float32 in [0, 1]: all of src transformed. A mask with almost
    no weight leaves src as it is.
    """
    if method not in COLOR_METHODS:
        raise ValueError(f"colour method must be one of {', '.join(COLOR_METHODS)}, not {method!r}")
    if src.shape != target.shape or src.shape[:2] != mask.shape[:2]:
        raise ValueError(f"shapes differ: src {src.shape}, target {target.shape}, mask {mask.shape}")
    # cvtColor's float LAB assumes [0, 1]; a render can overshoot a little.
    src = np.clip(src, 0.0, 1.0).astype(np.float32, copy=False)
    target = np.clip(target, 0.0, 1.0).astype(np.float32, copy=False)
    mask = np.asarray(mask, np.float32).reshape(src.shape[:2])
    out = COLOR_METHODS[method](src, target, mask)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


__all__ = ["COLOR_METHODS", "match_color"]
