"""The networks and losses, on small tensors."""

import pytest
import torch

from faceswap.errors import FaceswapError
from faceswap.model import losses
from faceswap.model.autoencoder import FaceSwapModel, count_parameters
from faceswap.model.config import PRESETS, ModelConfig, preset
from faceswap.model.discriminator import PatchDiscriminator

SMALL = dict(resolution=64, encoder_dims=16, latent_dims=32, decoder_dims=16)


def test_presets_validate():
    for name in PRESETS:
        model, train = preset(name)
        model.validate()
        train.validate()
    with pytest.raises(FaceswapError):
        ModelConfig(resolution=72).validate()


@pytest.mark.parametrize("arch", ["df", "liae"])
@pytest.mark.parametrize("resolution", [64, 128])
def test_shapes_and_ranges(arch, resolution):
    model = FaceSwapModel(ModelConfig(**{**SMALL, "arch": arch, "resolution": resolution}))
    x = torch.rand(2, 3, resolution, resolution)
    for side in ("a", "b"):
        rgb, mask = model(x, side)
        assert rgb.shape == x.shape and mask.shape == (2, 1, resolution, resolution)
        assert 0 <= float(rgb.min()) and float(rgb.max()) <= 1
    assert model(x, "a")[1] is not None
    no_mask = FaceSwapModel(ModelConfig(**{**SMALL, "arch": arch, "mask": False}))
    assert no_mask(torch.rand(1, 3, 64, 64), "a")[1] is None
    with pytest.raises(ValueError):
        model(x, "c")


def test_df_decoders_are_separate_and_the_encoder_shared():
    torch.manual_seed(0)
    model = FaceSwapModel(ModelConfig(**SMALL)).eval()
    x = torch.rand(2, 3, 64, 64)
    a_before, b_before = model(x, "a")[0], model(x, "b")[0]
    with torch.no_grad():
        for p in model.decoders["b"].parameters():
            p.add_(0.1)
    assert torch.equal(model(x, "a")[0], a_before)
    assert not torch.allclose(model(x, "b")[0], b_before)
    names = [n for n, _ in model.named_parameters()]
    assert sum(n.startswith("encoder.") for n in names) > 0
    assert not any(n.startswith("decoders.a.encoder") for n in names)


def test_liae_identity_path_only_touches_side_a():
    torch.manual_seed(0)
    model = FaceSwapModel(ModelConfig(**{**SMALL, "arch": "liae"})).eval()
    x = torch.rand(2, 3, 64, 64)
    a_before, b_before = model(x, "a")[0], model(x, "b")[0]
    with torch.no_grad():
        for p in model.inter_a.parameters():
            p.add_(0.1)
    assert torch.equal(model(x, "b")[0], b_before)
    assert not torch.allclose(model(x, "a")[0], a_before)


def test_a_few_steps_fit_a_fixed_batch():
    torch.manual_seed(0)
    model = FaceSwapModel(ModelConfig(**SMALL))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    target = torch.stack([xx, yy, (xx + yy) / 2])[None].repeat(4, 1, 1, 1)
    target = target * torch.linspace(0.5, 1, 4)[:, None, None, None]

    def loss_now():
        rgb, _ = model(target, "a")
        return losses.dssim_loss(rgb, target) + losses.pixel_loss(rgb, target)

    first = float(loss_now())
    for _ in range(40):
        opt.zero_grad()
        loss_now().backward()
        opt.step()
    assert float(loss_now()) < 0.5 * first


def test_ssim_and_weighted_losses():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(losses.ssim(x, x), torch.ones_like(x), atol=1e-4)
    noisy = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    assert float(losses.ssim(x, noisy).mean()) < 0.9
    y = x.clone()
    y[:, :, :16] = 0  # differ on the top half only
    weight = torch.ones(2, 1, 32, 32)
    weight[:, :, :16] = 0
    assert float(losses.dssim_loss(x, y, weight)) < 0.05
    assert float(losses.pixel_loss(x, y, "l1", weight)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.pixel_loss(x, y, "mse")) > 0


@pytest.mark.parametrize("kind", ["nonsaturating", "hinge", "lsgan", "wgan-gp"])
def test_gan_losses(kind):
    torch.manual_seed(0)
    disc = PatchDiscriminator(ModelConfig(**SMALL), dims=16)
    real, fake = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64, requires_grad=True)
    d_loss = losses.discriminator_loss(kind, disc(real), disc(fake))
    g_loss = losses.generator_adv_loss(kind, disc(fake))
    (d_loss + g_loss).backward()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    good = losses.discriminator_loss(kind, torch.full((2, 1, 4, 4), 3.0), torch.full((2, 1, 4, 4), -3.0))
    bad = losses.discriminator_loss(kind, torch.full((2, 1, 4, 4), -3.0), torch.full((2, 1, 4, 4), 3.0))
    assert float(good) < float(bad)
    gp = losses.gradient_penalty(disc, real, fake.detach())
    assert torch.isfinite(gp) and float(gp) >= 0


def test_quick_preset_is_small():
    model_cfg, _ = preset("quick")
    assert count_parameters(FaceSwapModel(model_cfg)) < 10_000_000
