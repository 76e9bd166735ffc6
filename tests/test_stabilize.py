"""Temporal stability of convert: smoothing, gap bridging and shot cuts, on real landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.convert.stabilize import CutDetector, FrameItem, Stabilizer
from faceswap.data.faceset import AlignmentsFile, alignments_path
from faceswap.faces.types import Face


def _run(stabilizer: Stabilizer, items: list[FrameItem]) -> list[FrameItem]:
    out = []
    for item in items:
        out += stabilizer.push(item)
    return out + stabilizer.flush()


@pytest.fixture(scope="module")
def d18_track(d18_faceset, data):
    """Raw per-frame landmarks of d18's one face, as extract found them: (frames, 68, 2)."""
    folder, _ = d18_faceset
    frames = AlignmentsFile(alignments_path(folder, data / "video" / "d18.mp4")).frames
    ordered = sorted(frames.values(), key=lambda r: r["frame"])
    return np.stack([np.asarray(r["faces"][0]["landmarks"], np.float32) for r in ordered])


def _items(landmarks: np.ndarray, missing: set[int] = frozenset(), shots: dict[int, int] | None = None):
    image = np.zeros((4, 4, 3), np.uint8)
    return [FrameItem(i, image, f"{i:06d}", [] if i in missing else [Face(lm, 1.0, None, 0)],
                      shot=(shots or {}).get(i, 0)) for i, lm in enumerate(landmarks)]


def _jitter(landmarks: np.ndarray) -> float:
    """Mean size of the second difference: frame-to-frame motion that is not smooth movement."""
    return float(np.linalg.norm(np.diff(landmarks, n=2, axis=0), axis=2).mean())


def test_smoothing_lowers_landmark_jitter_of_a_talking_head(d18_track):
    raw = _run(Stabilizer(0, 0), _items(d18_track))
    smooth = _run(Stabilizer(2.0, 0), _items(d18_track))
    raw_lm = np.stack([it.faces[0].landmarks for it in raw])
    smooth_lm = np.stack([it.faces[0].landmarks for it in smooth])
    assert [it.index for it in smooth] == list(range(len(d18_track)))
    np.testing.assert_array_equal(raw_lm, d18_track)  # smoothing 0 changes nothing
    assert _jitter(smooth_lm) < 0.5 * _jitter(raw_lm), (_jitter(smooth_lm), _jitter(raw_lm))
    # and it does not drag the face away: the smoothed face stays within a pixel or two
    assert np.abs(smooth_lm - d18_track).mean() < 1.5


def test_short_gaps_are_bridged_long_ones_are_not(d18_track):
    out = _run(Stabilizer(0, 4), _items(d18_track, missing={50, 51, 52, 120, 121, 122, 123, 124, 125}))
    assert all(out[i].faces for i in (50, 51, 52))
    assert sum(it.bridged for it in out) == 3
    assert not any(out[i].faces for i in range(120, 126))
    # the bridged face lies between its neighbours
    mid = out[51].faces[0].landmarks
    np.testing.assert_allclose(mid, (d18_track[49] + d18_track[53]) / 2, atol=1e-3)


def test_nothing_crosses_a_shot_cut(d18_track):
    shots = {i: int(i >= 100) for i in range(len(d18_track))}
    shifted = d18_track.copy()
    shifted[100:] += 200.0  # a different framing after the cut
    out = _run(Stabilizer(2.0, 4), _items(shifted, missing={99}, shots=shots))
    assert not out[99].faces  # no bridge from one shot into the other
    np.testing.assert_allclose(out[100].faces[0].landmarks.mean(), shifted[100:104].mean(), atol=5)
    assert np.abs(out[98].faces[0].landmarks - d18_track[98]).mean() < 3


def test_cut_detector_on_real_frames(d18_frames, data):
    from faceswap.media.video_reader import VideoReader
    cuts = CutDetector()
    assert max(cuts(f) for f in d18_frames) == 0  # one continuous shot
    d19 = next(iter(VideoReader(data / "video" / "d19.mp4")))[1]
    assert cuts(d19) == 1  # another clip is another shot


def test_cut_detector_finds_the_cut_of_the_stage_clip_only(data):
    from faceswap.media.video_reader import VideoReader
    cuts = CutDetector()
    shots = [cuts(f) for _, f in VideoReader(data / "video" / "hamilton_stage.mp4")]
    assert shots[25] == 1  # the new shot around frame 20
    cuts = CutDetector()
    assert max(cuts(f) for _, f in VideoReader(data / "video" / "d12.mp4")) == 0  # a hand is not a cut
