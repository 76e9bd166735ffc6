"""Face priors (model/prior.py) and `train --init`. Most tests export their own prior from a model
with known weights; the last one builds a short prior from real faces."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from faceswap import defaults
from faceswap.errors import FaceswapError
from faceswap.model.autoencoder import FaceSwapModel
from faceswap.model.config import ModelConfig
from faceswap.model.prior import apply_prior, export_prior, fits, read_prior, resolve_init
from faceswap.train.config import TrainConfig, preset
from faceswap.train.trainer import Trainer

QUICK = preset("quick")[0]


def tiny_train(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(batch_size=4, iterations=1, save_every=10_000, preview_every=10_000, workers=0),
                          **kw})


@pytest.fixture(scope="module")
def prior_dir(tmp_path_factory):
    """A prior exported from a quick model whose decoders differ (so a wrong copy shows)."""
    torch.manual_seed(1)
    model = FaceSwapModel(QUICK)
    out = export_prior(model, tmp_path_factory.mktemp("prior") / "prior-quick",
                       {"faces": {"test": 1}, "iterations": 0, "command": "test"})
    return out, model


def test_a_prior_round_trips_into_both_decoders(prior_dir):
    folder, source = prior_dir
    prior = read_prior(folder)  # checks the sha256 recorded beside the weights
    assert fits(prior.config, QUICK) and not fits(prior.config, preset("standard")[0])
    assert (folder / "prior.safetensors").stat().st_size < 8 << 20  # float16: a few MB
    torch.manual_seed(2)
    started = FaceSwapModel(QUICK).eval()
    apply_prior(started, prior)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        want = source.eval()(x, "a")[0]
        for side in ("a", "b"):  # the stored decoder ("a" of the source) renders for both identities
            assert (started(x, side)[0] - want).abs().max() < 2e-2, side
        assert (source(x, "b")[0] - want).abs().max() > 2e-2  # the source's own b differs: a real check


def test_train_starts_from_the_prior_when_asked_and_records_it(prior_dir, swap_model, tmp_path, monkeypatch):
    a, b = swap_model.parent / "a", swap_model.parent / "b"
    monkeypatch.setattr(defaults, "PRIOR_DIR", prior_dir[0])
    prior = read_prior(prior_dir[0])
    trainer = Trainer(a, b, tmp_path / "m", QUICK, tiny_train(init="auto"), progress=False)
    for side in ("a", "b"):
        assert torch.equal(trainer.model.state_dict()[f"decoders.{side}.head.weight"].cpu(),
                           prior.tensors["decoder.head.weight"])
    assert json.loads((tmp_path / "m" / "config.json").read_text())["init"]["sha256"] == prior.sha256
    # the prior is the default start; --init none is a random one
    Trainer(a, b, tmp_path / "d", QUICK, tiny_train(), progress=False)
    assert json.loads((tmp_path / "d" / "config.json").read_text())["init"]["sha256"] == prior.sha256
    plain = Trainer(a, b, tmp_path / "n", QUICK, tiny_train(init="none"), progress=False)
    assert json.loads((tmp_path / "n" / "config.json").read_text())["init"] is None
    assert not torch.equal(plain.model.state_dict()["decoders.a.head.weight"].cpu(),
                           prior.tensors["decoder.head.weight"])


def test_the_encoder_alone_can_be_taken_from_the_prior(prior_dir, swap_model, tmp_path, monkeypatch):
    """--init-parts encoder: encoder and bottleneck as stored, each decoder from its own random start."""
    a, b = swap_model.parent / "a", swap_model.parent / "b"
    monkeypatch.setattr(defaults, "PRIOR_DIR", prior_dir[0])
    prior = read_prior(prior_dir[0])
    trainer = Trainer(a, b, tmp_path / "m", QUICK, tiny_train(init="auto", init_parts="encoder"), progress=False)
    state = {k: v.cpu() for k, v in trainer.model.state_dict().items()}
    encoder = [k for k in prior.tensors if k.startswith(("encoder.", "inter."))]
    assert encoder and all(torch.equal(state[k], prior.tensors[k].float()) for k in encoder)
    for side in ("a", "b"):
        assert not torch.equal(state[f"decoders.{side}.head.weight"], prior.tensors["decoder.head.weight"].float())
    assert not torch.equal(state["decoders.a.head.weight"], state["decoders.b.head.weight"])
    assert json.loads((tmp_path / "m" / "config.json").read_text())["init"]["parts"] == "encoder"
    with pytest.raises(FaceswapError, match="--init-parts must be one of all, encoder"):
        tiny_train(init="auto", init_parts="decoder").validate()


def test_other_models_start_from_random_weights_and_a_bad_init_is_refused_up_front(prior_dir, swap_model,
                                                                                   tmp_path, monkeypatch):
    a, b = swap_model.parent / "a", swap_model.parent / "b"
    monkeypatch.setattr(defaults, "PRIOR_DIR", prior_dir[0])
    other = ModelConfig(resolution=64, encoder_dims=16, latent_dims=64, decoder_dims=16)
    assert resolve_init("auto", other) is None          # auto: only where it fits
    assert resolve_init("auto", QUICK) is not None
    with pytest.raises(FaceswapError, match="trained for"):
        resolve_init(str(prior_dir[0]), other)          # asked for by name: must fit
    damaged = tmp_path / "damaged"
    shutil.copytree(prior_dir[0], damaged)
    with open(damaged / "prior.safetensors", "r+b") as fh:
        fh.seek(-64, 2)
        fh.write(b"\0" * 64)
    with pytest.raises(FaceswapError, match="sha256"):
        Trainer(a, b, tmp_path / "m", QUICK, tiny_train(init=str(damaged)), progress=False)
    assert not (tmp_path / "m").exists()                # nothing left behind by a refused start
    with pytest.raises(FaceswapError, match="not a face prior"):
        resolve_init(str(tmp_path), QUICK)
    monkeypatch.setattr(defaults, "PRIOR_DIR", tmp_path / "absent")
    assert resolve_init("auto", QUICK) is None          # no prior built: a random start, not an error


def test_a_prior_built_from_faces_renders_them_where_a_random_start_does_not(d18_faceset, tmp_path):
    """`make prior`'s builder (train/prior_build.py), run short on d18's faces: the prior fits the
    quick preset, records the faces it saw, its iterations and its command, and rebuilds d18's
    faces far closer than a model from random weights does (300 iterations: 0.034 against 0.129,
    measured): what lets `make demo`'s 5 minutes show a face once `make prior` has run."""
    from faceswap.data.dataset import load_faceset
    from faceswap.train.prior_build import build_prior

    faceset = d18_faceset[0]
    out = build_prior([faceset], tmp_path / "prior-quick", minutes=None, iterations=300, command="test")
    prior = read_prior(out)
    assert fits(prior.config, QUICK)
    assert (out / "prior.safetensors").stat().st_size < 8 << 20
    assert sum(prior.info["faces"].values()) == len(list(faceset.glob("*.png")))
    assert prior.info["iterations"] == 300 and prior.info["command"] == "test"
    faces = load_faceset(faceset, QUICK).preview_batch(8)
    errors = {}
    for name in ("prior", "random"):
        torch.manual_seed(0)
        model = FaceSwapModel(QUICK).eval()
        if name == "prior":
            apply_prior(model, prior)
        with torch.no_grad():
            errors[name] = float((model(faces, "b")[0] - faces).abs().mean())
    assert errors["prior"] < 0.08 and errors["prior"] < errors["random"] / 3, errors
