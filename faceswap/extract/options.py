"""Extract options: one record that the CLI, the API and batch manifests share."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .. import defaults
from ..errors import FaceswapError
from ..faces.geometry import CENTERINGS


@dataclass
class ExtractOptions:
    size: int = defaults.EXTRACT_SIZE
    centering: str = defaults.EXTRACT_CENTERING
    coverage: float = defaults.EXTRACT_COVERAGE
    every: int = defaults.EXTRACT_EVERY
    min_size: int = defaults.EXTRACT_MIN_SIZE
    detector: str = defaults.DETECTOR
    confidence: float = defaults.DETECT_CONFIDENCE
    detect_every: int = defaults.DETECT_EVERY
    reference: str | None = None
    reference_threshold: float = defaults.REFERENCE_THRESHOLD
    preview: bool = False
    keep_mesh: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if not 16 <= self.size <= 2048:
            raise FaceswapError(f"--size must be between 16 and 2048, not {self.size}")
        if self.centering not in CENTERINGS:
            raise FaceswapError(f"--centering must be one of {', '.join(CENTERINGS)}")
        if not 0.1 <= self.coverage <= 2.0:
            raise FaceswapError(f"--coverage must be between 0.1 and 2.0, not {self.coverage}")
        if self.every < 1 or self.detect_every < 1:
            raise FaceswapError("--every and --detect-every must be at least 1")
        if self.detector not in defaults.DETECTORS:
            raise FaceswapError(f"--detector must be one of {', '.join(defaults.DETECTORS)}")

    def crop_settings(self) -> dict[str, Any]:
        return {"size": self.size, "centering": self.centering, "coverage": self.coverage}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
