"""Model and training configuration: dataclasses that serialise to JSON.

A model's config is saved beside its weights (config.json) and convert reads
it from there; presets are a few lines of data each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import FaceswapError

ARCHS = ("df", "liae")
GAN_LOSSES = ("nonsaturating", "hinge", "lsgan", "wgan-gp")


@dataclass
class ModelConfig:
    """What the network is. Changing any of these makes a different model."""

    arch: str = "df"            # df: shared encoder -> decoder per identity; liae: + shared/per-identity inter layers
    resolution: int = 64        # side of the face crop the model sees and makes (64..512)
    centering: str = "face"     # which crop of the face (see faces/geometry.py)
    coverage: float = 0.9       # how much of that centering's extent the crop shows
    encoder_dims: int = 32      # channels of the first encoder stage; doubled at each downscale
    latent_dims: int = 256      # bottleneck width
    decoder_dims: int = 16      # channels of the last decoder stage; doubled towards the bottleneck
    bottleneck: int = 4         # spatial side of the bottleneck feature map
    mask: bool = True           # decoders also predict a face mask

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise FaceswapError(f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if not 64 <= self.resolution <= 512 or self.resolution % 16:
            raise FaceswapError(f"resolution must be a multiple of 16 from 64 to 512, not {self.resolution}")
        if self.bottleneck < 2 or self.resolution % self.bottleneck or \
                (self.resolution // self.bottleneck) & (self.resolution // self.bottleneck - 1):
            raise FaceswapError("resolution / bottleneck must be a power of two")

    @property
    def stages(self) -> int:
        """Number of 2x down (and up) sampling stages between crop and bottleneck."""
        return (self.resolution // self.bottleneck).bit_length() - 1


@dataclass
class TrainConfig:
    """How the model is trained. Can change between runs of the same model."""

    batch_size: int = 16
    lr: float = 5e-4
    iterations: int | None = None      # stop after this many iterations in total (None: no limit)
    minutes: float | None = None       # stop after this many minutes of this run (None: no limit)
    save_every: int = 250
    preview_every: int = 250
    ssim_weight: float = 1.0
    pixel_loss: str = "l1"             # l1 | mse
    pixel_weight: float = 1.0
    eyes_weight: float = 3.0           # extra weight on the eye region
    mouth_weight: float = 2.0          # extra weight on the mouth region
    mask_weight: float = 1.0
    gan_weight: float = 0.0            # 0 = no discriminator
    gan_start: int = 0                 # iteration the discriminator starts at
    gan_loss: str = "nonsaturating"
    grad_clip: float = 1.0
    device: str = "auto"               # auto | cpu | cuda | mps
    amp: bool = True                   # mixed precision on GPU (never on CPU: slower there)
    compile: bool = False              # torch.compile the model
    workers: int | None = None         # data loader worker processes (None: by CPU count)
    warp: bool = True                  # random grid warp of the inputs
    seed: int = 0

    def validate(self) -> None:
        if self.batch_size < 1:
            raise FaceswapError("batch size must be at least 1")
        if self.gan_loss not in GAN_LOSSES:
            raise FaceswapError(f"gan loss must be one of {', '.join(GAN_LOSSES)}")
        if self.pixel_loss not in ("l1", "mse"):
            raise FaceswapError("pixel loss must be l1 or mse")


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


def from_dict(cls, data: dict[str, Any]):
    """Build a config dataclass from a dict, refusing unknown keys with a clear message."""
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise FaceswapError(f"unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    return cls(**data)


def preset(name: str) -> tuple[ModelConfig, TrainConfig]:
    if name not in PRESETS:
        raise FaceswapError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return from_dict(ModelConfig, PRESETS[name]["model"]), from_dict(TrainConfig, PRESETS[name]["train"])


def to_dict(cfg) -> dict[str, Any]:
    return asdict(cfg)


__all__ = ["ARCHS", "GAN_LOSSES", "ModelConfig", "PRESETS", "TrainConfig", "from_dict", "preset", "to_dict"]
