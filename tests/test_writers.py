"""Output writers (video, PNG sequence, compositor patches) and provenance, on real footage.

Short clips (40 frames) keep the file under a minute: d18.mp4 (480x480, 30 fps,
with audio) and hamilton_stage.mp4 (640x360, 29.97 fps, its audio starting
0.84 s before its first video frame, which catches audio drifting out of sync).
"""

from __future__ import annotations

import hashlib
import json
import re
import resource
import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswap.errors import FaceswapError
from faceswap.media.audio import AudioSource, pcm_chunks
from faceswap.media.codecs import check_output, codec_for, exact_rate
from faceswap.media.ffmpeg_bin import ffmpeg_exe
from faceswap.media.probe import probe_video
from faceswap.media.video_reader import VideoReader
from faceswap.media.writers import (
    ImageSetWriter,
    Patch,
    PatchWriter,
    PngSequenceWriter,
    VideoWriter,
    load_patches,
    open_writer,
    patch_matte,
    recomposite,
)
from faceswap.provenance import (
    build_record,
    container_tags,
    hash_path,
    read_container_tags,
    read_sidecar,
    record_digest,
    sidecar_path,
    write_sidecar,
)

CLIP = 40            # frames per clip
HAM_START = 90       # a range starting mid-file (3 s in)
SR = 8000            # audio sample rate for the sync checks


@pytest.fixture(scope="module")
def video_dir(data: Path) -> Path:
    return data / "video"


def _frames(path: Path, start: int, count: int) -> list[np.ndarray]:
    out = []
    for index, frame in VideoReader(path):
        if index >= start:
            out.append(frame.copy())  # the reader reuses its buffers
        if len(out) == count:
            break
    return out


@pytest.fixture(scope="module")
def ham(video_dir: Path) -> tuple[Path, list[np.ndarray]]:
    path = video_dir / "hamilton_stage.mp4"
    return path, _frames(path, HAM_START, CLIP)


@pytest.fixture(scope="module")
def d18(video_dir: Path) -> tuple[Path, list[np.ndarray]]:
    path = video_dir / "d18.mp4"
    return path, _frames(path, 0, CLIP)


# --- helpers ---------------------------------------------------------------------------------

def pcm(path: Path) -> np.ndarray:
    """The first audio stream, mono at 8 kHz, as presented (edit lists applied)."""
    return np.frombuffer(b"".join(pcm_chunks(path, SR)), np.int16).astype(np.float64)


def timeline_pcm(path: Path) -> np.ndarray:
    """The first audio stream, mono at 8 kHz, with sample n at n / SR seconds on the file's
    timeline (aresample pads or trims it to start at 0, in every ffmpeg version)."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-af",
                          "aresample=async=1:first_pts=0", "-ac", "1", "-ar", str(SR), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.int16).astype(np.float64)


def lag_seconds(source: np.ndarray, clip: np.ndarray) -> float:
    """Where `clip` sits in `source`: peak of the normalised cross-correlation."""
    n = len(source) + len(clip)
    corr = np.fft.irfft(np.fft.rfft(source, n) * np.conj(np.fft.rfft(clip, n)), n)[:len(source) - len(clip) + 1]
    energy = np.sqrt(np.convolve(source ** 2, np.ones(len(clip)), "valid")) + 1e-9
    return float(np.argmax(corr / energy)) / SR


def first_time(path: Path, kind: str) -> float:
    """Time of the first decoded video ("v") or audio ("a") frame on the file's timeline, as
    showinfo / ashowinfo print it (every ffmpeg version does; `ffmpeg -i` prints a stream's
    start only from ffmpeg 7 on)."""
    info = "showinfo" if kind == "v" else "ashowinfo"
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", f"0:{kind}:0", f"-frames:{kind}",
                           "1", f"-{kind}f", info, "-f", "null", "-"], capture_output=True, text=True).stderr
    found = re.search(r"pts_time:\s*(-?[\d.]+)", text)
    assert found, f"no {info} line from ffmpeg for {path.name}"
    return float(found.group(1))


def decode(path: Path) -> np.ndarray:
    """All frames as RGB, converted with accurate rounding and full chroma interpolation.
    (swscale's default fast path, which VideoReader uses, reads Y'CbCr 1-2 levels dark.)"""
    info = probe_video(path)
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vf",
                          "scale=flags=accurate_rnd+full_chroma_int,format=rgb24", "-fps_mode", "passthrough",
                          "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, info.height, info.width, 3)


def one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# --- rates, codecs, containers ---------------------------------------------------------------------

def test_exact_rate() -> None:
    assert exact_rate(29.97) == Fraction(30000, 1001)
    assert exact_rate(23.976) == exact_rate(23.98) == Fraction(24000, 1001)  # ffmpeg -i prints 23.98
    assert exact_rate(59.94) == Fraction(60000, 1001)
    assert exact_rate(30) == 30 and exact_rate(25.0) == 25 and exact_rate(24) == 24
    assert exact_rate(12.5) == Fraction(25, 2)
    assert exact_rate("30000/1001") == Fraction(30000, 1001)
    with pytest.raises(FaceswapError):
        exact_rate(0)


def test_codec_choice_and_containers(tmp_path: Path) -> None:
    assert codec_for("a.mp4") == "h264" and codec_for("a.M4V") == "h264"
    assert codec_for("a.mov") == "prores" and codec_for("a.mkv") == "h264"
    assert codec_for(tmp_path / "frames") == "png"
    with pytest.raises(FaceswapError, match=r"\.mp4"):
        codec_for("a.avi")
    with pytest.raises(FaceswapError, match=r"\.mov") as err:
        check_output(tmp_path / "a.mp4", "prores")
    one_line(err)
    with pytest.raises(FaceswapError, match=r"\.mkv"):
        check_output(tmp_path / "a.mp4", "ffv1")
    with pytest.raises(FaceswapError, match="folder"):
        check_output(tmp_path / "a.mp4", "png")
    with pytest.raises(FaceswapError, match="unknown codec"):
        check_output(tmp_path / "a.mp4", "vp9")
    with pytest.raises(FaceswapError, match="does not exist"):
        check_output(tmp_path / "missing" / "a.mp4", "h264")
    with pytest.raises(FaceswapError, match=r"\.mov"):
        VideoWriter(tmp_path / "a.mp4", width=64, height=64, fps=30, codec="prores")
    with pytest.raises(FaceswapError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", width=65, height=64, fps=30)
    assert not list(tmp_path.iterdir())


def test_frame_rate_sanity_ntsc(tmp_path: Path, frame_count) -> None:
    out = tmp_path / "ntsc.mp4"
    frame = np.full((64, 64, 3), 128, np.uint8)
    with VideoWriter(out, width=64, height=64, fps=29.97) as w:
        for _ in range(30):
            w.write(frame)
    assert w.rate == Fraction(30000, 1001)
    info = probe_video(out)
    assert frame_count(out) == 30
    assert info.fps == pytest.approx(29.97, abs=0.005)
    assert info.duration == pytest.approx(30 * 1001 / 30000, abs=0.002)  # 1.001 s, not 1.000 s


# --- video files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("ffv1", ".mkv"), ("prores", ".mov")])
def test_video_range_with_audio(tmp_path: Path, ham, codec: str, suffix: str, frame_count) -> None:
    src, frames = ham
    info = probe_video(src)
    out = tmp_path / f"out{suffix}"
    rate = exact_rate(info.fps)
    audio = AudioSource(src, start_s=HAM_START / float(rate), duration_s=CLIP / float(rate))
    tags = {"synthetic": "1", "faceswap_record": "0" * 64, "comment": "Synthetic media: test"}
    with open_writer(out, codec, width=info.width, height=info.height, fps=info.fps, audio=audio,
                     metadata=tags, inputs=[src]) as w:
        for frame in frames:
            w.write(frame)
            assert not out.exists()  # only close() gives the file its name
    assert out.is_file() and not list(tmp_path.glob(".*"))

    got = probe_video(out)
    assert frame_count(out) == CLIP
    assert (got.width, got.height) == (info.width, info.height)
    assert got.fps == pytest.approx(29.97, abs=0.005)
    assert got.has_audio
    clip_audio = pcm(out)
    video_s = CLIP / float(rate)
    # AAC is stream-copied: it ends on a packet boundary (23 ms) and mkv keeps the priming packet.
    assert len(clip_audio) / SR == pytest.approx(video_s, abs=0.06)
    # Sync: the output's frame 0 is the source's frame HAM_START, so the sound at the output's
    # first frame must be the source's sound at that frame's time. Hamilton's picture starts
    # 0.84 s after its sound: a writer that cut from the file's start would be that far off.
    src_v = first_time(src, "v")
    assert src_v == pytest.approx(0.844, abs=0.01)
    out_v, out_a = first_time(out, "v"), first_time(out, "a")
    assert abs(out_a - out_v) < 0.03  # the sound starts within one AAC packet of frame 0
    from_frame0 = timeline_pcm(out)[round(out_v * SR):]
    assert len(from_frame0) / SR == pytest.approx(video_s, abs=0.06)
    assert lag_seconds(timeline_pcm(src), from_frame0) == pytest.approx(src_v + HAM_START / float(rate), abs=0.005)

    assert {k: v for k, v in read_container_tags(out).items() if k in tags} == tags

    back = decode(out)
    assert len(back) == CLIP
    diff = np.abs(back.astype(np.int16) - np.stack(frames).astype(np.int16))
    if codec == "ffv1":
        assert diff.max() == 0  # lossless, RGB kept as RGB
    else:
        # Converted and tagged as BT.709: no colour shift, only compression error.
        assert diff.mean() < 2.0
        assert np.abs(back.mean((0, 1, 2)) - np.stack(frames).mean((0, 1, 2))).max() < 0.6


def test_d18_from_start_keeps_30fps(tmp_path: Path, d18, frame_count) -> None:
    src, frames = d18
    out = tmp_path / "d18.mp4"
    with VideoWriter(out, width=480, height=480, fps=probe_video(src).fps,
                     audio=AudioSource(src, 0.0, CLIP / 30), metadata={"synthetic": "1"}) as w:
        for frame in frames:
            w.write(frame)
    info = probe_video(out)
    assert frame_count(out) == CLIP and info.fps == 30 and (info.width, info.height) == (480, 480)
    assert info.has_audio
    assert len(pcm(out)) / SR == pytest.approx(CLIP / 30, abs=0.06)
    assert info.duration == pytest.approx(CLIP / 30, abs=0.06)


def test_source_without_audio_is_fine(tmp_path: Path, frame_count) -> None:
    frame = np.zeros((64, 64, 3), np.uint8)
    silent = tmp_path / "silent.mp4"
    with VideoWriter(silent, width=64, height=64, fps=25) as w:
        for _ in range(5):
            w.write(frame)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, width=64, height=64, fps=25, audio=AudioSource(silent)) as w:
        for _ in range(5):
            w.write(frame)
    assert not w.has_audio and not probe_video(out).has_audio and frame_count(out) == 5


def test_abort_and_exception_leave_nothing(tmp_path: Path) -> None:
    frame = np.zeros((64, 64, 3), np.uint8)
    w = VideoWriter(tmp_path / "a.mp4", width=64, height=64, fps=30)
    for _ in range(10):
        w.write(frame)
    w.abort()
    w.abort()  # twice is harmless
    with pytest.raises(KeyError):
        with open_writer(tmp_path / "b.mov", width=64, height=64, fps=30) as w:
            w.write(frame)
            raise KeyError("boom")
    with pytest.raises(KeyError):
        with open_writer(tmp_path / "seq", width=64, height=64, fps=30) as w:
            w.write(frame)
            raise KeyError("boom")
    assert not list(tmp_path.iterdir())


def test_existing_output_and_input_refused(tmp_path: Path, video_dir: Path, frame_count) -> None:
    frame = np.zeros((64, 64, 3), np.uint8)
    out = tmp_path / "x.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(FaceswapError, match="overwrite") as err:
        VideoWriter(out, width=64, height=64, fps=30)
    one_line(err)
    assert out.read_bytes() == b"keep me" and not list(tmp_path.glob(".*"))
    with VideoWriter(out, width=64, height=64, fps=30, overwrite=True) as w:
        w.write(frame)
        assert out.read_bytes() == b"keep me"  # replaced only on close
    assert frame_count(out) == 1

    src = video_dir / "d18.mp4"
    for kw in ({"inputs": [src]}, {"audio": AudioSource(src)}):
        with pytest.raises(FaceswapError, match="input") as err:
            VideoWriter(src, width=480, height=480, fps=30, overwrite=True, **kw)
        one_line(err)
    # A PNG folder that would contain (and so replace) an input is refused too.
    with pytest.raises(FaceswapError, match="input"):
        PngSequenceWriter(video_dir, width=64, height=64, fps=30, overwrite=True, inputs=[src])


def test_ffmpeg_killed_is_one_line_error(tmp_path: Path) -> None:
    frame = np.random.default_rng(0).integers(0, 255, (128, 128, 3), np.uint8)
    w = VideoWriter(tmp_path / "k.mp4", width=128, height=128, fps=30)
    w.write(frame)
    w._proc.kill()
    with pytest.raises(FaceswapError, match="k.mp4") as err:
        for _ in range(100):
            w.write(frame)
        w.close()
    one_line(err)
    assert not list(tmp_path.iterdir())


def test_disk_full_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file-size limit on ffmpeg makes its writes fail as a full disk would."""
    real_popen = subprocess.Popen

    def limited(*args, **kw):
        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        # restore_signals=False keeps SIGXFSZ ignored, so write() fails instead of killing ffmpeg.
        return real_popen(*args, preexec_fn=limit, restore_signals=False, **kw)

    ffmpeg_exe()  # found (and version-checked) before the limit: only the encoder runs under it
    monkeypatch.setattr(subprocess, "Popen", limited)
    frame = np.random.default_rng(1).integers(0, 255, (128, 128, 3), np.uint8)
    with pytest.raises(FaceswapError, match="too large|space") as err:
        with VideoWriter(tmp_path / "full.mkv", codec="ffv1", width=128, height=128, fps=30) as w:
            for _ in range(60):
                w.write(frame)
    one_line(err)
    assert not list(tmp_path.iterdir())


def test_bad_frames_rejected(tmp_path: Path, frame_count) -> None:
    with VideoWriter(tmp_path / "v.mp4", width=64, height=64, fps=30) as w:
        with pytest.raises(ValueError):
            w.write(np.zeros((64, 64, 3), np.float32))
        with pytest.raises(ValueError):
            w.write(np.zeros((32, 64, 3), np.uint8))
        w.write(np.zeros((64, 64, 3), np.uint8))
    assert frame_count(tmp_path / "v.mp4") == 1


# --- PNG sequences ---------------------------------------------------------------------------------

def test_png_sequence(tmp_path: Path, ham) -> None:
    src, frames = ham
    rate = exact_rate(probe_video(src).fps)
    out = tmp_path / "seq"
    audio = AudioSource(src, HAM_START / float(rate), CLIP / float(rate))
    with open_writer(out, width=640, height=360, fps=rate, audio=audio, metadata={"synthetic": "1"}) as w:
        for i, frame in enumerate(frames):
            w.write(frame, HAM_START + i)
            assert not out.exists()
    names = sorted(p.name for p in out.iterdir())
    assert names[0] == f"{HAM_START:06d}.png" and len([n for n in names if n.endswith(".png")]) == CLIP
    assert "audio.m4a" in names and not list(tmp_path.glob(".*"))
    back = cv2.cvtColor(cv2.imread(str(out / f"{HAM_START + 7:06d}.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(back, frames[7])
    seq = json.loads((out / "sequence.json").read_text())
    assert seq["rate"] == "30000/1001" and seq["frames"] == CLIP and seq["first"] == HAM_START
    assert read_container_tags(out) == {"synthetic": "1"}
    assert len(pcm(out / "audio.m4a")) / SR == pytest.approx(CLIP / float(rate), abs=0.06)
    # The sound starts with frame HAM_START's: AAC is copied, so at the first packet at or after
    # it (packets are 1024 samples, 23 ms at 44.1 kHz), never before it.
    late = lag_seconds(timeline_pcm(src), pcm(out / "audio.m4a")) - (first_time(src, "v") + HAM_START / float(rate))
    assert -0.002 <= late < 0.024, late

    with pytest.raises(FaceswapError, match="overwrite"):
        PngSequenceWriter(out, width=640, height=360, fps=rate)
    with PngSequenceWriter(out, width=64, height=64, fps=rate, overwrite=True) as w:
        w.write(np.zeros((64, 64, 3), np.uint8))
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "sequence.json"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FaceswapError, match="did not write"):
        PngSequenceWriter(out, width=64, height=64, fps=rate, overwrite=True)


# --- compositor patches ------------------------------------------------------------------------------

def _composite(bg: np.ndarray, placed: list[tuple[np.ndarray, int, int]]) -> np.ndarray:
    out = bg.astype(np.float64)
    h, w = bg.shape[:2]
    for rgba, x, y in placed:
        for py in range(rgba.shape[0]):
            fy = y + py
            if not 0 <= fy < h:
                continue
            for_x = np.arange(rgba.shape[1]) + x
            ok = (for_x >= 0) & (for_x < w)
            a = rgba[py, ok, 3:4] / 255.0
            out[fy, for_x[ok]] = rgba[py, ok, :3] * a + out[fy, for_x[ok]] * (1 - a)
    return np.rint(out).astype(np.uint8)


def test_patch_writer_recomposite(tmp_path: Path, d18) -> None:
    _, frames = d18
    bg = frames[3]
    rng = np.random.default_rng(2)
    a = np.zeros((80, 100, 4), np.uint8)
    a[..., :3] = rng.integers(0, 255, (80, 100, 3))
    a[..., 3] = np.linspace(0, 255, 100).astype(np.uint8)[None, :]
    b = np.zeros((64, 64, 4), np.uint8)
    b[..., :3] = (255, 40, 10)
    yy, xx = np.mgrid[:64, :64]
    b[..., 3] = np.clip(255 - np.hypot(yy - 32, xx - 32) * 8, 0, 255).astype(np.uint8)
    face = [[0.5, 0.1, -20.0], [-0.1, 0.5, 7.5]]
    folder = tmp_path / "patches"
    with PatchWriter(folder, width=480, height=480, fps=30) as pw:
        pw.write(bg, 3, patches=[Patch(a, 50, 60, face, track=0), Patch(b, -20, 440, np.array(face), track=1)])
        pw.write(frames[4], 4)
        assert not folder.exists()  # only close() gives the folder its name
        # The index is streamed as JSON Lines: a killed run's partial folder can still be read.
        partial = load_patches(tmp_path / ".patches.partial")
        assert partial.frame_size == (480, 480) and sorted(partial.frames) == [3, 4]
        assert [e["file"] for e in partial.frames[3]] == ["000003_0.png", "000003_1.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["patches"]
    assert sorted(p.name for p in folder.iterdir()) == ["000003_0.png", "000003_1.png", "patches.json"]
    index = json.loads((folder / "patches.json").read_text())
    assert index["frame_size"] == [480, 480] and index["fps"] == 30.0
    assert [f["frame"] for f in index["frames"]] == [3, 4] and index["frames"][1]["patches"] == []
    first, second = index["frames"][0]["patches"]
    assert first["file"] == "000003_0.png" and first["matrix"] == [[1, 0, 50], [0, 1, 60]]
    assert first["face_matrix"] == face and second["track"] == 1 and (second["x"], second["y"]) == (-20, 440)
    stored = cv2.imread(str(folder / "000003_1.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(cv2.cvtColor(stored, cv2.COLOR_BGRA2RGBA), b)

    got = recomposite(folder, 3, bg)
    want = _composite(bg, [(a, 50, 60), (b, -20, 440)])
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert np.abs(got.astype(int) - bg).max() > 100  # the patches are there, not a copy of the plate
    assert np.array_equal(recomposite(folder, 4, bg), bg)
    with pytest.raises(FaceswapError, match="480x480"):
        recomposite(folder, 3, bg[:240])
    # the matte: a's alpha ramp where a lies, b's disc (clipped at the frame's edge) over it, nothing elsewhere
    matte = patch_matte(folder, 3, (480, 480))
    assert matte.shape == (480, 480) and matte.dtype == np.float32
    assert np.allclose(matte[60:140, 50:150], a[..., 3] / 255.0, atol=1e-6)
    assert np.allclose(matte[440:480, 0:44], b[:40, 20:, 3] / 255.0, atol=1e-6)
    assert matte[200:400, 200:400].max() == 0.0 and not patch_matte(folder, 4, (480, 480)).any()

    with pytest.raises(FaceswapError, match="overwrite"):
        PatchWriter(folder, width=480, height=480, fps=30)
    bad = PatchWriter(tmp_path / "bad", width=480, height=480, fps=30)
    with pytest.raises(ValueError):
        bad.write(bg, 0, patches=[Patch(a[..., :3], 0, 0, face)])  # RGB, not RGBA
    with pytest.raises(ValueError):
        bad.write(bg[:100], 0)  # not the frame size
    bad.abort()
    assert not list(tmp_path.glob("*bad*"))


def test_aborted_patch_writer_leaves_nothing(tmp_path: Path, d18) -> None:
    """Ctrl-C mid-run (an exception in the `with`, or abort()): nothing appears under the final
    name, and a folder being replaced with overwrite stays as it was."""
    _, frames = d18
    patch = Patch(np.full((40, 40, 4), 200, np.uint8), 10, 10, np.eye(2, 3))
    folder = tmp_path / "patches"
    with pytest.raises(KeyboardInterrupt):
        with PatchWriter(folder, width=480, height=480, fps=30) as pw:
            for i, frame in enumerate(frames[:5]):
                pw.write(frame, i, patches=[patch])
            raise KeyboardInterrupt
    assert not list(tmp_path.iterdir())

    with PatchWriter(folder, width=480, height=480, fps=30) as pw:
        pw.write(frames[0], 7, patches=[patch])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    pw = PatchWriter(folder, width=480, height=480, fps=30, overwrite=True)
    pw.write(frames[1], 0, patches=[patch, patch])
    pw.abort()
    pw.abort()  # twice is harmless
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["patches"]
    assert list(load_patches(folder).frames) == [7]


def test_every_writer_takes_the_same_call(tmp_path: Path, d18, frame_count) -> None:
    """open_writer picks the writer; the caller writes every kind with one call and never asks which."""
    _, frames = d18
    patch = Patch(np.full((40, 40, 4), 255, np.uint8), 100, 50, np.eye(2, 3), track=2)
    outputs = {"video": (tmp_path / "v.mkv", None, False), "png": (tmp_path / "seq", None, False),
               "images": (tmp_path / "stills", None, True), "patch": (tmp_path / "faces", "patch", False)}
    kinds = {}
    for key, (path, codec, images) in outputs.items():
        with open_writer(path, codec, width=480, height=480, fps=30, images=images) as w:
            kinds[key] = type(w)
            for i in range(3):
                w.write(frames[i], 20 + i, name=f"shot.{20 + i:04d}.jpg", patches=[patch] if i != 1 else [])
    assert kinds == {"video": VideoWriter, "png": PngSequenceWriter, "images": ImageSetWriter,
                     "patch": PatchWriter}
    assert frame_count(tmp_path / "v.mkv") == 3
    assert sorted(p.name for p in (tmp_path / "seq").glob("*.png")) == ["000020.png", "000021.png", "000022.png"]
    back = cv2.imread(str(tmp_path / "stills" / "shot.0021.png"))[..., ::-1]
    assert np.array_equal(back, frames[1])
    index = load_patches(tmp_path / "faces")
    assert {k: [e["track"] for e in v] for k, v in index.frames.items()} == {20: [2], 21: [], 22: [2]}
    with pytest.raises(FaceswapError, match="folder"):
        open_writer(tmp_path / "x.mp4", None, width=480, height=480, fps=30, images=True)


# --- provenance --------------------------------------------------------------------------------------

def test_provenance_record_tags_and_sidecar(tmp_path: Path, d18) -> None:
    src, frames = d18
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "a.png").write_bytes(b"png-a")
    (faces / "b.png").write_bytes(b"png-bb")
    model = tmp_path / "model"
    (model / "checkpoint").mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"format": "faceswap-model", "model": {"resolution": 64}}))
    weights = np.random.default_rng(3).bytes(4096)
    (model / "checkpoint" / "model.safetensors").write_bytes(weights)

    record = build_record({"target": src, "faces": faces}, model, {"crf": 18, "out": tmp_path, "size": (1, 2)},
                          "swap")
    assert record["synthetic"] is True and record["kind"] == "swap" and record["tool"]["name"] == "faceswap"
    assert record["created_utc"].endswith("Z")
    assert record["inputs"]["target"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    folder_hash = hashlib.sha256(b"a.png\x005\x00png-a" + b"b.png\x006\x00png-bb").hexdigest()
    assert record["inputs"]["faces"]["sha256"] == folder_hash
    assert record["inputs"]["faces"]["method"] == "folder-contents"
    assert hash_path(faces, folder_limit=0)["method"] == "folder-names-sizes"
    assert record["model"]["config"]["model"]["resolution"] == 64
    assert record["model"]["weights"] == {"checkpoint/model.safetensors": hashlib.sha256(weights).hexdigest()}
    assert record["settings"] == {"crf": 18, "out": str(tmp_path), "size": [1, 2]}
    json.dumps(record)

    tags = container_tags(record)
    assert tags["synthetic"] == "1" and "Synthetic media" in tags["comment"]
    assert tags["faceswap_record"] == record_digest(record)
    out = tmp_path / "swap.mp4"
    with VideoWriter(out, width=480, height=480, fps=30, metadata=tags, inputs=[src]) as w:
        for frame in frames[:10]:
            w.write(frame)
    read = read_container_tags(out)
    assert {k: read[k] for k in tags} == tags

    path = write_sidecar(out, record)
    assert path == sidecar_path(out) == tmp_path / "swap.mp4.provenance.json"
    side = read_sidecar(out)
    assert side["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert side["record_sha256"] == record_digest(side) == read["faceswap_record"]

    seq = tmp_path / "seq"
    with PngSequenceWriter(seq, width=480, height=480, fps=30, metadata=tags) as w:
        w.write(frames[0])
    assert write_sidecar(seq, record) == seq / "provenance.json"
    assert read_sidecar(seq)["output"]["files"] == 2  # the frame and sequence.json, not the sidecar itself
    assert read_container_tags(seq)["faceswap_record"] == tags["faceswap_record"]


def test_pcm_audio_is_cut_exactly(tmp_path: Path, ham) -> None:
    """PCM (whose packets in .mov can last half a second) is re-cut by decoding, losslessly."""
    src, _ = ham
    wav = tmp_path / "a.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(src), "-map", "0:a", "-c:a", "pcm_s16le", str(wav)],
                   check=True)
    out = tmp_path / "pcm.mov"
    frame = np.zeros((64, 64, 3), np.uint8)
    with VideoWriter(out, width=64, height=64, fps=25, audio=AudioSource(wav, 1.5, 0.8)) as w:
        for _ in range(20):
            w.write(frame)
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "Audio: pcm_s16le" in text
    got = pcm(out)
    assert len(got) / SR == pytest.approx(0.8, abs=0.002)
    assert lag_seconds(pcm(wav), got) == pytest.approx(1.5, abs=0.002)
