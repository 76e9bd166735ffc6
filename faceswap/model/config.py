"""Model configuration: a dataclass that serialises to JSON.

A model's config is saved beside its weights (config.json, model/store.py)
and convert reads it from there. How a model is trained (TrainConfig, the
presets) lives in train/config.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from .. import defaults
from ..errors import FaceswapError
from ..ranges import bounded, check_ranges

T = TypeVar("T")

ARCHS = ("df", "liae")
# The losses model/losses.py implements; named here (no torch) so the CLI can list them at start-up.
PIXEL_LOSSES = ("l1", "mse")
GAN_LOSSES = ("nonsaturating", "hinge", "lsgan", "wgan-gp")
DETAIL_SCALES = (0, 2, 4)   # model/detail.py's SCALES, here without torch for the CLI


@dataclass
class ModelConfig:
    """What the network is. Changing any of these makes a different model. Numeric fields carry
    their range (faceswap/ranges.py), checked by `validate` with the rules that tie them together."""

    arch: str = "df"            # df: shared encoder -> decoder per identity; liae: + shared/per-identity inter layers
    resolution: int = bounded(64, 64, 512)  # side of the face crop the model sees and makes (64..512)
    centering: str = "face"     # which crop of the face (see faces/geometry.py)
    coverage: float = bounded(0.9, *defaults.COVERAGE_RANGE)  # how much of that centering's extent the crop shows
    encoder_dims: int = bounded(32, 1)  # channels of the first encoder stage; doubled at each downscale
    latent_dims: int = bounded(256, 1)  # bottleneck width
    decoder_dims: int = bounded(16, 1)  # channels of the last decoder stage; doubled towards the bottleneck
    bottleneck: int = bounded(4, 2)     # spatial side of the bottleneck feature map
    mask: bool = True           # decoders also predict a face mask
    detail_scale: int = 0       # 0: none; 2 or 4: B's detail stage renders the swap at this many times resolution
    occlusion: bool = True      # an occlusion net learns what covers the face (model/occlusion.py); convert keeps it

    def validate(self) -> None:
        """FaceswapError for a number out of its range, an unknown choice or a resolution the
        network cannot halve down to its bottleneck."""
        check_ranges(self)
        if self.arch not in ARCHS:
            raise FaceswapError(f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if self.resolution % 16:
            raise FaceswapError(f"--resolution must be a multiple of 16 in 64-512 (got {self.resolution})")
        if self.resolution % self.bottleneck or \
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
