"""Variable-frame-rate footage: every frame keeps its own time through the writer and convert,
the sound stays with it, and qc's integrity check fails an output whose frames drift."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from faceswap.media.audio import AudioSource
from faceswap.media.ffmpeg_bin import ffmpeg_exe
from faceswap.media.timing import read_timeline, variable_timeline
from faceswap.media.video_reader import VideoReader
from faceswap.media.writers import open_writer
from faceswap.qc.integrity import audio_seconds, check_integrity, frame_times

# The sound's loudness wobbles without repeating within the clip, so a shifted cut shows.
_SOUND = "aevalsrc='sin(2*PI*440*t)*(0.55+0.45*sin(2*PI*1.3*t)*sin(2*PI*0.37*t+1))':s=44100:d=5"


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def vfr(data, tmp_path_factory) -> Path:
    """d18's first 5 s (30 fps) with frames 30-59 cut out, as an edit leaves them: 120 frames,
    a 1 s hole in the timestamps after frame 29, and a sound of 5 s."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    ffmpeg("-i", str(data / "video" / "d18.mp4"), "-f", "lavfi", "-i", _SOUND, "-map", "0:v", "-map", "1:a",
           "-t", "5", "-vf", r"select='not(between(n\,30\,59))'", "-fps_mode", "passthrough",
           "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(path))
    return path


def loudness(path: Path, start_s: float = 0.0, seconds: float = 10.0) -> np.ndarray:
    """Mean absolute level of `path`'s sound in 10 ms steps, from `start_s` on."""
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{start_s:.4f}", "-i", str(path), "-vn", "-ac", "1",
                          "-ar", "8000", "-t", str(seconds), "-f", "s16le", "-"], capture_output=True, check=True).stdout
    x = np.abs(np.frombuffer(pcm, np.int16).astype(np.float32))
    return x[:len(x) // 80 * 80].reshape(-1, 80).mean(axis=1)


def sound_lag(reference: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    """(lag in seconds, correlation) of the best match of `got` against the start of
    `reference`, searched within +-50 ms."""
    def corr(k: int) -> float:
        n = min(len(got), len(reference) - 5) - 10
        return float(np.corrcoef(reference[5 + k:5 + k + n], got[5:5 + n])[0, 1])
    best = max(range(-5, 6), key=corr)
    return best / 100, corr(best)


def test_timeline_finds_the_hole(vfr, data):
    t = read_timeline(vfr)
    assert len(t) == 120 == sum(1 for _ in VideoReader(vfr))
    assert abs(t.seconds(29) - 29 / 30) < 1e-6 and abs(t.seconds(30) - 60 / 30) < 1e-6
    assert abs(t.span(0, 120) - 5.0) < 1e-6 and abs(t.span(40, 60) - 2.0) < 1e-6
    assert t.variable and variable_timeline(vfr, VideoReader(vfr).info.fps) is not None
    # constant-rate footage stays constant: it is written as it always was
    for clip in ("d18.mp4", "d12.mp4", "hamilton_stage.mp4"):
        assert variable_timeline(data / "video" / clip, VideoReader(data / "video" / clip).info.fps) is None, clip


def test_png_sequence_lists_each_frames_time(vfr, tmp_path):
    """PNG frames carry no time: sequence.json says where each frame of a VFR range belongs."""
    import json
    reader = VideoReader(vfr)
    timeline = variable_timeline(vfr, reader.info.fps)
    with open_writer(tmp_path / "frames", "png", width=reader.info.width, height=reader.info.height,
                     fps=reader.info.fps, timeline=timeline) as writer:
        for index, frame in reader:
            if 20 <= index < 40:
                writer.write(frame, index)
    info = json.loads((tmp_path / "frames" / "sequence.json").read_text())
    times = np.asarray(info["times"])
    assert info["variable_rate"] and len(times) == 20 and times[0] == 0
    # frames 20-29 a 30th of a second apart, then the 1 s hole before frame 30
    assert np.allclose(np.diff(times[:10]), 1 / 30, atol=1e-4) and abs(times[10] - (40 / 30)) < 1e-4, times


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".mov", "prores"), (".mkv", "ffv1")])
def test_writer_keeps_each_frames_time_and_the_sound(vfr, tmp_path, suffix, codec):
    reader = VideoReader(vfr)
    info = reader.info
    timeline = variable_timeline(vfr, info.fps)
    out = tmp_path / f"out{suffix}"
    with open_writer(out, codec, width=info.width, height=info.height, fps=info.fps, timeline=timeline,
                     audio=AudioSource(vfr, 0.0, timeline.span(0, len(timeline)))) as writer:
        for index, frame in reader:
            writer.write(frame, index)
    got, want = frame_times(out), frame_times(vfr)
    assert len(got) == len(want) == 120
    assert np.max(np.abs(np.subtract(got, want))) < 0.5 / 30, np.subtract(got, want)
    assert abs(audio_seconds(out) - audio_seconds(vfr)) < 0.03
    # Matroska labels a stream's rate by a frame duration (here the last frame's, 1/30 s), not
    # by the average that mp4 gives (24 fps): every frame time is still right, as checked above
    check = check_integrity(out, vfr, ignore=("fps",) if suffix == ".mkv" else ())
    assert check.ok, check.to_dict()


def test_constant_rate_copy_of_vfr_footage_fails_qc(vfr, tmp_path):
    # what convert wrote before: the same 120 frames and sound, evenly spaced at the average 24 fps
    cfr = tmp_path / "cfr.mp4"
    ffmpeg("-i", str(vfr), "-vf", "setpts=N/(24*TB)", "-fps_mode", "passthrough", "-c:v", "libx264",
           "-preset", "veryfast", "-c:a", "copy", str(cfr))
    result = check_integrity(cfr, vfr)
    assert [c.name for c in result.failed] == ["timestamps"], result.to_dict()
    check = result.to_dict()["timestamps"]
    # frame 30 should come 1 s after frame 29; evenly spaced, it comes at 1.25 s, 0.75 s early
    assert check["original"] == 2.0 and check["output"] < 1.3, check
    # a stream copy keeps every time
    copy = tmp_path / "copy.mp4"
    ffmpeg("-i", str(vfr), "-map", "0", "-c", "copy", str(copy))
    assert check_integrity(copy, vfr).ok


@pytest.mark.slow
def test_convert_keeps_frame_times_and_sound_in_sync(swap_model, vfr, tmp_path, frame_count):
    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import convert

    want = frame_times(vfr)
    out = tmp_path / "out.mp4"
    s = convert(vfr, swap_model, out, ConvertOptions(), progress=False)
    got = frame_times(out)
    assert s.frames == frame_count(out) == frame_count(vfr) == len(got) == 120
    drift = np.abs(np.subtract(got, want))
    assert drift.max() < 0.5 / 30, f"frame {drift.argmax()} is {drift.max():.3f} s off"
    assert abs(audio_seconds(out) - audio_seconds(vfr)) < 0.03
    lag, corr = sound_lag(loudness(vfr), loudness(out))
    assert corr > 0.9 and abs(lag) <= 0.03, (lag, corr)
    assert check_integrity(out, vfr).ok

    # a range across the hole, frames 20-99: its sound starts at frame 20's time (0.667 s, not
    # 20 frames of the average 24 fps) and lasts as long as those frames are shown (3.667 s)
    part = tmp_path / "part.mp4"
    s = convert(vfr, swap_model, part, ConvertOptions(frames="20:100"), progress=False)
    got = frame_times(part)
    assert s.frames == len(got) == 80
    drift = np.abs(np.subtract(got, np.subtract(want[20:100], want[20])))
    assert drift.max() < 0.5 / 30, f"frame {drift.argmax()} is {drift.max():.3f} s off"
    assert abs(audio_seconds(part) - (want[100] - want[20])) < 0.03
    lag, corr = sound_lag(loudness(vfr, want[20]), loudness(part))
    assert corr > 0.9 and abs(lag) <= 0.03, (lag, corr)
