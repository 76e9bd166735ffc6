"""Is the output the same shape of file as its input: frames, rate, size, length, frame
times and sound.

Each check compares one field of the output with the input's and passes or
fails on its own; a check that does not apply (no sound in either file)
passes with nothing to compare.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import defaults
from ..errors import FaceswapError
from ..media.audio import pcm_chunks
from ..media.ffmpeg_bin import complaint, run_ffmpeg
from ..media.probe import VideoInfo, probe_video
from ..media.timing import read_timeline

# depth: bits per channel for video, stored type and bits for image sequences (qc/plates.py)
FIELDS = ("frame_count", "fps", "size", "duration", "timestamps", "audio", "audio_duration", "decode", "depth")
_FRAME_RE = re.compile(r"^frame=\s*(\d+)", re.MULTILINE)
# Audio is decoded to 8 kHz mono 16 bit to measure its length: 16 kB a second, read in chunks.
_AUDIO_RATE = 8000


@dataclass
class Tolerances:
    fps: float = defaults.QC_FPS_TOLERANCE
    duration: float = defaults.QC_DURATION_TOLERANCE
    audio: float = defaults.QC_AUDIO_TOLERANCE
    timestamps: float = defaults.QC_TIMESTAMP_TOLERANCE  # of the input's median frame interval


@dataclass
class Check:
    """One field of the output against the input's."""

    name: str
    output: Any
    original: Any
    ok: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "original": self.original, "ok": self.ok, **({"note": self.note} if self.note else {})}


@dataclass
class Integrity:
    checks: list[Check] = field(default_factory=list)
    ignored: tuple[str, ...] = ()

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and c.name not in self.ignored]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "ignored": list(self.ignored), **{c.name: c.to_dict() for c in self.checks}}


def count_frames(path: str | Path) -> tuple[int, str | None]:
    """(frames of the first video stream, ffmpeg's last decode error or None), by decoding
    every frame (none dropped or repeated)."""
    proc = run_ffmpeg(["-v", "error", "-nostats", "-progress", "pipe:1", "-i", str(path), "-map", "0:v:0",
                       "-fps_mode", "passthrough", "-f", "null", "-"], f"count the frames of {path}", timeout=3600)
    counts = _FRAME_RE.findall(proc.stdout)
    error = complaint(proc.stderr)
    if proc.returncode != 0 and not counts:
        raise FaceswapError(f"cannot decode {path}: {error or 'ffmpeg failed'}")
    return (int(counts[-1]) if counts else 0), (f"{Path(path).name}: ffmpeg reported decode errors ({error})"
                                                  if error else None)


def audio_seconds(path: str | Path) -> float | None:
    """Length of the first audio stream in seconds, by decoding it; None when the file has none."""
    total = sum(len(chunk) for chunk in pcm_chunks(path, _AUDIO_RATE))
    return total / 2 / _AUDIO_RATE if total else None


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def frame_times(path: str | Path) -> Sequence[float] | None:
    """Seconds from the first frame of `path` to each frame, in display order, read from
    the packets (see media/timing.py); None when the file does not say."""
    timeline = read_timeline(path)
    if timeline is None:
        return None
    return ((timeline.pts - timeline.pts[0]) * float(timeline.time_base)).tolist()


def check_timestamps(output: str | Path, original: str | Path, tolerance: float) -> Check:
    """Output frame i is shown when input frame i was, within `tolerance` of the input's
    median frame interval, for the frames both files have: a constant-rate copy of a
    variable-frame-rate shot fails where its frames drift from the sound."""
    src = frame_times(original)
    if src is None:
        return Check("timestamps", None, None, True, "the input has no frame times to compare")
    out = frame_times(output)
    if out is None:
        return Check("timestamps", None, None, False, "the output has no frame times")
    n = min(len(out), len(src))
    diff = np.subtract(out[:n], src[:n])
    worst = int(np.argmax(np.abs(diff)))
    limit = tolerance * (float(np.median(np.diff(src))) if len(src) > 1 else 0.0)
    off = float(diff[worst])
    return Check("timestamps", round(out[worst], 4), round(src[worst], 4), abs(off) <= limit + 1e-9,
                 f"largest difference {off:+.4f} s at frame {worst}; allowed +-{limit:.4f} s "
                 f"({tolerance:g} of a frame)")


def check_integrity(output: str | Path, original: str | Path, frames: tuple[int, int] | None = None,
                    decode_warning: str | None = None, tolerances: Tolerances | None = None,
                    ignore: tuple[str, ...] = (), infos: tuple[VideoInfo, VideoInfo] | None = None) -> Integrity:
    """Compare the output file with the input file. `frames`: (output, original) frame
    counts already decoded by the caller, else both are decoded here; `decode_warning`:
    what ffmpeg said while the caller decoded the output (ignored when the frames are counted
    here, which reads ffmpeg's errors itself)."""
    tol = tolerances or Tolerances()
    unknown = [name for name in ignore if name not in FIELDS]
    if unknown:
        raise FaceswapError(f"unknown integrity check {unknown[0]!r}: choose from {', '.join(FIELDS)}")
    out, src = infos or (probe_video(output), probe_video(original))
    if frames is not None:
        n_out, n_src = frames
    else:
        (n_out, decode_warning), (n_src, _) = count_frames(output), count_frames(original)
    checks = [
        Check("frame_count", n_out, n_src, n_out == n_src,
              "" if n_out == n_src else f"{n_out - n_src:+d} frames"),
        Check("fps", round(out.fps, 4), round(src.fps, 4), _close(out.fps, src.fps, tol.fps)),
        Check("size", f"{out.width}x{out.height}", f"{src.width}x{src.height}",
              (out.width, out.height) == (src.width, src.height)),
        Check("duration", round(out.duration, 3), round(src.duration, 3),
              _close(out.duration, src.duration, tol.duration)),
        check_timestamps(output, original, tol.timestamps),
        Check("audio", out.has_audio, src.has_audio, out.has_audio == src.has_audio,
              "" if out.has_audio == src.has_audio else
              ("the output has no sound" if src.has_audio else "the output has sound the input has not")),
    ]
    a_out = audio_seconds(output) if out.has_audio else None
    a_src = audio_seconds(original) if src.has_audio else None
    if a_out is None or a_src is None:
        # Nothing to compare: both silent passes; one missing is the `audio` check's failure.
        checks.append(Check("audio_duration", a_out and round(a_out, 3), a_src and round(a_src, 3), True,
                            "no audio to compare"))
    else:
        checks.append(Check("audio_duration", round(a_out, 3), round(a_src, 3), _close(a_out, a_src, tol.audio)))
    checks.append(Check("decode", decode_warning or "clean", "", decode_warning is None))
    # More bits than the input is fine (ProRes 4444 decodes at 12 from a 10-bit source); fewer
    # means the grade lost precision on the way through.
    checks.append(Check("depth", out.bits, src.bits, out.bits >= src.bits,
                        "" if out.bits >= src.bits else f"the output has {out.bits} bits, the input {src.bits}"))
    return Integrity(checks, tuple(ignore))
