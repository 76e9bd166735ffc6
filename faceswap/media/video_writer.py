"""Write converted frames: video files through an ffmpeg pipe, PNG sequences,
and per-face RGBA patches for compositors.

Every writer takes HxWx3 uint8 RGB frames in `write()`, copies each into one
of a few preallocated buffers and returns at once; a worker thread encodes
(or feeds ffmpeg), so the caller's compute overlaps encoding and memory does
not grow with the length of the video. Outputs appear under their final name
only when `close()` has succeeded (temp name + rename, as DESIGN.md asks);
`abort()`, or an exception inside a `with` block, leaves nothing behind.

Timing: frames are numbered, not timestamped. The rate goes to ffmpeg as an
exact rational (29.97 -> 30000/1001), so the output holds exactly the frames
written at exactly the input's rate, and the audio is cut from the source at
the same place (`AudioSource.start_s` counts from the source's first video
frame, which is where `VideoReader` starts counting frames).
"""

from __future__ import annotations

import collections
import errno
import json
import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import defaults
from ..errors import FaceswapError
from ..log import get_logger
from .ffmpeg_bin import ffmpeg_exe, run_ffmpeg
from .images import atomic_write_bytes, encode_png

__all__ = [
    "ImageSetWriter",
    "CODECS", "Codec", "AudioSource", "FrameWriter", "VideoWriter", "PngSequenceWriter", "Patch",
    "PatchWriter", "PatchIndex", "check_output", "check_not_input", "codec_for", "exact_rate",
    "open_writer", "load_patches", "recomposite",
]

log = get_logger(__name__)


# --- codecs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Codec:
    """How one output codec is encoded and which containers may hold it."""

    name: str
    encoder: str | None          # ffmpeg encoder; None for a PNG sequence
    suffixes: tuple[str, ...]    # containers that can hold it ("" = a folder)
    pix_fmt: str | None          # None: let ffmpeg pick (ffv1 stores RGB losslessly as bgr0)
    args: tuple[str, ...] = ()
    crf: int | None = None       # default CRF when the codec takes one
    preset: str | None = None
    yuv: bool = False            # RGB -> Y'CbCr: needs an explicit matrix and colour tags
    even: tuple[bool, bool] = (False, False)  # chroma subsampling: width, height must be even


CODECS: dict[str, Codec] = {
    "h264": Codec("h264", "libx264", (".mp4", ".m4v", ".mov", ".mkv"), "yuv420p",
                  crf=defaults.H264_CRF, preset=defaults.H264_PRESET, yuv=True, even=(True, True)),
    # hvc1 tag: QuickTime and iOS refuse HEVC tagged hev1 (ffmpeg's default).
    "h265": Codec("h265", "libx265", (".mp4", ".m4v", ".mov", ".mkv"), "yuv420p",
                  ("-x265-params", "log-level=error"), crf=defaults.H265_CRF, preset=defaults.H265_PRESET, yuv=True,
                  even=(True, True)),
    # apl0 vendor: some Apple/Avid tools check it before trusting a ProRes stream.
    "prores": Codec("prores", "prores_ks", (".mov",), "yuv422p10le", ("-profile:v", "3", "-vendor", "apl0"),
                    yuv=True, even=(True, False)),
    "prores4444": Codec("prores4444", "prores_ks", (".mov",), "yuv444p10le",
                        ("-profile:v", "4", "-vendor", "apl0"), yuv=True),
    # Level 3, intra only, per-slice CRCs: the archival settings; 4 slices let it use 4 threads.
    "ffv1": Codec("ffv1", "ffv1", (".mkv",), None, ("-level", "3", "-g", "1", "-slicecrc", "1", "-slices", "4")),
    "png": Codec("png", None, ("",), None),
}

# The container each codec belongs in, for the hint in an error message.
_HOME = {"h264": ".mp4", "h265": ".mp4", "prores": ".mov", "prores4444": ".mov", "ffv1": ".mkv"}
# Audio codecs each container takes as they are; anything else is encoded to AAC.
_AUDIO_COPY = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac"},
    ".m4v": {"aac", "mp3", "ac3", "eac3", "alac"},
    ".mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be",
             "pcm_s32le", "pcm_f32le"},
    ".mkv": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "vorbis", "flac", "dts", "truehd",
             "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le"},
}


def codec_for(path: str | Path) -> str:
    """The default codec for an output path, chosen by its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in defaults.OUTPUT_CODEC_BY_SUFFIX:
        known = ", ".join(s for s in defaults.OUTPUT_CODEC_BY_SUFFIX if s)
        raise FaceswapError(f"cannot write {suffix} files: use one of {known}, or a folder name for PNG frames")
    return defaults.OUTPUT_CODEC_BY_SUFFIX[suffix]


def check_output(path: str | Path, codec: str) -> None:
    """Raise a one-line FaceswapError unless `codec` can be written to `path`."""
    path = Path(path)
    if codec not in CODECS:
        raise FaceswapError(f"unknown codec {codec!r}: choose one of {', '.join(CODECS)}")
    suffix = path.suffix.lower()
    if codec == "png":
        if suffix and not path.is_dir():
            raise FaceswapError(f"png writes a folder of frames: give a folder name, not {path.name}")
    elif suffix not in CODECS[codec].suffixes:
        if not suffix:
            raise FaceswapError(f"{codec} needs a file name with a suffix, e.g. {path.name}{_HOME[codec]}")
        raise FaceswapError(f"a {suffix} file cannot hold {codec}: use {_HOME[codec]} "
                            f"(e.g. {path.stem}{_HOME[codec]})")
    parent = path.parent
    if not parent.is_dir():
        raise FaceswapError(f"cannot write {path}: folder {parent} does not exist")


def check_not_input(output: str | Path, inputs: Iterable[str | Path]) -> None:
    """Refuse an output that would overwrite (or, for a folder, contain) an input."""
    out = Path(output).resolve()
    for inp in inputs:
        src = Path(inp).resolve()
        same = out.exists() and src.exists() and os.path.samefile(out, src)  # hard links too
        if same or src == out or out in src.parents:
            raise FaceswapError(f"output {output} would overwrite the input {inp}: choose another name")


def exact_rate(fps: float | Fraction | str) -> Fraction:
    """The frame rate as the rational a container stores: NTSC rates become
    N*1000/1001 (29.97 -> 30000/1001), others the nearest fraction with a
    denominator up to 1001 (25 -> 25, 12.5 -> 25/2)."""
    if isinstance(fps, str):
        rate = Fraction(fps)
    elif isinstance(fps, Fraction):
        rate = fps
    else:
        rate = Fraction(float(fps))
    if rate <= 0:
        raise FaceswapError(f"frame rate must be positive, not {fps}")
    if rate.denominator in (1, 1001):
        return rate
    value = float(rate)
    nearest = round(value)
    if nearest > 0 and abs(value - nearest) <= defaults.NTSC_TOLERANCE * value:
        return Fraction(nearest)
    ntsc = Fraction(round(value * 1.001) * 1000, 1001)
    if ntsc > 0 and abs(value - float(ntsc)) <= defaults.NTSC_TOLERANCE * value:
        return ntsc
    return rate.limit_denominator(1001)


# --- audio -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AudioSource:
    """Audio to mux from `path`: `start_s` seconds after the file's first video
    frame (frame N of a range: N / fps), `duration_s` long (None: to the end)."""

    path: Path
    start_s: float = 0.0
    duration_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.start_s < 0 or (self.duration_s is not None and self.duration_s <= 0):
            raise FaceswapError(f"audio range must start at 0 or later and be positive, not "
                                f"{self.start_s} + {self.duration_s}")


@dataclass(frozen=True)
class _AudioProbe:
    codecs: tuple[str, ...]  # each audio stream's codec; empty: the file has no audio
    video_offset: float     # first video frame's time after the file's start (0 if no video)


_AUDIO_RE = re.compile(r"Stream #\S+.*?: Audio: (\w+)")
_SHOWINFO_RE = re.compile(r"pts_time:\s*(-?[\d.]+)")


def _probe_audio(path: Path) -> _AudioProbe:
    """Audio codec and where the first video frame sits: files such as
    hamilton_stage.mp4 start their audio 0.84 s before their first frame, and
    frame 0 must meet the audio that played with it."""
    if not path.is_file():
        raise FaceswapError(f"audio source {path} does not exist")
    text = run_ffmpeg(["-i", str(path), "-map", "0:v:0?", "-frames:v", "1", "-vf", "showinfo", "-f", "null", "-"],
                      f"read audio from {path}").stderr
    pts = _SHOWINFO_RE.search(text)
    return _AudioProbe(tuple(_AUDIO_RE.findall(text)), max(float(pts.group(1)), 0.0) if pts else 0.0)


def _audio_input_args(audio: AudioSource, probe: _AudioProbe, duration_s: float | None) -> list[str]:
    # -ss before -i is relative to the file's start time; the offset moves it to the first video frame.
    args = ["-ss", f"{audio.start_s + probe.video_offset:.6f}"]
    if duration_s is not None:
        args += ["-t", f"{duration_s:.6f}"]
    return args + ["-i", str(audio.path)]


# Packets of these can last up to a second (PCM chunks in .mov): cut them by decoding.
_LOSSLESS_AUDIO = ("pcm_", "alac", "flac")


def _audio_output_args(codec: str, suffix: str, trimmed: bool, stream: int = 0) -> list[str]:
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
    return [opt, "aac", f"-b:a:{stream}", defaults.AUDIO_BITRATE]


# --- ffmpeg's complaint ----------------------------------------------------------------------

_PROGRESS_RE = re.compile(r"^\w+=\S*$")
_GENERIC = ("Conversion failed", "Terminating thread", "Error closing file", "At least one output file",
            "Nothing was written", "Exiting normally", "received signal", "Error muxing a packet",
            "Task finished with error code", "Could not write header (incorrect codec parameters")


def _reason(lines: Iterable[str]) -> str:
    """ffmpeg's most specific complaint, without its `[muxer @ 0x...]` prefix."""
    kept = [ln.strip() for ln in lines if ln.strip() and not _PROGRESS_RE.match(ln.strip())]
    specific = [ln for ln in kept if not any(g in ln for g in _GENERIC)]
    line = (specific or kept or [""])[-1]
    line = re.sub(r"^\[[^\]]*\]\s*", "", line)
    return line


# --- the buffer ring shared by the writers ---------------------------------------------------

class _Pump:
    """Preallocated frame buffers between the caller and one worker thread.

    `put` blocks only when every buffer is queued (the encoder is behind), so
    memory is bounded. An error in the worker is kept and raised to the caller.
    """

    _STOP = object()

    def __init__(self, shape: tuple[int, ...], size: int, consume: Callable[[np.ndarray, int], None],
                 name: str) -> None:
        self._consume = consume
        self._free: queue.Queue = queue.Queue()
        for _ in range(max(size, 2)):
            self._free.put(np.empty(shape, np.uint8))
        self._full: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, frame: np.ndarray, index: int) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                buf = self._free.get(timeout=0.2)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise RuntimeError("writer thread stopped") from self.error
        np.copyto(buf, frame)
        self._full.put((buf, index))

    def _run(self) -> None:
        while True:
            item = self._full.get()
            if item is self._STOP:
                return
            buf, index = item
            # After an error, keep taking buffers so the caller never blocks; it sees the error.
            if self.error is None and not self._cancelled:
                try:
                    self._consume(buf, index)
                except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                    self.error = err
            self._free.put(buf)

    def finish(self, cancel: bool = False) -> None:
        """Let the worker drain the queue (or drop it, when cancelling) and stop."""
        self._cancelled = self._cancelled or cancel
        if self._thread.is_alive():
            self._full.put(self._STOP)
            self._thread.join()


def _check_frame(frame: np.ndarray, shape: tuple[int, ...]) -> None:
    if not isinstance(frame, np.ndarray) or frame.shape != shape or frame.dtype != np.uint8:
        got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"frame must be a {shape} uint8 RGB array, not {got}")


def _partial(path: Path) -> Path:
    """Temp name beside the output, keeping the real suffix so ffmpeg picks the muxer."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _only_ours(folder: Path, patterns: Sequence[str]) -> bool:
    """True when every entry of `folder` looks like something a writer made."""
    regs = [re.compile(p) for p in patterns]
    return all(any(r.fullmatch(p.name) for r in regs) or p.name.startswith(".") for p in folder.iterdir())


def _check_overwrite_folder(folder: Path, overwrite: bool, patterns: Sequence[str], what: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise FaceswapError(f"{folder} is a file: {what} needs a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise FaceswapError(f"{folder} exists and is not empty: pass overwrite (--overwrite) to replace it")
        if not _only_ours(folder, patterns):
            # Never delete a folder of someone's other work because of --overwrite.
            raise FaceswapError(f"{folder} holds files that faceswap did not write: choose an empty or new folder")


def _write_file(path: Path, data: bytes) -> None:
    """Write bytes into a writer's temp folder (the folder is published whole, so
    the file itself need not be atomic)."""
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as err:
        _remove(path)
        raise FaceswapError(f"cannot write {path}: {_oserror_line(err)}") from err


def _oserror_line(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "no space left on device"
    return err.strerror or str(err)


# --- writers ---------------------------------------------------------------------------------

class _Closing:
    """`with writer:` closes (publishes) on success and aborts (removes the partial output) on error."""

    def close(self) -> Path:  # pragma: no cover - interface
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class FrameWriter(_Closing):
    """What `open_writer` returns: `write(frame)` ... `close()`, or `abort()`."""

    path: Path
    width: int
    height: int
    rate: Fraction
    frames_written: int
    _aborted = False

    def write(self, frame: np.ndarray, index: int | None = None) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def fps(self) -> float:
        return float(self.rate)

    def _was_closed(self) -> bool:
        """Whether close() has nothing left to do; after an abort that is an error."""
        if self._closed and self._aborted:
            raise FaceswapError(f"cannot write {self.path}: writing was stopped")
        return self._closed


class VideoWriter(FrameWriter):
    """One ffmpeg process encoding rgb24 frames fed on its stdin by a thread."""

    def __init__(self, path: str | Path, *, width: int, height: int, fps: float | Fraction | str,
                 codec: str | None = None, crf: int | None = None, preset: str | None = None,
                 audio: AudioSource | None = None, metadata: dict[str, str] | None = None,
                 overwrite: bool = False, inputs: Sequence[str | Path] = (),
                 queue_size: int = defaults.WRITER_QUEUE) -> None:
        self.path = Path(path)
        self.codec = codec or codec_for(self.path)
        if self.codec == "png":
            raise FaceswapError("png writes a folder of frames: use PngSequenceWriter or open_writer")
        check_output(self.path, self.codec)
        spec = CODECS[self.codec]
        self.width, self.height = int(width), int(height)
        if self.width <= 0 or self.height <= 0:
            raise FaceswapError(f"bad frame size {width}x{height}")
        if (spec.even[0] and self.width % 2) or (spec.even[1] and self.height % 2):
            raise FaceswapError(f"{self.codec} needs an even frame {'width and height' if spec.even[1] else 'width'} "
                                f"(frames are {self.width}x{self.height}): use prores4444, ffv1 or png")
        self.rate = exact_rate(fps)
        check_not_input(self.path, [*inputs, *([audio.path] if audio else [])])
        if self.path.is_dir():
            raise FaceswapError(f"{self.path} is a folder: give a file name")
        if self.path.exists() and not overwrite:
            raise FaceswapError(f"{self.path} exists: pass overwrite (--overwrite) to replace it")
        if crf is not None and spec.crf is None:
            log.warning("%s has no CRF setting: --crf %s is ignored", self.codec, crf)
        if preset is not None and spec.preset is None:
            log.warning("%s has no preset: --preset %s is ignored", self.codec, preset)
        self.crf = crf if crf is not None else spec.crf
        self.preset = preset or spec.preset
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        for key in self.metadata:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.\-]*", key):
                raise FaceswapError(f"metadata key {key!r} must be letters, digits, '_', '.' or '-'")
        self.audio = audio
        self.has_audio = False
        self.frames_written = 0
        self.frames_encoded: int | None = None
        self.tmp = _partial(self.path)
        self._closed = False
        self._stderr: collections.deque[str] = collections.deque(maxlen=60)
        cmd = self._command()
        log.debug("ffmpeg: %s", " ".join(cmd))
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
        self._stderr_thread = threading.Thread(target=self._drain, name="ffmpeg-stderr", daemon=True)
        self._stderr_thread.start()
        self._pump = _Pump((self.height, self.width, 3), queue_size, self._feed, "ffmpeg-writer")

    def _command(self) -> list[str]:
        spec = CODECS[self.codec]
        suffix = self.path.suffix.lower()
        rate = f"{self.rate.numerator}/{self.rate.denominator}"
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:2",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.width}x{self.height}", "-framerate", rate,
               "-i", "pipe:0"]
        audio_args: list[str] = []
        if self.audio is not None:
            probe = _probe_audio(self.audio.path)
            if not probe.codecs:
                log.info("%s has no audio: the output will have none", self.audio.path.name)
            else:
                cmd += _audio_input_args(self.audio, probe, self.audio.duration_s)
                trimmed = self.audio.start_s + probe.video_offset > 0 or self.audio.duration_s is not None
                # Every audio track goes along (dialogue, M&E, stems), each copied if it can be.
                audio_args = ["-map", "1:a"]
                for i, codec in enumerate(probe.codecs):
                    audio_args += _audio_output_args(codec, suffix, trimmed, i)
                # Audio arrives long before the encoder's first video packet (x264 look-ahead);
                # `-ss 0` drops the packets a copied stream keeps from before the cut.
                audio_args += ["-max_muxing_queue_size", "4096", "-ss", "0"]
                self.has_audio = True
        cmd += ["-map", "0:v:0"]
        if spec.yuv:
            # Convert with BT.709 and say so in the stream: untagged Y'CbCr is read as
            # BT.601 or 709 depending on the player and the frame size.
            # (setparams, not -colorspace: ffmpeg 7+ lets the frames' own unset tags win.)
            cmd += ["-vf", f"scale=out_color_matrix=bt709:out_range=tv:flags=bicubic+accurate_rnd,"
                           f"format={spec.pix_fmt},"
                           "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"]
        elif spec.pix_fmt:
            cmd += ["-pix_fmt", spec.pix_fmt]
        cmd += ["-c:v", spec.encoder, *spec.args]
        if self.crf is not None:
            cmd += ["-crf", str(self.crf)]
        if self.preset:
            cmd += ["-preset", self.preset]
        if self.codec == "h265" and suffix in (".mp4", ".m4v", ".mov"):
            cmd += ["-tag:v", "hvc1"]
        # Every frame keeps its own timestamp: no frame is duplicated or dropped.
        cmd += ["-fps_mode", "passthrough"]
        cmd += audio_args
        for key, value in self.metadata.items():
            cmd += ["-metadata", f"{key}={value}"]
        if suffix in (".mp4", ".m4v", ".mov"):
            # use_metadata_tags: without it the mov muxer drops every key it has no atom for.
            flags = "+use_metadata_tags" + ("+faststart" if suffix in (".mp4", ".m4v") else "")
            cmd += ["-movflags", flags]
        cmd += ["-y", str(self.tmp)]
        return cmd

    def _drain(self) -> None:
        assert self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith("frame="):
                self.frames_encoded = int(line[6:]) if line[6:].isdigit() else self.frames_encoded
            elif line and not _PROGRESS_RE.match(line):
                self._stderr.append(line)

    def _feed(self, buf: np.ndarray, index: int) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(memoryview(buf).cast("B"))

    def write(self, frame: np.ndarray, index: int | None = None) -> None:
        """Queue one HxWx3 uint8 RGB frame; returns once it is copied. `index` is ignored:
        a video holds frames in the order written."""
        if self._closed:
            raise FaceswapError(f"{self.path.name}: writer is closed")
        _check_frame(frame, (self.height, self.width, 3))
        try:
            self._pump.put(frame, self.frames_written)
        except (OSError, RuntimeError) as err:
            self._fail(err)
        self.frames_written += 1

    def close(self) -> Path:
        """Finish encoding and give the file its final name; returns that name."""
        if self._was_closed():
            return self.path
        try:
            self._finish()
        except FaceswapError:
            raise  # _fail has cleaned up
        except BaseException:  # Ctrl-C while ffmpeg flushes: leave nothing half-written
            self.abort()
            raise
        self._closed = True
        log.debug("wrote %s: %d frames at %s fps", self.path, self.frames_written, self.rate)
        return self.path

    def _finish(self) -> None:
        self._pump.finish()
        if self._pump.error is not None:
            self._fail(self._pump.error)
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        except OSError as err:
            self._fail(err)
        rc = self._proc.wait()
        self._stderr_thread.join(timeout=10)
        if self.frames_written == 0:
            self._fail(None, "no frames were written")
        if rc != 0:
            self._fail(None)
        if self.frames_encoded is not None and self.frames_encoded != self.frames_written:
            log.warning("%s: ffmpeg encoded %d frames of the %d written", self.path.name,
                        self.frames_encoded, self.frames_written)
        try:
            os.replace(self.tmp, self.path)
        except OSError as err:
            self._fail(err)

    def abort(self) -> None:
        """Stop ffmpeg and delete the partial file. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._aborted = True
        if self._proc.poll() is None:
            self._proc.kill()
        self._pump.finish(cancel=True)
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        except OSError:
            pass
        self._proc.wait()
        self._stderr_thread.join(timeout=5)
        _remove(self.tmp)

    def _fail(self, err: BaseException | None, reason: str | None = None) -> None:
        """Clean up and raise ffmpeg's own reason as one line."""
        if reason is None:
            # A broken pipe only says that ffmpeg has gone: its stderr says why.
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self._stderr_thread.join(timeout=5)
            reason = _reason(self._stderr)
            if not reason and isinstance(err, OSError) and not isinstance(err, BrokenPipeError):
                reason = _oserror_line(err)
            if not reason:
                rc = self._proc.returncode
                reason = (f"ffmpeg was killed (signal {-rc})" if rc is not None and rc < 0 else
                          f"ffmpeg stopped (exit code {rc})")
        self.abort()
        raise FaceswapError(f"cannot write {self.path}: {reason}") from err


class PngSequenceWriter(FrameWriter):
    """A folder of `000000.png ...` frames, written by a thread into
    `.name.partial/` and renamed to `name/` by `close()`.

    Beside the frames: `sequence.json` (size, exact rate, frame range, the
    metadata tags, audio file) and `audio.m4a` / `audio.wav` when there is audio.
    """

    PATTERNS = (r"\d+\.png", r"audio\.(m4a|wav)", r"sequence\.json", r"provenance\.json")

    def __init__(self, folder: str | Path, *, width: int, height: int, fps: float | Fraction | str,
                 codec: str | None = "png", crf: int | None = None, preset: str | None = None,
                 audio: AudioSource | None = None, metadata: dict[str, str] | None = None,
                 overwrite: bool = False, inputs: Sequence[str | Path] = (), start_number: int = 0,
                 compression: int = defaults.PNG_COMPRESSION, queue_size: int = defaults.WRITER_QUEUE) -> None:
        self.path = Path(folder)
        if codec not in (None, "png"):
            raise FaceswapError(f"PngSequenceWriter writes png, not {codec}")
        check_output(self.path, "png")
        if crf is not None or preset is not None:
            log.warning("png frames are lossless: crf/preset are ignored")
        self.width, self.height = int(width), int(height)
        self.rate = exact_rate(fps)
        check_not_input(self.path, [*inputs, *([audio.path] if audio else [])])
        _check_overwrite_folder(self.path, overwrite, self.PATTERNS, "a PNG sequence")
        self.audio = audio
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
        self.compression = compression
        self.frames_written = 0
        self.first_index: int | None = None
        self.last_index: int | None = None
        self._next = start_number
        self._closed = False
        self.tmp = self.path.with_name(f".{self.path.name}.partial")
        _remove(self.tmp)  # a previous run's leftovers: the name is ours
        try:
            self.tmp.mkdir()
        except OSError as err:
            raise FaceswapError(f"cannot create {self.tmp}: {_oserror_line(err)}") from err
        self._pump = _Pump((self.height, self.width, 3), queue_size, self._save, "png-writer")

    def _save(self, buf: np.ndarray, index: int) -> None:
        # The whole folder appears at once in close(), so each file needs no rename of its own.
        _write_file(self.tmp / f"{index:06d}.png", encode_png(buf, self.compression))

    def write(self, frame: np.ndarray, index: int | None = None) -> None:
        """Queue a frame as `{index:06d}.png` (index: as given, else counted on)."""
        if self._closed:
            raise FaceswapError(f"{self.path.name}: writer is closed")
        _check_frame(frame, (self.height, self.width, 3))
        index = self._next if index is None else int(index)
        try:
            self._pump.put(frame, index)
        except FaceswapError:
            self.abort()
            raise
        except OSError as err:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: {_oserror_line(err)}") from err
        self._written(index)

    def _written(self, index: int) -> None:
        self.first_index = index if self.first_index is None else min(self.first_index, index)
        self.last_index = index if self.last_index is None else max(self.last_index, index)
        self._next = index + 1
        self.frames_written += 1

    def close(self) -> Path:
        if self._was_closed():
            return self.path
        self._pump.finish()
        if self._pump.error is not None:
            err = self._pump.error
            self.abort()
            if isinstance(err, FaceswapError):
                raise err
            raise FaceswapError(f"cannot write {self.path}: {err}") from err
        if self.frames_written == 0:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: no frames were written")
        try:
            audio_name = self._extract_audio()
            info = {"format": "faceswap-png-sequence", "version": 1, "width": self.width, "height": self.height,
                    "fps": float(self.rate), "rate": f"{self.rate.numerator}/{self.rate.denominator}",
                    "frames": self.frames_written, "first": self.first_index, "last": self.last_index,
                    "pattern": "%06d.png", "audio": audio_name, "tags": self.metadata}
            _write_file(self.tmp / "sequence.json", (json.dumps(info, indent=2) + "\n").encode())
            self._publish()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def _extract_audio(self) -> str | None:
        if self.audio is None:
            return None
        probe = _probe_audio(self.audio.path)
        if not probe.codecs:
            log.info("%s has no audio: the sequence will have none", self.audio.path.name)
            return None
        # Without a duration the audio stops with the last frame written.
        duration = self.audio.duration_s or self.frames_written / float(self.rate)
        # Lossy AAC/MP3 is copied into .m4a (see _audio_output_args on cutting); anything
        # else is decoded to 24-bit WAV, which every compositor and editor reads.
        copy = probe.codecs[0] in ("aac", "mp3")
        name = "audio.m4a" if copy else "audio.wav"
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
               *_audio_input_args(self.audio, probe, duration), "-map", "0:a:0", "-vn",
               "-c:a", "copy" if copy else "pcm_s24le", "-ss", "0", "-y", str(self.tmp / name)]
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        if proc.returncode != 0:
            raise FaceswapError(f"cannot write the audio of {self.path}: {_reason(proc.stderr.splitlines())}")
        return name

    def _publish(self) -> None:
        """Rename the finished folder into place; a replaced one is moved aside first
        (a folder cannot be renamed over a non-empty one) and put back on failure."""
        old = None
        try:
            if self.path.exists():
                old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
                os.replace(self.path, old)
            os.replace(self.tmp, self.path)
        except OSError as err:
            if old is not None and not self.path.exists():
                os.replace(old, self.path)
            raise FaceswapError(f"cannot write {self.path}: {_oserror_line(err)}") from err
        if old is not None:
            _remove(old)

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._aborted = True
        self._pump.finish(cancel=True)
        _remove(self.tmp)


class ImageSetWriter(PngSequenceWriter):
    """PNGs named after the input images (`shot.0101.exr` -> `shot.0101.png`, `photo.jpg` ->
    `photo.png`), each of its own size: what converting a folder of images gives. Written
    into `.name.partial/` and renamed into place by `close()`, as a PNG sequence."""

    PATTERNS = (r".+\.png", r"sequence\.json", r"provenance\.json")

    def write(self, frame: np.ndarray, index: int | None = None, name: str | None = None) -> None:
        if self._closed:
            raise FaceswapError(f"{self.path.name}: writer is closed")
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError("frame must be an HxWx3 uint8 RGB array")
        index = self._next if index is None else int(index)
        stem = Path(name).stem if name else f"{index:06d}"
        try:
            _write_file(self.tmp / f"{stem}.png", encode_png(frame, self.compression))
        except FaceswapError:
            self.abort()
            raise
        self._written(index)


def open_writer(path: str | Path, codec: str | None = None, **kw: Any) -> FrameWriter:
    """A VideoWriter or, for png, a PngSequenceWriter; `kw` as their constructors."""
    codec = codec or codec_for(path)
    check_output(path, codec)
    if codec == "png":
        return PngSequenceWriter(path, **kw)
    return VideoWriter(path, codec=codec, **kw)


# --- patches for compositors -------------------------------------------------------------------

@dataclass
class Patch:
    """A swapped face as an RGBA layer: `rgba` (HxWx4 uint8, straight alpha)
    goes at (`x`, `y`) in the frame; `face_matrix` (2x3) maps frame
    coordinates to the aligned crop the model saw; `track` is the face track."""

    rgba: np.ndarray
    x: int
    y: int
    face_matrix: Any
    track: int = 0


PATCHES_FORMAT = "faceswap-patches"


class PatchWriter(_Closing):
    """Per-frame face patches a compositor can place over the untouched plate.

    `folder/{frame:06d}_{n}.png` (RGBA, straight alpha) and an index: JSON
    Lines in `patches.jsonl` as frames come (a killed run keeps what it
    wrote), and `patches.json` written atomically by `close()`.
    """

    PATTERNS = (r"\d+_\d+\.png", r"patches\.jsonl?", r"provenance\.json")

    def __init__(self, folder: str | Path, *, frame_size: tuple[int, int], fps: float | Fraction | str | None = None,
                 overwrite: bool = False, inputs: Sequence[str | Path] = (),
                 compression: int = defaults.PNG_COMPRESSION) -> None:
        self.path = Path(folder)
        if not self.path.parent.is_dir():
            raise FaceswapError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
        check_not_input(self.path, inputs)
        _check_overwrite_folder(self.path, overwrite, self.PATTERNS, "patch output")
        self.width, self.height = (int(v) for v in frame_size)
        self.rate = exact_rate(fps) if fps is not None else None
        self.compression = compression
        self.frames_written = 0
        self.patches_written = 0
        try:
            self.path.mkdir(exist_ok=True)
            for p in self.path.iterdir():
                if any(re.fullmatch(pat, p.name) for pat in self.PATTERNS):
                    p.unlink()
            self._jsonl = open(self.path / "patches.jsonl", "w", encoding="utf-8")  # closed by close()/abort()
        except OSError as err:
            raise FaceswapError(f"cannot write {self.path}: {_oserror_line(err)}") from err
        self._closed = False
        self._line(self._header())

    def _header(self) -> dict[str, Any]:
        return {"format": PATCHES_FORMAT, "version": 1, "frame_size": [self.width, self.height],
                "fps": float(self.rate) if self.rate else None,
                "rate": f"{self.rate.numerator}/{self.rate.denominator}" if self.rate else None}

    def _line(self, obj: dict[str, Any]) -> None:
        try:
            self._jsonl.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self._jsonl.flush()
        except OSError as err:
            raise FaceswapError(f"cannot write {self.path}: {_oserror_line(err)}") from err

    def write(self, frame_index: int, patches: Sequence[Patch]) -> None:
        """Store a frame's patches (an empty list records a frame without faces)."""
        if self._closed:
            raise FaceswapError(f"{self.path.name}: patch writer is closed")
        faces = []
        for patch in patches:  # check them all before writing any, so no file is left unindexed
            rgba = patch.rgba
            if not isinstance(rgba, np.ndarray) or rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
                raise ValueError("Patch.rgba must be an HxWx4 uint8 array")
            faces.append(np.asarray(patch.face_matrix, dtype=np.float64).reshape(2, 3))
        entries = []
        for n, (patch, face) in enumerate(zip(patches, faces)):
            rgba = patch.rgba
            name = f"{int(frame_index):06d}_{n}.png"
            atomic_write_bytes(self.path / name, encode_png(rgba, self.compression))
            x, y = int(patch.x), int(patch.y)
            entries.append({"file": name, "x": x, "y": y, "width": int(rgba.shape[1]), "height": int(rgba.shape[0]),
                            "matrix": [[1.0, 0.0, float(x)], [0.0, 1.0, float(y)]],
                            "face_matrix": face.tolist(), "track": int(patch.track)})
        self._line({"frame": int(frame_index), "patches": entries})
        self.frames_written += 1
        self.patches_written += len(entries)

    def close(self) -> Path:
        """Write `patches.json` (streamed from the JSON Lines, so memory stays flat)."""
        if self._closed:
            return self.path
        self._closed = True
        self._jsonl.close()
        jsonl = self.path / "patches.jsonl"
        tmp = self.path / ".patches.json.tmp"
        try:
            with open(jsonl, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
                header = json.loads(src.readline())
                dst.write("{\n" + "".join(f" {json.dumps(k)}: {json.dumps(v)},\n" for k, v in header.items()))
                dst.write(' "frames": [')
                first = True
                for line in src:
                    if line.strip():
                        dst.write(("\n  " if first else ",\n  ") + line.strip())
                        first = False
                dst.write("\n ]\n}\n")
            os.replace(tmp, self.path / "patches.json")
            jsonl.unlink()
        except OSError as err:
            _remove(tmp)
            raise FaceswapError(f"cannot write {self.path / 'patches.json'}: {_oserror_line(err)} "
                                f"(patches.jsonl holds the index)") from err
        return self.path

    def abort(self) -> None:
        """Stop; what was written stays, indexed by patches.jsonl."""
        if not self._closed:
            self._closed = True
            self._jsonl.close()


@dataclass
class PatchIndex:
    """A patch folder's index: frame size, rate and each frame's patch entries."""

    folder: Path
    frame_size: tuple[int, int]
    fps: float | None
    frames: dict[int, list[dict[str, Any]]]


def load_patches(folder: str | Path) -> PatchIndex:
    """Read `patches.json`, or `patches.jsonl` when the run did not finish."""
    folder = Path(folder)
    try:
        if (folder / "patches.json").is_file():
            data = json.loads((folder / "patches.json").read_text(encoding="utf-8"))
            header, frames = data, data.get("frames", [])
        else:
            lines = (folder / "patches.jsonl").read_text(encoding="utf-8").splitlines()
            rows = []
            for ln in lines:
                try:
                    rows.append(json.loads(ln))
                except json.JSONDecodeError:  # the last line of a killed run may be cut
                    break
            header, frames = rows[0], rows[1:]
    except (OSError, json.JSONDecodeError, IndexError) as err:
        raise FaceswapError(f"{folder} is not a faceswap patch folder ({type(err).__name__})") from err
    if header.get("format") != PATCHES_FORMAT:
        raise FaceswapError(f"{folder} is not a faceswap patch folder")
    w, h = header["frame_size"]
    return PatchIndex(folder, (int(w), int(h)), header.get("fps"),
                      {int(e["frame"]): e["patches"] for e in frames})


def recomposite(folder: str | Path | PatchIndex, frame_index: int, background: np.ndarray) -> np.ndarray:
    """Alpha-composite (straight alpha, "over") a frame's stored patches onto a
    copy of `background` (HxWx3 uint8 RGB), as a compositor would."""
    index = folder if isinstance(folder, PatchIndex) else load_patches(folder)
    h, w = background.shape[:2]
    if (w, h) != index.frame_size:
        raise FaceswapError(f"background is {w}x{h} but the patches were made for "
                            f"{index.frame_size[0]}x{index.frame_size[1]} frames")
    out = background[..., :3].astype(np.float32)
    for entry in index.frames.get(int(frame_index), []):
        img = cv2.imread(str(index.folder / entry["file"]), cv2.IMREAD_UNCHANGED)
        if img is None or img.ndim != 3 or img.shape[2] != 4:
            raise FaceswapError(f"{index.folder / entry['file']} is missing or not an RGBA PNG")
        rgba = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
        x, y = int(entry["x"]), int(entry["y"])
        # Clip the patch to the frame: a face at the edge may hang over it.
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + rgba.shape[1], w), min(y + rgba.shape[0], h)
        if x0 >= x1 or y0 >= y1:
            continue
        part = rgba[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)
        alpha = part[..., 3:4] / 255.0
        region = out[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = part[..., :3] * alpha + region * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
