"""Frames with their own presentation times, fed to ffmpeg's stdin as a NUT stream.

A rawvideo pipe carries pixels only, so ffmpeg numbers its frames at one
constant rate. For variable-frame-rate footage `VideoWriter` instead sends
each rgb24 frame as a NUT packet (muxed by PyAV) stamped with its input
frame's time, and ffmpeg, with `-fps_mode passthrough` and the input's time
base, keeps that time in the output.
"""

from __future__ import annotations

from typing import IO

import numpy as np

from ..timing import Timeline

__all__ = ["TimedFrames", "timed_args"]


def timed_args(timeline: Timeline) -> tuple[list[str], list[str]]:
    """(input, output) options of ffmpeg for reading the stream from stdin and encoding in
    the input's time base: frame times are kept to the tick, not rounded to a frame grid."""
    tb = timeline.time_base
    return ["-f", "nut", "-i", "pipe:0"], ["-enc_time_base:v", f"{tb.numerator}/{tb.denominator}"]


class TimedFrames:
    """Mux rgb24 frames of `width` x `height` into `stream` (a pipe), each at `timeline`'s
    time for its input frame number, counted from the first frame written (see `timed_args`
    for the ffmpeg that reads it)."""

    def __init__(self, stream: IO[bytes], width: int, height: int, timeline: Timeline, pix_fmt: str = "rgb24") -> None:
        self.pix_fmt = pix_fmt
        self.timeline = timeline
        self.first: int | None = None
        self.last = -1
        self._stream = stream
        self._size = (width, height)
        self._out = None
        self._video = None

    def write(self, frame: np.ndarray, index: int | None) -> None:
        """Send one HxWx3 uint8 frame, input frame number `index` (None: the one after the last).
        Raises OSError when the pipe fails (BrokenPipeError: ffmpeg has gone), RuntimeError
        when PyAV refuses the frame."""
        import av

        if self._out is None:
            self._out = av.open(self._stream, "w", format="nut")
            # NUT stores no packet durations: ffmpeg shows the last frame for one frame at the
            # stream's rate, so that rate is the input's last frame's (the container duration).
            last = 1 / (self.timeline.last_duration * self.timeline.time_base)
            self._video = self._out.add_stream("rawvideo", rate=last)
            self._video.width, self._video.height = self._size
            self._video.pix_fmt = self.pix_fmt
            self._video.time_base = self.timeline.time_base
        index = self.last + 1 if index is None else index
        if self.first is None:
            self.first = index
        packet = av.Packet(frame)
        packet.stream = self._video
        packet.time_base = self.timeline.time_base
        packet.pts = packet.dts = self.timeline.ticks(index, self.first)
        packet.duration = self.timeline.duration(index)
        _mux(self._out.mux, packet)
        self.last = index

    def close(self) -> None:
        """Write the stream's trailer; the pipe itself stays open for the caller to close."""
        if self._out is not None:
            out, self._out = self._out, None
            _mux(out.close)


def _mux(call, *args) -> None:
    """PyAV's errors as the writer's: OSError from the pipe, RuntimeError otherwise."""
    import av

    try:
        call(*args)
    except av.FFmpegError as err:
        if isinstance(err, OSError):
            raise
        raise RuntimeError(f"PyAV: {err}") from err
