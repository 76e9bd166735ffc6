"""Training losses: structural (DSSIM), pixel, mask and adversarial terms.

Every function takes float NCHW tensors. A per-pixel ``weight`` map
(N,1,H,W) turns a mean into a weighted mean, sum(w * loss) / sum(w), so
the caller decides where the face is and how much the eyes and mouth count.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import FaceswapError
from .config import GAN_LOSSES, PIXEL_LOSSES


def _weighted_mean(loss: Tensor, weight: Tensor | None) -> Tensor:
    if weight is None:
        return loss.mean()
    weight = weight.to(loss.dtype)
    # clamp: an all-zero weight map gives a loss of 0, not NaN
    return (loss * weight).sum() / weight.expand_as(loss).sum().clamp_min(1e-8)


@functools.lru_cache(maxsize=8)
def _gaussian_1d(window: int, sigma: float) -> Tensor:
    x = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    return (g / g.sum()).float()


def _blur(x: Tensor, window: int, sigma: float = 1.5) -> Tensor:
    """Gaussian blur of every channel, same size out (reflect padding), as two 1-D depthwise convs."""
    c = x.shape[1]
    g = _gaussian_1d(window, sigma).to(device=x.device, dtype=x.dtype)
    pad = window // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, window).expand(c, 1, 1, window), groups=c)
    return F.conv2d(x, g.view(1, 1, window, 1).expand(c, 1, window, 1), groups=c)


def ssim(x: Tensor, y: Tensor, window: int = 11) -> Tensor:
    """Per-pixel SSIM map (N,C,H,W) of images in [0, 1] (gaussian window, sigma 1.5), in float32."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    c = x.shape[1]
    # float32 even under autocast: the variances are differences of nearly equal
    # numbers, which bf16/fp16 convolutions turn into noise.
    with torch.autocast(x.device.type, enabled=False):
        x, y = x.float(), y.float()
        # One blur call for all five local statistics: fewer, larger convs run faster on CPU.
        stats = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), window)
    mu_x, mu_y, xx, yy, xy = stats.split(c, dim=1)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return num / den


def dssim_loss(x: Tensor, y: Tensor, weight: Tensor | None = None, window: int = 11) -> Tensor:
    """Structural dissimilarity (1 - SSIM) / 2, averaged (weighted by ``weight`` if given)."""
    return _weighted_mean((1 - ssim(x, y, window)) / 2, weight)


def pixel_loss(x: Tensor, y: Tensor, kind: str = "l1", weight: Tensor | None = None) -> Tensor:
    """Mean absolute ("l1") or squared ("mse") error, weighted by ``weight`` if given."""
    if kind == "l1":
        loss = (x - y).abs()
    elif kind == "mse":
        loss = (x - y).square()
    else:
        raise FaceswapError(f"pixel loss must be one of {', '.join(PIXEL_LOSSES)}, not {kind!r}")
    return _weighted_mean(loss, weight)


def highpass(x: Tensor, sigma: float = 1.0) -> Tensor:
    """x minus its Gaussian blur at `sigma` px (window 4 sigma + 1): the fine detail a soft render lacks."""
    return x - _blur(x, 2 * int(2 * sigma) + 1, sigma)


def local_detail(x: Tensor, sigma: float = 2.0) -> Tensor:
    """The local RMS of `highpass(x)`, averaged over a Gaussian window of `sigma` px: how much fine
    detail there is around each pixel, whatever its phase."""
    return _blur(highpass(x).square(), 2 * int(2 * sigma) + 1, sigma).clamp_min(1e-8).sqrt()


def detail_loss(x: Tensor, y: Tensor, highpass_weight: float = 1.0, energy_weight: float = 4.0) -> Tensor:
    """L1, plus `highpass_weight` times the L1 of the two high-passes (`highpass`), plus
    `energy_weight` times the L1 of their local detail (`local_detail`), in float32.

    Per-pixel losses settle on the mean of the plausible details, a blur (Ledig et al., "SRGAN",
    CVPR 2017): measured on the detail stage, L1 with or without the high-pass term put back
    only 1.4 of the 3.4 levels of detail RMS that B's crops hold. The energy term asks for as
    much detail as B's crop has there, not for its exact phase (a texture-statistics loss in
    the spirit of Gatys et al., CVPR 2016, at one scale): with it, 3.0-3.3 levels."""
    x, y = x.float(), y.float()
    loss = (x - y).abs().mean()
    if highpass_weight:
        loss = loss + highpass_weight * (highpass(x) - highpass(y)).abs().mean()
    if energy_weight:
        loss = loss + energy_weight * (local_detail(x) - local_detail(y)).abs().mean()
    return loss


def mask_loss(pred_mask: Tensor, target_mask: Tensor) -> Tensor:
    """Mean squared error between predicted and target masks (both in [0, 1]).

    MSE rather than BCE: target masks are feathered (soft) at the edge, MSE stays
    bounded when a prediction saturates, and it is safe under autocast, where
    ``binary_cross_entropy`` on probabilities is refused.
    """
    return F.mse_loss(pred_mask, target_mask.to(pred_mask.dtype))


# -- adversarial ------------------------------------------------------------------------------

def _check_kind(kind: str) -> None:
    if kind not in GAN_LOSSES:
        raise FaceswapError(f"gan loss must be one of {', '.join(GAN_LOSSES)}, not {kind!r}")


def generator_adv_loss(kind: str, fake_logits: Tensor) -> Tensor:
    """The generator's adversarial loss on the discriminator's logits for its output."""
    _check_kind(kind)
    fake = fake_logits.float()
    if kind == "nonsaturating":
        return F.softplus(-fake).mean()         # -log(sigmoid(fake))
    if kind == "lsgan":
        return 0.5 * (fake - 1).square().mean()
    return -fake.mean()                         # hinge and wgan-gp


def discriminator_loss(kind: str, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's loss; low when real logits are high and fake logits low."""
    _check_kind(kind)
    real, fake = real_logits.float(), fake_logits.float()
    if kind == "nonsaturating":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "lsgan":
        return 0.5 * ((real - 1).square().mean() + fake.square().mean())
    return fake.mean() - real.mean()            # wgan-gp; add gradient_penalty


def gradient_penalty(disc: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP: mean of (||d disc / d x|| - 1)^2 at random points between real and fake images."""
    real, fake = real.detach(), fake.detach()
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = disc(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return (norm - 1).square().mean()


__all__ = ["detail_loss", "local_detail", "discriminator_loss", "highpass", "dssim_loss", "generator_adv_loss", "gradient_penalty",
           "mask_loss", "pixel_loss", "ssim"]
