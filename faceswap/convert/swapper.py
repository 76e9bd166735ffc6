"""A trained model, ready for convert: load it, crop faces the way it was trained, run batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ..errors import FaceswapError
from ..faces.geometry import crop_matrix, warp
from ..faces.types import Face
from ..log import get_logger
from ..model.autoencoder import FaceSwapModel
from ..model.config import ModelConfig
from ..train.checkpoint import checkpoint_dir, load_model_config
from ..train.trainer import pick_device

log = get_logger(__name__)


class Swapper:
    """The model of MODEL_DIR in inference mode, with its crop definition."""

    def __init__(self, model_dir: str | Path, device: str = "auto") -> None:
        self.model_dir = Path(model_dir)
        if not self.model_dir.is_dir():
            raise FaceswapError(f"no such model folder: {self.model_dir}")
        self.cfg: ModelConfig
        self.cfg, self.meta = load_model_config(self.model_dir)
        folder = checkpoint_dir(self.model_dir)
        if folder is None:
            raise FaceswapError(f"{self.model_dir} has no trained weights yet (run faceswap train first)")
        path = folder / "model.safetensors"
        try:
            weights = load_file(path)
        except (SafetensorError, OSError, ValueError) as err:
            raise FaceswapError(f"{path} is corrupt or unreadable ({type(err).__name__})") from err
        self.model = FaceSwapModel(self.cfg)
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as err:
            raise FaceswapError(f"{path} does not fit the model described in {self.model_dir / 'config.json'} "
                                f"(edited config or another version)") from err
        self.device = pick_device(device)
        self.model.eval().to(self.device).to(memory_format=torch.channels_last)
        self.weights_file = path
        self.size = self.cfg.resolution
        log.info("model %s: %s %d px %s crops, device %s", self.model_dir.name, self.cfg.arch, self.size,
                 self.cfg.centering, self.device)

    def matrix(self, landmarks: np.ndarray) -> np.ndarray:
        """2x3 frame -> model crop for a face."""
        return crop_matrix(landmarks, self.size, self.cfg.centering, self.cfg.coverage)

    def crop(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        return warp(image, matrix, self.size)

    def face_crops(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """The model's crops of `faces` in `image`: (N, R, R, 3) uint8."""
        return np.stack([self.crop(image, self.matrix(f.landmarks)) for f in faces])

    @torch.inference_mode()
    def render(self, crops: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Crops (N,R,R,3) uint8 -> the faces rendered as `side`: RGB (N,R,R,3) and mask (N,R,R) float32 in [0,1]."""
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        # NHWC uint8 viewed as NCHW is already channels-last: no copy before the first conv
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        rgb, mask = self.model(x, side)
        rgb_np = rgb.float().permute(0, 2, 3, 1).cpu().numpy()
        mask_np = mask.float()[:, 0].cpu().numpy() if mask is not None else None
        return rgb_np, mask_np

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
