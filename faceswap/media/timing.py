"""When each frame of a video is shown: per-frame presentation times read from the
container with PyAV, and whether they sit on a constant-rate grid.

Phones, screen recorders and edits that cut frames out write variable frame
rate (VFR): a frame lasts as long as it lasts, and a cut leaves a hole in the
timestamps. Frames written at a constant rate would then drift from the sound
(a 1 s hole puts every later frame up to 1 s early), so convert keeps each
frame's own time for such footage (`VideoWriter(timeline=...)`), and qc's
integrity check compares the times frame by frame.

Times come from the demuxed packets (no decoding: a 100 MB, 3600-frame file
takes 0.1 s), sorted into display order, without the packets an edit list
discards; that is the order and the frames `VideoReader` decodes with
`-fps_mode passthrough`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import defaults
from ..log import get_logger
from .codecs import exact_rate

__all__ = ["Timeline", "read_timeline", "variable_timeline"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Timeline:
    """Presentation times of a video's frames in display order.

    `pts`: int64 ticks of `time_base` seconds, strictly increasing, frame i at `pts[i]`;
    `last_duration`: ticks the last frame is shown for; `rate`: the constant rate
    (frames a second) it is compared with, the one a constant-rate writer would use."""

    pts: np.ndarray = field(repr=False)
    time_base: Fraction
    last_duration: int
    rate: Fraction

    def __len__(self) -> int:
        return len(self.pts)

    def ticks(self, i: int, first: int = 0) -> int:
        """Ticks from frame `first` to frame `i`; frames past the end continue at `rate`
        after the last one (a decoder that finds more frames than packets)."""
        def at(k: int) -> Fraction:
            if k < len(self.pts):
                return Fraction(int(self.pts[k]))
            return int(self.pts[-1]) + self.last_duration + (k - len(self.pts)) / (self.rate * self.time_base)
        return round(at(i) - at(first))

    def seconds(self, i: int, first: int = 0) -> float:
        """Seconds from frame `first` to frame `i` (see `ticks`)."""
        return float(self.ticks(i, first) * self.time_base)

    def duration(self, i: int) -> int:
        """Ticks frame `i` is shown for: until the next frame, or `last_duration` for the last."""
        return self.ticks(i + 1, i) if i + 1 < len(self.pts) else self.last_duration

    def span(self, start: int, count: int) -> float:
        """Seconds that frames `start` .. `start + count - 1` are shown for, the last one's
        own duration included: the length of the sound that belongs to them."""
        return self.seconds(start + count, start)

    def drift(self) -> tuple[float, int]:
        """(seconds, frame) of the frame farthest from where a constant `rate` from frame 0
        would show it."""
        grid = np.arange(len(self.pts)) / float(self.rate)
        off = np.abs((self.pts - self.pts[0]) * float(self.time_base) - grid)
        worst = int(np.argmax(off))
        return float(off[worst]), worst

    @property
    def variable(self) -> bool:
        """Whether writing at the constant `rate` would show some frame more than
        `defaults.VFR_TOLERANCE` of a frame away from its own time."""
        return self.drift()[0] > defaults.VFR_TOLERANCE / float(self.rate)


def read_timeline(path: str | Path, rate: float | Fraction | None = None) -> Timeline | None:
    """The frame times of the first video stream of `path`, read from its packets with PyAV.
    `rate` (frames a second) is the constant rate to compare with; None: the stream's
    average rate. None when the times are unknown: no video stream, a file PyAV cannot
    open, packets without timestamps (raw elementary streams) or two frames at one time."""
    import av  # 70 ms to import: only for the commands that read times

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            pts, durations, missing = [], [], False
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue  # the demuxer's flush packet; frames an edit list cuts
                if packet.pts is None:
                    missing = True
                    break
                pts.append(packet.pts)
                durations.append(packet.duration or 0)
            time_base = stream.time_base
            rate = rate or stream.average_rate or stream.guessed_rate
    except (av.FFmpegError, OSError, ValueError) as err:
        log.debug("%s: no frame times (%s)", Path(path).name, err)
        return None
    if missing or not pts or time_base is None or not rate:
        return None
    order = np.argsort(np.asarray(pts, np.int64), kind="stable")
    ticks = np.asarray(pts, np.int64)[order]
    if len(ticks) > 1 and np.any(np.diff(ticks) <= 0):
        log.debug("%s: two frames share a timestamp: frame times ignored", Path(path).name)
        return None
    last = int(durations[order[-1]]) or round(1 / (Fraction(rate) * Fraction(time_base)))
    return Timeline(ticks, Fraction(time_base), max(last, 1), Fraction(rate))


def variable_timeline(path: str | Path, rate: float | Fraction) -> Timeline | None:
    """The timeline of `path` when its frames are not on the constant `rate` grid (saying
    so in one log line), else None: the file is written at the constant rate as it is.
    `rate`: the rate a writer would use (made exact, see `exact_rate`)."""
    timeline = read_timeline(path, exact_rate(rate))
    if timeline is None or not timeline.variable:
        return None
    off, frame = timeline.drift()
    log.info("%s has a variable frame rate (frame %d is %.3f s off a constant %.4g fps): every frame keeps "
             "its own time", Path(path).name, frame, off, float(rate))
    return timeline
