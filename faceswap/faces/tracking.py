"""Face tracks across frames: which face in frame t is which face in frame t-1.

Faces are matched by box overlap and landmark distance (Hungarian
assignment); a track that goes unseen for more than `max_gap` frames is
closed, so a person who leaves and comes back gets a new id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .. import defaults
from .types import Face


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class Track:
    id: int
    landmarks: np.ndarray
    score: float
    last_frame: int
    length: int = 1

    @property
    def box(self) -> np.ndarray:
        lo, hi = self.landmarks.min(axis=0), self.landmarks.max(axis=0)
        return np.array([lo[0], lo[1], hi[0], hi[1]], np.float32)


class Tracker:
    """Assigns `Face.track` ids frame by frame."""

    def __init__(self, max_gap: int = defaults.TRACK_MAX_GAP, next_id: int = 0) -> None:
        self.max_gap = max_gap
        self.next_id = next_id
        self.tracks: dict[int, Track] = {}

    def active(self, frame: int, within: int = 1) -> list[Track]:
        """Tracks seen in the last `within` frames before `frame`."""
        return [t for t in self.tracks.values() if 0 < frame - t.last_frame <= within]

    def seed(self, frame: int, faces: list[Face]) -> None:
        """Restore tracks from already-tracked faces (when resuming a run)."""
        for face in faces:
            self.tracks[face.track] = Track(face.track, face.landmarks, face.score, frame)
            self.next_id = max(self.next_id, face.track + 1)

    def reserve_ids(self, used: Iterable[int]) -> None:
        """Give new tracks ids above every id in `used`: ids an earlier run or an alignments file
        already gave out, so a new face never takes an old face's number."""
        self.next_id = max(self.next_id, max(used, default=-1) + 1)

    def end_all(self) -> None:
        """Close every track (a shot cut): box overlap links whoever stands in the same place after
        the cut, often another person, so no track may continue across one."""
        self.tracks.clear()

    def update(self, frame: int, faces: list[Face]) -> list[Face]:
        """Give each face a track id (existing or new); returns `faces`."""
        for tid in [t.id for t in self.tracks.values() if frame - t.last_frame > self.max_gap]:
            del self.tracks[tid]
        tracks = list(self.tracks.values())
        matched: dict[int, int] = {}
        if tracks and faces:
            cost = np.full((len(faces), len(tracks)), 10.0)
            for i, face in enumerate(faces):
                for j, track in enumerate(tracks):
                    iou = box_iou(face.bbox, track.box)
                    dist = float(np.linalg.norm(face.landmarks - track.landmarks, axis=1).mean())
                    norm = dist / max(face.size, 1.0)
                    if iou > 0.1 or norm < 0.5:
                        cost[i, j] = (1.0 - iou) + norm
            rows, cols = linear_sum_assignment(cost)
            matched = {r: c for r, c in zip(rows, cols) if cost[r, c] < 10.0}
        for i, face in enumerate(faces):
            if i in matched:
                track = tracks[matched[i]]
                track.landmarks, track.last_frame = face.landmarks, frame
                track.length += 1
                track.score = face.score
            else:
                track = Track(self.next_id, face.landmarks, face.score, frame)
                self.tracks[track.id] = track
                self.next_id += 1
            face.track = track.id
        return faces
