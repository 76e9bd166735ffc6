"""Training augmentation: random similarity + flip, grid warp, colour. Each takes an explicit RNG."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np


def random_similarity(rng: np.random.Generator, size: int, rotation: float = 10.0, scale: float = 0.05,
                      shift: float = 0.05, flip: bool = True) -> tuple[np.ndarray, bool]:
    """A 2x3 similarity about the crop centre (degrees, relative scale and shift), and whether to mirror."""
    angle = np.deg2rad(rng.uniform(-rotation, rotation))
    s = 1.0 + rng.uniform(-scale, scale)
    tx, ty = rng.uniform(-shift, shift, 2) * size
    mirrored = flip and rng.random() < 0.5
    c, si = s * np.cos(angle), s * np.sin(angle)
    fx = -1.0 if mirrored else 1.0
    centre = size / 2
    # p' = R*S*F*(p - c) + c + t
    mat = np.array([[c * fx, -si, 0.0], [si * fx, c, 0.0]])
    mat[:, 2] = centre + np.array([tx, ty]) - mat[:, :2] @ np.array([centre, centre])
    return mat, mirrored


def grid_warp_maps(rng: np.random.Generator, size: int, points: int = 5, strength: float = 0.025
                   ) -> tuple[np.ndarray, np.ndarray]:
    """remap() maps of a smooth random distortion: a coarse grid of offsets (fraction of the
    size) upsampled with cubic interpolation, zero at the border so nothing is pulled in."""
    offsets = rng.normal(0.0, strength * size, (2, points, points)).astype(np.float32)
    offsets[:, [0, -1], :] = 0
    offsets[:, :, [0, -1]] = 0
    dx = cv2.resize(offsets[0], (size, size), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(offsets[1], (size, size), interpolation=cv2.INTER_CUBIC)
    grid = np.arange(size, dtype=np.float32)
    return grid[None, :] + dx, grid[:, None] + dy


def grid_warp(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    map_x, map_y = grid_warp_maps(rng, image.shape[0])
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def colour_pipeline(seed: int) -> A.Compose:
    """Mild lighting and colour changes plus the odd soft or compressed frame, so the
    encoder learns faces rather than one clip's grade."""
    return A.Compose([
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.7),
        A.HueSaturationValue(hue_shift_limit=5, sat_shift_limit=15, val_shift_limit=10, p=0.5),
        A.RandomGamma(gamma_limit=(80, 120), p=0.3),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 3)), A.ImageCompression(quality_range=(50, 95))], p=0.2),
    ], seed=seed)
