"""Faces of a frame sequence, tracked: detection, landmarks and track ids together.

In video, the full-range detector runs every `detect_every` frames, whenever
a track is lost, and on every frame while no face is being tracked; in
between, each tracked face's landmarks come from a crop predicted by its
previous landmarks (MediaPipe's own tracking scheme). Extract and convert
both find faces through this class, so on-the-fly convert sees exactly what
extract would have stored.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .. import defaults
from .backends import Backend
from .tracking import Tracker, box_iou
from .types import Face
from .verify import HumanVerifier

# Two results whose boxes overlap this much are the same face.
SAME_FACE_IOU = 0.3
# Frames between two human-verification tries of a track that failed one.
RECHECK = 15


class FaceFinder:
    def __init__(self, backend: Backend, *, sequence: bool = True,
                 detect_every: int = defaults.DETECT_EVERY,
                 min_size: float = defaults.EXTRACT_MIN_SIZE,
                 max_gap: int = defaults.TRACK_MAX_GAP, verify: bool = True) -> None:
        self.backend = backend
        self.sequence = sequence
        self.detect_every = detect_every
        self.min_size = min_size
        self.tracker = Tracker(max_gap=max_gap)
        self._last_frame: int | None = None
        self._since_detect = 0
        self.detector_runs = 0
        self.verifier = HumanVerifier() if verify else None
        self._confirmed: set[int] = set()
        self._last_check: dict[int, int] = {}
        self.rejected = 0

    def find(self, image: np.ndarray, frame: int) -> list[Face]:
        """Faces in `image` (frame number `frame`), each with a track id."""
        step = frame - self._last_frame if self._last_frame is not None else 1
        active = self.tracker.active(frame, within=max(step, 1)) if self.sequence else []
        faces: list[Face] = []
        run_detector = (not self.sequence or not active or self._since_detect + 1 >= self.detect_every)
        if not run_detector:
            for track in active:
                found = self.backend.faces_in_boxes(image, [(track.box, track.score)])
                if not found:
                    run_detector = True  # lost it: look properly this frame
                faces.extend(found)
        if run_detector:
            faces = self._detect(image, faces, active)
            self._since_detect = 0
        else:
            self._since_detect += 1
        faces = [f for f in _dedupe(faces) if f.size >= self.min_size]
        self._last_frame = frame
        faces = self.tracker.update(frame, faces)
        return self._verified(image, faces, frame) if self.verifier else faces

    def _verified(self, image: np.ndarray, faces: list[Face], frame: int) -> list[Face]:
        """Faces of tracks confirmed human. A new track is checked at once; one
        that fails is checked again every RECHECK frames (a person may turn to
        face the camera) and its faces are dropped until it passes."""
        kept = []
        for face in faces:
            if not self.sequence:  # unrelated stills: every face stands alone
                if self.verifier.check(image, face):
                    kept.append(face)
                else:
                    self.rejected += 1
                continue
            if face.track not in self._confirmed:
                last = self._last_check.get(face.track)
                if last is not None and frame - last < RECHECK:
                    self.rejected += 1
                    continue
                self._last_check[face.track] = frame
                if not self.verifier.check(image, face):
                    self.rejected += 1
                    continue
                self._confirmed.add(face.track)
            kept.append(face)
        return kept

    def _detect(self, image: np.ndarray, found: list[Face], active: list) -> list[Face]:
        self.detector_runs += 1
        boxes = self.backend.detect_boxes(image)
        # Detectors miss profiles and motion blur that the mesh still follows:
        # keep trying tracked faces the detector did not report.
        for track in active:
            if not any(box_iou(track.box, b) > SAME_FACE_IOU for b, _ in boxes):
                boxes.append((track.box, track.score))
        boxes = [(b, s) for b, s in boxes if not any(box_iou(f.bbox, b) > SAME_FACE_IOU for f in found)]
        return found + self.backend.faces_in_boxes(image, boxes)

    def cut(self) -> None:
        """A shot cut before the next frame: its faces start new tracks (found by the detector)."""
        self.tracker.end_all()

    def seed(self, frame: int, faces: list[Face]) -> None:
        """Continue the tracks of an earlier run (resume)."""
        self.tracker.seed(frame, faces)
        self._confirmed.update(f.track for f in faces)
        self._last_frame = frame

    def reserve_track_ids(self, used: Iterable[int]) -> None:
        """New tracks get ids above every id in `used` (see Tracker.reserve_ids)."""
        self.tracker.reserve_ids(used)


def _dedupe(faces: list[Face]) -> list[Face]:
    """Drop lower-scored duplicates of the same face."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(box_iou(face.bbox, k.bbox) < 0.5 for k in kept):
            kept.append(face)
    return kept
