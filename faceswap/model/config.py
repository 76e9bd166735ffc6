"""Model configuration: a dataclass that serialises to JSON.

A model's config is saved beside its weights (config.json, model/store.py)
and convert reads it from there. How a model is trained (TrainConfig, the
presets) lives in train/config.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from ..errors import FaceswapError

T = TypeVar("T")

ARCHS = ("df", "liae")
# The losses model/losses.py implements; named here (no torch) so the CLI can list them at start-up.
PIXEL_LOSSES = ("l1", "mse")
GAN_LOSSES = ("nonsaturating", "hinge", "lsgan", "wgan-gp")
DETAIL_SCALES = (0, 2, 4)   # model/detail.py's SCALES, here without torch for the CLI


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
    detail_scale: int = 0       # 0: none; 2 or 4: B's detail stage renders the swap at this many times resolution

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise FaceswapError(f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if not 64 <= self.resolution <= 512 or self.resolution % 16:
            raise FaceswapError(f"resolution must be a multiple of 16 from 64 to 512, not {self.resolution}")
        if self.bottleneck < 2 or self.resolution % self.bottleneck or \
                (self.resolution // self.bottleneck) & (self.resolution // self.bottleneck - 1):
            raise FaceswapError("resolution / bottleneck must be a power of two")
        if self.detail_scale not in DETAIL_SCALES:
            raise FaceswapError(f"detail scale must be one of {', '.join(map(str, DETAIL_SCALES))}, "
                                f"not {self.detail_scale}")

    @property
    def stages(self) -> int:
        """Number of 2x down (and up) sampling stages between crop and bottleneck."""
        return (self.resolution // self.bottleneck).bit_length() - 1


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a config dataclass from a dict; FaceswapError naming any unknown keys."""
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise FaceswapError(f"unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    return cls(**data)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as a plain dict (what config.json and state.json hold)."""
    return asdict(cfg)


def field_default(cls: type, name: str) -> Any:
    """The declared default of field `name` of a config dataclass (what `--help` shows)."""
    return {f.name: f.default for f in fields(cls)}[name]


__all__ = ["ARCHS", "DETAIL_SCALES", "GAN_LOSSES", "ModelConfig", "PIXEL_LOSSES", "field_default", "from_dict", "to_dict"]
