"""One frame as a viewer gets it after delivery: through H.264 and back (for measuring what a mark or
a swap looks like once encoded, as convert writes its outputs)."""

from __future__ import annotations

import subprocess

import numpy as np

from .ffmpeg_bin import ffmpeg_exe

__all__ = ["through_h264"]


def through_h264(frame: np.ndarray, crf: int = 18, threads: int | None = None) -> np.ndarray:
    """`frame` (H, W, 3) uint8 RGB, even H and W, encoded with libx264 at `crf` (preset medium,
    4:2:0, as convert writes video) and decoded again: (H, W, 3) uint8 RGB. `threads`: x264's
    threads (None: its default; 1 makes the result the same on any machine). Raises
    subprocess.CalledProcessError when ffmpeg fails (an odd size, for one)."""
    h, w = frame.shape[:2]
    encode = [ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-",
              "-c:v", "libx264", "-crf", str(crf), *(["-threads", str(threads)] if threads else []),
              "-pix_fmt", "yuv420p", "-f", "h264", "-"]
    stream = subprocess.run(encode, input=np.ascontiguousarray(frame).tobytes(), capture_output=True,
                            check=True).stdout
    back = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24",
                           "-"], input=stream, capture_output=True, check=True).stdout
    return np.frombuffer(back, np.uint8).reshape(h, w, 3)
