"""A trained model, ready for convert: load it, crop faces the way it was trained, run batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .. import defaults
from ..data.references import load_references
from ..faces.geometry import box_matrix, crop_matrix, warp
from ..faces.types import Face
from ..log import get_logger
from ..model.config import ModelConfig
from ..model.detail import upscale_mask
from ..model.store import load_model
from .reference_detail import ReferenceDetail

log = get_logger(__name__)


class Swapper:
    """The model of MODEL_DIR in inference mode, with its crop definition."""

    def __init__(self, model_dir: str | Path, device: str = defaults.DEVICE) -> None:
        self.model_dir = Path(model_dir)
        stored = load_model(self.model_dir, device)
        self.cfg: ModelConfig = stored.cfg
        self.meta, self.device, self.weights_file = stored.meta, stored.device, stored.weights_file
        self.model = stored.model.to(memory_format=torch.channels_last)
        self.size = self.cfg.resolution
        self._references: ReferenceDetail | None | bool = False   # False: not read yet
        log.info("model %s: %s %d px %s crops%s, device %s", self.model_dir.name, self.cfg.arch, self.size,
                 self.cfg.centering, f", B's detail stage to {self.size * self.cfg.detail_scale} px"
                 if self.cfg.detail_scale else "", self.device)

    @property
    def references(self) -> ReferenceDetail | None:
        """B's reference crops (data/references.py), read on first use (`--detail off` never reads
        them); None for a model with the detail stage (it draws its own detail) or without the file.
        FaceswapError (one line) for a damaged file."""
        if self._references is False:
            refs = None if self.cfg.detail_scale else load_references(self.model_dir)
            self._references = ReferenceDetail(refs, self.size) if refs is not None else None
            if refs is None and not self.cfg.detail_scale:
                log.info("model %s has no B reference crops (trained before they existed): faces are enlarged "
                         "without B's detail; one `faceswap train` run on it (it resumes) writes them",
                         self.model_dir.name)
        return self._references or None

    def scale(self, side: str) -> int:
        """How many times the model's resolution `render_output` draws `side` at: the detail
        stage's scale for B (it learnt B's detail only), 1 otherwise."""
        return self.cfg.detail_scale if self.cfg.detail_scale and side == "b" else 1

    def enlarge(self, side: str) -> np.ndarray:
        """2x3 model crop -> the pixels of `render_output`'s faces for `side`: the crop's edges onto
        the enlarged face's edges (where DetailNet puts its pixels); the identity at scale 1."""
        s = self.scale(side)
        return box_matrix((0, 0, self.size, self.size), s * self.size) if s > 1 else np.eye(2, 3)

    def matrix(self, landmarks: np.ndarray) -> np.ndarray:
        """2x3 frame -> model crop for a face."""
        return crop_matrix(landmarks, self.size, self.cfg.centering, self.cfg.coverage)

    def crop(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        return warp(image, matrix, self.size)

    def face_crops(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """The model's crops of `faces` in `image`: (N, R, R, 3) uint8."""
        return np.stack([self.crop(image, self.matrix(f.landmarks)) for f in faces])

    def _in_chunks(self, crops: np.ndarray, run) -> tuple:
        """`run` over `crops` in chunks of exactly INFERENCE_CHUNK faces (the last padded with
        black): a face's pixels then do not depend on how many faces shared its call, which
        CPU kernels that pick their algorithm by batch size would otherwise let them do (a
        segmented run would differ from a one-piece run by a level here and there)."""
        n = len(crops)
        chunk = defaults.INFERENCE_CHUNK
        if n % chunk:
            crops = np.concatenate([crops, np.zeros((chunk - n % chunk, *crops.shape[1:]), crops.dtype)])
        parts = [run(torch.from_numpy(np.ascontiguousarray(crops[i:i + chunk])).to(self.device)
                     .permute(0, 3, 1, 2).float().div_(255.0)) for i in range(0, len(crops), chunk)]
        return tuple(None if parts[0][j] is None else np.concatenate([p[j] for p in parts])[:n]
                     for j in range(len(parts[0])))

    @torch.inference_mode()
    def render(self, crops: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Crops (N,R,R,3) uint8 -> the faces rendered as `side`: RGB (N,R,R,3) and mask (N,R,R) float32 in [0,1]."""
        def run(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
            # NHWC uint8 viewed as NCHW is already channels-last: no copy before the first conv
            rgb, mask = self.model(x, side)
            return (rgb.float().permute(0, 2, 3, 1).cpu().numpy(),
                    mask.float()[:, 0].cpu().numpy() if mask is not None else None)
        return self._in_chunks(crops, run)

    @torch.inference_mode()
    def render_output(self, crops: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The faces convert blends: `render`, then for B the detail stage, giving RGB (N,S,S,3) and
        mask (N,S,S) float32 in [0,1] with S = `scale(side)` * R (the mask enlarged bicubic)."""
        if self.scale(side) == 1:
            return self.render(crops, side)

        def run(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
            rgb, mask = self.model(x, side)
            rgb = self.model.detail(rgb.contiguous(memory_format=torch.channels_last)).clamp_(0, 1)
            mask_np = upscale_mask(mask.float(), self.scale(side))[:, 0].cpu().numpy() if mask is not None else None
            return rgb.float().permute(0, 2, 3, 1).cpu().numpy(), mask_np
        return self._in_chunks(crops, run)

    @property
    def has_occlusion(self) -> bool:
        """Whether the model has an occlusion net (models trained before it existed have none)."""
        return bool(self.cfg.occlusion)

    @torch.inference_mode()
    def occlusion(self, crops: np.ndarray) -> np.ndarray:
        """The occlusion net's view of footage crops (N,R,R,3) uint8: the share of each pixel that shows
        the face (not something in front of it), (N,R,R) float32 in [0,1]. ValueError without a net."""
        if not self.has_occlusion:
            raise ValueError(f"model {self.model_dir} has no occlusion net")
        # called frame by frame with that frame's faces: the same calls however a run is split
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        return self.model.occlusion.visible(x)[:, 0].float().cpu().numpy()

    def reconstruction_error(self, crops: np.ndarray, side: str) -> np.ndarray:
        """Mean absolute error of rebuilding each crop as `side`, inside the predicted mask: how much
        a face looks like the identity that decoder was trained on (lower = more alike)."""
        rgb, mask = self.render(crops, side)
        target = crops.astype(np.float32) / 255.0
        err = np.abs(rgb - target).mean(axis=3)
        if mask is None:
            return err.mean(axis=(1, 2))
        return (err * mask).sum(axis=(1, 2)) / np.maximum(mask.sum(axis=(1, 2)), 1.0)


__all__ = ["Swapper"]
