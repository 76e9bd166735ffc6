"""B's detail stage: the upscaler's shapes, its training, its place in a model folder, and convert with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from faceswap.errors import FaceswapError
from faceswap.model import losses
from faceswap.model.autoencoder import FaceSwapModel
from faceswap.model.config import ModelConfig
from faceswap.model.detail import DetailNet, upscale_mask
from faceswap.model.store import load_model


@pytest.mark.parametrize("scale", [2, 4])
def test_detail_net_enlarges_by_its_scale_and_starts_as_bicubic(scale):
    net = DetailNet(scale)
    x = torch.rand(2, 3, 20, 12)
    y = net(x)
    assert y.shape == (2, 3, 20 * scale, 12 * scale)
    # a fresh net is exactly a bicubic enlargement (the residual tail starts at zero) ...
    bicubic = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    assert torch.equal(y, bicubic)
    # ... placed on the edges convention: a flat image stays flat, a step stays where it was
    step = torch.zeros(1, 3, 8, 8)
    step[..., 4:] = 1
    big = net(step)[0, 0, 0]
    assert big[: 4 * scale - 1].max() < 0.5 < big[4 * scale + 1:].min()
    mask = upscale_mask(torch.rand(1, 1, 8, 8), scale)
    assert mask.shape == (1, 1, 8 * scale, 8 * scale) and 0 <= mask.min() and mask.max() <= 1


def test_detail_scale_is_validated():
    with pytest.raises(FaceswapError, match="detail scale"):
        ModelConfig(detail_scale=3).validate()
    with pytest.raises(ValueError):
        DetailNet(1)


def test_detail_loss_rewards_fine_structure_that_l1_alone_hardly_sees():
    torch.manual_seed(0)
    target = torch.rand(1, 3, 32, 32)
    blurred = losses._blur(target, 5, 1.0)
    l1 = losses.detail_loss(blurred, target, highpass_weight=0, energy_weight=0)
    # the high-pass and local-detail terms see the lost detail: the blur costs much more with them
    assert losses.detail_loss(blurred, target, energy_weight=0) > 1.5 * l1
    assert losses.detail_loss(blurred, target) > 3 * l1
    # the local-detail term wants as much detail, not the same phase: a shifted copy of the texture
    # pays for it in L1 but hardly in that term, while the blur pays for it there
    shifted = torch.roll(target, 1, dims=-1)
    def energy(x):
        return losses.detail_loss(x, target, 0, 1) - losses.detail_loss(x, target, 0, 0)
    assert energy(shifted) < 0.25 * energy(blurred)
    assert float(losses.detail_loss(target, target)) == 0.0


def test_a_short_training_lowers_the_detail_loss():
    # A render (the input) is a blurred, downscaled copy of the target: the net must learn the lost detail.
    torch.manual_seed(0)
    net = DetailNet(2, channels=16, blocks=1)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    targets = torch.stack([0.5 + 0.4 * torch.sin(xx * f + yy * g) for f, g in ((0.9, 0.3), (0.4, 1.1), (1.3, 0.7))])
    targets = targets[:, None].expand(-1, 3, -1, -1).contiguous()
    inputs = torch.nn.functional.avg_pool2d(targets, 2)

    def loss() -> torch.Tensor:
        return losses.detail_loss(net(inputs), targets)

    with torch.no_grad():
        first = float(loss())
    for _ in range(40):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    with torch.no_grad():
        assert float(loss()) < 0.7 * first


def test_model_folder_with_detail_saves_and_loads_and_one_without_still_loads(tmp_path):
    from faceswap.model.store import save_model_config, save_weights
    tiny = dict(resolution=64, encoder_dims=8, latent_dims=16, decoder_dims=8)
    for name, cfg in (("with", ModelConfig(**tiny, detail_scale=2)), ("without", ModelConfig(**tiny))):
        folder = tmp_path / name
        (folder / "checkpoint").mkdir(parents=True)
        save_model_config(folder, cfg)
        model = FaceSwapModel(cfg)
        save_weights(folder / "checkpoint" / "model.safetensors", model.state_dict())
        loaded = load_model(folder, "cpu")
        assert loaded.cfg == cfg
        assert hasattr(loaded.model, "detail") == (name == "with")
        for key, value in model.state_dict().items():
            assert torch.equal(loaded.model.state_dict()[key], value), key
    # a folder written before the detail stage existed (no detail_scale in config.json) loads as scale 0
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "without", old)
    meta = json.loads((old / "config.json").read_text())
    del meta["model"]["detail_scale"]
    (old / "config.json").write_text(json.dumps(meta))
    assert load_model(old, "cpu").cfg.detail_scale == 0
    # weights without the detail stage do not fit a config that asks for one
    meta["model"]["detail_scale"] = 2
    (old / "config.json").write_text(json.dumps(meta))
    with pytest.raises(FaceswapError, match="does not fit"):
        load_model(old, "cpu")


@pytest.fixture(scope="module")
def detail_model(swap_model, tmp_path_factory) -> Path:
    """A tiny d19 -> d18 model with a 2x detail stage, on the swap_model fixture's facesets."""
    from faceswap.train.config import TrainConfig
    from faceswap.train.trainer import Trainer
    root = swap_model.parent
    out = tmp_path_factory.mktemp("detail_model") / "model"
    tiny = ModelConfig(resolution=64, encoder_dims=16, latent_dims=64, decoder_dims=16, detail_scale=2)
    train = TrainConfig(batch_size=8, lr=1e-3, iterations=60, save_every=10_000, preview_every=10_000, workers=0)
    summary = Trainer(root / "a", root / "b", out, tiny, train, progress=False).run()
    assert summary.iteration == 60 and "detail" in summary.last_losses
    rows = [r for r in (out / "loss.csv").read_text().splitlines()[1:]]
    header = (out / "loss.csv").read_text().splitlines()[0].split(",")
    detail = [float(r.split(",")[header.index("detail")]) for r in rows]
    # the detail stage learns within the run: its loss falls
    assert np.mean(detail[-10:]) < np.mean(detail[:10])
    return out


@pytest.mark.slow
def test_convert_blends_the_detail_stage_output_at_its_size(detail_model, data, tmp_path, monkeypatch):
    """Convert with a detail model keeps the frame count, and what the detail stage adds reaches the
    frame: with the stage made an unsharp mask (a known amount of added detail), the inner face has
    more high-frequency energy than the same convert with the stage off. A convert that dropped the
    stage's output or shrank it back to the model's size before blending would measure the same."""
    import torch.nn.functional as F

    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import convert
    from faceswap.convert.swapper import Swapper
    from faceswap.faces.backends import make_backend
    from faceswap.media.video_reader import VideoReader
    from faceswap.qc.appearance import sharpness

    def unsharp(self, x):
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + 2.0 * losses.highpass(base)

    src = data / "video" / "d19.mp4"
    frames = 9
    outputs = {}
    for name in ("detail", "plain"):
        with monkeypatch.context() as patch:
            patch.setattr(DetailNet, "forward", unsharp)
            if name == "plain":
                patch.setattr(Swapper, "scale", lambda self, side: 1)
            out = tmp_path / f"{name}.mp4"
            summary = convert(src, detail_model, out, ConvertOptions(frames=f"0:{frames}"), progress=False)
        outputs[name] = [f.copy() for _, f in VideoReader(out)]
        assert len(outputs[name]) == summary.frames == frames
    originals = [f.copy() for i, f in VideoReader(src) if i < frames]
    backend = make_backend("mediapipe")
    try:
        scores = {name: [] for name in outputs}
        for i in range(0, frames, 4):
            landmarks = backend.detect(originals[i])[0].landmarks
            for name, outs in outputs.items():
                scores[name].append(sharpness(outs[i], originals[i], landmarks))
    finally:
        backend.close()
    # measured 1.11-1.15x with whole-face colour statistics and the crop taper; a dropped or shrunk
    # stage gives the plain convert's frames, 1.00x
    assert all(d > 1.07 * p for d, p in zip(scores["detail"], scores["plain"])), scores


def test_detail_patches_lie_exactly_under_the_target_patch(swap_model):
    """The detail target of each sample, shrunk back, is the same pixels as the target's patch at
    its corner (moved and mirrored alike); one model pixel off would not be."""
    from dataclasses import replace

    import cv2

    from faceswap.data.dataset import FaceDataset, load_faceset
    cfg = ModelConfig(resolution=64)
    b = swap_model.parent / "b"
    faces, big = load_faceset(b, cfg), load_faceset(b, replace(cfg, resolution=128))
    ds = FaceDataset(faces, warp=False, colour=False, seed=3, detail=big, detail_patch=24)
    raw, _, mirrored = ds.augment_batch(list(range(min(8, len(faces)))))
    assert raw.detail.shape == (len(raw.target), 48, 48, 3) and mirrored.any()
    errors, shifted = [], []
    for k, (x, y) in enumerate(raw.corners):
        small = cv2.resize(raw.detail[k], (24, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
        target = raw.target[k].astype(np.float32)
        errors.append(np.abs(small - target[y:y + 24, x:x + 24]).mean())
        x1 = x + 1 if x + 25 <= 64 else x - 1
        shifted.append(np.abs(small - target[y:y + 24, x1:x1 + 24]).mean())
    assert np.mean(errors) < 4.0 and np.mean(errors) < 0.5 * np.mean(shifted), (errors, shifted)
    batch = ds.tensors(raw)
    assert batch["detail"].shape == (len(raw.target), 3, 48, 48) and batch["corner"].shape == (len(raw.target), 2)


def test_loss_history_of_an_older_version_takes_the_new_columns(tmp_path):
    from faceswap.train.history import COLUMNS, LossHistory
    path = tmp_path / "loss.csv"
    old = [c for c in COLUMNS if c != "detail"]
    path.write_text(",".join(old) + "\n" + ",".join("1" if c == "iteration" else "0.5" for c in old) + "\n")
    history = LossHistory(path)
    history.append({"iteration": 2, "loss_a": 0.25, "detail": 0.125, "lr": 0.001})
    again = LossHistory(path)
    assert [r["iteration"] for r in again.rows] == [1, 2]
    assert again.rows[1]["detail"] == 0.125 and again.rows[1]["lr"] == 0.001 and again.rows[0]["lr"] == 0.5
