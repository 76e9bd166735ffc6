"""The networks and losses, on small tensors (the whole file runs in seconds on a CPU)."""

from __future__ import annotations

import pytest
import torch

from faceswap.errors import FaceswapError
from faceswap.model import losses
from faceswap.model.autoencoder import FaceSwapModel, count_parameters
from faceswap.model.config import ModelConfig
from faceswap.model.discriminator import PatchDiscriminator
from faceswap.train.config import PRESETS, preset

SMALL = dict(resolution=64, encoder_dims=16, latent_dims=32, decoder_dims=16)


def smooth_faces(n: int, size: int = 64) -> torch.Tensor:
    """Smooth, different images (gradients and a bright blob): a stand-in for face crops."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    out = []
    for i in range(n):
        cx = 0.3 + 0.4 * i / max(n - 1, 1)
        blob = torch.exp(-((xx - cx) ** 2 + (yy - 0.5) ** 2) / 0.02)
        out.append(torch.stack([0.2 + 0.6 * xx, 0.2 + 0.6 * yy, 0.3 + 0.5 * blob]) * (0.7 + 0.3 * i / n))
    return torch.stack(out).clamp(0, 1)


def _nudge(module: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))


def test_presets_build_and_validate():
    for name in PRESETS:
        model_cfg, train_cfg = preset(name)
        model_cfg.validate()
        train_cfg.validate()
        assert count_parameters(FaceSwapModel(model_cfg)) > 0
    with pytest.raises(FaceswapError):
        ModelConfig(resolution=72).validate()
    with pytest.raises(FaceswapError):
        FaceSwapModel(ModelConfig(arch="dfl"))


def test_quick_preset_is_small():
    model_cfg, _ = preset("quick")
    assert count_parameters(FaceSwapModel(model_cfg)) < 6_000_000


@pytest.mark.parametrize("arch", ["df", "liae"])
@pytest.mark.parametrize("resolution", [64, 128])
def test_shapes_and_ranges(arch, resolution):
    model = FaceSwapModel(ModelConfig(**{**SMALL, "arch": arch, "resolution": resolution}))
    model = model.to(memory_format=torch.channels_last).eval()
    x = torch.rand(2, 3, resolution, resolution).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        for side in ("a", "b"):
            rgb, mask = model(x, side)
            assert rgb.shape == x.shape and mask.shape == (2, 1, resolution, resolution)
            assert 0 <= float(rgb.min()) and float(rgb.max()) <= 1
            assert 0 <= float(mask.min()) and float(mask.max()) <= 1
            # convert and reenact may call the two halves separately: same result
            assert torch.equal(model.decode(model.encode(x), side)[0], rgb)
    no_mask = FaceSwapModel(ModelConfig(**{**SMALL, "arch": arch, "mask": False}))
    assert no_mask(torch.rand(1, 3, 64, 64), "a")[1] is None
    with pytest.raises(ValueError):
        model(x, "c")


def test_df_decoders_are_separate_and_the_encoder_shared():
    torch.manual_seed(0)
    model = FaceSwapModel(ModelConfig(**SMALL)).eval()
    x = torch.rand(2, 3, 64, 64)
    a_before, b_before = model(x, "a")[0], model(x, "b")[0]
    _nudge(model.decoders["b"])
    assert torch.equal(model(x, "a")[0], a_before)
    b_nudged = model(x, "b")[0]
    assert not torch.allclose(b_nudged, b_before)
    # one encoder, and both sides go through it
    assert sum(isinstance(m, type(model.encoder)) for m in model.modules()) == 1
    _nudge(model.encoder)
    assert not torch.allclose(model(x, "a")[0], a_before)
    assert not torch.allclose(model(x, "b")[0], b_nudged)


def test_liae_own_inter_only_touches_side_a():
    """LIAE: the footage (A) has an inter of its own; B, and so the swap A -> B, uses only the shared one."""
    torch.manual_seed(0)
    model = FaceSwapModel(ModelConfig(**{**SMALL, "arch": "liae"})).eval()
    x = torch.rand(2, 3, 64, 64)
    a_before, b_before = model(x, "a")[0], model(x, "b")[0]
    _nudge(model.inter_a)
    assert torch.equal(model(x, "b")[0], b_before)
    a_nudged = model(x, "a")[0]
    assert not torch.allclose(a_nudged, a_before)
    _nudge(model.inter_ab)
    assert not torch.allclose(model(x, "a")[0], a_nudged)
    assert not torch.allclose(model(x, "b")[0], b_before)


def test_quick_model_fits_a_fixed_batch():
    """40 steps of the quick preset on a tiny batch cut the reconstruction loss by more than half."""
    torch.manual_seed(0)
    cfg, train = preset("quick")
    model = FaceSwapModel(cfg).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), train.lr)
    target = smooth_faces(4).contiguous(memory_format=torch.channels_last)

    def loss_now() -> torch.Tensor:
        rgb, _ = model(target, "a")
        return losses.dssim_loss(rgb, target) + losses.pixel_loss(rgb, target)

    with torch.no_grad():
        first = float(loss_now())
    for _ in range(40):
        opt.zero_grad()
        loss_now().backward()
        opt.step()
    with torch.no_grad():
        assert float(loss_now()) < 0.5 * first  # measured: 0.21 to 0.29 of the first, over four seeds


def test_ssim():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    assert losses.ssim(x, x).shape == x.shape
    assert torch.allclose(losses.ssim(x, x), torch.ones_like(x), atol=1e-4)
    scores = [float(losses.ssim(x, (x + s * torch.randn_like(x)).clamp(0, 1)).mean()) for s in (0.05, 0.1, 0.3)]
    assert 1 > scores[0] > scores[1] > scores[2]
    assert float(losses.dssim_loss(x, x)) == pytest.approx(0.0, abs=1e-4)
    # mixed precision must not reach the variances (bf16 would turn them into noise)
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = losses.ssim(x.bfloat16(), noisy)
    assert mixed.dtype == torch.float32
    assert torch.allclose(mixed, losses.ssim(x.bfloat16().float(), noisy), atol=1e-5)


def test_weighted_losses():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    y = x.clone()
    y[:, :, :16] = 0  # differ on the top half only
    weight = torch.ones(2, 1, 32, 32)
    weight[:, :, :16] = 0
    # SSIM's window reaches a few pixels over the edge; the zero weight hides the rest
    assert float(losses.dssim_loss(x, y, weight)) < 0.05
    assert float(losses.dssim_loss(x, y)) > 0.1
    assert float(losses.pixel_loss(x, y, "l1", weight)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.pixel_loss(x, y, "mse", weight)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.pixel_loss(x, y, "mse")) > 0
    # a weighted mean, not a sum: scaling the weights changes nothing, all-zero weights give 0
    w = torch.rand(2, 1, 32, 32)
    assert float(losses.pixel_loss(x, y, "l1", 2 * w)) == pytest.approx(float(losses.pixel_loss(x, y, "l1", w)))
    assert float(losses.pixel_loss(x, y, "l1", torch.zeros(2, 1, 32, 32))) == 0.0
    with pytest.raises(FaceswapError):
        losses.pixel_loss(x, y, "l3")
    m = torch.rand(2, 1, 32, 32)
    assert float(losses.mask_loss(m, m)) == 0.0 and float(losses.mask_loss(m, 1 - m)) > 0


@pytest.mark.parametrize("resolution,side", [(64, 8), (128, 8), (512, 16)])
def test_discriminator_shape(resolution, side):
    disc = PatchDiscriminator(ModelConfig(**{**SMALL, "resolution": resolution}), dims=4)
    assert disc(torch.rand(1, 3, resolution, resolution)).shape == (1, 1, side, side)


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "lsgan", "wgan-gp"])
def test_gan_losses(kind):
    torch.manual_seed(0)
    disc = PatchDiscriminator(ModelConfig(**SMALL), dims=16)
    real, fake = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64, requires_grad=True)
    d_loss = losses.discriminator_loss(kind, disc(real), disc(fake.detach()))
    d_loss.backward()
    # (the last bias may get none: wgan and hinge are linear in the logits near 0, and real and fake cancel)
    assert all(p.grad is not None for p in disc.parameters())
    assert all(float(p.grad.abs().sum()) > 0 for name, p in disc.named_parameters() if "original" in name)
    g_loss = losses.generator_adv_loss(kind, disc(fake))
    g_loss.backward()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    high, low = torch.full((2, 1, 4, 4), 3.0), torch.full((2, 1, 4, 4), -3.0)
    assert float(losses.discriminator_loss(kind, high, low)) < float(losses.discriminator_loss(kind, low, high))
    # the generator's loss falls as the discriminator believes its output more
    assert float(losses.generator_adv_loss(kind, high)) < float(losses.generator_adv_loss(kind, low))
    with pytest.raises(FaceswapError):
        losses.generator_adv_loss("vanilla", low)


def test_gradient_penalty():
    torch.manual_seed(0)
    disc = PatchDiscriminator(ModelConfig(**SMALL), dims=16)
    real, fake = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    gp = losses.gradient_penalty(disc, real, fake)
    assert gp.ndim == 0 and torch.isfinite(gp) and float(gp.detach()) >= 0
    gp.backward()  # it trains the discriminator, so it must carry a gradient to it
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in disc.parameters())
