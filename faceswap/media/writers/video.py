"""Video files: one ffmpeg process encoding rgb24 frames that a thread feeds on its stdin.

`write()` copies each frame into one of a few preallocated buffers and returns
at once (see `Pump`); the file is written under a temporary name and renamed
by `close()`. Every frame keeps its own timestamp at the exact rational rate
(`exact_rate`), so the output holds exactly the frames written; given a
`timeline` (variable-frame-rate footage), each frame instead keeps its input
frame's own time (see `timed.py`).
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import threading
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ... import defaults
from ...errors import FaceswapError
from ...log import get_logger
from ..audio import AudioSource, mux_args, probe_audio
from ..codecs import CODECS, check_not_input, check_output, chroma_of, codec_for, even_sides, exact_rate, fits
from ..colour import encode_filter
from ..ffmpeg_bin import complaint, ffmpeg_exe, is_progress
from ..plates import Plate
from ..timing import Timeline
from .base import FrameWriter, Patch, Pump, check_frame, oserror_line, partial_file, remove
from .timed import TimedFrames, timed_args

__all__ = ["VideoWriter"]

log = get_logger(__name__)


class VideoWriter(FrameWriter):
    """One ffmpeg process encoding rgb24 frames fed on its stdin by a thread.

    `width` x `height` in pixels; `fps` in frames a second (made exact, see `exact_rate`);
    `codec` None: by the suffix; `audio` muxed beside the frames, cut to its range;
    `timeline`: each frame is shown at its input frame's time in it (`write`'s `index`,
    counted from the first frame written), not at the constant rate `fps`.
    Raises FaceswapError (one line) for a codec the container cannot hold, a size the
    codec's chroma subsampling refuses, an existing output without `overwrite`, or an
    output that would replace an input. `pix_fmt`: the Y'CbCr format to encode (None: the
    codec's own, see CODECS), e.g. yuv444p to keep a 4:4:4 input (see media/output_plan.py);
    `sar`: the pixel aspect ratio (width, height) to tag, for anamorphic footage (None: square).
    `timecode`: the SMPTE timecode of the first frame written ("HH:MM:SS:FF"; None: none)."""

    def __init__(self, path: str | Path, *, width: int, height: int, fps: float | Fraction | str,
                 codec: str | None = None, crf: int | None = None, preset: str | None = None,
                 audio: AudioSource | None = None, metadata: dict[str, str] | None = None,
                 overwrite: bool = False, inputs: Sequence[str | Path] = (),
                 queue_size: int = defaults.WRITER_QUEUE, pix_fmt: str | None = None,
                 sar: tuple[int, int] | None = None, timeline: Timeline | None = None,
                 timecode: str | None = None, deep: bool = False,
                 colour: dict[str, str | None] | None = None,
                 tonemap_from: dict[str, str | None] | None = None) -> None:
        self.path = Path(path)
        # deep: frames arrive as 16-bit RGB (the plates of video of more than 8 bits) and `pix_fmt`
        # keeps that depth; colour: the input's tags (media/probe.py), written unchanged
        self.deep = deep
        self.colour = {k: v for k, v in (colour or {}).items() if v}
        self.tonemap_from = tonemap_from
        self.timecode = timecode
        self.codec = codec or codec_for(self.path)
        if self.codec == "png":
            raise FaceswapError("png writes a folder of frames: use PngSequenceWriter or open_writer")
        check_output(self.path, self.codec)
        spec = CODECS[self.codec]
        self.width, self.height = int(width), int(height)
        if self.width <= 0 or self.height <= 0:
            raise FaceswapError(f"bad frame size {width}x{height}")
        self.pix_fmt = pix_fmt or spec.pix_fmt
        # setsar rounds to a denominator of at most `max` (100 by default): 720/721 would become 1
        self.sar = (f"setsar=r={sar[0]}/{sar[1]}:max={max(sar)}"
                    if sar and min(sar) > 0 and sar[0] != sar[1] else None)
        chroma = chroma_of(self.pix_fmt or "")
        if not fits(chroma, self.width, self.height):
            raise FaceswapError(f"{self.codec} {chroma} needs an even frame "
                                f"{'width and height' if even_sides(chroma)[1] else 'width'} (frames are "
                                f"{self.width}x{self.height}): use its 4:4:4 (pix_fmt yuv444p), prores4444, ffv1 or png")
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
        self.tmp = partial_file(self.path)
        self._closed = False
        self._stderr: collections.deque[str] = collections.deque(maxlen=60)
        self.timeline = timeline
        cmd = self._command()
        log.debug("ffmpeg: %s", " ".join(cmd))
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
        self._stderr_thread = threading.Thread(target=self._drain, name="ffmpeg-stderr", daemon=True)
        self._stderr_thread.start()
        self._timed = None if timeline is None else TimedFrames(self._proc.stdin, self.width, self.height, timeline,
                                                                self._rgb)
        self._pump = Pump((self.height, self.width, 3), queue_size, self._feed, "ffmpeg-writer",
                          np.uint16 if deep else np.uint8)

    @property
    def _rgb(self) -> str:
        return "rgb48le" if self.deep else "rgb24"

    def _command(self) -> list[str]:
        spec = CODECS[self.codec]
        suffix = self.path.suffix.lower()
        rate = f"{self.rate.numerator}/{self.rate.denominator}"
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:2"]
        timed_in, timed_out = timed_args(self.timeline) if self.timeline else ([], [])
        cmd += timed_in or ["-f", "rawvideo", "-pix_fmt", self._rgb, "-s", f"{self.width}x{self.height}",
                            "-framerate", rate, "-i", "pipe:0"]
        audio_args: list[str] = []
        if self.audio is not None:
            probe = probe_audio(self.audio.path)
            if not probe.codecs:
                log.info("%s has no audio: the output will have none", self.audio.path.name)
            else:
                audio_in, audio_args = mux_args(self.audio, probe, suffix)
                cmd += audio_in
                self.has_audio = True
        cmd += ["-map", "0:v:0"]
        # colour conversion and tags: media/colour.py
        chain = encode_filter(self.colour, self.pix_fmt, spec.yuv, self.tonemap_from)
        if not spec.yuv and not self.tonemap_from:
            cmd += ["-pix_fmt", self.pix_fmt] if self.pix_fmt else []
        filters = [f for f in (chain, self.sar) if f]
        cmd += ["-vf", ",".join(filters)] if filters else []
        cmd += ["-c:v", spec.encoder, *spec.args]
        if self.crf is not None:
            cmd += ["-crf", str(self.crf)]
        if self.preset:
            cmd += ["-preset", self.preset]
        if self.codec == "h265" and suffix in (".mp4", ".m4v", ".mov"):
            cmd += ["-tag:v", "hvc1"]
        # Every frame keeps its own timestamp: no frame is duplicated or dropped.
        cmd += ["-fps_mode", "passthrough", *timed_out]
        cmd += audio_args
        for key, value in self.metadata.items():
            cmd += ["-metadata", f"{key}={value}"]
        cmd += ["-timecode", self.timecode] if self.timecode else []
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
            elif line and not is_progress(line):
                self._stderr.append(line)

    def _feed(self, buf: np.ndarray, index: int | None) -> None:
        assert self._proc.stdin is not None
        if self._timed is not None:
            self._timed.write(buf, index)
        else:
            self._proc.stdin.write(memoryview(buf).cast("B"))

    def write(self, frame: np.ndarray, index: int | None = None, *, name: str | None = None,
              patches: Sequence[Patch] = (), plate: Plate | None = None) -> None:
        """Queue one HxWx3 uint8 RGB frame; returns once it is copied. A video holds frames in
        the order written; `index` (the input frame number) gives its time when the writer has
        a timeline; `name` and `patches` are ignored. Raises ValueError for a frame of another
        size or type, FaceswapError when ffmpeg has failed."""
        self._check_open()
        check_frame(frame, (self.height, self.width, 3))
        if self.deep:  # the plate at its own depth; a frame without one (a still) widened to 16 bits
            frame = plate.pixels if plate is not None else frame.astype(np.uint16) * 257
        try:
            self._pump.put(frame, self.frames_written if self._timed is None else index)
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
            if self._timed is not None:
                self._timed.close()
            self._proc.stdin.close()
        except (OSError, RuntimeError) as err:
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
        remove(self.tmp)

    def _fail(self, err: BaseException | None, reason: str | None = None) -> None:
        """Clean up and raise ffmpeg's own reason as one line."""
        if reason is None:
            # A broken pipe only says that ffmpeg has gone: its stderr says why.
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self._stderr_thread.join(timeout=5)
            reason = complaint(self._stderr)
            if not reason and isinstance(err, OSError) and not isinstance(err, BrokenPipeError):
                reason = oserror_line(err)
            if not reason:
                rc = self._proc.returncode
                reason = (f"ffmpeg was killed (signal {-rc})" if rc is not None and rc < 0 else
                          f"ffmpeg stopped (exit code {rc})")
        self.abort()
        raise FaceswapError(f"cannot write {self.path}: {reason}") from err
