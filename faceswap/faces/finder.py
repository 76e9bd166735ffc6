"""Faces of a frame sequence, tracked: detection, landmarks and track ids together.

In video, the full-range detector runs every `detect_every` frames, whenever
a track is lost, and on every frame while no face is being tracked; in
between, each tracked face's landmarks come from a crop predicted by its
previous landmarks (MediaPipe's own tracking scheme). Extract and convert
both find faces through this class, so on-the-fly convert sees exactly what
extract would have stored.

Faces at any roll (see roll.py): a tracked face rolled past roll.UPRIGHT is
meshed in a view turned upright by its last roll; a new face the human check
rejects is tried again turned by 90/180/270 degrees; and a frame where
nothing is found is searched again turned: at once when a confirmed face
is lost, else TURN_EVERY frames after the last search, that wait doubling
(up to TURN_MAX) while the searches find nothing. Faceless footage pays for
three more detector runs now and then; upright footage with faces pays
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .. import defaults
from .backends import Backend
from .roll import is_rolled, reoriented, track_faces, turned_faces
from .tracking import Tracker, box_iou
from .types import Face
from .verify import HumanVerifier

# Two results whose boxes overlap this much are the same face.
SAME_FACE_IOU = 0.3
# Frames between two human-verification tries of a track that failed one.
RECHECK = 15
# A detector box sharing this much of a rolled face's box is that face seen
# upright (on a head upside down it covers hair, brow and eyes: 0.44 of it).
PART_OF_FACE = 0.25
# Frames between two searches of a faceless frame turned by 90/180/270 degrees:
# TURN_EVERY after a face was last seen, doubling after each search that keeps
# nothing, up to TURN_MAX (a long faceless shot pays less and less).
TURN_EVERY = 8
TURN_MAX = 32


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
        self._last_turned: int | None = None
        self._fruitless = 0  # turned searches since a face was last kept
        self._reoriented: list[Face] = []
        self.turned_runs = 0

    def find(self, image: np.ndarray, frame: int) -> list[Face]:
        """Faces in `image` (frame number `frame`), each with a track id."""
        step = frame - self._last_frame if self._last_frame is not None else 1
        active = self.tracker.active(frame, within=max(step, 1)) if self.sequence else []
        faces: list[Face] = []
        run_detector = (not self.sequence or not active or self._since_detect + 1 >= self.detect_every)
        if not run_detector:
            for track in active:
                found = track_faces(self.backend, image, track.landmarks, track.box, track.score)
                if not found:
                    run_detector = True  # lost it: look properly this frame
                faces.extend(found)
        if run_detector:
            faces = self._detect(image, faces, active)
            self._since_detect = 0
        else:
            self._since_detect += 1
        faces = [f for f in _dedupe(faces) if f.size >= self.min_size]
        checked: list[Face] = []
        if not faces and self._turn_due(frame, active):
            self.turned_runs += 1
            self._last_turned = frame
            faces = [f for f in _dedupe(turned_faces(self.backend, image)) if f.size >= self.min_size]
            # a turned animal can look human to the mesh, and a face found here may
            # continue a confirmed track, which is never checked again: check it now
            if self.verifier:
                faces = [f for f in faces if self.verifier.check(image, f)]
                checked = faces
            self._fruitless += not faces
        self._last_frame = frame
        faces = self.tracker.update(frame, faces)
        self._confirmed.update(f.track for f in checked)
        faces = self._verified(image, faces, frame) if self.verifier else faces
        if faces:
            self._fruitless = 0
        return faces

    def _turn_due(self, frame: int, active: list) -> bool:
        """Whether a faceless frame is searched turned: every still; in video when a
        confirmed face was just lost, else after TURN_EVERY to TURN_MAX frames."""
        if not self.sequence or self._last_turned is None:
            return True
        wait = min(TURN_EVERY << max(self._fruitless - 1, 0), TURN_MAX)
        return any(t.id in self._confirmed for t in active) or frame - self._last_turned >= wait

    def _human(self, image: np.ndarray, face: Face) -> bool:
        """The human check; a face that fails it is meshed again turned by 90/180/270
        degrees (an upright mesh fitted on an upside-down head fails it), and the first
        turned result that passes replaces the face's landmarks, and its track's."""
        if self.verifier.check(image, face):
            return True
        best = next((t for t in reoriented(self.backend, image, face) if self.verifier.check(image, t)), None)
        if best is None:
            return False
        face.landmarks, face.mesh = best.landmarks, best.mesh
        self._reoriented.append(face)
        if face.track in self.tracker.tracks:
            self.tracker.tracks[face.track].landmarks = best.landmarks
        return True

    def _verified(self, image: np.ndarray, faces: list[Face], frame: int) -> list[Face]:
        """Faces of tracks confirmed human. A new track is checked at once; one
        that fails is checked again every RECHECK frames (a person may turn to
        face the camera) and its faces are dropped until it passes."""
        kept: list[Face] = []
        self._reoriented: list[Face] = []
        for face in faces:
            if not self.sequence:  # unrelated stills: every face stands alone
                if self._human(image, face):
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
                if not self._human(image, face):
                    self.rejected += 1
                    continue
                self._confirmed.add(face.track)
            kept.append(face)
        # a face found again turned may be one another track already follows
        doubles = [r for r in self._reoriented
                   if any(o is not r and box_iou(o.bbox, r.bbox) > SAME_FACE_IOU for o in kept)]
        for face in doubles:
            self._confirmed.discard(face.track)
            self.tracker.tracks.pop(face.track, None)
        return [f for f in kept if not any(f is d for d in doubles)]

    def _detect(self, image: np.ndarray, found: list[Face], active: list) -> list[Face]:
        self.detector_runs += 1
        boxes = self.backend.detect_boxes(image)
        # A face rolled far is meshed turned upright by its track's roll, never in
        # the detector's box (an upright mesh would be fitted onto it). That box
        # may cover only part of the face (the eyes and brow of a head upside down).
        rolled = [t for t in active if is_rolled(t.landmarks)]
        rolled_ids = {t.id for t in rolled}
        boxes = [(b, s) for b, s in boxes if not any(_overlaps(t.box, b) for t in rolled)]
        # Detectors miss profiles and motion blur that the mesh still follows:
        # keep trying tracked faces the detector did not report.
        for track in active:
            if track.id not in rolled_ids and not any(box_iou(track.box, b) > SAME_FACE_IOU for b, _ in boxes):
                boxes.append((track.box, track.score))
        boxes = [(b, s) for b, s in boxes if not any(box_iou(f.bbox, b) > SAME_FACE_IOU for f in found)]
        faces = found + self.backend.faces_in_boxes(image, boxes)
        for track in rolled:
            if not any(box_iou(f.bbox, track.box) > SAME_FACE_IOU for f in faces):
                faces += track_faces(self.backend, image, track.landmarks, track.box, track.score)
        return faces

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


def _overlaps(box: np.ndarray, other: np.ndarray) -> bool:
    """Whether two boxes (x0, y0, x1, y1) share more than PART_OF_FACE of the smaller one."""
    ix = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    iy = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    smaller = min((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
    return bool(smaller > 0 and ix * iy / smaller > PART_OF_FACE)


def _dedupe(faces: list[Face]) -> list[Face]:
    """Drop lower-scored duplicates of the same face."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(box_iou(face.bbox, k.bbox) < 0.5 for k in kept):
            kept.append(face)
    return kept
