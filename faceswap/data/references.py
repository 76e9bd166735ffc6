"""B's reference crops: a few of the B faceset's real faces, kept in the model folder for convert.

A model renders its face at 64-128 px and convert enlarges it 2-4 times, so the skin, lashes,
lids and lip lines it shows are a blur (docs/convert.md, "B's own detail"). The B faceset holds
the person's real detail at a higher resolution; convert borrows it (convert/reference_detail.py).
So train keeps REFERENCES of B's crops in MODEL_DIR/references_b.safetensors, cut to the model's
crop (its centering and coverage) at REFERENCE_SCALE times the model's resolution (at most
MAX_SIDE px), with each crop's landmarks, and convert needs no faceset. They are cut from B's
source video frames when the footage is still where extract read it (and gives back the stored
crops), else from the faceset's crops, which hold less detail (extract's 256 px head crop).

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
from ..media.source import source_kind
from ..media.video_reader import VideoReader
from ..model.config import ModelConfig
from ..model.store import read_weights, save_weights
from .faceset import FaceRecord, iter_faceset, read_crop

log = get_logger(__name__)

FILE = "references_b.safetensors"
FORMAT = "faceswap-references"
# How many crops: more covers more expressions, each costs S*S*3 bytes (196 KB at 256 px).
REFERENCES = 48
# The side the crops are kept at, in multiples of the model's resolution, and at most MAX_SIDE px:
# a 64 px model's face fills 200-300 px of a close-up. Cut from the source frames (where they are
# still there) a reference holds what the camera saw; cut from extract's default 256 px head crops,
# only about 150 px of the model's face crop, enlarged.
REFERENCE_SCALE = 4
MAX_SIDE = 256
# What to do about a damaged file, said with its error.
REMEDY = ("; delete it and run `faceswap train` on the model once to write it again, "
          "or convert with --detail off")
# Mean level difference between a stored crop and the same crop cut again from its source frame
# above which the frame is taken for another one (PNG is lossless: the same decode gives ~0).
MATCH_LEVELS = 3.0


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
    chosen = farthest_points(shapes.reshape(len(records), -1), count)
    from_footage = _cut_from_footage([records[i] for i in chosen], side, cfg)
    crops, marks = [], []
    for i in chosen:
        crop = from_footage.get(records[i].path)
        if crop is None:
            image, _ = read_crop(records[i].path)
            to_model = compose(crop_matrix(records[i].landmarks, side, cfg.centering, cfg.coverage),
                               invert(records[i].matrix))
            crop = warp(image, to_model, side)
        crops.append(crop)
        marks.append(shapes[i] * side)
    log.info("B references: %d crops at %d px, %d cut from the footage, %d from the faceset's crops",
             len(crops), side, len(from_footage), len(crops) - len(from_footage))
    return References(np.stack(crops), np.stack(marks).astype(np.float32))


def _cut_from_footage(records: list[FaceRecord], side: int, cfg: ModelConfig) -> dict[Path, np.ndarray]:
    """The model crops of `records` at `side` cut from their source video's frames, by crop path,
    for the records whose 8-bit video is still where extract read it.

    Extract stores 256 px head crops, in which a close-up's face crop is only ~150 px: cut from
    the frame, a reference holds the detail the camera saw. A frame is used only when it gives back
    the stored crop (within MATCH_LEVELS): a file replaced or re-encoded since keeps the crop's."""
    by_source: dict[str, dict[int, list[FaceRecord]]] = {}
    for r in records:
        source, frame = r.meta.get("source"), r.meta.get("frame")
        if isinstance(source, str) and isinstance(frame, int) and source_kind(source) == "video" \
                and Path(source).is_file():
            by_source.setdefault(source, {}).setdefault(frame, []).append(r)
    cut: dict[Path, np.ndarray] = {}
    for source, frames in by_source.items():
        try:
            cut.update(_cut_from_video(source, frames, side, cfg))
        except FaceswapError as err:
            log.info("B references from the faceset's crops (%s)", err)
    return cut


def _cut_from_video(source: str, frames: dict[int, list[FaceRecord]], side: int,
                    cfg: ModelConfig) -> dict[Path, np.ndarray]:
    """`_cut_from_footage` for one video: {} when it is deep (its crops are in the working space,
    its frames are not) or a frame does not give back its stored crop."""
    reader = VideoReader(source)
    if reader.deep:
        return {}
    cut: dict[Path, np.ndarray] = {}
    last = max(frames)
    for index, image in reader:
        for r in frames.get(index, []):
            stored, _ = read_crop(r.path)
            again = warp(image, r.matrix, stored.shape[0])
            if np.abs(again.astype(np.int16) - stored).mean() > MATCH_LEVELS:
                log.info("%s: frame %d is not what the faceset was cut from; B references from the crops",
                         source, index)
                return {}
            cut[r.path] = warp(image, crop_matrix(r.landmarks, side, cfg.centering, cfg.coverage), side)
        if index >= last:
            break
    return cut


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
    tensors = read_weights(path, REMEDY)
    crops, marks = tensors.get("crops"), tensors.get("landmarks")
    if (crops is None or marks is None or crops.dtype != torch.uint8 or crops.ndim != 4 or crops.shape[-1] != 3
            or crops.shape[1] != crops.shape[2] or tuple(marks.shape) != (len(crops), 68, 2)):
        raise FaceswapError(f"{path} is not a faceswap reference file (unexpected arrays){REMEDY}")
    side = crops.shape[1]
    if not bool(torch.isfinite(marks).all()) or float(marks.abs().max()) > 4 * side:
        raise FaceswapError(f"{path} is damaged (landmarks outside its crops){REMEDY}")
    return References(crops.numpy(), marks.float().numpy())


__all__ = ["FILE", "MAX_SIDE", "REFERENCES", "REFERENCE_SCALE", "References", "build_references",
           "farthest_points", "load_references", "reference_side", "save_references"]
