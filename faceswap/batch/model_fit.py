"""Does a model folder's weights file fit the network its config.json describes? Read cheaply:
the safetensors header's tensor shapes against the network built on torch's meta device (no
memory, no weights read), so a manifest of hundreds of shots is checked in well under a second
per model."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from ..errors import FaceswapError
from ..model.store import load_model_config, weights_file

# A safetensors header is a JSON table of names, dtypes and shapes: a few kB for our models.
_HEADER_LIMIT = 64 * 1024 * 1024


def header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} from a safetensors file's header (8-byte little-endian length, then
    JSON); FaceswapError naming the file when it is not safetensors."""
    try:
        with open(path, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > _HEADER_LIMIT:
                raise ValueError("header too large")
            header = json.loads(fh.read(length))
        return {name: tuple(entry["shape"]) for name, entry in header.items() if name != "__metadata__"}
    except (OSError, struct.error, ValueError, KeyError, TypeError, AttributeError) as err:
        raise FaceswapError(f"{path} is corrupt or not safetensors ({type(err).__name__})") from err


def check_model_fits(model_dir: Path) -> None:
    """FaceswapError (one line) when MODEL_DIR is not a trained faceswap model folder or its
    weights do not fit its config.json (an edited resolution, widths or architecture)."""
    import torch

    from ..model.autoencoder import FaceSwapModel

    if not model_dir.is_dir():
        raise FaceswapError(f"model folder {model_dir} does not exist")
    cfg, _ = load_model_config(model_dir)
    path = weights_file(model_dir)
    if path is None:
        raise FaceswapError(f"{model_dir} has no trained weights yet (run faceswap train first)")
    found = header_shapes(path)
    with torch.device("meta"):
        wanted = {name: tuple(t.shape) for name, t in FaceSwapModel(cfg).state_dict().items()}
    said = f"its config.json ({cfg.arch}, {cfg.resolution} px)"
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise FaceswapError(f"model {model_dir}: its weights do not fit {said}: {len(missing)} tensors missing, "
                            f"e.g. {missing[0]}")
    extra = sorted(set(found) - set(wanted))
    if extra:
        raise FaceswapError(f"model {model_dir}: its weights do not fit {said}: {len(extra)} tensors it does not "
                            f"have, e.g. {extra[0]}")
    for name, shape in wanted.items():
        if found[name] != shape:
            raise FaceswapError(f"model {model_dir}: its weights do not fit {said}: {name} is "
                                f"{list(found[name])}, the config makes {list(shape)}")


__all__ = ["check_model_fits", "header_shapes"]
