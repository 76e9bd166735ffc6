"""Training settings and presets: how a model is trained, as dataclasses that serialise to JSON.

The model's own config (what the network is) is `model.config.ModelConfig`;
a preset names one of each. Training settings can change between runs of
the same model; they are recorded in each checkpoint's state.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .. import defaults
from ..errors import FaceswapError
from ..model.config import GAN_LOSSES, PIXEL_LOSSES, ModelConfig, from_dict, to_dict
from ..ranges import bounded, check_ranges


@dataclass
class TrainConfig:
    """How the model is trained. Can change between runs of the same model. Numeric fields carry
    their range (faceswap/ranges.py), checked by `validate`."""

    batch_size: int = bounded(16, 1)
    lr: float = bounded(5e-4, 0, 1, low_open=True)
    lr_decay: float = bounded(defaults.LR_DECAY, 0, 1)  # share of the run's budget at its end over which lr falls
    lr_floor: float = bounded(defaults.LR_FLOOR, 0, 1)  # lr's multiplier at the budget's end (train/schedule.py)
    iterations: int | None = bounded(None, 1)       # stop after this many iterations in total (None: no limit)
    minutes: float | None = bounded(None, 0, low_open=True)  # stop after this many minutes of this run (None: no limit)
    save_every: int = bounded(250, 1)
    preview_every: int = bounded(250, 1)
    ssim_weight: float = bounded(1.0, 0)
    pixel_loss: str = "l1"             # one of PIXEL_LOSSES
    pixel_weight: float = bounded(1.0, 0)
    eyes_weight: float = bounded(defaults.EYES_WEIGHT, 0)    # extra weight on the eye region
    mouth_weight: float = bounded(defaults.MOUTH_WEIGHT, 0)  # extra weight on the mouth region
    covered_weight: float = bounded(defaults.COVERED_WEIGHT, 0, 1)  # how often a mostly covered face is drawn
    mask_weight: float = bounded(1.0, 0)
    detail_highpass: float = bounded(1.0, 0)       # weight of the high-pass term of the detail stage's loss
    detail_energy: float = bounded(4.0, 0)         # weight of its local-detail term (what brings detail; model/losses.py)
    gan_weight: float = bounded(0.0, 0)            # 0 = no discriminator
    gan_start: int = bounded(0, 0)                 # iteration the discriminator starts at
    gan_loss: str = "nonsaturating"    # one of GAN_LOSSES
    grad_clip: float = bounded(1.0, 0, low_open=True)  # gradient norm clipped to
    device: str = defaults.DEVICE      # one of defaults.DEVICES
    amp: bool = True                   # mixed precision on GPU (never on CPU: slower there)
    compile: bool = False              # torch.compile the model
    workers: int | None = bounded(None, 0)         # data loader worker processes (None: by CPU count)
    ddp: int | None = bounded(None, 1)  # processes of this machine with DistributedDataParallel (None: one)
    warp: bool = True                  # random grid warp of the inputs
    seed: int = bounded(0, *defaults.SEED_RANGE)
    force: bool = False                # train on facesets extracted in different working spaces
    init: str = defaults.INIT          # a new model's start: "auto" (weights/prior-quick if built and it fits), "none", a prior folder
    init_parts: str = defaults.INIT_PART  # what of the prior it takes: one of defaults.INIT_PARTS

    def validate(self) -> None:
        """FaceswapError when a setting is out of range or not one of its choices."""
        check_ranges(self)
        if self.gan_loss not in GAN_LOSSES:
            raise FaceswapError(f"gan loss must be one of {', '.join(GAN_LOSSES)}")
        if self.pixel_loss not in PIXEL_LOSSES:
            raise FaceswapError(f"pixel loss must be one of {', '.join(PIXEL_LOSSES)}")
        if self.init_parts not in defaults.INIT_PARTS:
            raise FaceswapError(f"--init-parts must be one of {', '.join(defaults.INIT_PARTS)} (got {self.init_parts})")


# Presets: data, a few lines each. `quick` is sized for a 2-core CPU and 30 minutes.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        # 3.5 M parameters (df), ~180 samples/s of pure compute on 2 CPU cores (fwd + bwd, both identities)
        "model": {"resolution": 64, "encoder_dims": 32, "latent_dims": 256, "decoder_dims": 16},
        "train": {"batch_size": 16, "lr": 5e-4},
    },
    "standard": {
        "model": {"resolution": 128, "encoder_dims": 32, "latent_dims": 512, "decoder_dims": 32},
        "train": {"batch_size": 16, "lr": 2e-4},
    },
    "film": {
        "model": {"resolution": 256, "encoder_dims": 64, "latent_dims": 1024, "decoder_dims": 64,
                  "bottleneck": 8, "centering": "head", "coverage": 0.85},
        "train": {"batch_size": 8, "lr": 1e-4},
    },
}
DEFAULT_PRESET = "quick"


def preset(name: str) -> tuple[ModelConfig, TrainConfig]:
    """The (ModelConfig, TrainConfig) of preset `name`; FaceswapError for an unknown name."""
    if name not in PRESETS:
        raise FaceswapError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return from_dict(ModelConfig, PRESETS[name]["model"]), from_dict(TrainConfig, PRESETS[name]["train"])


def split_settings(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Settings of either kind -> (ModelConfig settings, TrainConfig settings), by field name;
    FaceswapError naming any setting that is neither."""
    model_keys = {f.name for f in fields(ModelConfig)}
    train_keys = {f.name for f in fields(TrainConfig)}
    unknown = set(settings) - model_keys - train_keys
    if unknown:
        raise FaceswapError(f"unknown training settings: {', '.join(sorted(unknown))}")
    return ({k: v for k, v in settings.items() if k in model_keys},
            {k: v for k, v in settings.items() if k in train_keys})


def with_overrides(cfg: Any, overrides: Mapping[str, Any]) -> Any:
    """A copy of config dataclass `cfg` with the `overrides` that are not None applied."""
    return from_dict(type(cfg), {**to_dict(cfg), **{k: v for k, v in overrides.items() if v is not None}})


__all__ = ["DEFAULT_PRESET", "PRESETS", "TrainConfig", "preset", "split_settings", "with_overrides"]
