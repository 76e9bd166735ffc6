"""Faces at any roll: an actor upside down or rolling over is found, aligned upright and swapped in place.

Inputs are made from the real footage with the bundled ffmpeg: d18 turned 180 degrees, and d14 (10 s,
15 fps, 256 px) rolling from 0 to 360 degrees (ffmpeg's rotate turns clockwise by the angle given).
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from faceswap.data.faceset import iter_faceset, read_crop
from faceswap.extract.options import ExtractOptions
from faceswap.extract.pipeline import extract_source
from faceswap.faces.finder import FaceFinder
from faceswap.faces.geometry import align_matrix, crop_matrix, warp
from faceswap.media.ffmpeg_bin import ffmpeg_exe
from faceswap.media.video_reader import VideoReader

pytestmark = pytest.mark.slow

ROLL_FPS = 15


def ffmpeg(src: Path, out: Path, *args: str, before: tuple[str, ...] = ()) -> Path:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *before, "-i", str(src), *args,
                    "-an", "-c:v", "libx264", "-crf", "16", str(out)], check=True)
    return out


def wrapped(deg: float) -> float:
    return (deg + 180.0) % 360.0 - 180.0


def roll_deg(landmarks) -> float:
    """The face's roll in degrees, clockwise on screen, from its alignment (frame -> upright face)."""
    m = align_matrix(np.asarray(landmarks))
    return math.degrees(math.atan2(-m[1, 0], m[0, 0]))


@pytest.fixture(scope="module")
def upside_down(data, tmp_path_factory) -> Path:
    return ffmpeg(data / "video" / "d18.mp4", tmp_path_factory.mktemp("roll") / "d18_180.mp4", "-vf", "hflip,vflip")


@pytest.fixture(scope="module")
def rolling(data, tmp_path_factory) -> Path:
    return ffmpeg(data / "video" / "d14.mp4", tmp_path_factory.mktemp("roll") / "d14_roll.mp4", "-t", "10",
                  "-vf", f"fps={ROLL_FPS},scale=256:256,rotate=a='2*PI*t/10'")


def test_upside_down_d18_is_extracted_with_upright_crops(upside_down, backend, d18_frames, tmp_path):
    """Before: 0 of 216 frames (the mesh fits an upright face onto the upside-down head and the human
    check rejects it). Now every frame, each crop the same as the upright clip's crop of that frame."""
    summary = extract_source(upside_down, tmp_path, ExtractOptions(size=64), backend=backend, progress=False)
    assert summary.frames == 216
    assert summary.frames_with_faces >= 0.95 * summary.frames, summary.to_dict()
    assert summary.tracks == {0}
    same, turned = [], []
    for rec in list(iter_faceset(tmp_path))[::10]:
        crop, meta = read_crop(rec.path)
        assert abs(wrapped(roll_deg(meta["landmarks"]) - 180)) < 30
        upright = d18_frames[meta["frame"]]
        c = meta["crop"]
        ref = warp(upright, crop_matrix(backend.detect(upright)[0].landmarks, 64, c["centering"], c["coverage"]), 64)
        ref = ref.astype(float)
        same.append(np.abs(crop - ref).mean())
        turned.append(np.abs(crop[::-1, ::-1] - ref).mean())
    # measured: 2.1 mean (max 6) against 25 for a crop left upside down
    assert max(same) < 8 < min(turned), (same, turned)


def test_a_face_rolling_through_360_degrees_keeps_its_landmarks_the_right_way_up(rolling, backend):
    """Before: a face in 150 of 150 frames, but 65 of them with the mesh flipped (upright landmarks on a
    head past 100 degrees, up to 180 degrees off). Now the face in every frame, never more than 10
    degrees off the roll the clip was given."""
    finder = FaceFinder(backend)
    frames = right = 0
    worst = 0.0
    for index, image in VideoReader(rolling):
        frames += 1
        expected = 360.0 * index / ROLL_FPS / 10
        errors = [abs(wrapped(roll_deg(f.landmarks) - expected)) for f in finder.find(image, index)]
        worst = max([worst, *errors])
        right += any(e < 30 for e in errors)
    assert frames == 150
    assert right >= 0.9 * frames, right
    assert worst < 90, worst  # no face placed upside down or sideways


def test_upright_footage_never_searches_turned(backend, d18_frames, monkeypatch):
    """Cost: on upright footage with a face, no turned search and no re-orientation."""
    import faceswap.faces.finder as finder_module
    tries = []
    monkeypatch.setattr(finder_module, "turned_faces", lambda *a: tries.append("turned") or [])
    monkeypatch.setattr(finder_module, "reoriented", lambda *a: tries.append("reoriented") or iter(()))
    finder = FaceFinder(backend)
    found = sum(bool(finder.find(image, i)) for i, image in enumerate(d18_frames))
    assert found == 216 and tries == [] and finder.turned_runs == 0


def test_faceless_video_searches_turned_only_now_and_then(data, backend, tmp_path):
    """Cost on faceless frames: a turned search once every TURN_EVERY frames, and still no face
    (an animal turned upside down is no more human)."""
    from faceswap.faces.finder import TURN_EVERY
    clip = ffmpeg(data / "negatives" / "s23.jpg", tmp_path / "animal.mp4", "-t", "2", "-r", "15",
                  "-vf", "scale=320:-2", before=("-loop", "1"))
    finder = FaceFinder(backend)
    frames = faces = 0
    for index, image in VideoReader(clip):
        frames += 1
        faces += len(finder.find(image, index))
    assert frames == 30 and faces == 0
    assert finder.turned_runs == math.ceil(frames / TURN_EVERY)
