"""`faceswap extract` end to end on real footage, through the API and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceswap.data.faceset import AlignmentsFile, alignments_path, iter_faceset, read_crop
from faceswap.extract.options import ExtractOptions
from faceswap.extract.pipeline import extract_source
from faceswap.faces.geometry import warp

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GLOG_minloglevel": "2"}
    return subprocess.run([sys.executable, "-m", "faceswap.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def frames_with_faces(faceset: Path, source: str) -> dict[int, list[dict]]:
    al = AlignmentsFile(alignments_path(faceset, source))
    return {r["frame"]: r["faces"] for r in al.frames.values()}


def test_d18_one_face_one_track(d18_faceset):
    faceset, summary = d18_faceset
    per_frame = frames_with_faces(faceset, "d18.mp4")
    assert len(per_frame) == 216
    with_one = sum(len(f) == 1 for f in per_frame.values())
    assert with_one >= 0.98 * 216
    assert summary.tracks == {0}
    assert len(list(iter_faceset(faceset))) == summary.faces


def test_crop_metadata_recomputes_the_crop_from_the_frame(d18_faceset, d18_frames):
    faceset, _ = d18_faceset
    records = list(iter_faceset(faceset))
    for rec in records[::50]:
        crop, meta = read_crop(rec.path)
        assert meta["crop"]["size"] == crop.shape[0] == 256
        again = warp(d18_frames[meta["frame"]], np.asarray(meta["crop"]["matrix"]), 256)
        assert np.abs(again.astype(int) - crop).mean() < 1.0
        assert len(meta["landmarks"]) == 68 and len(meta["mesh"]) == 478


@pytest.mark.parametrize("clip", ["s18.mp4", "s32.mp4"])
def test_small_faces_in_720p(data, backend, tmp_path, clip):
    summary = extract_source(data / "video" / clip, tmp_path, ExtractOptions(), backend=backend, progress=False)
    assert summary.frames >= 180
    assert summary.frames_with_faces >= 0.95 * summary.frames
    crop, meta = read_crop(next(iter_faceset(tmp_path)).path)
    assert crop.shape == (256, 256, 3)
    # the face fills the crop: its landmarks land inside, and the landmark mask there covers real texture
    from faceswap.faces.geometry import transform_points
    from faceswap.faces.masks import landmark_mask
    pts = transform_points(np.asarray(meta["landmarks"]), np.asarray(meta["crop"]["matrix"]))
    assert (pts > 16).all() and (pts < 240).all(), pts
    mask = landmark_mask(pts, (256, 256), "components") > 127
    assert 0.1 < mask.mean() < 0.8  # measured 0.18 (the crop keeps context round the face)
    assert crop[mask].std() > 10 and crop[mask].std() > 0.5 * crop.std()


def test_stage_shot_tracks_and_reference(data, backend, tmp_path):
    video = data / "video" / "hamilton_stage.mp4"
    everyone = extract_source(video, tmp_path / "all", ExtractOptions(), backend=backend, progress=False)
    assert len(everyone.tracks) > 1
    per_frame = frames_with_faces(tmp_path / "all", video.name)
    # the performer, facing the audience in the second shot
    frame_index = 180
    assert len(per_frame[frame_index]) == 1
    face = per_frame[frame_index][0]
    from faceswap.media.video_reader import VideoReader
    frame = next(img.copy() for i, img in VideoReader(video) if i == frame_index)
    lm = np.asarray(face["landmarks"])
    cx, cy = lm.mean(axis=0)
    half = 1.2 * np.ptp(lm[:, 0])
    y0, y1 = int(max(cy - half, 0)), int(min(cy + half, frame.shape[0]))
    x0, x1 = int(max(cx - half, 0)), int(min(cx + half, frame.shape[1]))
    from faceswap.media.images import write_png
    write_png(tmp_path / "performer.png", frame[y0:y1, x0:x1])

    only = extract_source(video, tmp_path / "ref", ExtractOptions(reference=str(tmp_path / "performer.png")),
                          backend=backend, progress=False)
    kept = frames_with_faces(tmp_path / "ref", video.name)
    assert 0 < only.faces < everyone.faces
    assert all(len(f) <= 1 for f in kept.values())
    assert len(kept[frame_index]) == 1  # the frame the reference was cut from
    kept_lm = np.asarray(kept[frame_index][0]["landmarks"])
    assert np.abs(kept_lm - lm).mean() < 3.0
    # every frame where someone else stood apart from the performer drops that person
    others = 0
    for f, faces in per_frame.items():
        if len(faces) > 1 and kept.get(f):
            others += 1
            mine = np.asarray(kept[f][0]["landmarks"]).mean(axis=0)
            assert min(np.linalg.norm(np.asarray(x["landmarks"]).mean(axis=0) - mine) for x in faces) < 5
    assert len(only.tracks) < len(everyone.tracks)


def test_resume_does_not_redo_frames(data, backend, tmp_path):
    video = data / "video" / "d18.mp4"
    opts = ExtractOptions(every=2)
    first = extract_source(video, tmp_path, opts, backend=backend, progress=False)
    assert first.frames == 108
    # simulate a run killed after 60 processed frames, mid-way through writing a line
    path = alignments_path(tmp_path, video)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:61]) + lines[61][:40])
    kept_files = {json.loads(line)["faces"][0]["file"] for line in lines[1:61]}
    for rec in iter_faceset(tmp_path):
        if rec.path.name not in kept_files:
            rec.path.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.png")}
    second = extract_source(video, tmp_path, opts, backend=backend, progress=False)
    assert second.resumed == 60 and second.frames == 48
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.png") if p.name in before} == before
    assert len(AlignmentsFile(path).frames) == 108
    assert second.tracks == {0}  # the same person keeps the same track id across the restart
    third = extract_source(video, tmp_path, opts, backend=backend, progress=False)
    assert third.frames == 0 and third.resumed == 108


def test_resume_refuses_other_crop_settings(data, backend, tmp_path):
    from faceswap.errors import FaceswapError
    video = data / "video" / "d18.mp4"
    extract_source(video, tmp_path, ExtractOptions(every=50), backend=backend, progress=False)
    with pytest.raises(FaceswapError, match="same --size"):
        extract_source(video, tmp_path, ExtractOptions(every=50, size=128), backend=backend, progress=False)


# --- the CLI: exit codes, one-line errors, files ---------------------------------

def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, text: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and text in errors[0], proc.stderr


def test_cli_negatives_report_no_face(data, tmp_path):
    proc = run_cli("extract", str(data / "negatives"), "-o", str(tmp_path / "out"), "--no-progress")
    assert_one_line_error(proc, 3, "no face found")
    for name in ("s22.jpg", "s30.jpg"):
        assert f"no face found: {name}" in proc.stderr
    assert not list((tmp_path / "out").glob("*.png"))


def test_cli_one_still_without_a_face_says_so_once(data, tmp_path):
    """A single image: the run's one-line error is all of stderr (not a warning, a summary line and the error)."""
    proc = run_cli("extract", str(data / "negatives" / "s22.jpg"), "-o", str(tmp_path / "out"), "--no-progress")
    assert_one_line_error(proc, 3, "no face found in s22.jpg")
    assert proc.stderr.strip().splitlines() == ["error: no face found in s22.jpg"], proc.stderr


def test_cli_stills_with_preview(data, tmp_path):
    import shutil
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("d8.jpg", "d30.jpg", "s3.jpg"):
        shutil.copy(data / "stills" / name, folder / name)
    shutil.copy(data / "negatives" / "s22.jpg", folder / "monkey.jpg")
    (folder / "readme.txt").write_text("not an image")
    proc = run_cli("extract", str(folder), "-o", str(tmp_path / "out"), "--preview", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "skipping readme.txt" in proc.stderr
    assert "no face found: monkey.jpg" in proc.stderr
    crops = sorted((tmp_path / "out").glob("in_*.png"))
    assert [p.name for p in crops] == ["in_d30_0.png", "in_d8_0.png", "in_s3_0.png"]
    # the contact sheet: one row of 128 px tiles, each the crop of its place (plus drawn landmarks)
    import cv2
    sheet = cv2.imread(str(tmp_path / "out" / "contact_sheet.png"))[..., ::-1].astype(np.int16)
    assert sheet.shape == (128, 8 * 128, 3)
    small = [cv2.resize(read_crop(p)[0], (128, 128), interpolation=cv2.INTER_AREA).astype(np.int16) for p in crops]
    for n in range(3):
        tile = sheet[:, n * 128:(n + 1) * 128]
        errors = [np.abs(tile - crop).mean() for crop in small]
        assert int(np.argmin(errors)) == n and errors[n] < 8, errors
    assert (sheet[:, 3 * 128:] == 32).all()  # the empty places


def test_cli_bad_inputs(data, tmp_path):
    assert_one_line_error(run_cli("extract", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o")),
                          1, "no such file")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(20000))
    assert_one_line_error(run_cli("extract", str(corrupt), "-o", str(tmp_path / "o")), 1, "cannot read video")
    # d18.mp4 keeps its index (moov) at the end: cut short, nothing says where a frame is
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes((data / "video" / "d18.mp4").read_bytes()[:60000])
    assert_one_line_error(run_cli("extract", str(truncated), "-o", str(tmp_path / "t"), "--no-progress"),
                          1, "cannot read video")
    assert not (tmp_path / "t").exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert_one_line_error(run_cli("extract", str(data / "stills" / "d9.jpg"), "-o", str(blocker / "sub")),
                          1, "cannot write to output folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run_cli("extract", str(empty), "-o", str(tmp_path / "o2")), 1, "no images in")


def test_cli_truncated_video_keeps_the_frames_that_decode(data, tmp_path):
    """A copy cut off mid-transfer, with its index first (faststart): the frames that are there are
    extracted, the run succeeds, and one warning names the file and the decode errors."""
    from faceswap.media.ffmpeg_bin import ffmpeg_exe
    from faceswap.qc.integrity import count_frames
    faststart = tmp_path / "faststart.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(data / "video" / "d18.mp4"), "-map", "0", "-c", "copy",
                    "-movflags", "+faststart", str(faststart)], check=True)
    raw = faststart.read_bytes()
    assert raw.find(b"moov") < raw.find(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(raw[:len(raw) // 2])
    decodable, decode_error = count_frames(cut)
    assert 50 < decodable < 216 and decode_error  # measured: 95 of 216
    proc = run_cli("extract", str(cut), "-o", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "decode errors" in ln]
    assert len(warnings) == 1 and "cut.mp4" in warnings[0], proc.stderr
    per_frame = frames_with_faces(tmp_path / "out", "cut.mp4")
    assert sorted(per_frame) == list(range(decodable))
    assert sum(len(f) == 1 for f in per_frame.values()) >= 0.98 * decodable
    assert f"{decodable} frames" in proc.stdout


def test_cli_help_documents_every_option():
    proc = run_cli("extract", "--help")
    assert proc.returncode == 0
    for opt in ("--output", "--size", "--centering", "--coverage", "--every", "--min-size", "--detector",
                "--reference", "--preview", "--detect-every"):
        assert opt in proc.stdout
    assert "default: 256" in " ".join(proc.stdout.split())  # wherever the help wraps


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_cli_ctrl_c_keeps_work_and_resumes(data, tmp_path, sig):
    """Ctrl-C, and SIGTERM (a render farm's stop) the same way: exit 130, every frame recorded has
    its crops on disk, and the same command resumes after them."""
    import signal
    import time
    out = tmp_path / "out"
    env = {**os.environ, "GLOG_minloglevel": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "faceswap.cli", "extract", str(data / "video" / "d14.mp4"),
                             "-o", str(out), "--no-progress"], stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_sigint_default)
    path = alignments_path(out, "d14.mp4")
    deadline = time.time() + 120
    while time.time() < deadline and (not path.exists() or path.read_text().count("\n") < 30):
        time.sleep(0.2)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
    done = AlignmentsFile(path).frames
    assert 29 <= len(done) < 536
    crops = {p.name for p in out.glob("d14_*.png")}
    assert {f["file"] for r in done.values() for f in r["faces"]} <= crops  # every recorded crop is on disk
    again = run_cli("extract", str(data / "video" / "d14.mp4"), "-o", str(out), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert f"{len(done)} frames already done" in again.stdout
    assert len(AlignmentsFile(path).frames) == 536


def _sigint_default() -> None:
    """In the child: SIGINT as a terminal's Ctrl-C finds it. A runner started in the background
    (`cmd &` in a script) hands its children SIGINT ignored, and Python then never raises
    KeyboardInterrupt; that is the shell's doing, not what these tests are about."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
