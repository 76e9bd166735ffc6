"""Long shots converted in segments (convert/segments.py): killed with SIGKILL and resumed, joined by
stream copy, and the same as a one-piece conversion (frames, sound, provenance)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import faceswap
from faceswap.convert import segments
from faceswap.convert.occlusion import REACH
from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import Converter
from faceswap.convert.segments import context_frames, convert_in_segments, plan_segments, work_folder
from faceswap.errors import FaceswapError
from faceswap.media.ffmpeg_bin import ffmpeg_exe, run_ffmpeg
from faceswap.media.timecode import read_timecode, shift_timecode
from faceswap.media.video_reader import VideoReader
from faceswap.provenance import hash_file, job_key, read_container_tags, read_sidecar, record_job_key, sidecar_path
from faceswap.qc.integrity import audio_seconds

pytestmark = pytest.mark.slow

CLIP = "d14.mp4"     # 536 frames at 30 fps, with sound
FRAMES = "0:300"     # three segments of SEGMENT frames
SEGMENT = 100
FRAME_S = 1 / 30

# Run in a child process that the test kills with SIGKILL (the code under test, whichever tree it is in).
KILLED_RUN = """import sys
from pathlib import Path
from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import Converter
from faceswap.convert.segments import convert_in_segments
convert_in_segments(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]),
                    ConvertOptions(codec="ffv1", frames=sys.argv[4]), int(sys.argv[5]), progress=False)
"""


def frames_of(path: Path) -> list[np.ndarray]:
    return [frame.copy() for _, frame in VideoReader(path)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def pcm(path: Path) -> np.ndarray:
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", "8000", "-f",
                          "s16le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, np.int16).astype(np.float32)


def test_plan_covers_the_range_with_context_and_keeps_whole_what_it_cannot_join(data, tmp_path):
    src = data / "video" / CLIP
    options = ConvertOptions(frames="10:335")
    plan = plan_segments(src, tmp_path / "out.mp4", options, SEGMENT)
    back, ahead = context_frames(options)
    assert [(s.start, s.end) for s in plan] == [(10, 110), (110, 210), (210, 310), (310, 335)]
    # the stabiliser's window and bridge reach, plus the face finder's warm-up, on its detection phase
    # ahead: the stabiliser's look-ahead (9), the occlusion masks' (2 x REACH), the edge match's window (4)
    # and the expression fit's (6)
    assert back >= max(6, options.bridge_gap) + 4 + 6 and back % options.detect_every == 0
    assert ahead == 9 + 2 * REACH + 4 + 6
    off = context_frames(ConvertOptions(frames="10:335", expression="off"))
    assert off[1] == 9 + 2 * REACH + 4
    assert [(s.read_start, s.read_end) for s in plan] == [(10, 110 + ahead), (110 - back, 210 + ahead),
                                                          (210 - back, 310 + ahead), (310 - back, 335)]
    # a segment length off the detection period still starts each read on the job's phase
    odd = plan_segments(src, tmp_path / "out.mp4", options, 101)
    assert [s.read_start for s in odd][0] == 10 and len(odd) == 4
    assert all((s.read_start - 10) % options.detect_every == 0 and s.start - s.read_start >= back for s in odd[1:])
    assert len({s.key for s in plan}) == 4 and all(s.path.parent == work_folder(tmp_path / "out.mp4") for s in plan)
    # the key follows the options; nothing is written by planning
    assert plan_segments(src, tmp_path / "out.mp4", ConvertOptions(frames="10:335", blur=3), SEGMENT)[0].key \
        != plan[0].key
    assert not work_folder(tmp_path / "out.mp4").exists()
    # a shot without END: the last segment writes to the footage's end
    assert plan_segments(src, tmp_path / "out.mp4", ConvertOptions(), 200)[-1].to_end
    # one piece: one segment's worth, a PNG sequence, reenact, images, variable frame rate
    assert plan_segments(src, tmp_path / "out.mp4", ConvertOptions(frames="0:100"), SEGMENT) == []
    assert plan_segments(src, tmp_path / "frames", options, SEGMENT) == []
    assert plan_segments(src, tmp_path / "out.mp4", ConvertOptions(mode="reenact", driver=str(src)), SEGMENT) == []
    assert plan_segments(data / "stills", tmp_path / "out", ConvertOptions(), 1) == []
    vfr = tmp_path / "vfr.mp4"  # frames 20-40 cut out, the rest at their own times
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(src), "-t", "8", "-vf",
                    "select='not(between(n,20,40))',scale=128:128", "-fps_mode", "vfr", "-c:v", "libx264",
                    "-preset", "ultrafast", "-an", str(vfr)], check=True)
    assert plan_segments(vfr, tmp_path / "out.mp4", ConvertOptions(), SEGMENT) == []
    # refused before any work: an existing output, a range past the end
    taken = tmp_path / "taken.mp4"
    taken.write_bytes(b"someone's")
    with pytest.raises(FaceswapError, match="exists: pass --overwrite"):
        convert_in_segments(src, tmp_path / "no-model", taken, ConvertOptions(), SEGMENT, progress=False)
    with pytest.raises(FaceswapError, match="ends past the end of d14.mp4"):
        convert_in_segments(src, tmp_path / "no-model", tmp_path / "new.mp4", ConvertOptions(frames="0:9999"),
                            SEGMENT, progress=False)
    assert taken.read_bytes() == b"someone's" and not (tmp_path / "new.mp4").exists()


def test_timecode_moves_with_the_first_frame():
    assert shift_timecode("01:00:00:00", 100, 30) == "01:00:03:10"
    assert shift_timecode("23:59:59:24", 1, 25) == "00:00:00:00"
    # drop-frame: frames 00 and 01 of every minute but each tenth are not counted
    assert shift_timecode("00:00:59;29", 1, 29.97) == "00:01:00;02"
    assert shift_timecode("00:09:59;29", 1, 29.97) == "00:10:00;00"
    assert shift_timecode("01:00:00;00", 17982, 29.97) == "01:10:00;00"


def test_killed_segmented_run_resumes_and_equals_one_piece(data, swap_model, one_piece, tmp_path, monkeypatch,
                                                           frame_count):
    src, out = data / "video" / CLIP, tmp_path / "seg.mkv"
    work = work_folder(out)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(faceswap.__file__).parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])])}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(src), str(swap_model), str(out), FRAMES,
                             str(SEGMENT)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 240
    while not (work / "0000.json").exists():
        assert proc.poll() is None, proc.stderr.read().decode(errors="replace")[-2000:]
        assert time.time() < deadline, "no segment finished in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    killed_s = time.perf_counter() - started
    # nothing under the final name; every segment file under its own name is the one its record vouches for
    assert not out.exists() and not sidecar_path(out).exists()
    records = {p.stem: json.loads(p.read_text()) for p in work.glob("[0-9][0-9][0-9][0-9].json")}
    assert 1 <= len(records) < 3, sorted(records)
    assert all(hash_file(work / r["file"]) == r["sha256"] for r in records.values())
    before = {f"{name}.mkv": ((s := (work / f"{name}.mkv").stat()).st_ino, s.st_mtime_ns) for name in records}

    # rerun: the finished segments are not converted again (their files untouched), the rest are
    seen: dict[str, tuple[int, int]] = {}
    join = segments.join_segments

    def watch_join(*args):
        seen.update({s.path.name: (s.path.stat().st_ino, s.path.stat().st_mtime_ns) for s in args[4]})
        return join(*args)

    monkeypatch.setattr(segments, "join_segments", watch_join)
    started = time.perf_counter()
    summary = convert_in_segments(src, swap_model, out, ConvertOptions(codec="ffv1", frames=FRAMES), SEGMENT,
                                  progress=False)
    rerun_s = time.perf_counter() - started
    assert [s["skipped"] for s in summary.segments] == [f"{i:04d}" in records for i in range(3)]
    assert all(seen[name] == stat for name, stat in before.items()), (before, seen)
    assert not work.exists()

    # the same as one piece: frames, sound, provenance
    assert frame_count(out) == frame_count(one_piece) == summary.frames == 300
    ours, theirs = audio_seconds(out), audio_seconds(one_piece)
    assert ours is not None and theirs is not None and abs(ours - theirs) <= FRAME_S, (ours, theirs)
    a, b = pcm(out), pcm(one_piece)
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.99  # in sync: the same sound at the same time
    values = [psnr(x, y) for x, y in zip(frames_of(out), frames_of(one_piece), strict=True)]
    print(f"\nkilled after {len(records)} segment(s) at {killed_s:.1f} s, rerun {rerun_s:.1f} s; frames identical: "
          f"{sum(np.isinf(values))}/{len(values)}, minimum PSNR {min(values):.2f} dB")
    assert min(values) >= 60.0
    record, whole = read_sidecar(out), read_sidecar(one_piece)
    assert record_job_key(record) == record_job_key(whole) is not None
    assert record["changed_tracks"] == whole["changed_tracks"]
    assert record["output"]["sha256"] == hash_file(out)


def test_h264_segments_keep_count_sound_timecode_colour_and_provenance(data, swap_model, tmp_path, frame_count):
    src = tmp_path / "plate.mp4"  # d14 with a start timecode, as a camera or an edit writes it
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(data / "video" / CLIP), "-c", "copy", "-timecode",
                    "01:00:00:00", str(src)], check=True)
    out = tmp_path / "shot.mp4"
    options = ConvertOptions(frames="100:400")
    started = time.perf_counter()
    summary = convert_in_segments(src, swap_model, out, options, SEGMENT, progress=False)
    print(f"\nH.264 in {len(summary.segments)} segments: {summary.frames} frames in "
          f"{time.perf_counter() - started:.1f} s")
    assert [s["skipped"] for s in summary.segments] == [False] * 3
    assert frame_count(out) == summary.frames == 300
    sound = audio_seconds(out)
    assert sound is not None and abs(sound - 300 * FRAME_S) <= FRAME_S, sound
    # provenance: the sidecar names the one-piece job, the container carries the record's digest
    record = read_sidecar(out)
    assert record_job_key(record) == job_key({"input": src}, swap_model, options.to_dict())
    tags = read_container_tags(out)
    assert tags["synthetic"] == "1" and tags["faceswap_record"] == record["record_sha256"]
    runs = record["changed_tracks"]
    assert runs[0]["output_frames"][0] == 0 and runs[-1]["output_frames"][1] == 299
    assert runs[0]["frames"][0] == 100 and runs[-1]["frames"][1] == 399
    # the colour the writer tagged, kept by the stream copy; the timecode of frame 100
    assert "yuv420p(tv, bt709" in run_ffmpeg(["-i", str(out)], "probe").stderr
    assert read_timecode(out) == "01:00:03:10"
    assert not work_folder(out).exists()
    # a one-piece conversion keeps the footage's timecode the same way
    piece = tmp_path / "piece.mov"
    Converter(src, swap_model, piece, ConvertOptions(frames="100:104"), progress=False).run()
    assert read_timecode(piece) == "01:00:03:10"
