"""Settings of one qc run: a record the CLI, the API and batch manifests share.

Light on imports (no OpenCV, dlib or detectors), so the CLI can read its
ranges and defaults at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .. import defaults
from ..errors import FaceswapError
from ..ranges import bounded, check_ranges
from .gates import Gate, parse_gates
from .integrity import FIELDS


@dataclass
class QcOptions:
    """Settings of one qc run; the defaults are in faceswap/defaults.py. Numeric fields carry their
    range (faceswap/ranges.py), checked by `validate`."""

    identity_every: int = bounded(defaults.QC_IDENTITY_EVERY, 1)        # identity descriptors on every Nth frame
    identity_samples: int = bounded(defaults.QC_IDENTITY_SAMPLES, 1)    # --identity faces averaged
    max_frames: int | None = bounded(None, 2)  # measure only the first N (jitter needs 2); integrity: all
    detector: str = defaults.DETECTOR
    confidence: float = bounded(defaults.DETECT_CONFIDENCE, *defaults.CONFIDENCE_RANGE)
    # a face region that differs from the input by less than this mean (8-bit levels) was not swapped
    unchanged_level: float = bounded(defaults.QC_UNCHANGED_LEVEL, 0, 255)
    # the original's faces wear glasses: their rims, bridge and arms are left out of sharpness in both videos
    glasses: bool = False
    fail_under: Mapping[str, float] | Sequence[str] = ()   # {"retrieval": 0.9} or ["retrieval=0.9"]
    fail_over: Mapping[str, float] | Sequence[str] = ()    # {"jitter": 0.05} or ["jitter=0.05"]
    ignore_integrity: Sequence[str] = ()                   # integrity checks reported but not gated
    fps_tolerance: float = bounded(defaults.QC_FPS_TOLERANCE, 0)
    duration_tolerance: float = bounded(defaults.QC_DURATION_TOLERANCE, 0)
    audio_tolerance: float = bounded(defaults.QC_AUDIO_TOLERANCE, 0)
    worst_frames: int = bounded(defaults.QC_WORST_FRAMES, 0)            # per measure, on the contact sheet
    report: str | None = None                              # folder for summary.json, plots, contact sheet
    json: str | None = None                                # also write summary JSON here

    def gates(self) -> list[Gate]:
        return parse_gates(self.fail_under, "under") + parse_gates(self.fail_over, "over")

    def validate(self) -> None:
        """FaceswapError (one line naming the option) for a number out of its range, an unknown
        choice or a malformed gate."""
        check_ranges(self)
        bad = [name for name in self.ignore_integrity if name not in FIELDS]
        if bad:
            raise FaceswapError(f"--ignore-integrity {bad[0]}: choose from {', '.join(FIELDS)}")
        if self.detector not in defaults.DETECTORS:
            raise FaceswapError(f"unknown detector {self.detector!r}; choose from {', '.join(defaults.DETECTORS)}")
        self.gates()  # raises on a malformed threshold

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fail_under"] = {g.metric: g.threshold for g in parse_gates(self.fail_under, "under")}
        d["fail_over"] = {g.metric: g.threshold for g in parse_gates(self.fail_over, "over")}
        d["ignore_integrity"] = list(self.ignore_integrity)
        return d
