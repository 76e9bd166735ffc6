"""B's reference crops: a few of the B faceset's real faces, kept in the model folder for convert.

A model renders its face at 64-128 px and convert enlarges it 2-4 times, so the skin, lashes,
lids and lip lines it shows are a blur (docs/convert.md, "B's own detail"). The B faceset holds
the person's real detail at a higher resolution; convert borrows it (convert/reference_detail.py).
So train keeps REFERENCES of B's crops in MODEL_DIR/references_b.safetensors, cut to the model's
crop (its centering and coverage) at REFERENCE_SCALE times the model's resolution (at most
MAX_SIDE px), with each crop's landmarks, and convert needs no faceset.

The crops are chosen to span B's poses and expressions: farthest-point sampling (Gonzalez 1985)
over the landmarks in crop coordinates, so convert finds one near any face it renders.

File: safetensors, data only: "crops" uint8 (N, S, S, 3) RGB, "landmarks" float32 (N, 68, 2) in
crop pixels; metadata: format, resolution, centering, coverage, the faceset's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import FaceswapError
from ..faces.geometry import compose, crop_matrix, invert, transform_points, warp
from ..log import get_logger
from ..model.config import ModelConfig
from ..model.store import read_weights, save_weights
from .faceset import iter_faceset, read_crop

log = get_logger(__name__)

FILE = "references_b.safetensors"
FORMAT = "faceswap-references"
# How many crops: more covers more expressions, each costs S*S*3 bytes (196 KB at 256 px).
REFERENCES = 48
# The side the crops are kept at, in multiples of the model's resolution, and at most MAX_SIDE px:
# a 64 px model's face fills 200-300 px of a close-up; the default 256 px head crop of extract holds
# about 150 px of the model's face crop, so a larger side would only enlarge it.
REFERENCE_SCALE = 4
MAX_SIDE = 256


@dataclass
class References:
    """B's reference crops: `crops` (N, S, S, 3) uint8 RGB in the model's crop at side S, and their
    `landmarks` (N, 68, 2) float32 in those crops' pixels."""

    crops: np.ndarray
    landmarks: np.ndarray

    @property
    def side(self) -> int:
        return int(self.crops.shape[1])


def reference_side(cfg: ModelConfig) -> int:
    """The side S (px) a model's reference crops are kept at."""
    return min(cfg.resolution * REFERENCE_SCALE, max(MAX_SIDE, cfg.resolution))


def farthest_points(points: np.ndarray, k: int) -> list[int]:
    """Indices of k rows of `points` (N, D) chosen by farthest-point sampling (Gonzalez 1985),
    starting from the row nearest the mean: each next one is the farthest from those chosen."""
    n = len(points)
    if n <= k:
        return list(range(n))
    chosen = [int(np.argmin(((points - points.mean(0)) ** 2).sum(1)))]
    dist = ((points - points[chosen[0]]) ** 2).sum(1)
    while len(chosen) < k:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, ((points - points[nxt]) ** 2).sum(1))
    return sorted(chosen)


def build_references(faceset: str | Path, cfg: ModelConfig, count: int = REFERENCES) -> References:
    """Up to `count` crops of `faceset` (a folder of extract's crops) cut to `cfg`'s crop at
    `reference_side(cfg)`, spread over its poses and expressions. FaceswapError when it has no face."""
    side = reference_side(cfg)
    records = list(iter_faceset(faceset))
    if not records:
        raise FaceswapError(f"no face crops in {faceset}")
    # each face's landmarks in its model crop, as a share of the crop: the space faces are compared in
    shapes = np.stack([transform_points(r.landmarks, crop_matrix(r.landmarks, side, cfg.centering, cfg.coverage))
                       for r in records]) / side
    crops, marks = [], []
    for i in farthest_points(shapes.reshape(len(records), -1), count):
        image, _ = read_crop(records[i].path)
        to_model = compose(crop_matrix(records[i].landmarks, side, cfg.centering, cfg.coverage),
                           invert(records[i].matrix))
        crops.append(warp(image, to_model, side))
        marks.append(shapes[i] * side)
    return References(np.stack(crops), np.stack(marks).astype(np.float32))


def save_references(model_dir: str | Path, refs: References, faceset: str | Path, cfg: ModelConfig) -> Path:
    """Write MODEL_DIR/references_b.safetensors atomically; returns its path."""
    path = Path(model_dir) / FILE
    save_weights(path, {"crops": torch.from_numpy(refs.crops), "landmarks": torch.from_numpy(refs.landmarks)},
                 {"format": FORMAT, "resolution": str(cfg.resolution), "centering": cfg.centering,
                  "coverage": str(cfg.coverage), "faceset": str(Path(faceset).resolve())})
    return path


def load_references(model_dir: str | Path) -> References | None:
    """MODEL_DIR's reference crops, or None when it has none (models trained before they existed).
    FaceswapError when the file is damaged or its arrays do not fit together."""
    path = Path(model_dir) / FILE
    if not path.is_file():
        return None
    tensors = read_weights(path)
    crops, marks = tensors.get("crops"), tensors.get("landmarks")
    if (crops is None or marks is None or crops.dtype != torch.uint8 or crops.ndim != 4 or crops.shape[-1] != 3
            or crops.shape[1] != crops.shape[2] or tuple(marks.shape) != (len(crops), 68, 2)):
        raise FaceswapError(f"{path} is not a faceswap reference file (unexpected arrays)")
    return References(crops.numpy(), marks.float().numpy())


__all__ = ["FILE", "MAX_SIDE", "REFERENCES", "REFERENCE_SCALE", "References", "build_references",
           "farthest_points", "load_references", "reference_side", "save_references"]
