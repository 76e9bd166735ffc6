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
    """Cost on faceless frames: a turned search on the first frame, then after TURN_EVERY frames, the
    wait doubling up to TURN_MAX while nothing is found; and still no face (an animal turned upside
    down is no more human)."""
    from faceswap.faces.finder import TURN_EVERY, TURN_MAX
    clip = ffmpeg(data / "negatives" / "s23.jpg", tmp_path / "animal.mp4", "-t", "2", "-r", "15",
                  "-vf", "scale=320:-2", before=("-loop", "1"))
    finder = FaceFinder(backend)
    frames = faces = 0
    for index, image in VideoReader(clip):
        frames += 1
        faces += len(finder.find(image, index))
    assert frames == 30 and faces == 0
    starts, wait = [0], TURN_EVERY
    while starts[-1] + wait < frames:
        starts.append(starts[-1] + wait)
        wait = min(2 * wait, TURN_MAX)
    assert finder.turned_runs == len(starts) == 3  # frames 0, 8 and 24


def test_upside_down_swap_is_the_upright_swap_turned(swap_model, data, tmp_path):
    """Convert d18 turned 180 degrees and d18 as it is (2 s each), putting in identity a: the turned
    clip's output is the upright clip's output turned, inside the swapped region. Before: no face found,
    nothing written. Measured now: the region changes by 20 levels and differs from the turned upright
    swap by 1.3 (a swap placed upside down would differ by about as much as it changes)."""
    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import convert
    src = data / "video" / "d18.mp4"
    clips = {"up": ffmpeg(src, tmp_path / "up.mp4", "-t", "2"),
             "down": ffmpeg(src, tmp_path / "down.mp4", "-t", "2", "-vf", "hflip,vflip")}
    frames = {}
    for name, clip in clips.items():
        out = tmp_path / f"{name}_out.mp4"
        # edge match and grain off: the region measured is where the swap differs from the footage,
        # and the edge match brings the outline's band back toward the footage (orientation is tested)
        summary = convert(clip, swap_model, out, ConvertOptions(to="a", edge_match=0.0, grain=0.0), progress=False)
        assert summary.frames == 60 and summary.swapped >= 57, (name, summary.to_dict())
        frames[name] = [f.astype(np.float64) for _, f in VideoReader(clip)]
        frames[name + "_out"] = [f.astype(np.float64) for _, f in VideoReader(out)]
    change, mismatch = [], []
    for i in range(0, 60, 5):
        swapped = np.abs(frames["up_out"][i] - frames["up"][i]).mean(axis=2) > 12
        region = np.rot90(swapped, 2)
        assert region.sum() > 100 * 100
        turned_back = np.rot90(frames["up_out"][i], 2)
        change.append(np.abs(frames["down_out"][i] - frames["down"][i]).mean(axis=2)[region].mean())
        mismatch.append(np.abs(frames["down_out"][i] - turned_back).mean(axis=2)[region].mean())
    assert min(change) > 10 and max(mismatch) < 0.25 * min(change), (change, mismatch)
