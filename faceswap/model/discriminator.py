"""A patch discriminator (PatchGAN): real or made, judged on overlapping patches."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

from .autoencoder import widths
from .config import ModelConfig


class PatchDiscriminator(nn.Module):
    """(N,3,R,R) in [0,1] -> (N,1,h,w) logits, one per overlapping patch.

    Three strided 4x4 convs at 64 px and one more per doubling of the
    resolution, up to five (h = w = 8 up to 256 px, 16 at 512), then a 3x3
    conv and a 3x3 conv to one logit; widths dims, 2*dims, ... at most 8*dims.
    Spectral norm on every conv keeps the discriminator from overpowering a
    small generator without a normalisation layer that depends on the (small) batch.
    """

    def __init__(self, cfg: ModelConfig, dims: int = 64) -> None:
        super().__init__()
        downs = min(max(int(math.log2(cfg.resolution)) - 3, 3), 5)
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in widths(dims, downs):
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2, inplace=True)]
            c_in = c_out
        layers += [spectral_norm(nn.Conv2d(c_in, c_in, 3, padding=1)), nn.LeakyReLU(0.2, inplace=True),
                   spectral_norm(nn.Conv2d(c_in, 1, 3, padding=1))]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


__all__ = ["PatchDiscriminator"]
