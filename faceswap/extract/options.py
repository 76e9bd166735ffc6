"""Extract options: one record that the CLI, the API and batch manifests share."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .. import defaults
from ..errors import FaceswapError
from ..faces.geometry import CENTERINGS
from ..media.colour import ColourOptions, check_colour
from ..ranges import bounded, check_ranges


@dataclass
class ExtractOptions(ColourOptions):
    """How extract runs. Numeric fields carry their range (faceswap/ranges.py), checked by `validate`."""

    size: int = bounded(defaults.EXTRACT_SIZE, 16, 2048)            # crop side, pixels
    centering: str = defaults.EXTRACT_CENTERING
    coverage: float = bounded(defaults.EXTRACT_COVERAGE, *defaults.COVERAGE_RANGE)
    every: int = bounded(defaults.EXTRACT_EVERY, 1)
    min_size: int = bounded(defaults.EXTRACT_MIN_SIZE, 0)          # pixels in the frame; 0 keeps every face
    detector: str = defaults.DETECTOR
    confidence: float = bounded(defaults.DETECT_CONFIDENCE, *defaults.CONFIDENCE_RANGE)
    detect_every: int = bounded(defaults.DETECT_EVERY, 1)
    reference: str | None = None
    reference_threshold: float = bounded(defaults.REFERENCE_THRESHOLD, 0, low_open=True)  # descriptor distance
    preview: bool = False
    keep_mesh: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """FaceswapError (one line naming the option) for a number out of its range or an unknown choice."""
        check_ranges(self)
        if self.centering not in CENTERINGS:
            raise FaceswapError(f"--centering must be one of {', '.join(CENTERINGS)}")
        if self.detector not in defaults.DETECTORS:
            raise FaceswapError(f"--detector must be one of {', '.join(defaults.DETECTORS)}")
        check_colour(self)

    def crop_settings(self) -> dict[str, Any]:
        return {"size": self.size, "centering": self.centering, "coverage": self.coverage}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
