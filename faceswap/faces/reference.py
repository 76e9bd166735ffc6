"""Keep only one person's faces, decided per track by likeness to a descriptor: the person of
a reference photo (`ReferenceFilter`) or the model's own person (`IdentityFilter` with the
descriptor train stored)."""

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


class IdentityFilter:
    """Keeps the faces of tracks whose mean descriptor distance to `descriptor` is under `threshold`.

    `descriptor`: (128,) dlib descriptor of the wanted person. A track's distance is the mean over
    up to SAMPLES_PER_TRACK of its faces, one every SAMPLE_EVERY frames from its first, so it
    is known from the track's first frame and neither position, size nor track number counts.
    `seen_person` says whether any track so far has been the person.
    """

    def __init__(self, descriptor: np.ndarray, threshold: float = defaults.REFERENCE_THRESHOLD,
                 encoder: IdentityEncoder | None = None) -> None:
        self.encoder = encoder or IdentityEncoder()
        self.descriptor = np.asarray(descriptor, np.float32)
        self.threshold = threshold
        self.seen_person = False
        self._samples: dict[int, list[float]] = {}
        self._seen: dict[int, int] = {}

    def track_distance(self, track: int) -> float:
        """Mean descriptor distance of `track`'s sampled faces (inf before its first sample)."""
        samples = self._samples.get(track)
        return float(np.mean(samples)) if samples else float("inf")

    def distances(self) -> dict[int, float]:
        """{track: mean distance} of every track sampled so far."""
        return {t: self.track_distance(t) for t in self._samples}

    def keep(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """The faces of `faces` (in the RGB `image`) that are the person."""
        for face in faces:
            seen = self._seen.get(face.track, 0)
            samples = self._samples.setdefault(face.track, [])
            if len(samples) < SAMPLES_PER_TRACK and seen % SAMPLE_EVERY == 0:
                samples.append(distance(self.encoder.describe(image, face), self.descriptor))
            self._seen[face.track] = seen + 1
        kept = [f for f in faces if self.track_distance(f.track) < self.threshold]
        self.seen_person = self.seen_person or bool(kept)
        return kept


class ReferenceFilter(IdentityFilter):
    """IdentityFilter for the largest face of a reference photo (FaceswapError when the image
    cannot be read or has no face)."""

    def __init__(self, reference: str | Path, backend: Backend,
                 threshold: float = defaults.REFERENCE_THRESHOLD) -> None:
        encoder = IdentityEncoder()
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
        super().__init__(encoder.describe(image, face), threshold, encoder)
