"""The footage's own finest grain laid over the swapped face, so that it does not look pasted.

A model renders its face at 64-128 px and convert enlarges it 2-4x: the face it blends is clean
where the footage around it carries film grain, sensor noise and codec texture, and a clean face
in grainy footage reads as pasted. Frequency-split blending takes the footage's band finer than
GRAIN_SIGMA pixels under the swapped face and adds it to the face before the blend, the way a
compositor regrains a CG element to its plate (e.g. Nuke's F_ReGrain; here the plate's own grain
of each frame, so it moves as the plate's does, rather than a grain model fitted to it).

What that band must not bring back is the footage's identity: it also holds the sharpest edges of
the footage's eyes, lids, lips, stubble and glasses' rims. So it is clipped at GRAIN_CLIP times
its robust spread over the face (1.4826 x the median absolute deviation, which grain sets and a
few strong edges do not), and faded where its local RMS stands above GRAIN_GATE times that
spread (clipped alone, a thin rim still showed as a ghost of the glasses on the swapped face):
grain passes almost whole, structure does not.
docs/convert.md ("Grain") gives what it measured (qc sharpness, identity, seam) on both pairs.
"""

from __future__ import annotations

import cv2
import numpy as np

from .. import defaults

# MAD -> standard deviation of a normal distribution.
_MAD_TO_SIGMA = 1.4826
# Below this spread (8-bit levels) the footage has no grain to speak of (a clean render, a
# graphic): nothing is added, rather than amplifying rounding noise up to the clip.
_MIN_SPREAD = 0.2
# The window (Gaussian, times sigma) over which the band's local RMS is taken.
_LOCAL = 3.0


def footage_grain(region: np.ndarray, inside: np.ndarray, sigma: float = defaults.GRAIN_SIGMA,
                  clip: float = defaults.GRAIN_CLIP, gate: float = defaults.GRAIN_GATE) -> np.ndarray:
    """The footage's finest band under a face, clipped: (h, w, 3) float32, 8-bit levels.

    region: (h, w, 3) uint8, the footage where the face goes; inside: (h, w) bool, the pixels
    whose spread sets the clip (the face, so that background texture does not); sigma: pixels,
    the band is `region` minus its Gaussian blur at sigma (periods under about 4 sigma pass);
    clip: the band is clipped at +-clip times its robust spread per channel (a hard clip: the
    grain below it passes unchanged, where a soft one would thin it too); gate: where the band's
    local RMS (over a Gaussian window of 3 sigma) exceeds `gate` times its spread over the face,
    it is structure (a glasses rim, a lash line), not grain, and is faded by the square of the
    ratio: clipped, a thin rim would still come through whole. Returns zeros where
    the face has no grain (spread under _MIN_SPREAD levels) or `inside` is empty.
    """
    px = region.astype(np.float32)
    band = px - cv2.GaussianBlur(px, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    if not inside.any():
        return np.zeros_like(band)
    values = band[inside]                                   # (n, 3)
    spread = _MAD_TO_SIGMA * np.median(np.abs(values - np.median(values, axis=0)), axis=0)
    floor = np.maximum(spread, _MIN_SPREAD)                 # per channel
    # grain's local RMS is its spread, so it passes the gate; a rim's stands far above it
    local = np.sqrt(cv2.GaussianBlur(np.mean(np.square(band), axis=2), (0, 0), _LOCAL * sigma))
    keep = np.clip(np.square(gate * np.sqrt(np.mean(np.square(floor))) / np.maximum(local, 1e-6)), 0.0, 1.0)
    out = np.clip(band, -clip * floor, clip * floor) * keep[..., None]
    out[..., spread < _MIN_SPREAD] = 0.0
    return out


def regrain(face: np.ndarray, footage: np.ndarray, alpha: np.ndarray, strength: float,
            sigma: float = defaults.GRAIN_SIGMA, clip: float = defaults.GRAIN_CLIP,
            gate: float = defaults.GRAIN_GATE) -> np.ndarray:
    """`face` (h, w, 3) uint8, warped into the frame region, with `strength` (0-1) times the
    footage's grain (footage_grain over the pixels where `alpha` (h, w) > 0.5) added; a new uint8
    array. strength 0 returns `face` itself."""
    if strength <= 0:
        return face
    grain = footage_grain(footage, alpha > 0.5, sigma, clip, gate)
    return np.clip(face.astype(np.float32) + strength * grain + 0.5, 0, 255).astype(np.uint8)


__all__ = ["footage_grain", "regrain"]
