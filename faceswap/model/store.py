"""A model folder on disk, as convert and provenance read it and train writes it; the device it runs on.

    MODEL_DIR/
      config.json                the architecture (a ModelConfig), written once
      checkpoint/model.safetensors   the weights convert loads
      checkpoint.bak/            the checkpoint before it (train/checkpoint.py keeps the training
                                 state beside the weights and does the renames)
      identity.json              who each side is: the mean dlib descriptor of each faceset (written
                                 by train; convert picks the model's own person with it)
      references_b.safetensors   B's reference crops and landmarks (data/references.py): the detail
                                 convert --detail reference puts on an enlarged face

Nothing here knows about optimizers or training state, so converting a
shot never imports the trainer. Weights are safetensors and the config is
JSON: a model folder someone sends you is safe to open.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__, defaults
from ..errors import FaceswapError
from ..media.images import atomic_write_bytes
from .autoencoder import FaceSwapModel
from .config import ModelConfig, from_dict, to_dict

MODEL_FORMAT = "faceswap-model"
CURRENT, BACKUP, SAVING = "checkpoint", "checkpoint.bak", "checkpoint.tmp"
WEIGHTS = "model.safetensors"
IDENTITY = "identity.json"
IDENTITY_FORMAT = "faceswap-identity"

__all__ = ["BACKUP", "CURRENT", "MODEL_FORMAT", "SAVING", "StoredModel", "WEIGHTS", "checkpoint_dir", "fit_weights",
           "load_identity", "load_model", "load_model_config", "save_identity", "pick_device", "read_weights", "save_model_config", "save_weights",
           "weights_file", "write_json"]


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as indented JSON, atomically (temp file + rename)."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; FaceswapError naming the file when it is unreadable or corrupt."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise FaceswapError(f"{path} is unreadable or corrupt: {err}") from err


def save_model_config(model_dir: Path, cfg: ModelConfig, extra: dict[str, Any] | None = None) -> None:
    """Write MODEL_DIR/config.json for `cfg` (atomically), with the tool version and any `extra` keys."""
    write_json(model_dir / "config.json",
               {"format": MODEL_FORMAT, "version": 1, "faceswap": __version__, "model": to_dict(cfg),
                **(extra or {})})


def load_model_config(model_dir: str | Path) -> tuple[ModelConfig, dict[str, Any]]:
    """(ModelConfig, the whole config.json) of a model folder.

    Raises FaceswapError when the folder has no config.json, it is unreadable,
    not a faceswap model config, or describes an invalid model.
    """
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise FaceswapError(f"{model_dir} is not a faceswap model folder (no config.json)")
    data = read_json(path)
    if data.get("format") != MODEL_FORMAT:
        raise FaceswapError(f"{path} is not a faceswap model config")
    # a model saved before the occlusion net existed has none
    cfg = from_dict(ModelConfig, {"occlusion": False, **data["model"]})
    cfg.validate()
    return cfg, data


def save_identity(model_dir: Path, sides: dict[str, dict[str, Any]]) -> None:
    """Write MODEL_DIR/identity.json (atomically): per side ("a", "b") a dict with at least
    "descriptor" (128 floats, the mean dlib descriptor of that side's faceset)."""
    write_json(Path(model_dir) / IDENTITY, {"format": IDENTITY_FORMAT, "version": 1, "sides": sides})


def load_identity(model_dir: str | Path) -> dict[str, dict[str, Any]] | None:
    """The sides of MODEL_DIR/identity.json ({"a": {"descriptor": [...], ...}, "b": ...}), or None
    when the model has none (trained before it was written). FaceswapError when it is corrupt."""
    path = Path(model_dir) / IDENTITY
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sides = data["sides"] if data.get("format") == IDENTITY_FORMAT else None
        if not isinstance(sides, dict) or any(len(v["descriptor"]) != 128 for v in sides.values()):
            raise ValueError("not a faceswap identity file")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FaceswapError(f"{path} is unreadable or corrupt: {err}") from err
    return sides


def checkpoint_dir(model_dir: str | Path, from_backup: bool = False) -> Path | None:
    """The checkpoint folder holding the weights to use, or None for a model not trained yet.

    The current one; the backup when `from_backup` (FaceswapError if there is
    none) or when a save was interrupted between its two renames.
    """
    model_dir = Path(model_dir)
    current, backup = model_dir / CURRENT, model_dir / BACKUP
    if from_backup:
        if not backup.is_dir():
            raise FaceswapError(f"{model_dir} has no backup checkpoint")
        return backup
    if current.is_dir():
        return current
    if backup.is_dir():
        return backup
    return None


def weights_file(model_dir: str | Path) -> Path | None:
    """The model weights convert loads (from `checkpoint_dir`), or None when there are none."""
    folder = checkpoint_dir(model_dir)
    path = folder / WEIGHTS if folder is not None else None
    return path if path is not None and path.is_file() else None


def read_weights(path: Path, hint: str = "") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (on the CPU); FaceswapError naming the file (plus `hint`)
    when it is missing, truncated or not safetensors."""
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise FaceswapError(f"{path} is corrupt or unreadable ({type(err).__name__}){hint}") from err


def save_weights(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write tensors as safetensors atomically: a temp file beside `path`, flushed to disk, then renamed."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise FaceswapError(f"cannot write {path}: {err.strerror or err}") from err


def fit_weights(module: torch.nn.Module, weights: dict[str, torch.Tensor], path: Path, model_dir: Path) -> None:
    """Load `weights` (read from `path`) into `module`; FaceswapError when their names or shapes do
    not fit the network MODEL_DIR/config.json describes (an edited config or another version)."""
    try:
        module.load_state_dict(weights)
    except RuntimeError as err:
        raise FaceswapError(f"{path} does not fit the model described in {Path(model_dir) / 'config.json'} "
                            f"(edited config or another version: {str(err).splitlines()[0]})") from err


def pick_device(name: str = defaults.DEVICE) -> torch.device:
    """The torch device for `name` (one of defaults.DEVICES): "auto" takes CUDA, then MPS, then the CPU.

    Raises FaceswapError for an unknown name or when CUDA is asked for and absent.
    """
    if name not in defaults.DEVICES:
        raise FaceswapError(f"device must be one of {', '.join(defaults.DEVICES)}, not {name!r}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise FaceswapError("--device cuda asked for, but no CUDA GPU is available")
    return torch.device(name)


@dataclass
class StoredModel:
    """A model folder loaded for inference: the network (eval mode, on `device`), its config,
    the whole config.json and the weights file it came from."""

    model: FaceSwapModel
    cfg: ModelConfig
    meta: dict[str, Any]
    weights_file: Path
    device: torch.device


def load_model(model_dir: str | Path, device: str = defaults.DEVICE) -> StoredModel:
    """Load MODEL_DIR's config and latest weights into a FaceSwapModel on `device`, in eval mode.

    Raises FaceswapError when the folder is missing, has no config or no
    trained weights yet, or the weights are corrupt or do not fit the config.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FaceswapError(f"no such model folder: {model_dir}")
    cfg, meta = load_model_config(model_dir)
    folder = checkpoint_dir(model_dir)
    if folder is None:
        raise FaceswapError(f"{model_dir} has no trained weights yet (run faceswap train first)")
    path = folder / WEIGHTS
    model = FaceSwapModel(cfg)
    fit_weights(model, read_weights(path), path, model_dir)
    torch_device = pick_device(device)
    model.eval().to(torch_device)
    return StoredModel(model, cfg, meta, path, torch_device)
