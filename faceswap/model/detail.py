"""The detail stage: an identity-specific upscaler from the model's render to `detail_scale` times its size.

The swap model draws B's face at `resolution` px; convert shows it 2-4x larger,
so skin, eyes and teeth come out as a blur. This small network learns, from
B's own stored crops (extract keeps them at 256 px), what B's face looks like
at `scale` times the model's resolution, given the model's own rendering of
it: it turns decoder-style renders into B's detailed look. It brings B's
detail, never the footage's (it only ever sees B).

    input   the model's rendered RGB (N,3,r,r) in [0,1], any r (random patches in training)
    body    3x3 conv to `channels`, `blocks` residual blocks, all at the input's size (cheap),
            then a 1x1 conv down to `channels // 2`
    up      log2(scale) x (bilinear 2x enlargement + 3x3 conv): a resize-convolution, not a
            pixel shuffle, whose sub-pixel grid the detail loss turned into a visible pattern
            on eyes and lips (Odena et al., "Deconvolution and checkerboard artifacts", 2016)
    tail    3x3 conv to RGB, started at zero
    output  bicubic(input, scale) + tail: a fresh net is a plain bicubic upscale, and training
            only has to learn the residual detail (the global residual of VDSR, Kim et al.,
            CVPR 2016)

Pixel placement follows the edges convention (torch's align_corners=False,
geometry.box_matrix): crop pixel x lands on output pixel scale*x + (scale-1)/2.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .autoencoder import Residual, act
from .config import DETAIL_SCALES

SCALES = DETAIL_SCALES   # 0 = no detail stage
CHANNELS = 32
BLOCKS = 2


class UpConv(nn.Module):
    """Double the resolution: bilinear enlargement, then a 3x3 conv at the new size."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)))


class DetailNet(nn.Module):
    """RGB (N,3,r,r) in [0,1] -> RGB (N,3,scale*r,scale*r), not clamped (convert clips when it makes uint8)."""

    def __init__(self, scale: int, channels: int = CHANNELS, blocks: int = BLOCKS) -> None:
        super().__init__()
        if scale not in SCALES[1:]:
            raise ValueError(f"detail scale must be one of {SCALES[1:]}, not {scale}")
        self.scale = scale
        narrow = max(channels // 2, 8)  # every layer after the body pays for 4x more pixels per 2x
        self.head = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), act())
        self.body = nn.Sequential(*[Residual(channels) for _ in range(blocks)],
                                  nn.Conv2d(channels, narrow, 1), act())
        self.up = nn.Sequential(*[UpConv(narrow) for _ in range(scale.bit_length() - 1)])
        self.tail = nn.Conv2d(narrow, 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + self.tail(self.up(self.body(self.head(x * 2 - 1))))


def upscale_mask(mask: torch.Tensor, scale: int) -> torch.Tensor:
    """A predicted mask (N,1,r,r) in [0,1] at `scale` times the size (bicubic, clamped to [0,1]),
    placed like DetailNet's output."""
    return F.interpolate(mask, scale_factor=scale, mode="bicubic", align_corners=False).clamp_(0, 1)


__all__ = ["BLOCKS", "CHANNELS", "DetailNet", "UpConv", "SCALES", "upscale_mask"]
