"""qc's `sharpness` and `seam`: what the eye sees first, on d19 and copies of it made worse on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswap.faces.glasses import BARE_CONTRAST, GlassesTracker, rims_matte
from faceswap.faces.masks import landmark_mask
from faceswap.media.ffmpeg_bin import ffmpeg_exe
from faceswap.media.video_reader import VideoReader
from faceswap.qc import QcOptions, run_qc
from faceswap.qc.appearance import SEAM_MASK, SEAM_SECTOR_NAMES, SEAM_SECTORS, seam, seam_sectors, sharpness
from faceswap.qc.measures import largest
from faceswap.qc.report import summary_lines

pytestmark = pytest.mark.slow

# Frames of d19 measured (and changed in the worsened copies); the rest of each copy is d19 as is.
FRAMES = 24
BLUR_SIGMA = 3.0    # px, the Gaussian blur over the face in the "soft swap" copy
WEDGE_LEVELS = 25   # how much darker the wedge on the right temple is
WEDGE_HALF = 30     # degrees either side of the direction from the face centre to the brow's outer end


def _write(frames, path: Path, audio_from: Path, fps: float) -> None:
    """RGB frames -> H.264 (CRF 18) with the audio of `audio_from`, through the bundled ffmpeg."""
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-", "-i", str(audio_from), "-map", "0:v", "-map", "1:a",
           "-c:v", "libx264", "-crf", "18", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "copy", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for frame in frames:
        proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    proc.stdin.close()
    assert proc.wait() == 0


def _soft(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The face inside convert's default mask blurred, with a feathered edge: a soft swap."""
    alpha = cv2.GaussianBlur(landmark_mask(lm, frame.shape[:2], SEAM_MASK).astype(np.float32) / 255, (0, 0), 2)
    blurred = cv2.GaussianBlur(frame, (0, 0), BLUR_SIGMA).astype(np.float32)
    out = frame * (1 - alpha[..., None]) + blurred * alpha[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _wedge(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """A dark wedge with a hard edge inside the mask on the right temple: the rest of the face as is."""
    h, w = frame.shape[:2]
    centre = lm.mean(axis=0)
    towards = np.degrees(np.arctan2(*(lm[17] - centre)[::-1]))
    ys, xs = np.mgrid[0:h, 0:w]
    angle = np.degrees(np.arctan2(ys - centre[1], xs - centre[0]))
    within = np.abs((angle - towards + 180) % 360 - 180) <= WEDGE_HALF
    region = within & (landmark_mask(lm, (h, w), SEAM_MASK) >= 128)
    out = frame.astype(np.int16)
    out[region] -= WEDGE_LEVELS
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clips(data, backend, tmp_path_factory) -> dict[str, Path]:
    """d19 stream-copied; with the face blurred (sigma 3 px) in the first FRAMES frames; with a
    darkened wedge on the right temple in the first FRAMES frames. Full length, d19's sound."""
    root = tmp_path_factory.mktemp("qc_sharpness")
    d19 = data / "video" / "d19.mp4"
    out = {"original": d19, "copy": root / "copy.mp4", "soft": root / "soft.mp4", "wedge": root / "wedge.mp4"}
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(d19), "-map", "0",
                    "-c", "copy", str(out["copy"])], check=True)
    reader = VideoReader(d19)
    soft, wedge = [], []
    for index, frame in reader:
        face = largest(backend.detect(frame)) if index < FRAMES else None
        soft.append(frame.copy() if face is None else _soft(frame, face.landmarks))
        wedge.append(frame.copy() if face is None else _wedge(frame, face.landmarks))
    _write(soft, out["soft"], d19, reader.info.fps)
    _write(wedge, out["wedge"], d19, reader.info.fps)
    return out


def _appearance(clips, name: str, tmp_path: Path | None = None):
    report = str(tmp_path / name) if tmp_path else None
    r = run_qc(clips[name], clips["original"], options=QcOptions(max_frames=FRAMES, report=report))
    print(f"[{name}] " + " | ".join(line.strip() for line in summary_lines(r.summary)[1:5]))
    return r, r.summary["appearance"]


def test_unchanged_copy_is_as_sharp_and_has_no_seam(clips):
    r, look = _appearance(clips, "copy")
    assert look["sharpness"]["frames"] == look["seam"]["frames"] == FRAMES
    assert look["sharpness"]["min"] == look["sharpness"]["max"] == 1.0, look["sharpness"]
    assert look["seam"]["max"] == 0.0, look["seam"]
    assert r.ok


def test_soft_face_scores_well_under_one(clips, tmp_path):
    """d19 with its face blurred by sigma 3 px measures 0.22 of the footage's detail once encoded
    (0.13 before: H.264 adds some grain of its own); a face rendered at 64 px and enlarged 4x
    measures about 0.2, an unchanged copy re-encoded at CRF 18 about 1.0."""
    r, look = _appearance(clips, "soft", tmp_path)
    s = look["sharpness"]
    assert s["frames"] == FRAMES
    assert s["max"] < 0.4 and s["mean"] < 0.35, s
    # the feathered blur leaves the mask's edge nearly as it was: no seam of note
    assert look["seam"]["mean"] < 2.0, look["seam"]
    # in the report: frames.csv per frame, the plot, the worst-frames sheet, the printed summary
    rep = tmp_path / "soft"
    lines = (rep / "frames.csv").read_text().splitlines()
    col = lines[0].split(",").index("sharpness")
    per_frame = [float(line.split(",")[col]) for line in lines[1:]]
    assert len(per_frame) == FRAMES and max(per_frame) == pytest.approx(s["max"], abs=1e-4)
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["appearance"]["sharpness"]["mean"] == s["mean"]
    plot = cv2.imread(str(rep / "sharpness.png"))
    assert plot is not None and plot.shape[1] > 300
    copy_sheet = cv2.imread(str(_appearance(clips, "copy", tmp_path)[0].report["worst_frames"]))
    soft_sheet = cv2.imread(str(rep / "worst_frames.png"))
    assert soft_sheet.shape[0] > copy_sheet.shape[0]  # a row of frames under the sharpness title
    assert any(line.strip().startswith("appearance sharpness 0.") for line in summary_lines(summary))


def test_dark_wedge_on_a_temple_is_a_seam(clips, tmp_path):
    """A 60-degree wedge 25 levels darker inside the mask on one temple: the sector holding it
    steps by 25 levels, while averaged over the whole outline it would be 5."""
    r, look = _appearance(clips, "wedge", tmp_path)
    assert look["seam"]["frames"] == FRAMES
    assert look["seam"]["min"] > 15 and look["seam"]["mean"] > 18, look["seam"]
    # the inner face was not touched (but for where the wedge crosses the brow's end): detail as the footage's
    assert 0.85 < look["sharpness"]["mean"] < 1.1, look["sharpness"]
    gated = run_qc(clips["wedge"], clips["original"], options=QcOptions(max_frames=FRAMES, fail_over=["seam=2"]))
    assert [g["ok"] for g in gated.summary["gates"]] == [False] and not gated.ok
    # where: the frame's upper left (the face's right temple), and the summary line says so
    where = look["seam_by_sector"]
    assert where["largest_at"] in ("9-10 o'clock", "10-11 o'clock", "11-12 o'clock"), where
    by_name = {s["where"]: s for s in where["sectors"]}
    assert by_name[where["largest_at"]]["mean"] > 15 and by_name[where["largest_at"]]["largest_share"] > 0.5, where
    assert all(by_name[name]["mean"] < 3 for name in ("1-2 o'clock", "2-3 o'clock", "3-4 o'clock")), where
    assert where["largest_mean"] == by_name[where["largest_at"]]["mean"] and where["next_mean"] <= where["largest_mean"]
    assert any(f"(most at {where['largest_at']} of the frame" in line for line in summary_lines(r.summary))
    # frames.csv: each frame's worst sector by the hour it starts at, on the wedge's side
    lines = (tmp_path / "wedge" / "frames.csv").read_text().splitlines()
    col = lines[0].split(",").index("seam_at")
    hours = [int(line.split(",")[col]) for line in lines[1:]]
    assert len(hours) == FRAMES and sum(h in (9, 10, 11) for h in hours) >= 0.9 * FRAMES, hours


def test_gates_exit_4_on_the_soft_copy_only(clips):
    env = {**os.environ, "GLOG_minloglevel": "2"}

    def qc(name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "faceswap.cli", "qc", str(clips[name]), "-i",
                               str(clips["original"]), "--max-frames", "8", "--no-progress",
                               "--fail-under", "sharpness=0.7", "--fail-over", "seam=2"],
                              capture_output=True, text=True, env=env, timeout=600)

    copy, soft = qc("copy"), qc("soft")
    assert copy.returncode == 0, copy.stdout + copy.stderr
    assert soft.returncode == 4, soft.stdout + soft.stderr
    last = soft.stdout.strip().splitlines()[-1]
    assert last.startswith("FAIL (1)") and "--fail-under sharpness=0.7" in last, soft.stdout


def test_measures_on_one_frame(data, backend):
    """Exact 1 and 0 on the same frame; a uniform change of brightness is no seam (the step the
    footage has is subtracted); flat footage does not divide by nothing."""
    frame = next(f.copy() for _, f in VideoReader(data / "video" / "d19.mp4"))
    face = largest(backend.detect(frame))
    lm = face.landmarks
    assert sharpness(frame, frame, lm) == 1.0 and seam(frame, frame, lm, face.size) == 0.0
    brighter = np.clip(frame.astype(np.int16) + 10, 0, 255).astype(np.uint8)
    assert seam(brighter, frame, lm, face.size) < 0.5
    assert sharpness(brighter, frame, lm) == pytest.approx(1.0, abs=0.01)
    flat = np.full_like(frame, 128)
    noise = np.clip(128 + np.random.default_rng(0).normal(0, 1, frame.shape), 0, 255).astype(np.uint8)
    assert sharpness(flat, flat, lm) == 1.0
    ratio = sharpness(noise, flat, lm)  # an energy of ~0.3 against nothing: bounded by the floor
    assert np.isfinite(ratio) and 1.5 < ratio < 6, ratio
    assert sharpness(flat, frame, lm) < 0.15  # no detail at all where the footage has it
    # a face off the frame is not measured
    assert sharpness(frame, frame, lm + 5000) is None and seam(frame, frame, lm + 5000, face.size) is None


def test_the_seam_is_placed_on_the_sector_that_holds_it(data, backend):
    """A wedge darkened on the face's right temple (the frame's left) steps in the sector that
    points at it, by the wedge's depth, and not on the far side; the seam is the largest sector."""
    frame = next(f.copy() for _, f in VideoReader(data / "video" / "d19.mp4"))
    face = largest(backend.detect(frame))
    lm = face.landmarks
    wedged = _wedge(frame, lm)
    steps = seam_sectors(wedged, frame, lm, face.size)
    assert steps.shape == (SEAM_SECTORS,) and len(SEAM_SECTOR_NAMES) == SEAM_SECTORS
    centre = lm.mean(axis=0)

    def sector_towards(point: np.ndarray) -> int:
        dx, dy = point - centre
        return int((np.arctan2(dy, dx) + np.pi) * SEAM_SECTORS / (2 * np.pi)) % SEAM_SECTORS

    near, far = sector_towards(lm[17]), sector_towards(lm[26])
    assert steps[near] > 0.6 * WEDGE_LEVELS, (SEAM_SECTOR_NAMES[near], steps)
    assert steps[far] < 2.0, (SEAM_SECTOR_NAMES[far], steps)
    assert seam(wedged, frame, lm, face.size) == float(np.nanmax(steps))
    assert SEAM_SECTOR_NAMES[near] in ("9-10 o'clock", "10-11 o'clock", "11-12 o'clock")
    assert np.all(np.nan_to_num(seam_sectors(frame, frame, lm, face.size)) == 0.0)


def test_glasses_removed_by_design_are_not_read_as_lost_detail(data, backend, tmp_path):
    """d19 with his glasses painted out and the face otherwise untouched (what convert's default
    `--glasses face` gives by design): without the rims the inner face has about 0.75 of its detail
    (RMS), so without `--glasses` it reads about 0.75; with it, the rims are left out of both videos and
    it reads 1. A blurred face still reads soft with the glasses left out."""
    d19 = data / "video" / "d19.mp4"
    reader = VideoReader(d19)
    bare, soft = [], []
    tracker = GlassesTracker()   # one track, as qc follows the measured face
    for index, frame in reader:
        face = largest(backend.detect(frame)) if index < 8 else None
        if face is None:
            bare.append(frame.copy())
            soft.append(frame.copy())
            continue
        hole = rims_matte(frame.shape[:2], tracker.rims(frame, face.landmarks, 0), grow=1.0) > 0
        bare.append(cv2.inpaint(frame, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA))
        soft.append(_soft(bare[-1], face.landmarks))
    _write(bare, tmp_path / "bare.mp4", d19, reader.info.fps)
    _write(soft, tmp_path / "soft.mp4", d19, reader.info.fps)

    def measured(path: Path, glasses: bool, original: Path = d19) -> dict:
        return run_qc(path, original, options=QcOptions(max_frames=8, glasses=glasses)).summary

    counted, left_out = measured(tmp_path / "bare.mp4", False), measured(tmp_path / "bare.mp4", True)
    assert counted["appearance"]["sharpness"]["mean"] < 0.85, counted["appearance"]
    assert 0.93 < left_out["appearance"]["sharpness"]["mean"] < 1.07, left_out["appearance"]
    worn = left_out["appearance"]["glasses"]
    assert 0.08 < worn["left_out_share"] < 0.35 and worn["rim_contrast"] > BARE_CONTRAST, worn
    assert not worn["seem_bare"]
    assert counted["appearance"]["glasses"] is None and not left_out["warnings"]
    assert not any("glasses' rims" in line for line in summary_lines(counted))
    assert any("of the original's detail (the glasses' rims left out: " in line for line in summary_lines(left_out))
    assert measured(tmp_path / "soft.mp4", True)["appearance"]["sharpness"]["mean"] < 0.4
    # --glasses on a face without any: said, as the brows and lids were left out instead
    bare_face = data / "video" / "d18.mp4"
    wrong = measured(bare_face, True, bare_face)
    assert wrong["appearance"]["glasses"]["seem_bare"], wrong["appearance"]["glasses"]
    assert len(wrong["warnings"]) == 1 and wrong["warnings"][0].startswith("--glasses: no rim stands out"), wrong
