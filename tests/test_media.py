"""Probing and streaming video through ffmpeg; image folders."""

import numpy as np
import pytest

from faceswap.errors import FaceswapError
from faceswap.media.probe import probe_video
from faceswap.media.source import FrameSource
from faceswap.media.video_reader import VideoReader, read_frame


def test_probe_real_video(data):
    info = probe_video(data / "video" / "d18.mp4")
    assert (info.width, info.height) == (480, 480)
    assert info.fps == pytest.approx(30.0)
    assert info.has_audio
    assert info.frame_count == 216
    assert info.duration == pytest.approx(7.2, abs=0.05)


def test_reader_yields_every_frame_in_order(d18_frames):
    assert len(d18_frames) == 216
    assert d18_frames[0].shape == (480, 480, 3) and d18_frames[0].dtype == np.uint8
    # consecutive frames of a talking head differ a little, not a lot
    diffs = [np.abs(a.astype(int) - b).mean() for a, b in zip(d18_frames[:20], d18_frames[1:21])]
    assert 0 < np.mean(diffs) < 20


def test_reader_can_stop_early_without_hanging(data):
    reader = VideoReader(data / "video" / "d14.mp4")
    for index, _ in reader:
        if index == 5:
            break
    assert reader.frames_read == 6


def test_missing_and_garbage_inputs_raise_user_errors(tmp_path):
    with pytest.raises(FaceswapError, match="no such file"):
        FrameSource(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(FaceswapError, match="cannot read video"):
        FrameSource(junk)


def test_image_folder_skips_non_images(data, tmp_path):
    import shutil
    shutil.copy(data / "stills" / "d9.jpg", tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    source = FrameSource(tmp_path)
    frames = list(source)
    assert [f.name for f in frames] == ["a.jpg"]
    assert set(source.skipped) == {"notes.txt", "broken.png"}


def test_reader_started_mid_file_gives_the_same_pixels(data):
    """A range (--frames 20:...) must not change the plate: the trim's filter graph once
    converted YUV->RGB on swscale's fast path, about one level dark on every pixel."""
    path = data / "video" / "d19.mp4"
    from_start = [f.copy() for i, f in VideoReader(path) if 20 <= i < 23]
    index, frame = next(iter(VideoReader(path, start=20)))
    assert index == 20
    assert np.array_equal(frame, from_start[0])


def test_read_frame_gives_one_frame_or_the_last_of_a_shorter_clip(data, d18_frames):
    path = data / "video" / "d18.mp4"
    assert np.array_equal(read_frame(path, 7), d18_frames[7]) and not np.array_equal(d18_frames[7], d18_frames[0])
    assert np.array_equal(read_frame(path, 10_000, or_last=True), d18_frames[-1])
    with pytest.raises(FaceswapError, match="no frame 10000"):
        read_frame(path, 10_000)


def test_system_ffmpeg_older_than_5_1_is_passed_over(tmp_path, monkeypatch):
    """A distribution's ffmpeg 4.x on PATH lacks -fps_mode: the wheel's build is used instead."""
    import imageio_ffmpeg

    from faceswap.media import ffmpeg_bin
    for version, wins in (("4.2.2", False), ("6.1.1", True)):
        folder = tmp_path / version
        folder.mkdir()
        fake = folder / "ffmpeg"
        fake.write_text(f"#!/bin/sh\necho 'ffmpeg version {version} Copyright (c) 2000-2023'\n")
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", str(folder))
        ffmpeg_bin.ffmpeg_exe.cache_clear()
        try:
            chosen = ffmpeg_bin.ffmpeg_exe()
        finally:
            ffmpeg_bin.ffmpeg_exe.cache_clear()
        assert chosen == (str(fake) if wins else imageio_ffmpeg.get_ffmpeg_exe()), version
