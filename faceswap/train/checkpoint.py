"""Training checkpoints in a model folder: weights and training state, never pickled.

The config and the weights convert reads go through model/store.py; this
module adds what only training needs (optimizer state, the discriminator,
the iteration count) and the rename that makes a save atomic.

    MODEL_DIR/
      config.json                the model's architecture (model/store.py)
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

from ..errors import FaceswapError
from ..model.store import BACKUP, CURRENT, MODEL_FORMAT, SAVING, WEIGHTS, read_weights, save_weights, write_json

# -- optimizer state as tensors + JSON ------------------------------------------------

def optimizer_to_tensors(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Flatten an optimizer state_dict into named tensors and a JSON structure (no pickle)."""
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
    """The optimizer state_dict that `optimizer_to_tensors` flattened."""
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
    """Write a checkpoint atomically, keeping the previous one as the backup.

    Raises FaceswapError (the previous checkpoint kept) when the disk refuses.
    """
    tmp = model_dir / SAVING
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_weights(tmp / WEIGHTS, ckpt.model,
                     metadata={"format": MODEL_FORMAT, "iteration": str(ckpt.state.get("iteration", 0))})
        if ckpt.optimizer is not None:
            save_weights(tmp / "optimizer.safetensors", *optimizer_to_tensors(ckpt.optimizer))
        if ckpt.discriminator is not None:
            save_weights(tmp / "discriminator.safetensors", ckpt.discriminator)
        if ckpt.disc_optimizer is not None:
            save_weights(tmp / "disc_optimizer.safetensors", *optimizer_to_tensors(ckpt.disc_optimizer))
        write_json(tmp / "state.json", ckpt.state)
        with open(tmp / "state.json", "rb") as fh:
            os.fsync(fh.fileno())
        current, backup = model_dir / CURRENT, model_dir / BACKUP
        if current.is_dir():
            shutil.rmtree(backup, ignore_errors=True)
            current.rename(backup)
        tmp.rename(current)
    except (OSError, FaceswapError) as err:
        reason = err.strerror or err if isinstance(err, OSError) else err
        raise FaceswapError(f"cannot save the checkpoint in {model_dir}: {reason} "
                            f"(the previous checkpoint is kept)") from err


def load_checkpoint(folder: Path) -> Checkpoint:
    """Read a checkpoint folder; corrupt files raise one clear FaceswapError naming the backup."""
    hint = ""
    if folder.name == CURRENT and (folder.parent / BACKUP).is_dir():
        hint = " ; a backup checkpoint exists: run again with --from-backup"

    def corrupt(path: Path, err: Exception) -> FaceswapError:
        return FaceswapError(f"{path} is corrupt or unreadable ({type(err).__name__}){hint}")

    def load_opt(path: Path) -> dict[str, Any] | None:
        if not path.is_file():
            return None
        try:
            return optimizer_from_tensors(read_weights(path, hint), _read_safetensors_meta(path))
        except (SafetensorError, OSError, ValueError, KeyError) as err:
            raise corrupt(path, err) from err

    model = read_weights(folder / WEIGHTS, hint)
    state_path = folder / "state.json"
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise corrupt(state_path, err) from err
    disc_path = folder / "discriminator.safetensors"
    disc = read_weights(disc_path, hint) if disc_path.is_file() else None
    return Checkpoint(model, load_opt(folder / "optimizer.safetensors"), state, disc,
                      load_opt(folder / "disc_optimizer.safetensors"))
