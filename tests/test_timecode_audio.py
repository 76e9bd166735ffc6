"""Timecode and sound as an edit delivers them: a start timecode carried and shifted by --frames,
every audio track kept, and audio a container cannot hold re-encoded with one line instead of a
failure at the final mux. The inputs are made here from d18.mp4 with the bundled ffmpeg."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import convert
from faceswap.media.audio import probe_audio
from faceswap.media.ffmpeg_bin import run_ffmpeg
from faceswap.media.timecode import read_timecode
from faceswap.provenance import read_sidecar

pytestmark = pytest.mark.slow


def _make(data: Path, out: Path, video: list[str], audio: list[str], rate: str | None = None) -> Path:
    """d18's first 2 s with two tones as audio tracks (440 Hz and 660 Hz, 48 kHz) and timecode 01:00:10:00."""
    args = ["-y", "-i", str(data / "video" / "d18.mp4"), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000", "-map", "0:v", "-map", "1:a", "-map", "2:a",
            "-t", "2", *(["-r", rate] if rate else []), *video, *audio, "-timecode", "01:00:10:00", str(out)]
    run_ffmpeg(args, f"make {out.name}")
    return out


def _audio_codecs(path: Path) -> list[str]:
    return re.findall(r"Audio: (\w+)", run_ffmpeg(["-i", str(path)], "probe").stderr)


def test_timecode_and_two_audio_tracks_are_kept_and_shifted_by_frames(data, swap_model, tmp_path, caplog):
    src = _make(data, tmp_path / "edit.mov", ["-c:v", "libx264", "-crf", "12"],
                ["-c:a:0", "aac", "-c:a:1", "pcm_s24le"], rate="25")
    assert read_timecode(src) == "01:00:10:00" and _audio_codecs(src) == ["aac", "pcm_s24le"]
    same = tmp_path / "same.mov"
    convert(src, swap_model, same, ConvertOptions(all_faces=True, codec="h264"), progress=False)
    assert read_timecode(same) == "01:00:10:00"
    assert _audio_codecs(same) == ["aac", "pcm_s24le"]               # both tracks, each as it was
    assert read_sidecar(same)["timecode"] == "01:00:10:00"
    later = tmp_path / "later.mp4"
    with caplog.at_level("INFO"):
        convert(src, swap_model, later, ConvertOptions(all_faces=True, frames="25:"), progress=False)
    assert read_timecode(later) == "01:00:11:00"                      # 25 frames at 25 fps: one second on
    assert read_sidecar(later)["timecode"] == "01:00:11:00"
    assert _audio_codecs(later) == ["aac", "aac"]                      # PCM cannot go into .mp4: AAC
    assert len(probe_audio(later).codecs) == 2
    said = [r.getMessage() for r in caplog.records if "pcm_s24le" in r.getMessage()]
    assert len(said) == 1 and "aac" in said[0].lower(), said
    assert [d for d in read_sidecar(later)["media"]["decisions"] if d.startswith("audio:")] == said  # and recorded


def test_prores_with_pcm_sound_converts_to_mp4_with_aac(data, swap_model, tmp_path):
    src = _make(data, tmp_path / "camera.mov", ["-c:v", "prores_ks", "-profile:v", "3"],
                ["-c:a", "pcm_s16le"])
    out = tmp_path / "out.mp4"
    summary = convert(src, swap_model, out, ConvertOptions(all_faces=True), progress=False)
    assert summary.frames == 60
    assert _audio_codecs(out) == ["aac", "aac"]
    assert read_timecode(out) == "01:00:10:00"
