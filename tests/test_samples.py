"""The demo's stand-in footage: without ../shared/data it still has two faces to swap."""

from __future__ import annotations

import pytest

from faceswap.api import ExtractOptions, extract
from faceswap.errors import FaceswapError
from faceswap.media.video_reader import VideoReader
from faceswap.samples import INSTALLED_FRAMES, installed_sample_videos, sample_videos


def test_installed_samples_are_clips_with_a_face_in_every_frame(tmp_path):
    videos = installed_sample_videos(tmp_path)
    assert [v.name for v in videos] == ["astronaut.mp4", "camera.mp4"]
    made = [v.stat().st_mtime_ns for v in videos]
    assert [v.stat().st_mtime_ns for v in installed_sample_videos(tmp_path)] == made   # made once, reused
    for video in videos:
        assert sum(1 for _ in VideoReader(video)) == INSTALLED_FRAMES
        summary = extract(video, tmp_path / video.stem, ExtractOptions(every=5), progress=False).summaries[0]
        assert summary.frames == INSTALLED_FRAMES // 5
        assert summary.frames_with_faces == summary.frames, (video.name, summary.no_face)


def test_missing_sample_footage_is_one_line(tmp_path):
    with pytest.raises(FaceswapError, match="sample footage not found"):
        sample_videos(tmp_path)
