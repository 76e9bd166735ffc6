"""The identity that should appear: a mean dlib descriptor of a faceset, video, image folder or image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.faceset import iter_faceset
from ..data.identity import evenly, faceset_descriptors
from ..errors import FaceswapError
from ..faces.backends import Backend
from ..faces.identity import IdentityEncoder
from ..media.source import FrameSource
from .measures import largest


@dataclass
class IdentityReference:
    """Mean descriptor of `faces` faces of `path` (`kind`: faceset, video, images or image)."""

    path: str
    kind: str
    faces: int
    descriptor: np.ndarray  # (128,) float32

    def to_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "faces": self.faces}


def _from_frames(source: FrameSource, encoder: IdentityEncoder, backend: Backend, samples: int) -> list[np.ndarray]:
    wanted = set(evenly(len(source), samples).tolist())
    descriptors = []
    for frame in source:
        if frame.index not in wanted:
            continue
        face = largest(backend.detect(frame.image))
        if face is not None:
            descriptors.append(encoder.describe(frame.image, face))
    return descriptors


def load_identity(path: str | Path, encoder: IdentityEncoder, backend: Backend, samples: int) -> IdentityReference:
    """Mean descriptor of up to `samples` faces of `path`, sampled evenly over it: a faceset's
    crops (with their stored landmarks), or the largest face of frames of a video, an image
    folder or an image."""
    path = Path(path)
    if not path.exists():
        raise FaceswapError(f"no such file or folder: {path}")
    kind = "faceset" if path.is_dir() and next(iter_faceset(path), None) is not None else None
    if kind == "faceset":
        descriptors = faceset_descriptors(path, encoder, samples)
    else:
        source = FrameSource(path)  # an image, a folder of images or a video; raises otherwise
        kind = source.kind
        descriptors = _from_frames(source, encoder, backend, samples)
    if not descriptors:
        raise FaceswapError(f"no face found in the identity reference {path}")
    mean = np.mean(np.stack(descriptors), axis=0).astype(np.float32)
    return IdentityReference(str(path), kind, len(descriptors), mean)
