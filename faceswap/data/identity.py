"""Who a faceset shows: the mean dlib descriptor of its crops.

Train stores it for both sides in the model folder (model/store.py, identity.json),
so convert can tell the model's own person from anyone else in a shot; qc uses it for
the identity a converted shot should show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import defaults
from ..errors import FaceswapError
from ..faces.geometry import transform_points
from ..faces.identity import IdentityEncoder
from ..faces.types import Face
from .faceset import iter_faceset, read_crop


def evenly(n: int, k: int) -> np.ndarray:
    """Up to `k` indices spread evenly over range(n) (sorted, unique)."""
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int)) if n > 0 else np.array([], int)


def faceset_descriptors(folder: str | Path, encoder: IdentityEncoder,
                        samples: int = defaults.MODEL_IDENTITY_SAMPLES) -> list[np.ndarray]:
    """(128,) float32 descriptors of up to `samples` crops of a faceset, spread evenly over its files.

    The crops' stored landmarks (frame pixels) are brought onto the crop with its matrix, so no
    detector runs. FaceswapError when the folder does not exist.
    """
    records = list(iter_faceset(folder))
    descriptors = []
    for i in evenly(len(records), samples):
        crop, meta = read_crop(records[i].path)
        lm = transform_points(np.asarray(meta["landmarks"]), np.asarray(meta["crop"]["matrix"]))
        descriptors.append(encoder.describe(crop, Face(np.asarray(lm, np.float32), 1.0)))
    return descriptors


def faceset_identity(folder: str | Path, encoder: IdentityEncoder | None = None,
                     samples: int = defaults.MODEL_IDENTITY_SAMPLES) -> dict:
    """{"faceset": absolute path, "faces": crops described, "descriptor": 128 floats}: the mean
    descriptor of `folder`'s crops (see faceset_descriptors). FaceswapError for a faceset
    without crops."""
    descriptors = faceset_descriptors(folder, encoder or IdentityEncoder(), samples)
    if not descriptors:
        raise FaceswapError(f"no face crops in {folder} to describe")
    mean = np.mean(np.stack(descriptors), axis=0)
    return {"faceset": str(Path(folder).resolve()), "faces": len(descriptors),
            "descriptor": np.round(mean.astype(np.float64), 6).tolist()}


__all__ = ["evenly", "faceset_descriptors", "faceset_identity"]
