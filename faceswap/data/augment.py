"""Training augmentation: random similarity (+ mirror), grid warp and colour.

Every function takes its numpy Generator explicitly, so a data loader worker
seeded once produces the same stream on every run. The batch forms draw a
whole batch's geometric random numbers in one call each: at 64 px a sample is
a few dozen microseconds of pixels, so per-sample Python would otherwise be a
good part of the cost.
"""

from __future__ import annotations

import os
import random

import cv2
import numpy as np

# albumentations 2.x asks PyPI for a newer version on import: a network call
# (and a warning offline) in every training run and every worker.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402

from ..faces.geometry import similarity  # noqa: E402


def random_similarities(rng: np.random.Generator, n: int, size: int, rotation: float = 10.0,
                        scale: float = 0.05, shift: float = 0.05,
                        flip: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """`n` random 2x3 similarities of a `size` px crop onto itself, (n, 2, 3), and
    which of them mirror, (n,) bool.

    Rotation (degrees), relative scale and shift (fraction of `size`) are drawn
    uniformly from +-the given amounts; `flip` is the probability of a
    horizontal mirror. Rotation, scale and mirror act about the pixel grid's
    centre, so a bare mirror is exactly ``image[:, ::-1]``.
    """
    u = 2 * rng.random((n, 5)) - 1
    angle = np.deg2rad(u[:, 0] * rotation)
    zoom = 1.0 + u[:, 1] * scale
    move = u[:, 2:4] * (shift * size)
    mirrored = (u[:, 4] + 1) / 2 < flip
    return similarity(angle, zoom, (size - 1) / 2, move, mirrored), mirrored


def grid_displacements(rng: np.random.Generator, n: int, size: int, points: int = 5,
                       amount: float = 1 / 32) -> np.ndarray:
    """`n` smooth random displacement fields: (n, size, size, 2) float32 pixels (dx, dy).

    A coarse `points` x `points` grid of offsets, uniform in +-`amount` * size,
    interpolated bicubically to every pixel: the face is bent locally (a nose a
    little wider, an eye a little lower) as in faceswap's and DFL's warped
    inputs, so the encoder cannot learn to copy pixels through. The border
    moves too: the samples are taken from the margin around the crop.
    """
    grid = rng.uniform(-amount * size, amount * size, (points, points, 2 * n)).astype(np.float32)
    fields = np.empty((n, size, size, 2), np.float32)
    for k in range(n):   # one small resize each: faster than one of many channels and a transpose
        cv2.resize(grid[:, :, 2 * k:2 * k + 2], (size, size), dst=fields[k], interpolation=cv2.INTER_CUBIC)
    return fields


def colour_pipeline(rng: np.random.Generator) -> A.Compose:
    """Mild lighting and colour changes plus the odd soft or compressed frame,
    drawing its randomness from `rng`, so the encoder learns faces rather than
    one clip's grade. Mild: the target keeps the true colours and the decoder
    must not learn to undo a colour cast."""
    pipeline = A.Compose([
        A.RandomBrightnessContrast(brightness_limit=0.12, contrast_limit=0.12, p=0.6),
        A.HueSaturationValue(hue_shift_limit=4, sat_shift_limit=12, val_shift_limit=0, p=0.4),
        A.RandomGamma(gamma_limit=(85, 118), p=0.3),
        A.OneOf([
            A.GaussianBlur(blur_limit=(3, 3), sigma_limit=(0.3, 0.9)),
            A.ImageCompression(quality_range=(55, 90)),
            A.GaussNoise(std_range=(0.01, 0.03)),
        ], p=0.15),
    ])
    bind_rng(pipeline, rng)
    return pipeline


def bind_rng(pipeline: A.Compose, rng: np.random.Generator) -> None:
    """Make an albumentations pipeline draw from `rng` (and a Python RNG seeded
    from it, which albumentations uses for its coin flips)."""
    pipeline.set_random_state(rng, random.Random(int(rng.integers(2 ** 63))))


def colour(pipeline: A.Compose, image: np.ndarray) -> np.ndarray:
    """`image` (uint8 RGB) through a colour pipeline."""
    return pipeline(image=image)["image"]
