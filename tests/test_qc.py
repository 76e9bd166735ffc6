"""`faceswap qc`: objective figures of a converted shot, on real footage and clips derived from it."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswap.media.audio import AudioSource
from faceswap.media.ffmpeg_bin import ffmpeg_exe
from faceswap.media.video_reader import VideoReader
from faceswap.media.writers import open_writer
from faceswap.qc import QcOptions, run_qc
from faceswap.qc.integrity import check_integrity

pytestmark = pytest.mark.slow

def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GLOG_minloglevel": "2"}
    return subprocess.run([sys.executable, "-m", "faceswap.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def figures(name: str, s: dict) -> str:
    """The headline figures of a summary, printed for the record (pytest -s shows them)."""
    def mean(section: str, key: str):
        v = (s[section].get(key) or {}).get("mean")
        return None if v is None else round(v, 4)
    line = (f"[{name}] identity to wanted {mean('identity', 'output_to_wanted')} (input "
            f"{mean('identity', 'input_to_wanted')}), to original {mean('identity', 'output_to_original')}, "
            f"retrieval {s['identity']['retrieval']}; landmark error {mean('expression', 'landmark_error')}, "
            f"pose {mean('expression', 'pose_error_deg')} deg; jitter {mean('temporal', 'jitter')}, flicker "
            f"{mean('temporal', 'flicker')}; swapped {s['coverage']['swapped_frames']}/"
            f"{s['coverage']['input_face_frames']}, no face {s['coverage']['output_no_face_frames']}; "
            f"integrity {'ok' if s['integrity']['ok'] else 'FAILED'}; {s['frames']['measured']} frames in "
            f"{s['seconds']} s")
    print(line)
    return line


@pytest.fixture(scope="module")
def clips(data, tmp_path_factory) -> dict[str, Path]:
    """Clips derived from d19: a stream copy, one without audio, one with two frames dropped,
    and one whose odd frames come from d18 (with d19's sound)."""
    root = tmp_path_factory.mktemp("qc_clips")
    d19, d18 = data / "video" / "d19.mp4", data / "video" / "d18.mp4"
    out = {"copy": root / "copy.mp4", "no_audio": root / "no_audio.mp4", "dropped": root / "dropped.mp4",
           "alternating": root / "alternating.mp4"}
    ffmpeg("-i", str(d19), "-map", "0", "-c", "copy", str(out["copy"]))
    ffmpeg("-i", str(d19), "-map", "0:v", "-c", "copy", "-an", str(out["no_audio"]))
    ffmpeg("-i", str(d19), "-map", "0", "-vf", r"select=not(eq(n\,100))*not(eq(n\,200)),setpts=N/FRAME_RATE/TB",
           "-c:v", "libx264", "-crf", "18", "-preset", "veryfast", "-c:a", "copy", str(out["dropped"]))
    info = VideoReader(d19).info
    with open_writer(out["alternating"], width=info.width, height=info.height, fps=info.fps, crf=18,
                     preset="veryfast", audio=AudioSource(d19)) as writer:
        for (i, a), b in itertools.zip_longest(VideoReader(d19), VideoReader(d18)):  # d18 is the shorter
            writer.write(b[1] if b is not None and i % 2 else a)
    return out


@pytest.fixture(scope="module")
def model(swap_model) -> Path:
    return swap_model


def test_unchanged_copy_measures_zero(clips, data, tmp_path):
    d19 = data / "video" / "d19.mp4"
    r = run_qc(clips["copy"], d19, data / "video" / "d18.mp4",
               QcOptions(identity_every=10, report=str(tmp_path / "rep")))
    s = r.summary
    figures("self-copy", s)
    assert s["frames"]["measured"] == 250
    for section, key in (("expression", "landmark_error"), ("expression", "expression_error"),
                         ("expression", "pose_error_deg"),
                         ("temporal", "jitter"), ("temporal", "flicker")):
        assert s[section][key]["max"] == 0.0, (section, key, s[section][key])
    ident = s["identity"]
    assert ident["retrieval"] == 0.0 and ident["retrieval_frames"] == 25
    assert ident["output_to_wanted"]["mean"] > 0.6 > 0.4 > ident["output_to_original"]["mean"]
    assert ident["gain"] == 0.0
    # an unchanged copy changed no face: every input face counts as not swapped
    assert s["coverage"]["unswapped_frames"] == s["coverage"]["input_face_frames"] == 250
    assert s["integrity"]["ok"] and r.ok and r.failures == []
    # the report folder
    rep = tmp_path / "rep"
    assert json.loads((rep / "summary.json").read_text())["identity"]["retrieval"] == 0.0
    for name in ("worst_frames.png", "identity.png", "jitter.png", "flicker.png"):
        img = cv2.imread(str(rep / name))
        assert img is not None and img.shape[0] > 100 and img.shape[1] > 300, name
    lines = (rep / "frames.csv").read_text().splitlines()
    assert len(lines) == 251 and lines[0].startswith("frame,")


def test_alternating_clip_flickers_and_jitters(clips, data):
    d19 = data / "video" / "d19.mp4"
    s = run_qc(clips["alternating"], d19, data / "video" / "d18.mp4", QcOptions(identity_samples=16)).summary
    figures("alternating d19/d18", s)
    temporal = s["temporal"]
    assert temporal["flicker"]["mean"] > 2.0 and temporal["flicker"]["p95"] > 5.0, temporal["flicker"]
    assert temporal["jitter"]["mean"] > 0.03, temporal["jitter"]
    assert s["expression"]["landmark_error"]["mean"] > 0.02
    assert s["expression"]["expression_error"]["mean"] > 0.005   # two men's mouths and eyes, frame by frame
    # every 5th frame is sampled: odd ones before frame 216 are d18's, so about 4 in 10 are closer to d18
    assert 0.3 < s["identity"]["retrieval"] < 0.6, s["identity"]
    assert s["integrity"]["ok"], s["integrity"]


def test_integrity_fails_on_dropped_frames_and_missing_audio(clips, data, tmp_path):
    d19 = data / "video" / "d19.mp4"
    assert check_integrity(clips["copy"], d19).ok
    damaged = tmp_path / "damaged.mp4"
    raw = bytearray(clips["copy"].read_bytes())
    raw[len(raw) // 2:len(raw) // 2 + 4000] = bytes(4000)
    damaged.write_bytes(bytes(raw))
    assert "decode" in [c.name for c in check_integrity(damaged, d19).failed]
    dropped = check_integrity(clips["dropped"], d19)
    assert [c.name for c in dropped.failed] == ["frame_count"], dropped.to_dict()
    assert dropped.to_dict()["frame_count"]["output"] == 248
    silent = check_integrity(clips["no_audio"], d19)
    assert [c.name for c in silent.failed] == ["audio"], silent.to_dict()
    # through run_qc (measuring a few frames only: integrity still reads the whole files)
    r = run_qc(clips["dropped"], d19, options=QcOptions(max_frames=6))
    assert not r.ok and any("frame_count" in f for f in r.failures), r.failures
    r = run_qc(clips["no_audio"], d19, options=QcOptions(max_frames=6))
    assert not r.ok and any("audio" in f for f in r.failures), r.failures
    r = run_qc(clips["no_audio"], d19, options=QcOptions(max_frames=6, ignore_integrity=["audio"]))
    assert r.ok, r.failures


def test_swap_moves_identity_toward_the_target(model, data, tmp_path):
    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import convert
    d19 = data / "video" / "d19.mp4"
    out = tmp_path / "swap.mp4"
    convert(d19, model, out, ConvertOptions(), progress=False)
    r = run_qc(out, d19, model.parent / "b", QcOptions(identity_every=10, report=str(tmp_path / "rep")))
    s = r.summary
    figures("swap d19->d18 (tiny model)", s)
    ident = s["identity"]
    assert ident["wanted"]["kind"] == "faceset" and ident["wanted"]["faces"] == 32
    assert ident["output_to_wanted"]["mean"] < ident["input_to_wanted"]["mean"], ident
    assert ident["gain"] > 0
    assert ident["output_to_original"]["mean"] > 0.2
    assert s["coverage"]["swapped_share"] > 0.9, s["coverage"]
    assert s["integrity"]["ok"], s["integrity"]
    # measured 0.041 IOD on this footage (docs/qc.md says 0.046); the bound leaves ~45% for run-to-run
    # variation of the tiny model, not the 4x it used to
    assert s["expression"]["landmark_error"]["mean"] < 0.06


def test_cli_exit_codes_and_errors(clips, data, tmp_path):
    d19 = str(data / "video" / "d19.mp4")
    summary = tmp_path / "s.json"
    ok = run_cli("qc", str(clips["copy"]), "--original", d19, "--max-frames", "8", "--no-progress",
                 "--fail-over", "jitter=0.001", "--fail-over", "flicker=0.1", "--json", str(summary))
    assert ok.returncode == 0, ok.stderr
    assert "PASS" in ok.stdout and json.loads(summary.read_text())["pass"] is True
    gated = run_cli("qc", str(clips["copy"]), "--original", d19, "--identity", str(data / "video" / "d18.mp4"),
                    "--identity-samples", "4", "--max-frames", "6", "--identity-every", "3", "--no-progress",
                    "--fail-under", "retrieval=0.5")
    assert gated.returncode == 4, gated.stdout + gated.stderr
    assert "FAIL" in gated.stdout and "retrieval" in gated.stdout
    silent = run_cli("qc", str(clips["no_audio"]), "-i", d19, "--max-frames", "4", "--no-progress", "--json", "-")
    assert silent.returncode == 4
    assert json.loads(silent.stdout)["integrity"]["audio"]["ok"] is False
    for bad in (["qc", str(tmp_path / "missing.mp4"), "--original", d19],
                ["qc", str(clips["copy"]), "--original", d19, "--fail-over", "beauty=1"],
                ["qc", str(clips["copy"]), "--original", d19, "--fail-under", "retrieval"]):
        run = run_cli(*bad)
        assert run.returncode == 1, (bad, run.stdout, run.stderr)
        assert run.stderr.strip().startswith("error:") and len(run.stderr.strip().splitlines()) == 1, run.stderr
    helptext = run_cli("qc", "--help").stdout
    for option in ("--original", "--identity", "--json", "--report", "--fail-under", "--fail-over",
                   "--identity-every", "--max-frames", "--ignore-integrity", "default"):
        assert option in helptext, option


def test_cli_help_names_every_metric_and_check():
    """`faceswap qc --help` lists exactly the gate metrics and integrity checks the package has,
    read from the help a user sees, and without loading the measuring code (fast start)."""
    import re

    from click.testing import CliRunner

    from faceswap import cli
    from faceswap.qc.gates import METRICS
    from faceswap.qc.integrity import FIELDS
    result = CliRunner().invoke(cli.main, ["qc", "--help"], terminal_width=1000)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    listed = re.search(r"Metrics: ([a-z_, ]+)\.", text)
    assert listed, text
    assert listed.group(1).split(", ") == list(METRICS)
    checks = re.search(r"--ignore-integrity \[([a-z_|]+)\]", text)
    assert checks, text
    assert checks.group(1).split("|") == list(FIELDS)
    loaded = subprocess.run([sys.executable, "-c", "import sys, faceswap.cli; print('faceswap.qc.run' in sys.modules)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"


def test_head_pose_of_a_projected_head():
    from faceswap.qc.pose import HEAD_INDICES, HEAD_POINTS, head_pose
    w = h = 480
    camera = np.array([[480.0, 0, 240], [0, 480.0, 240], [0, 0, 1]])

    def project(yaw_deg: float) -> np.ndarray:
        rvec = np.array([0.0, np.radians(yaw_deg), 0.0])
        pts, _ = cv2.projectPoints(HEAD_POINTS, rvec, np.array([0.0, 0.0, 40.0]), camera, None)
        lm = np.zeros((68, 2))
        lm[HEAD_INDICES] = pts[:, 0]
        return lm

    frontal = head_pose(project(0), (w, h))
    turned = head_pose(project(20), (w, h))
    assert np.allclose(frontal, 0, atol=0.5), frontal
    assert abs(turned[0] - 20) < 0.5 and np.allclose(turned[1:], 0, atol=0.5), turned
    # the generic head in camera axes: the brows are above (smaller y than) the chin, nose towards the camera
    assert HEAD_POINTS[0, 1] < HEAD_POINTS[13, 1] and HEAD_POINTS[8, 2] < HEAD_POINTS[4, 2]
