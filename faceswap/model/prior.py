"""A face prior: a `df` model's encoder, bottleneck and one decoder, trained on many people's
faces, that a new model starts from instead of random weights.

    PRIOR_DIR/
      prior.json           the ModelConfig it fits, the sha256 of the weights, the faces it saw,
                           how long it trained and the command that rebuilds it
      prior.safetensors    encoder.*, inter.*, decoder.* and occlusion.* (if the model had one) in float16 (a few MB)

Why: a fresh `quick` model spends its first thousands of iterations learning
what a face is at all (the pink smudge of a 5-minute demo); starting from a
model that already renders generic faces, the pair's own training only has
to learn the two identities. This is what DeepFaceLab's pretrained models
("pretrain mode", iperov/DeepFaceLab `models/Model_SAEHD/Model.py`) do for
its users. The prior is trained with both decoders on the same mixed faces,
so one decoder is stored and copied to both sides of the new model.

Data only: safetensors and JSON, with the weights' hash checked on load.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .. import defaults
from ..errors import FaceswapError
from ..log import get_logger
from .autoencoder import SIDES, FaceSwapModel
from .config import ModelConfig, from_dict, to_dict

log = get_logger(__name__)

PRIOR_FORMAT = "faceswap-prior"
PRIOR_JSON, PRIOR_WEIGHTS = "prior.json", "prior.safetensors"
INIT_AUTO, INIT_NONE = "auto", "none"

__all__ = ["INIT_AUTO", "INIT_NONE", "Prior", "apply_prior", "export_prior", "fits", "read_prior", "resolve_init"]


class Prior:
    """A prior read from disk: `config` (the ModelConfig it fits), `tensors` (float32, CPU),
    `info` (the whole prior.json) and `path` (its folder)."""

    def __init__(self, path: Path, config: ModelConfig, tensors: dict[str, torch.Tensor], info: dict[str, Any]):
        self.path, self.config, self.tensors, self.info = path, config, tensors, info

    @property
    def sha256(self) -> str:
        return str(self.info["sha256"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fits(prior_cfg: ModelConfig, cfg: ModelConfig) -> bool:
    """Whether a prior trained as `prior_cfg` can start a model of `cfg`: the same network up to
    the detail stage (which a prior does not hold) and the occlusion net (taken when both have one,
    else the model's own starts fresh)."""
    return cfg.arch == "df" and replace(prior_cfg, detail_scale=0, occlusion=False) == \
        replace(cfg, detail_scale=0, occlusion=False)


def read_prior(path: str | Path) -> Prior:
    """Read and check a prior folder.

    Raises FaceswapError when the folder or either file is missing, prior.json is not a faceswap
    prior, or the weights' sha256 differs from the one recorded (a damaged or swapped file)."""
    from .store import read_json, read_weights

    folder = Path(path)
    meta_path, weights_path = folder / PRIOR_JSON, folder / PRIOR_WEIGHTS
    if not meta_path.is_file() or not weights_path.is_file():
        raise FaceswapError(f"{folder} is not a face prior (needs {PRIOR_JSON} and {PRIOR_WEIGHTS})")
    info = read_json(meta_path)
    if info.get("format") != PRIOR_FORMAT:
        raise FaceswapError(f"{meta_path} is not a faceswap prior")
    if _sha256(weights_path) != info.get("sha256"):
        raise FaceswapError(f"{weights_path} does not match the sha256 in {meta_path} (damaged or replaced)")
    tensors = {k: v.float() for k, v in read_weights(weights_path).items()}
    return Prior(folder, from_dict(ModelConfig, info["model"]), tensors, info)


def export_prior(model: FaceSwapModel, out_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write `model`'s encoder, inter, decoder "a" and occlusion net (if any) as a prior folder (float16 safetensors +
    prior.json with the hash and `record`: the faces it saw, its iterations, the rebuild command).
    Returns the folder. Raises FaceswapError for a non-`df` model or an unwritable folder."""
    from .store import save_weights, write_json

    if model.cfg.arch != "df":
        raise FaceswapError("a face prior is made from a df model")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    # float16 halves the file; the weights of a trained quick model sit far inside its range
    tensors = {k: v.half() for k, v in state.items() if k.startswith(("encoder.", "inter.", "occlusion."))}
    tensors.update({"decoder." + k[len("decoders.a."):]: v.half() for k, v in state.items()
                    if k.startswith("decoders.a.")})
    save_weights(out / PRIOR_WEIGHTS, tensors, metadata={"format": PRIOR_FORMAT})
    write_json(out / PRIOR_JSON, {"format": PRIOR_FORMAT, "version": 1,
                                  "model": to_dict(replace(model.cfg, detail_scale=0)),
                                  "sha256": _sha256(out / PRIOR_WEIGHTS), **record})
    return out


def apply_prior(model: FaceSwapModel, prior: Prior, parts: str = "all") -> None:
    """Load `prior` into a fresh `model`: encoder and inter as stored, the stored decoder into the
    decoder of each side (parts "all"; "encoder" leaves both decoders at their random start), and
    the prior's occlusion net when both have one. The detail stage (and an occlusion net the prior
    lacks) keep their own start.
    Raises FaceswapError when the prior does not fit the model's config or `parts` is not one of
    defaults.INIT_PARTS."""
    if not fits(prior.config, model.cfg):
        raise FaceswapError(f"the prior in {prior.path} was trained for another model "
                            f"({describe(prior.config)}; this one is {describe(model.cfg)})")
    if parts not in defaults.INIT_PARTS:
        raise FaceswapError(f"--init-parts must be one of {', '.join(defaults.INIT_PARTS)} (got {parts})")
    decoders = parts == "all"
    # a prior's occlusion net (one that has it) has seen many people's faces: a better start than none
    shared = ("encoder.", "inter.", "occlusion.") if model.cfg.occlusion else ("encoder.", "inter.")
    state = {k: v for k, v in prior.tensors.items() if k.startswith(shared)}
    for side in SIDES if decoders else ():
        state.update({f"decoders.{side}.{k[len('decoder.'):]}": v for k, v in prior.tensors.items()
                      if k.startswith("decoder.")})
    missing, unexpected = model.load_state_dict(state, strict=False)
    own_start = ("detail.", "occlusion.") + (() if decoders else ("decoders.",))
    missing = [k for k in missing if not k.startswith(own_start)]
    if missing or unexpected:
        raise FaceswapError(f"the prior in {prior.path} does not fit this model "
                            f"({len(missing)} missing, {len(unexpected)} unexpected tensors)")


def describe(cfg: ModelConfig) -> str:
    return (f"{cfg.arch} {cfg.resolution} px {cfg.centering} x{cfg.coverage}, dims "
            f"{cfg.encoder_dims}/{cfg.latent_dims}/{cfg.decoder_dims}")


def resolve_init(init: str, cfg: ModelConfig) -> Prior | None:
    """The prior a new model of `cfg` starts from, for train's `--init`:

    - "auto": the prior shipped in weights/ (defaults.PRIOR_DIR, `make prior` rebuilds it) when it fits `cfg`, else None
      (said in one log line: other presets and architectures start from scratch);
    - "none": None (random start);
    - a folder: that prior, which must fit (FaceswapError otherwise, and for a missing or
      damaged folder)."""
    if init == INIT_NONE:
        log.info("--init none: starting from random weights")
        return None
    if init == INIT_AUTO:
        folder = Path(defaults.PRIOR_DIR)
        if not (folder / PRIOR_JSON).is_file():
            # built on each machine (weights stay out of git): missing until `make prior` has run
            log.warning("no face prior at %s: starting from random weights (`make prior` builds it from "
                        "the sample footage)", folder)
            return None
        prior = read_prior(folder)
        if not fits(prior.config, cfg):
            log.info("the face prior in weights/ fits %s, not this model (%s): starting from random weights",
                     describe(prior.config), describe(cfg))
            return None
        return prior
    prior = read_prior(init)
    if not fits(prior.config, cfg):
        raise FaceswapError(f"--init {init} was trained for {describe(prior.config)}; this model is "
                            f"{describe(cfg)}")
    return prior
