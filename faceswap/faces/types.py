"""The face record every stage passes around."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Face:
    """One face in one frame, in frame pixel coordinates.

    `landmarks` always follow the 68-point iBUG order, whatever the backend;
    `mesh` keeps MediaPipe's full 478 points (x, y in pixels, z relative) when
    that backend found the face.
    """

    landmarks: np.ndarray  # (68, 2) float32
    score: float
    mesh: np.ndarray | None = None  # (478, 3) float32
    track: int = -1

    @property
    def bbox(self) -> np.ndarray:
        """x0, y0, x1, y1 of the landmarks."""
        lo = self.landmarks.min(axis=0)
        hi = self.landmarks.max(axis=0)
        return np.array([lo[0], lo[1], hi[0], hi[1]], np.float32)

    @property
    def size(self) -> float:
        """Face width in pixels (the larger side of the landmark box)."""
        x0, y0, x1, y1 = self.bbox
        return float(max(x1 - x0, y1 - y0))
