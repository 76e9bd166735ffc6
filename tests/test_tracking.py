"""Track ids: a resumed run or a file's tracks keep their numbers; new faces get new ones."""

from __future__ import annotations

import numpy as np

from faceswap.faces.tracking import Tracker
from faceswap.faces.types import Face


def face_at(x: float, y: float, size: float = 80.0) -> Face:
    # a square of 68 points: enough for box overlap and landmark distance
    t = np.linspace(0.0, 1.0, 17, dtype=np.float32)
    ring = np.concatenate([np.stack([t, 0 * t], 1), np.stack([1 + 0 * t, t], 1),
                           np.stack([1 - t, 1 + 0 * t], 1), np.stack([0 * t, 1 - t], 1)])
    return Face(ring * size + np.float32([x, y]), 0.9)


def test_new_faces_get_ids_above_the_reserved_ones():
    tracker = Tracker()
    tracker.reserve_ids([0, 7, 3])
    first, second = tracker.update(0, [face_at(0, 0), face_at(300, 0)])
    assert (first.track, second.track) == (8, 9)
    # the same face a frame later keeps its id; reserving lower ids never moves the counter back
    tracker.reserve_ids([2])
    again, = tracker.update(1, [face_at(2, 1)])
    assert again.track == 8
    newcomer, = tracker.update(2, [face_at(600, 400)])
    assert newcomer.track == 10


def test_reserving_nothing_keeps_the_numbering():
    tracker = Tracker()
    tracker.reserve_ids([])
    assert tracker.update(0, [face_at(0, 0)])[0].track == 0
