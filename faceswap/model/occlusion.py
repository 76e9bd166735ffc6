"""The occlusion net: which pixels of a face crop show the face, and which something in front of it.

A small U-Net (Ronneberger et al. 2015, "U-Net: Convolutional Networks for Biomedical Image
Segmentation") trained with the swap model on the same crops, each with a synthetic occluder
pasted in (data/occluders.py: hands, bars, rims, blobs, cut-outs of the frames' own
background). Its target is the face's landmark mask minus the occluder, so it learns the face's
outline and, inside it, whatever is not face. No hand labels and no downloaded weights: it learns
from the facesets it is trained on (the approach of DeepFaceLab's XSeg, with the labels drawn
by the occluder generator instead of by hand).

Convert runs it on the footage's own crop (the footage identity's view of the face decides what
is occluded) and keeps the footage's pixels where it says "not face".

Sizes, for a crop of side R (a multiple of 8):

    R -> R/2: 16 (5x5, strided)   R/4: 32   R/8: 64 + residual (context: a hand is not skin)
    back up to R/2 with the skip at each scale, then a 3x3 conv to 4 sub-pixel logits,
    pixel-shuffled to one logit per pixel at R

Nothing runs at full resolution: full-resolution layers with few channels are memory-bound and
cost on a CPU as much as the whole swap decoder; the strided 5x5 stem still sees every input
pixel, and the sub-pixel head places edges at full resolution. About 0.2 M parameters; a
training step on 16 crops costs some 13 % of a `quick` step on 2 x 16.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .autoencoder import Down, Residual, Up, act

WIDTHS = (16, 32, 64)
# Its own learning rate (the swap's presets use 1e-4 to 5e-4): with it the net catches 0.8-1.0 of the
# test occluders' pixels after 600 steps where the swap's 5e-4 caught 0.4-1.0 (docs/occlusion.md).
LEARNING_RATE = 2e-3
# Occluded face pixels are a few % of a crop: weighted up this much more in the loss, the net stops
# calling a hand on the chin "face" because most of the crop is face.
OCCLUDED_WEIGHT = 4.0
# From this iteration on the swap's loss trusts the net: face pixels it calls covered in a training crop
# (a real hand in the faceset) count COVERED_LOSS_SHARE as much, so the decoder does not learn the hand
# as the face. Before it, the net has not learnt enough (600 steps catch 0.8-1.0 of the test occluders).
TRUSTED_FROM = 600
COVERED_LOSS_SHARE = 0.1


class _Merge(nn.Module):
    """Upsampled coarse features + the skip at the same scale -> one 3x3 conv."""

    def __init__(self, c_coarse: int, c_skip: int) -> None:
        super().__init__()
        self.up = Up(c_coarse, c_skip)
        self.conv = nn.Conv2d(2 * c_skip, c_skip, 3, padding=1)
        self.act = act()

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(torch.cat([self.up(coarse), skip], dim=1)))


class OcclusionNet(nn.Module):
    """Face crops (N,3,R,R) in [0,1] -> logits (N,1,R,R) of "this pixel shows the face"."""

    def __init__(self, widths: tuple[int, int, int] = WIDTHS) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.stem = Down(3, w1, kernel=5)
        self.down2, self.down3 = Down(w1, w2), Down(w2, w3)
        self.context = Residual(w3)
        self.merge2, self.merge1 = _Merge(w3, w2), _Merge(w2, w1)
        self.head = nn.Conv2d(w1, 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.stem(x * 2 - 1)
        s2 = self.down2(s1)
        h = self.context(self.down3(s2))
        return self.shuffle(self.head(self.merge1(self.merge2(h, s2), s1)))

    def visible(self, x: torch.Tensor) -> torch.Tensor:
        """The face's visible share of each pixel, (N,1,R,R) in [0,1]."""
        return torch.sigmoid(self.forward(x))


def occlusion_loss(logits: torch.Tensor, visible: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the net's logits (N,1,R,R) against the visible face (N,1,R,R) in [0,1],
    with the occluded part of the `face` mask (N,1,R,R) in [0,1] weighted 1 + OCCLUDED_WEIGHT."""
    weight = 1 + OCCLUDED_WEIGHT * (face - visible).clamp_(min=0)
    return F.binary_cross_entropy_with_logits(logits.float(), visible, weight=weight)


def covered_weight(face: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """The swap loss's weight factor (N,1,R,R) for training crops: 1 where the `face` mask (N,1,R,R)
    in [0,1] is seen or there is no face, down to COVERED_LOSS_SHARE where the net's `visible`
    (N,1,R,R) says the face is covered."""
    covered = (face - visible).clamp(0, 1)
    return 1 - (1 - COVERED_LOSS_SHARE) * covered


__all__ = ["COVERED_LOSS_SHARE", "TRUSTED_FROM", "covered_weight", "LEARNING_RATE", "OCCLUDED_WEIGHT", "OcclusionNet", "WIDTHS", "occlusion_loss"]
