"""The face prior shipped in weights/ and `train --init`."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from faceswap import defaults
from faceswap.data.dataset import load_faceset
from faceswap.errors import FaceswapError
from faceswap.model.autoencoder import FaceSwapModel
from faceswap.model.config import ModelConfig
from faceswap.model.prior import apply_prior, fits, read_prior, resolve_init
from faceswap.train.config import TrainConfig, preset
from faceswap.train.trainer import Trainer

QUICK = preset("quick")[0]


def tiny_train(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(batch_size=4, iterations=1, save_every=10_000, preview_every=10_000, workers=0),
                          **kw})


def test_the_shipped_prior_is_intact_and_fits_the_quick_preset():
    prior = read_prior(defaults.PRIOR_DIR)  # checks the sha256 recorded beside the weights
    assert fits(prior.config, QUICK)
    assert not fits(prior.config, preset("standard")[0])
    info = prior.info
    # it says how it was made, so anyone can rebuild it
    assert info["command"].startswith("python -m faceswap.train.prior_build") and info["iterations"] > 1000
    assert sum(info["faces"].values()) > 500
    assert (defaults.PRIOR_DIR / "prior.safetensors").stat().st_size < 8 << 20


def test_a_model_started_from_the_prior_already_renders_faces(d18_faceset):
    """Before any training on the pair, the prior rebuilds real face crops far better than random weights
    (and better than the faceset's own mean face, which a smudge-rendering model is close to)."""
    faces = load_faceset(d18_faceset[0], QUICK)
    x = faces.preview_batch(32)
    torch.manual_seed(0)
    fresh, started = FaceSwapModel(QUICK).eval(), FaceSwapModel(QUICK).eval()
    apply_prior(started, read_prior(defaults.PRIOR_DIR))
    with torch.no_grad():
        err = {name: float((m(x, "b")[0] - x).abs().mean()) for name, m in (("fresh", fresh), ("prior", started))}
    mean_face = float((x.mean(0, keepdim=True) - x).abs().mean())
    assert err["prior"] < 0.5 * err["fresh"], err
    assert err["prior"] < 0.8 * mean_face, (err, mean_face)


def test_train_starts_from_the_prior_when_asked_and_records_it(facesets_small, tmp_path):
    a, b = facesets_small
    trainer = Trainer(a, b, tmp_path / "m", QUICK, tiny_train(init="auto"), progress=False)
    prior = read_prior(defaults.PRIOR_DIR)
    for side in ("a", "b"):
        assert torch.equal(trainer.model.state_dict()[f"decoders.{side}.head.weight"].cpu(),
                           prior.tensors["decoder.head.weight"])
    assert json.loads((tmp_path / "m" / "config.json").read_text())["init"]["sha256"] == prior.sha256
    # the default is a random start (docs/train.md: the prior costs identity after a short run)
    plain = Trainer(a, b, tmp_path / "n", QUICK, tiny_train(), progress=False)
    assert json.loads((tmp_path / "n" / "config.json").read_text())["init"] is None
    assert not torch.equal(plain.model.state_dict()["decoders.a.head.weight"].cpu(),
                           prior.tensors["decoder.head.weight"])


def test_other_models_start_from_random_weights_and_a_bad_init_is_refused_up_front(facesets_small, tmp_path):
    a, b = facesets_small
    other = ModelConfig(resolution=64, encoder_dims=16, latent_dims=64, decoder_dims=16)
    assert resolve_init("auto", other) is None          # auto: only where it fits
    with pytest.raises(FaceswapError, match="trained for"):
        resolve_init(str(defaults.PRIOR_DIR), other)    # asked for by name: must fit
    damaged = tmp_path / "damaged"
    shutil.copytree(defaults.PRIOR_DIR, damaged)
    with open(damaged / "prior.safetensors", "r+b") as fh:
        fh.seek(-64, 2)
        fh.write(b"\0" * 64)
    with pytest.raises(FaceswapError, match="sha256"):
        Trainer(a, b, tmp_path / "m", QUICK, tiny_train(init=str(damaged)), progress=False)
    assert not (tmp_path / "m").exists()                # nothing left behind by a refused start
    with pytest.raises(FaceswapError, match="not a face prior"):
        resolve_init(str(tmp_path), QUICK)


@pytest.fixture(scope="module")
def facesets_small(data, backend, tmp_path_factory):
    from faceswap.extract.options import ExtractOptions
    from faceswap.extract.pipeline import extract_source
    root = tmp_path_factory.mktemp("prior_facesets")
    for side, clip in (("a", "d19.mp4"), ("b", "d18.mp4")):
        extract_source(data / "video" / clip, root / side, ExtractOptions(every=20, size=128), backend=backend,
                       progress=False)
    return root / "a", root / "b"
