"""The swap model: a shared encoder, a dense bottleneck, and a decoder per identity.

Read top to bottom: building blocks, encoder, bottleneck ("inter"), decoder, model.

`forward(x, side)` always means "render the face in x as identity `side`".
Training rebuilds A faces (the footage to change) with side "a" and B faces
(the face to put in) with side "b"; the swap that convert makes is
`forward(face_of_A, "b")`. Reenact is the same call with the driver's face.

Sizes, for a crop of side R, b = bottleneck and `stages` = log2(R / b):

    encoder  R -> R/2 -> ... -> b, strided convs, widths encoder_dims * 1, 2, 4, ... (at most 8x)
    inter    flatten -> latent_dims -> (C, b, b) -> 2x up to (C, 2b, 2b),
             C = decoder_dims * 2**(stages - 1) (at most 8x)
    decoder  2b -> ... -> R, halving the width at each 2x up, a residual block
             at every scale but the last, then one 3x3 conv to RGB + mask (sigmoid)
    detail   (detail_scale > 0) B's upscaler, R -> detail_scale * R (model/detail.py): trained
             on B's renders against B's own larger crops, applied by convert to the B render
    occlusion (cfg.occlusion) a small U-Net, crop -> the face's visible pixels (model/occlusion.py):
             trained on both facesets with synthetic occluders, run by convert on the footage crop

Plain conv + LeakyReLU, no normalisation layers (batches are small); every
op runs channels-last. On the `quick` preset most of the cost is spread
evenly over the decoder's scales (each halving of width pays for the 4x
more pixels), so no single scale dominates.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import ModelConfig

SIDES = ("a", "b")


def act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


class Down(nn.Module):
    """Halve the resolution: strided conv."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=2, padding=kernel // 2)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Up(nn.Module):
    """Double the resolution: 3x3 conv to 4x the channels, then pixel shuffle.

    ICNR start: the four sub-pixel filters of each output channel begin equal,
    so a fresh layer is a nearest-neighbour upscale, with no checkerboard to unlearn.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out * 4, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(self.conv.weight[::4].repeat_interleave(4, dim=0))
            self.conv.bias.copy_(self.conv.bias[::4].repeat_interleave(4))
        self.shuffle = nn.PixelShuffle(2)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class Residual(nn.Module):
    """Two 3x3 convs with a skip: detail at the same scale, cheap to learn."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.conv2(self.act(self.conv1(x))))


def widths(base: int, stages: int) -> list[int]:
    """Channels at `stages` scales from the outside in: base, 2*base, 4*base, ... at most 8*base."""
    return [min(base * 2 ** i, 8 * base) for i in range(stages)]


class Encoder(nn.Module):
    """Crop (N,3,R,R) in [0,1] -> flat features (N, F) of a (C, b, b) map."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        ch = widths(cfg.encoder_dims, cfg.stages)
        # 5x5 on the RGB input: a wider look costs little with 3 channels in;
        # no full-resolution conv before it (the costliest place, for little gain).
        layers = [Down(3, ch[0], kernel=5)]
        layers += [Down(c_in, c_out) for c_in, c_out in zip(ch[:-1], ch[1:])]
        self.down = nn.Sequential(*layers)
        self.out_features = ch[-1] * cfg.bottleneck ** 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(x * 2 - 1).flatten(1)


class Inter(nn.Module):
    """Dense bottleneck: features -> latent_dims -> a (C, b, b) map -> 2x up to (C, 2b, 2b).

    No activation between the two Linear layers (as in DeepFaceLab): a
    low-rank bottleneck that keeps the code compact.
    """

    def __init__(self, in_features: int, cfg: ModelConfig, channels: int) -> None:
        super().__init__()
        self.shape = (channels, cfg.bottleneck, cfg.bottleneck)
        self.dense = nn.Sequential(nn.Linear(in_features, cfg.latent_dims),
                                   nn.Linear(cfg.latent_dims, channels * cfg.bottleneck ** 2))
        self.up = Up(channels, channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # channels-last like the weights: a mixed pair takes a slow conv path on CPU
        h = self.dense(z).view(-1, *self.shape).contiguous(memory_format=torch.channels_last)
        return self.up(h)


def decoder_widths(cfg: ModelConfig) -> list[int]:
    """Channels at each decoder scale, from the inter's output (2b) out to full resolution."""
    return widths(cfg.decoder_dims, cfg.stages)[::-1]


class Decoder(nn.Module):
    """(C, 2b, 2b) map -> RGB (N,3,R,R) and mask (N,1,R,R) or None, both in [0,1]."""

    def __init__(self, cfg: ModelConfig, in_channels: int) -> None:
        super().__init__()
        ch = decoder_widths(cfg)
        blocks: list[nn.Module] = []
        c_in = in_channels
        for i, c_out in enumerate(ch[1:]):
            blocks.append(Up(c_in, c_out))
            if i < len(ch) - 2:  # full resolution is the costliest place for a residual block, and needs it least
                blocks.append(Residual(c_out))
            c_in = c_out
        self.body = nn.Sequential(*blocks)
        # RGB and mask in one conv (channel 3 is the mask, with its own filter):
        # a 1-channel conv at full resolution runs as slowly as a 4-channel one.
        self.head = nn.Conv2d(ch[-1], 4 if cfg.mask else 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = torch.sigmoid(self.head(self.body(x)))
        return out[:, :3], (out[:, 3:] if out.shape[1] == 4 else None)


class FaceSwapModel(nn.Module):
    """Two architectures, one interface.

    df (the classic deepfakes design): encoder and inter shared, one decoder
    per identity. Swap: `forward(x_A, "b")` = decoders["b"](inter(encoder(x_A))).

    liae (DeepFaceLab's LIAE): encoder, `inter_ab` and ONE decoder shared; the
    decoder reads two stacked halves:

        code(x, "a") = cat(inter_a(z),  inter_ab(z))    A, the footage, has an inter of its own
        code(x, "b") = cat(inter_ab(z), inter_ab(z))    B, the face to put in, has none

    Training rebuilds A through `inter_a` and B through the shared path only,
    so what is particular to A's look is pushed into `inter_a`, while
    `inter_ab`, trained on both identities, carries pose and expression. The
    swap `forward(x_A, "b")` leaves `inter_a` out: cat(inter_ab(z_A),
    inter_ab(z_A)) is DeepFaceLab's swap code (its dst is our A, its src our
    B), and from such a code the shared decoder has only ever drawn B.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        inter_ch = decoder_widths(cfg)[0]
        if cfg.arch == "df":
            self.inter = Inter(self.encoder.out_features, cfg, inter_ch)
            self.decoders = nn.ModuleDict({side: Decoder(cfg, inter_ch) for side in SIDES})
        else:
            self.inter_ab = Inter(self.encoder.out_features, cfg, inter_ch)
            self.inter_a = Inter(self.encoder.out_features, cfg, inter_ch)
            self.decoder = Decoder(cfg, 2 * inter_ch)
        if cfg.detail_scale:
            # imported here: detail.py builds on this module's blocks
            from .detail import DetailNet
            self.detail = DetailNet(cfg.detail_scale)
        if cfg.occlusion:
            from .occlusion import OcclusionNet
            self.occlusion = OcclusionNet()

    def swap_parameters(self) -> list[nn.Parameter]:
        """The parameters of the swap itself (all but the detail stage's and the occlusion net's,
        which have losses of their own)."""
        return [p for name, p in self.named_parameters() if not name.startswith(("detail.", "occlusion."))]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Shared encoder features (N, F) of face crops (N,3,R,R) in [0,1]."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Render encoder features as identity `side`: (rgb, mask or None)."""
        if side not in SIDES:
            raise ValueError(f"side must be 'a' or 'b', not {side!r}")
        if self.cfg.arch == "df":
            return self.decoders[side](self.inter(z))
        shared = self.inter_ab(z)
        own = self.inter_a(z) if side == "a" else shared
        return self.decoder(torch.cat([own, shared], dim=1))

    def forward(self, x: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Render the faces in x (N,3,R,R) in [0,1] as identity `side`: rgb (N,3,R,R), mask (N,1,R,R) or None."""
        return self.decode(self.encode(x), side)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["FaceSwapModel", "SIDES", "count_parameters", "decoder_widths"]
