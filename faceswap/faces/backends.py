"""The registry of detection + landmark backends.

A backend has `detect_boxes(image)`, `faces_in_boxes(image, boxes)`,
`detect(image)` and `close()`; adding one is a class and a line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from .. import defaults
from ..errors import FaceswapError
from .types import Face


class Backend(Protocol):
    name: str

    def detect_boxes(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]: ...
    def faces_in_boxes(self, image: np.ndarray, boxes: list[tuple[np.ndarray, float]]) -> list[Face]: ...
    def detect(self, image: np.ndarray) -> list[Face]: ...
    def close(self) -> None: ...


def _mediapipe(confidence: float) -> Backend:
    from .detect_mediapipe import MediaPipeBackend
    return MediaPipeBackend(confidence)


def _fan(confidence: float) -> Backend:
    from .detect_fan import FanBackend
    return FanBackend(confidence=confidence)


BACKENDS: dict[str, Callable[[float], Backend]] = {
    "mediapipe": _mediapipe,
    "fan": _fan,
}


def make_backend(name: str = defaults.DETECTOR, confidence: float = defaults.DETECT_CONFIDENCE) -> Backend:
    if name not in BACKENDS:
        raise FaceswapError(f"unknown detector {name!r}; choose from {', '.join(BACKENDS)}")
    return BACKENDS[name](confidence)
