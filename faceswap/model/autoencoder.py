"""The swap model: a shared encoder, a dense bottleneck, and a decoder per identity.

Read top to bottom: building blocks, the encoder, the two architectures, the model.

`forward(x, side)` always means "render the face in x as identity `side`":
training rebuilds A faces with side "a" and B faces with side "b"; the swap
that convert makes is `forward(face_of_A, "b")`.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import ModelConfig

SIDES = ("a", "b")


def act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


class Down(nn.Module):
    """Halve the resolution: strided 3x3 conv."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Up(nn.Module):
    """Double the resolution: 3x3 conv to 4x channels, then pixel shuffle (no checkerboard from transposed convs)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class Residual(nn.Module):
    """Two 3x3 convs with a skip: sharpens detail at little cost."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.conv2(self.act(self.conv1(x))))


def widths(base: int, stages: int, cap: int) -> list[int]:
    """Channel count at each scale, from full resolution inwards: base, 2*base, 4*base... capped."""
    return [min(base * 2 ** i, cap) for i in range(stages + 1)]


class Encoder(nn.Module):
    """Crop (3,R,R) -> flat features of the (C, bottleneck, bottleneck) map."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        ch = widths(cfg.encoder_dims, cfg.stages, 16 * cfg.encoder_dims)
        self.stem = nn.Sequential(nn.Conv2d(3, ch[0], 3, padding=1), act())
        self.down = nn.Sequential(*[Down(ch[i], ch[i + 1]) for i in range(cfg.stages)])
        self.out_features = ch[-1] * cfg.bottleneck ** 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.stem(x)).flatten(1)


class Inter(nn.Module):
    """Dense bottleneck: features -> latent -> a (C, 2b, 2b) map for a decoder."""

    def __init__(self, in_features: int, cfg: ModelConfig, channels: int) -> None:
        super().__init__()
        self.shape = (channels, cfg.bottleneck, cfg.bottleneck)
        self.dense = nn.Sequential(nn.Linear(in_features, cfg.latent_dims),
                                   nn.Linear(cfg.latent_dims, channels * cfg.bottleneck ** 2))
        self.up = Up(channels, channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.dense(z).view(-1, *self.shape))


class Decoder(nn.Module):
    """(C, 2b, 2b) map -> RGB (3,R,R) and mask (1,R,R), both in [0,1]."""

    def __init__(self, cfg: ModelConfig, in_channels: int) -> None:
        super().__init__()
        ch = widths(cfg.decoder_dims, cfg.stages - 1, 16 * cfg.decoder_dims)[::-1]  # inner -> outer
        blocks: list[nn.Module] = [nn.Conv2d(in_channels, ch[0], 3, padding=1), act()]
        for i, (c_in, c_out) in enumerate(zip(ch[:-1], ch[1:])):
            blocks.append(Up(c_in, c_out))
            if i < len(ch) - 2:  # full resolution is the costliest place for a residual block, and needs it least
                blocks.append(Residual(c_out))
        self.body = nn.Sequential(*blocks)
        self.rgb = nn.Conv2d(ch[-1], 3, 3, padding=1)
        self.mask = nn.Conv2d(ch[-1], 1, 3, padding=1) if cfg.mask else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.body(x)
        mask = torch.sigmoid(self.mask(h)) if self.mask is not None else None
        return torch.sigmoid(self.rgb(h)), mask


class FaceSwapModel(nn.Module):
    """df: encoder + inter shared, one decoder per identity (the classic deepfakes design).

    liae (DeepFaceLab's LIAE): encoder and decoder shared; the code of a face is
    two halves, [identity half, shared half]. The shared half comes from
    `inter_ab`; the identity half from `inter_a` when rendering as A (the
    footage) and from `inter_ab` again when rendering as B. So B's look lives
    in the shared path and A's footage-specific look in `inter_a`; rendering an
    A face as B drops `inter_a`, which is the swap.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        inter_ch = min(cfg.decoder_dims * 2 ** (cfg.stages - 1), 16 * cfg.decoder_dims)
        if cfg.arch == "df":
            self.inter = Inter(self.encoder.out_features, cfg, inter_ch)
            self.decoders = nn.ModuleDict({side: Decoder(cfg, inter_ch) for side in SIDES})
        else:
            self.inter_ab = Inter(self.encoder.out_features, cfg, inter_ch)
            self.inter_a = Inter(self.encoder.out_features, cfg, inter_ch)
            self.decoder = Decoder(cfg, 2 * inter_ch)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Shared encoder features of face crops (N,3,R,R) in [0,1]."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Render encoder features as identity `side`: (rgb, mask)."""
        if side not in SIDES:
            raise ValueError(f"side must be 'a' or 'b', not {side!r}")
        if self.cfg.arch == "df":
            return self.decoders[side](self.inter(z))
        shared = self.inter_ab(z)
        own = self.inter_a(z) if side == "a" else shared
        return self.decoder(torch.cat([own, shared], dim=1))

    def forward(self, x: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.decode(self.encode(x), side)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
