"""Sound: which audio streams a file has, where its first video frame sits, the ffmpeg
options that cut and mux it beside written frames, and decoding it to PCM for measuring.

Frames are numbered, not timestamped, so the audio is cut from the source at
the frame range's place: `AudioSource.start_s` counts from the source's first
video frame, which is where `VideoReader` starts counting frames.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import defaults
from ..errors import FaceswapError
from ..log import get_logger
from .ffmpeg_bin import complaint, ffmpeg_exe, run_ffmpeg

__all__ = ["AudioProbe", "AudioSource", "audio_codecs", "audio_decisions", "mux_args", "pcm_chunks", "probe_audio",
           "write_audio_file"]

log = get_logger(__name__)

# Audio codecs each container takes as they are; anything else is encoded to AAC.
_AUDIO_COPY = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac"},
    ".m4v": {"aac", "mp3", "ac3", "eac3", "alac"},
    ".mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be",
             "pcm_s32le", "pcm_f32le"},
    ".mkv": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "vorbis", "flac", "dts", "truehd",
             "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le"},
}
# Packets of these can last up to a second (PCM chunks in .mov): cut them by decoding.
_LOSSLESS_AUDIO = ("pcm_", "alac", "flac")
_AUDIO_RE = re.compile(r"Stream #\S+.*?: Audio: (\w+)")
_SHOWINFO_RE = re.compile(r"pts_time:\s*(-?[\d.]+)")


@dataclass(frozen=True)
class AudioSource:
    """Audio to mux from `path`: `start_s` seconds after the file's first video
    frame (frame N of a range: N / fps), `duration_s` long (None: to the end).
    Raises FaceswapError for a negative start or a duration that is not positive."""

    path: Path
    start_s: float = 0.0
    duration_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.start_s < 0 or (self.duration_s is not None and self.duration_s <= 0):
            raise FaceswapError(f"audio range must start at 0 or later and be positive, not "
                                f"{self.start_s} + {self.duration_s}")


@dataclass(frozen=True)
class AudioProbe:
    """What muxing a file's sound needs to know."""

    codecs: tuple[str, ...]  # each audio stream's codec; empty: the file has no audio
    video_offset: float      # seconds from the file's start to its first video frame (0 if no video)


def audio_codecs(ffmpeg_text: str) -> tuple[str, ...]:
    """The codec of each audio stream in the stream summary that `ffmpeg -i` prints
    (its stderr); empty when the file has no sound."""
    return tuple(_AUDIO_RE.findall(ffmpeg_text))


def probe_audio(path: str | Path) -> AudioProbe:
    """Audio codecs and where the first video frame sits (its showinfo time): files such
    as hamilton_stage.mp4 start their audio 0.84 s before their first frame, and frame 0
    must meet the audio that played with it. Raises FaceswapError if `path` is missing."""
    path = Path(path)
    if not path.is_file():
        raise FaceswapError(f"audio source {path} does not exist")
    text = run_ffmpeg(["-i", str(path), "-map", "0:v:0?", "-frames:v", "1", "-vf", "showinfo", "-f", "null", "-"],
                      f"read audio from {path}").stderr
    pts = _SHOWINFO_RE.search(text)
    return AudioProbe(audio_codecs(text), max(float(pts.group(1)), 0.0) if pts else 0.0)


def _input_args(audio: AudioSource, probe: AudioProbe, duration_s: float | None) -> list[str]:
    # -ss before -i is relative to the file's start time; the offset moves it to the first video frame.
    args = ["-ss", f"{audio.start_s + probe.video_offset:.6f}"]
    if duration_s is not None:
        args += ["-t", f"{duration_s:.6f}"]
    return args + ["-i", str(audio.path)]


def _codec_args(codec: str, suffix: str, trimmed: bool, stream: int = 0) -> list[str]:
    """Audio codec options for one stream in a container: copy when it takes the codec.

    A copied stream is cut between packets. An input seek lands on the source's
    video keyframe before the cut point and keeps the packets from there (up to
    seconds of them); the output option `-ss 0` (also in the command) drops
    those, so a lossy stream starts with the first packet at or after the cut
    (AAC: within 23 ms) at its own timestamp, still in sync. Lossless codecs are
    instead decoded, cut exactly and re-encoded with the same codec: no loss."""
    opt = f"-c:a:{stream}"
    if codec in _AUDIO_COPY.get(suffix, set()):
        if trimmed and codec.startswith(_LOSSLESS_AUDIO):
            return [opt, codec]
        return [opt, "copy"]
    log.info("%s", _reencode_line(codec, suffix, stream))
    return [opt, "aac", f"-b:a:{stream}", defaults.AUDIO_BITRATE]


def _reencode_line(codec: str, suffix: str, stream: int) -> str:
    return (f"audio: track {stream + 1} is {codec}, which a {suffix} file cannot hold: encoded as AAC "
            f"{defaults.AUDIO_BITRATE}")


def audio_decisions(codecs: Sequence[str], suffix: str) -> list[str]:
    """The lines said for the tracks (`codecs`, as probe_audio gives them) that a `suffix`
    container cannot hold and that are therefore encoded as AAC: for the provenance record."""
    return [_reencode_line(codec, suffix, i) for i, codec in enumerate(codecs)
            if codec not in _AUDIO_COPY.get(suffix, set())]


def mux_args(audio: AudioSource, probe: AudioProbe, suffix: str, input_number: int = 1) -> tuple[list[str], list[str]]:
    """(input options, output options) that add every audio track of `audio` (dialogue,
    M&E, stems), cut to its range, to an ffmpeg command writing a `suffix` container in
    which the audio is input number `input_number`. The file must have sound (`probe.codecs`)."""
    trimmed = audio.start_s + probe.video_offset > 0 or audio.duration_s is not None
    out = ["-map", f"{input_number}:a"]
    for i, codec in enumerate(probe.codecs):
        out += _codec_args(codec, suffix, trimmed, i)
    # Audio arrives long before the encoder's first video packet (x264 look-ahead);
    # `-ss 0` drops the packets a copied stream keeps from before the cut.
    out += ["-max_muxing_queue_size", "4096", "-ss", "0"]
    return _input_args(audio, probe, audio.duration_s), out


def write_audio_file(audio: AudioSource, probe: AudioProbe, duration_s: float, folder: Path, track: int = 0,
                     stem: str = "audio") -> str:
    """Cut audio track `track` of `audio` (`duration_s` seconds long) into `folder` as
    `{stem}.m4a` (AAC and MP3, copied; see `_codec_args` on cutting) or `{stem}.wav`
    (anything else, decoded to 24-bit PCM, which every compositor and editor reads).
    Returns the file's name; raises FaceswapError with ffmpeg's complaint."""
    copy = probe.codecs[track] in ("aac", "mp3")
    name = f"{stem}.m4a" if copy else f"{stem}.wav"
    proc = run_ffmpeg(["-loglevel", "error", *_input_args(audio, probe, duration_s), "-map", f"0:a:{track}", "-vn",
                       "-c:a", "copy" if copy else "pcm_s24le", "-ss", "0", "-y", str(folder / name)],
                      f"cut the audio of {audio.path}", timeout=3600)
    if proc.returncode != 0:
        raise FaceswapError(f"cannot cut the audio of {audio.path}: {complaint(proc.stderr, 'ffmpeg failed')}")
    return name


def pcm_chunks(path: str | Path, rate: int = 8000, chunk: int = 1 << 16) -> Iterator[bytes]:
    """The first audio stream of `path` decoded to mono signed 16-bit little-endian PCM at
    `rate` Hz (as presented: edit lists applied), in chunks of up to `chunk` bytes, so a long
    file is measured in flat memory. Yields nothing when the file has no sound."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0?", "-vn",
           "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        while data := proc.stdout.read(chunk):
            yield data
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
