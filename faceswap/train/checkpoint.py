"""Model folders on disk: config, weights and training state, never pickled.

    MODEL_DIR/
      config.json                the model's architecture (written once; convert reads it)
      checkpoint/                the latest checkpoint
        model.safetensors        weights
        discriminator.safetensors    (when a discriminator is trained)
        optimizer.safetensors    optimizer tensors; its structure in the file's metadata
        state.json               iteration, learning rate, train settings, loss history tail
      checkpoint.bak/            the checkpoint before it, kept as a backup
      previews/, loss.csv, loss.png

A checkpoint is written into `checkpoint.tmp/`, then the current one becomes
`checkpoint.bak/` and the new one takes its name: a crash at any moment leaves
a complete checkpoint under one of the two names.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..errors import FaceswapError
from ..media.images import atomic_write_bytes
from ..model.config import ModelConfig, from_dict, to_dict

MODEL_FORMAT = "faceswap-model"
CURRENT, BACKUP, SAVING = "checkpoint", "checkpoint.bak", "checkpoint.tmp"


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def save_model_config(model_dir: Path, cfg: ModelConfig, extra: dict[str, Any] | None = None) -> None:
    write_json(model_dir / "config.json",
               {"format": MODEL_FORMAT, "version": 1, "faceswap": __version__, "model": to_dict(cfg),
                **(extra or {})})


def load_model_config(model_dir: str | Path) -> tuple[ModelConfig, dict[str, Any]]:
    """(ModelConfig, the whole config.json) of a model folder."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise FaceswapError(f"{model_dir} is not a faceswap model folder (no config.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise FaceswapError(f"{path} is unreadable or corrupt: {err}") from err
    if data.get("format") != MODEL_FORMAT:
        raise FaceswapError(f"{path} is not a faceswap model config")
    cfg = from_dict(ModelConfig, data["model"])
    cfg.validate()
    return cfg, data


# -- optimizer state as tensors + JSON ------------------------------------------------

def optimizer_to_tensors(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Flatten an optimizer state_dict into named tensors and a JSON structure."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"state.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    meta = {"param_groups": json.dumps(state["param_groups"]), "scalars": json.dumps(scalars)}
    return tensors, meta


def optimizer_from_tensors(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    for idx, entry in json.loads(meta["scalars"]).items():
        state.setdefault(int(idx), {}).update(entry)
    return {"state": state, "param_groups": json.loads(meta["param_groups"])}


def _read_safetensors_meta(path: Path) -> dict[str, str]:
    with open(path, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(size))
    return header.get("__metadata__", {})


# -- checkpoints -------------------------------------------------------------------------

@dataclass
class Checkpoint:
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None
    state: dict[str, Any]
    discriminator: dict[str, torch.Tensor] | None = None
    disc_optimizer: dict[str, Any] | None = None


def save_checkpoint(model_dir: Path, ckpt: Checkpoint) -> None:
    """Write a checkpoint atomically, keeping the previous one as the backup."""
    tmp = model_dir / SAVING
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in ckpt.model.items()}, tmp / "model.safetensors",
                  metadata={"format": MODEL_FORMAT, "iteration": str(ckpt.state.get("iteration", 0))})
        if ckpt.optimizer is not None:
            tensors, meta = optimizer_to_tensors(ckpt.optimizer)
            save_file(tensors, tmp / "optimizer.safetensors", metadata=meta)
        if ckpt.discriminator is not None:
            save_file({k: v.detach().cpu().contiguous() for k, v in ckpt.discriminator.items()},
                      tmp / "discriminator.safetensors")
        if ckpt.disc_optimizer is not None:
            tensors, meta = optimizer_to_tensors(ckpt.disc_optimizer)
            save_file(tensors, tmp / "disc_optimizer.safetensors", metadata=meta)
        (tmp / "state.json").write_text(json.dumps(ckpt.state, indent=2) + "\n", encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        current, backup = model_dir / CURRENT, model_dir / BACKUP
        if current.is_dir():
            shutil.rmtree(backup, ignore_errors=True)
            current.rename(backup)
        tmp.rename(current)
    except OSError as err:
        raise FaceswapError(f"cannot save the checkpoint in {model_dir}: {err.strerror or err} "
                            f"(the previous checkpoint is kept)") from err


def checkpoint_dir(model_dir: Path, from_backup: bool = False) -> Path | None:
    """The checkpoint folder to resume from, or None for a new model."""
    current, backup = model_dir / CURRENT, model_dir / BACKUP
    if from_backup:
        if not backup.is_dir():
            raise FaceswapError(f"{model_dir} has no backup checkpoint")
        return backup
    if current.is_dir():
        return current
    if backup.is_dir():  # interrupted between the two renames of a save
        return backup
    return None


def load_checkpoint(folder: Path) -> Checkpoint:
    """Read a checkpoint folder; corrupt files raise one clear FaceswapError naming the backup."""
    def corrupt(path: Path, err: Exception) -> FaceswapError:
        hint = ""
        backup = path.parent.parent / BACKUP
        if path.parent.name == CURRENT and backup.is_dir():
            hint = " ; a backup checkpoint exists: run again with --from-backup"
        return FaceswapError(f"{path} is corrupt or unreadable ({type(err).__name__}){hint}")

    def load_opt(path: Path) -> dict[str, Any] | None:
        if not path.is_file():
            return None
        try:
            return optimizer_from_tensors(load_file(path), _read_safetensors_meta(path))
        except (SafetensorError, OSError, ValueError, KeyError) as err:
            raise corrupt(path, err) from err

    model_path = folder / "model.safetensors"
    try:
        model = load_file(model_path)
    except (SafetensorError, OSError, ValueError) as err:
        raise corrupt(model_path, err) from err
    state_path = folder / "state.json"
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise corrupt(state_path, err) from err
    disc = None
    disc_path = folder / "discriminator.safetensors"
    if disc_path.is_file():
        try:
            disc = load_file(disc_path)
        except (SafetensorError, OSError, ValueError) as err:
            raise corrupt(disc_path, err) from err
    return Checkpoint(model, load_opt(folder / "optimizer.safetensors"), state, disc,
                      load_opt(folder / "disc_optimizer.safetensors"))
