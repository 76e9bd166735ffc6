"""`faceswap qc`: objective quality figures of a converted shot against its footage.

Identity (dlib descriptors), expression and pose kept (68-point error, head
pose), temporal stability (jitter, flicker), what the eye sees first (sharpness
of the inner face, seam at the blend's edge), coverage and file integrity; a
report folder and thresholds that make a batch pipeline gate shots.
"""

from __future__ import annotations

from typing import Any

__all__ = ["QcOptions", "QcResult", "run_qc"]


def __getattr__(name: str) -> Any:
    # The measuring code (OpenCV, dlib, the detectors) loads on first use, so the
    # CLI can read the metric and check names from qc.gates / qc.integrity at start-up.
    if name == "QcOptions":
        from .options import QcOptions
        return QcOptions
    if name in __all__:
        from . import run
        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
