"""Faces at any in-plane rotation (roll): a stunt double upside down, an actor lying down.

MediaPipe's detectors and mesh are made for upright faces. Past about 45
degrees of roll they lose the face, or worse, fit an upright mesh onto an
upside-down face (eyes on the mouth), which the human check then rejects. So
a backend never sees a face at more than UPRIGHT radians of roll:

* a tracked face whose last landmarks are rolled that far is meshed in a view
  turned upright by that roll (`faces_upright`): a slow roll is followed frame
  by frame, since the face moves only a few degrees between frames;
* a new face that the human check rejects is meshed again in views turned by
  90, 180 and 270 degrees from its roll (`reoriented`), the finder keeping the
  one the check confirms;
* a frame where nothing is found is searched again turned by 180, 90 and 270
  degrees (`turned_faces`), exactly (np.rot90), no resampling.

Every result is mapped back to frame pixels, so downstream (alignment, crops,
convert's warp back) sees ordinary landmarks and the aligned crops come out
upright. The matrices come from faces/geometry.py. Upright faces take none of
these paths: their landmarks are the ones the backend always gave.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

from .backends import Backend
from .geometry import face_roll, invert, quarter_turn, transform_points, upright_matrix, warp, zoom
from .types import Face

# Below this roll the backends find and mesh faces on the frame as it is
# (MediaPipe's mesh followed a roll clip to about 75 degrees before it flipped).
UPRIGHT = math.radians(30)
# The view around a face is this many face widths wide (MediaPipe's mesh
# crops 2x the face box), VIEW_MIN to VIEW_MAX pixels: a small face is
# enlarged here, in the one resampling that turns it, so the backend's own
# crop of the view is about 1:1 (the mesh sees 256 pixels).
VIEW_CONTEXT = 2.5
VIEW_MIN = 320
VIEW_MAX = 512
# Two results rolled less than this apart are the same orientation of a face.
SAME_ROLL = math.radians(45)
# Quarter turns tried, upside down first: the likeliest after upright.
TURNS = (2, 1, 3)


def is_rolled(landmarks: np.ndarray) -> bool:
    """True when the face with these 68-point landmarks is rolled UPRIGHT or more."""
    return abs(face_roll(landmarks)) >= UPRIGHT


def map_face(face: Face, mat: np.ndarray) -> Face:
    """`face` (found in an image that `mat`, 2x3, maps to frame pixels) in frame pixels;
    a mesh's z is scaled with the matrix."""
    landmarks = transform_points(face.landmarks, mat).astype(np.float32)
    mesh = None
    if face.mesh is not None:
        mesh = face.mesh.copy()
        mesh[:, :2] = transform_points(face.mesh, mat)
        mesh[:, 2] *= zoom(mat)
    return Face(landmarks=landmarks, score=face.score, mesh=mesh, track=face.track)


def faces_upright(backend: Backend, image: np.ndarray, landmarks: np.ndarray, roll: float,
                  score: float, detect: bool = False) -> list[Face]:
    """The backend's faces (frame pixels) in a view of `image` (H, W, 3 RGB) turned by
    -`roll` radians around the face with these landmarks (68, 2 pixels), where that face
    is upright if it is rolled by `roll`: meshed in the landmarks' box, or with `detect`
    found by the detector in the view, nearest the view's middle (for landmarks that may
    be off the face, as an upright mesh on an upside-down head is)."""
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    centre = (lo + hi) / 2
    side = float(max(hi - lo))
    span = VIEW_CONTEXT * side * (1.5 if detect else 1.0)
    size = int(min(VIEW_MAX, max(round(span), VIEW_MIN)))
    mat = upright_matrix(centre, roll, span, size)
    view = warp(image, mat, size, border=cv2.BORDER_CONSTANT, interpolation=cv2.INTER_LINEAR)
    if detect:
        mid = (size - 1) / 2
        near = [(float(np.linalg.norm(f.landmarks.mean(axis=0) - mid)), i, f)
                for i, f in enumerate(backend.detect(view))]
        found = [min(near)[2]] if near and min(near)[0] < size * side / span else []
    else:
        # the face's own extent once upright (its axis-aligned box grows with the roll)
        local = transform_points(landmarks, mat)
        box = np.array([*local.min(axis=0), *local.max(axis=0)], np.float32)
        found = backend.faces_in_boxes(view, [(box, score)])
    back = invert(mat)
    return [map_face(f, back) for f in found]


def track_faces(backend: Backend, image: np.ndarray, landmarks: np.ndarray, box: np.ndarray,
                score: float) -> list[Face]:
    """The face tracked with last landmarks `landmarks` (68, 2) and box `box` (x0, y0, x1,
    y1): the backend on the frame as it is while the face is near upright, else in a
    view turned upright by the face's roll."""
    roll = face_roll(landmarks)
    if abs(roll) < UPRIGHT:
        return backend.faces_in_boxes(image, [(box, score)])
    return faces_upright(backend, image, landmarks, roll, score)


def reoriented(backend: Backend, image: np.ndarray, face: Face) -> Iterator[Face]:
    """The face found again in views turned 180, 90 and 270 degrees from its roll, for a
    face whose landmarks may be upright on an upside-down or sideways head: up to three
    candidates (frame pixels), in that order, each computed when asked for. A candidate
    is given only if it is rolled unlike the face and every earlier candidate (by more
    than SAME_ROLL): an upright face found upright again in a turned view is no news,
    and each check of a candidate costs a human-check call."""
    roll = face_roll(face.landmarks)
    seen = [roll]
    for turns in TURNS:
        for found in faces_upright(backend, image, face.landmarks, roll + turns * math.pi / 2, face.score,
                                   detect=True):
            angle = face_roll(found.landmarks)
            if all(abs(_wrapped(angle - r)) > SAME_ROLL for r in seen):
                seen.append(angle)
                yield found


def _wrapped(angle: float) -> float:
    """`angle` radians brought into [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def turned_faces(backend: Backend, image: np.ndarray) -> list[Face]:
    """Faces (frame pixels) of `image` turned by 180, 90, then 270 degrees: those of the
    first turn that has any. For frames where the upright search found nothing."""
    for turns in TURNS:
        view, mat = quarter_turn(image, turns)
        faces = backend.detect(view)
        if faces:
            back = invert(mat)
            return [map_face(f, back) for f in faces]
    return []
