"""Stream decoded RGB frames out of ffmpeg through a pipe.

Frames land in a small ring of preallocated buffers filled by a reader
thread, so decoding overlaps with whatever the caller does with a frame and
nothing is allocated per frame. A frame array stays valid until `hold`
further frames have been taken (default 1: only the current one); a caller
that looks ahead asks for a larger `hold` instead of copying frames.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import ffmpeg
import numpy as np

from ..errors import FaceswapError
from ..log import get_logger
from .colour import decode_args
from .ffmpeg_bin import complaint, ffmpeg_exe
from .probe import VideoInfo, probe_video

log = get_logger(__name__)
_END = object()


class VideoReader:
    """Iterate `(index, frame)` over a video; frames are HxWx3 RGB, uint8 for 8-bit video and
    uint16 (full 16-bit range) for video of more than 8 bits (`info.deep`) unless `eight_bit`
    asks for uint8 anyway (measuring tools, detectors)."""

    def __init__(self, path: str | Path, start: int = 0, hold: int = 1, prefetch: int = 6,
                 eight_bit: bool = False) -> None:
        self.info: VideoInfo = probe_video(path)
        self.deep = self.info.deep and not eight_bit
        self.start = start
        self.prefetch = max(prefetch, 1)
        # While the caller holds `hold` frames and `prefetch` more wait in the queue, the
        # reader thread fills one more buffer: that many, and no buffer is overwritten early.
        self.ring = self.prefetch + max(hold, 1) + 1
        self.frames_read = 0
        self.warning: str | None = None

    def _command(self) -> list[str]:
        stream = ffmpeg.input(self.info.path)
        # swscale's fast YUV->RGB path reads about one level dark on every channel; convert
        # would darken the whole plate, untouched pixels included. The accurate path costs
        # ~5 ms more per 720p frame, in ffmpeg's own process.
        sws = "accurate_rnd+full_chroma_int"
        pix = "rgb48le" if self.deep else "rgb24"
        if self.start > 0:
            # Frame-accurate: decode from the start and drop frames by number (decoding
            # runs at hundreds of frames/s; a keyframe seek would make frame numbers guesses).
            stream = stream.trim(start_frame=self.start)
        tagged = decode_args(self.info.colour)   # media/colour.py
        if self.start > 0 or (self.info.deep and tagged):
            # A filter graph's own scaler ignores -sws_flags: convert in it. Deep video converts
            # with the matrix and range its tags say (BT.2020 for HLG/PQ), not swscale's guess.
            stream = stream.filter("scale", flags=sws, **(tagged if self.info.deep else {})).filter("format", pix)
        out = stream.output("pipe:", format="rawvideo", pix_fmt=pix, fps_mode="passthrough", sws_flags=sws)
        return out.global_args("-hide_banner", "-nostdin", "-loglevel", "error").compile(cmd=ffmpeg_exe())

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        h, w = self.info.height, self.info.width
        dtype = np.uint16 if self.deep else np.uint8
        frame_bytes = h * w * 3 * np.dtype(dtype).itemsize
        buffers = [np.empty((h, w, 3), dtype) for _ in range(self.ring)]
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        proc = subprocess.Popen(self._command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, bufsize=frame_bytes)
        stderr_chunks: list[bytes] = []
        stop = threading.Event()

        def drain_stderr() -> None:
            for line in proc.stderr:
                if len(stderr_chunks) < 200:
                    stderr_chunks.append(line)

        def pump() -> None:
            slot = 0
            try:
                while not stop.is_set():
                    view = memoryview(buffers[slot]).cast("B")
                    got = 0
                    while got < frame_bytes:
                        n = proc.stdout.readinto(view[got:])
                        if not n:
                            break
                        got += n
                    if got < frame_bytes:
                        break
                    q.put(buffers[slot])
                    slot = (slot + 1) % self.ring
            finally:
                q.put(_END)

        threads = [threading.Thread(target=drain_stderr, daemon=True), threading.Thread(target=pump, daemon=True)]
        for t in threads:
            t.start()
        index = self.start
        try:
            while True:
                item = q.get()
                if item is _END:
                    break
                self.frames_read += 1
                yield index, item
                index += 1
        finally:
            stop.set()
            if proc.poll() is None:
                proc.kill()
            # The pump may sit in q.put() if the caller stopped early: keep draining.
            while threads[1].is_alive():
                try:
                    q.get(timeout=0.05)
                except queue.Empty:
                    pass
            proc.wait()
            threads[0].join(timeout=5)
        err = complaint(b"".join(stderr_chunks).decode(errors="replace"))
        if self.frames_read == 0:
            raise FaceswapError(f"cannot decode video {self.info.path}: {err or 'no frames could be decoded'}")
        if err:
            # Corrupt packets mid-stream: ffmpeg conceals them and goes on. Say so once.
            self.warning = f"{Path(self.info.path).name}: ffmpeg reported decode errors ({err})"
            log.warning(self.warning)


def read_frame(path: str | Path, index: int, or_last: bool = False) -> np.ndarray:
    """Frame `index` (0-based) of the video at `path`: a copy, (H, W, 3) RGB as VideoReader gives it,
    decoded from the start (frame-exact; for a still or a sheet, not for a loop). `or_last`: a
    shorter video gives its last frame instead. Raises FaceswapError when there is no such frame."""
    last = None
    for i, frame in VideoReader(path):
        last = frame
        if i == index:
            return frame.copy()
    if or_last and last is not None:
        return last.copy()
    raise FaceswapError(f"{path} has no frame {index}")
