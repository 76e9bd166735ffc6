"""A patch discriminator: real or made, judged on overlapping patches."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

from .config import ModelConfig


class PatchDiscriminator(nn.Module):
    """(N,3,R,R) -> (N,1,R/8,R/8) logits; spectral norm keeps it from overpowering a small generator."""

    def __init__(self, cfg: ModelConfig, dims: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(3):
            c_out = dims * 2 ** i
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
            c_in = c_out
        layers += [spectral_norm(nn.Conv2d(c_in, c_in, 3, padding=1)), nn.LeakyReLU(0.2, inplace=True),
                   nn.Conv2d(c_in, 1, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)
