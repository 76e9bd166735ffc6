"""Keep only the person in a reference photo, decided per track."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import defaults
from ..errors import FaceswapError
from ..media.images import read_image
from .backends import Backend
from .identity import IdentityEncoder, distance
from .types import Face

# Descriptors are costly (a ResNet per face): sample each track a few times.
SAMPLES_PER_TRACK = 8
SAMPLE_EVERY = 15


class ReferenceFilter:
    def __init__(self, reference: str | Path, backend: Backend,
                 threshold: float = defaults.REFERENCE_THRESHOLD) -> None:
        self.encoder = IdentityEncoder()
        self.threshold = threshold
        image = read_image(reference)
        if image is None:
            raise FaceswapError(f"cannot read reference image {reference}")
        faces = backend.detect(image)
        if not faces:
            # A tight crop can be too close for the detector: retry with a border.
            pad = max(image.shape[:2]) // 2
            padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
            faces = backend.detect(padded)
            image = padded
        if not faces:
            raise FaceswapError(f"no face found in reference image {reference}")
        face = max(faces, key=lambda f: f.size)
        self.descriptor = self.encoder.describe(image, face)
        self._samples: dict[int, list[float]] = {}
        self._seen: dict[int, int] = {}

    def track_distance(self, track: int) -> float:
        samples = self._samples.get(track)
        return float(np.mean(samples)) if samples else float("inf")

    def keep(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        kept = []
        for face in faces:
            seen = self._seen.get(face.track, 0)
            samples = self._samples.setdefault(face.track, [])
            if len(samples) < SAMPLES_PER_TRACK and seen % SAMPLE_EVERY == 0:
                samples.append(distance(self.encoder.describe(image, face), self.descriptor))
            self._seen[face.track] = seen + 1
            if self.track_distance(face.track) < self.threshold:
                kept.append(face)
        return kept
