"""Training data: a faceset loaded into memory at the model's crop, and augmented samples of it.

Crops are resampled once at load time from the stored PNG (any stored size,
centering or coverage) into the model's centering at `margin` times the
model's extent, so the random transforms of augmentation find real pixels at
the borders. Each sample is then one affine warp from that array into the
model's crop: no double resampling.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from ..errors import FaceswapError
from ..faces import landmarks68 as L
from ..faces.geometry import compose, recrop_matrix, transform_points, warp
from ..faces.masks import landmark_mask
from ..log import get_logger
from ..model.config import ModelConfig, TrainConfig
from .augment import colour_pipeline, grid_warp, random_similarity
from .faceset import iter_faceset, read_crop

log = get_logger(__name__)
MARGIN = 1.25


@dataclass
class FacesetArrays:
    """One identity's faces at the model's centering, `margin` times wider than the model's crop."""

    folder: Path
    images: np.ndarray      # (N, S, S, 3) uint8 RGB
    landmarks: np.ndarray   # (N, 68, 2) float32, in that space
    cfg: ModelConfig
    margin: float
    stored_size: int        # the smallest crop side stored in the faceset

    def __len__(self) -> int:
        return len(self.images)

    @property
    def to_model(self) -> np.ndarray:
        """2x3 from the margin space to the model's crop."""
        c = self.cfg
        return recrop_matrix(self.images.shape[1], c.centering, c.coverage * self.margin,
                             c.resolution, c.centering, c.coverage)

    def preview_batch(self, n: int) -> torch.Tensor:
        """n faces spread over the set, unaugmented, as (n,3,R,R) floats: for preview grids."""
        idx = np.linspace(0, len(self) - 1, n).round().astype(int)
        r = self.cfg.resolution
        crops = np.stack([warp(self.images[i], self.to_model, r) for i in idx])
        return torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255)


def load_faceset(folder: str | Path, cfg: ModelConfig, margin: float = MARGIN) -> FacesetArrays:
    """Read every crop left in a faceset into memory at the model's crop (plus margin)."""
    folder = Path(folder)
    records = list(iter_faceset(folder))
    if not records:
        raise FaceswapError(f"{folder} has no face crops (were they all deleted? run `faceswap extract` first)")
    size = int(round(cfg.resolution * margin))
    images = np.empty((len(records), size, size, 3), np.uint8)
    landmarks = np.empty((len(records), 68, 2), np.float32)
    smallest, worst_zoom = 1 << 30, 0.0
    for i, rec in enumerate(records):
        crop, meta = read_crop(rec.path)
        c = meta["crop"]
        mat = recrop_matrix(crop.shape[0], c["centering"], c["coverage"], size, cfg.centering, cfg.coverage * margin)
        images[i] = warp(crop, mat, size)
        landmarks[i] = transform_points(transform_points(rec.landmarks, rec.matrix), mat)
        smallest = min(smallest, crop.shape[0])
        worst_zoom = max(worst_zoom, float(np.sqrt(abs(np.linalg.det(mat[:, :2])))))
    if worst_zoom > 2.0:
        raise FaceswapError(f"{folder} holds crops too small for a {cfg.resolution} px model (they would be "
                            f"enlarged {worst_zoom:.1f}x): extract again with a larger --size")
    if worst_zoom > 1.5:
        log.warning("%s: crops are enlarged up to %.1fx for the %d px model; a larger --size at extract "
                    "gives sharper training faces", folder, worst_zoom, cfg.resolution)
    return FacesetArrays(folder, images, landmarks, cfg, margin, smallest)


def _soft(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)


def region_weight(lm: np.ndarray, size: int, eyes: float, mouth: float) -> np.ndarray:
    """1 everywhere, `eyes` on the eyes and `mouth` on the mouth (68 points in crop pixels)."""
    weight = np.ones((size, size), np.float32)
    eye_mask = np.zeros((size, size), np.uint8)
    for eye in (L.RIGHT_EYE, L.LEFT_EYE):
        pts = lm[eye]
        centre = pts.mean(axis=0)
        hull = cv2.convexHull(np.round((centre + (pts - centre) * 1.8) * 4).astype(np.int32))
        cv2.fillConvexPoly(eye_mask, hull, 255, cv2.LINE_AA, 2)
    weight += (eyes - 1.0) * (eye_mask > 127)
    weight += (mouth - 1.0) * (landmark_mask(lm, (size, size), "mouth") > 127)
    return weight


class FaceDataset(Dataset):
    """Augmented training samples of one identity: dicts of CHW float tensors in [0,1]."""

    def __init__(self, faces: FacesetArrays, train: TrainConfig, seed: int = 0) -> None:
        self.faces = faces
        self.train = train
        self.base_seed = seed
        self.rng = np.random.default_rng(seed)
        self.colour = colour_pipeline(seed)

    def reseed(self, seed: int) -> None:
        """Give this copy (one per worker process) its own random stream."""
        self.rng = np.random.default_rng(seed)
        self.colour.set_random_seed(seed)

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        faces, r = self.faces, self.faces.cfg.resolution
        move, mirrored = random_similarity(self.rng, r)
        mat = compose(move, faces.to_model)
        target = warp(faces.images[index], mat, r)
        lm = transform_points(faces.landmarks[index], mat).astype(np.float32)
        if mirrored:
            lm = lm[L.FLIP_68]
        inp = grid_warp(target, self.rng) if self.train.warp else target
        inp = self.colour(image=inp)["image"]
        mask = _soft(landmark_mask(lm, (r, r), "extended"), r / 64)
        weight = region_weight(lm, r, self.train.eyes_weight, self.train.mouth_weight)

        def chw(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))

        return {"input": chw(inp).float().div_(255), "target": chw(target).float().div_(255),
                "mask": torch.from_numpy(mask)[None], "weight": torch.from_numpy(weight)[None]}


def _worker_init(worker_id: int) -> None:
    info = torch.utils.data.get_worker_info()
    torch.set_num_threads(1)  # the training process owns the cores' BLAS threads
    cv2.setNumThreads(1)
    info.dataset.reseed(info.dataset.base_seed * 1000 + worker_id + 1)


def default_workers() -> int:
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores // 2)


def make_loader(faces: FacesetArrays, model_cfg: ModelConfig, train: TrainConfig,
                device: torch.device | None = None, seed_offset: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """An endless iterator of training batches of one identity, reshuffled every pass."""
    del model_cfg  # the arrays already carry the model's crop
    seed = train.seed * 2 + seed_offset
    dataset = FaceDataset(faces, train, seed)
    workers = default_workers() if train.workers is None else train.workers
    generator = torch.Generator().manual_seed(seed)
    # With fewer faces than a batch, draw with replacement rather than fail.
    sampler = RandomSampler(dataset, replacement=len(dataset) < train.batch_size,
                            num_samples=max(len(dataset), train.batch_size), generator=generator)
    loader = DataLoader(dataset, batch_size=train.batch_size, sampler=sampler, drop_last=True,
                        num_workers=workers, worker_init_fn=_worker_init if workers else None,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                        pin_memory=device is not None and device.type == "cuda")

    def forever() -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield from loader

    return forever()
