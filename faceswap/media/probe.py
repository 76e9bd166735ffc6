"""What a video file holds (size, rate, length, audio), read with `ffmpeg -i`.

The static ffmpeg that imageio-ffmpeg ships has no ffprobe, so the stream
summary ffmpeg prints for `-i` is parsed instead; OpenCV supplies the
container's frame count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from ..errors import FaceswapError
from .audio import audio_codecs
from .ffmpeg_bin import complaint, run_ffmpeg

_VIDEO_RE = re.compile(r"Stream #\S+.*?: Video: (?P<codec>\w+).*?, (?P<w>\d{2,5})x(?P<h>\d{2,5})")
_FPS_RE = re.compile(r"(?P<fps>[\d.]+) (?:fps|tbr)")
_DURATION_RE = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>[\d.]+)")
# The stream's display rotation: a `rotate` tag (ffmpeg < 5) or its display matrix, which
# ffmpeg < 6 prints as "displaymatrix: rotation of -90.00 degrees" and 6+ as
# "Display Matrix: rotation of 90.00 degrees" (ffmpeg 6 also flipped the sign to counterclockwise).
_ROTATE_RE = re.compile(r"rotate\s*:\s*(-?\d+)|display\s*matrix: rotation of (-?[\d.]+) degrees", re.IGNORECASE)
_SAR_RE = re.compile(r"SAR (?P<n>\d+):(?P<d>\d+) DAR")
_PIX_FMT_RE = re.compile(r"Video: [^,]*, (?P<pix>[a-z][a-z0-9_]*)")


@dataclass(frozen=True)
class VideoInfo:
    """The facts about a video that every stage needs."""

    path: str
    width: int
    height: int
    fps: float
    duration: float
    frame_count: int  # the container's count: an estimate for progress, not a promise
    codec: str
    has_audio: bool
    rotation: int = 0   # display rotation in degrees (0, 90, 180, 270); width x height are already upright
    pix_fmt: str = ""   # the stream's pixel format as ffmpeg names it (yuv420p, yuv444p, ...); "" if not said
    sar: tuple[int, int] = (1, 1)  # pixel aspect ratio of the upright frames (anamorphic footage: not 1:1)
    bits: int = 8       # bits per sample of the stream (10 for 10-bit HEVC or ProRes 422, 12 for ProRes 4444)
    # the stream's colour tags as ffmpeg names them (range tv/pc, space bt709/bt2020nc/smpte170m...,
    # primaries, transfer bt709/arib-std-b67/smpte2084...); None where the stream does not say
    colour: dict[str, str | None] = field(default_factory=dict)

    @property
    def deep(self) -> bool:
        """More than 8 bits a sample: decoded to 16-bit RGB and written back at its depth."""
        return self.bits > 8

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the pixels as stored, before ffmpeg turns them upright."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


def probe_video(path: str | Path) -> VideoInfo:
    """Probe a video; raise FaceswapError with ffmpeg's own reason if it is unreadable.
    Width and height are those of the decoded frames: ffmpeg turns a stream with a display
    rotation upright (autorotate), so a 90 or 270 degree rotation swaps the stored size."""
    path = str(path)
    if not Path(path).is_file():
        raise FaceswapError(f"no such file: {path}")
    text = run_ffmpeg(["-i", path], f"read video {path}").stderr
    video = _VIDEO_RE.search(text)
    if video is None:
        raise FaceswapError(f"cannot read video {path}: {complaint(text, 'not a video ffmpeg understands')}")
    stream_line = text[video.start():].splitlines()[0]
    # this stream's own block (metadata, side data): up to the next stream
    block = re.split(r"\n\s*Stream #", text[video.start():])[0]
    fps_match = _FPS_RE.search(stream_line)
    dur = _DURATION_RE.search(text)
    duration = (int(dur["h"]) * 3600 + int(dur["m"]) * 60 + float(dur["s"])) if dur else 0.0
    fps = float(fps_match["fps"]) if fps_match else 0.0
    width, height = int(video["w"]), int(video["h"])
    rot = _ROTATE_RE.search(block)
    rotation = 0
    if rot is not None:
        # the magnitude only: ffmpeg's sign convention changed, and ffmpeg itself undoes it on decode
        rotation = int(round(abs(float(rot.group(1) or rot.group(2))) / 90.0)) % 4 * 90
        if rotation in (90, 270):  # ffmpeg autorotates on decode, so the frames come out transposed
            width, height = height, width
    pix = _PIX_FMT_RE.search(stream_line)
    sar_match = _SAR_RE.search(stream_line)
    sar = (int(sar_match["n"]), int(sar_match["d"])) if sar_match and int(sar_match["n"]) > 0 else (1, 1)
    if rotation in (90, 270):  # turned upright, a pixel's width becomes its height
        sar = (sar[1], sar[0])
    bits, colour = _depth_and_colour(path)
    cap = cv2.VideoCapture(path)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    cap.release()
    if count <= 0 and fps > 0:
        count = int(round(duration * fps))
    return VideoInfo(
        path=path, width=width, height=height, fps=fps, duration=duration,
        frame_count=max(count, 0), codec=video["codec"], has_audio=bool(audio_codecs(text)),
        rotation=rotation, pix_fmt=pix["pix"] if pix else "", sar=sar, bits=bits, colour=colour,
    )


# libavutil's enum values (pixfmt.h) -> the names ffmpeg's options and filters take.
_RANGES = {1: "tv", 2: "pc"}
_SPACES = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco",
           9: "bt2020nc", 10: "bt2020c"}
_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
              10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "jedec-p22"}
_TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear", 9: "log100",
              10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1", 14: "bt2020-10",
              15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}


def _depth_and_colour(path: str) -> tuple[int, dict[str, str | None]]:
    """(bits per sample, colour tags) of the first video stream, read with PyAV; (8, {}) when
    PyAV cannot open it (ffmpeg's own probe has already said whether the file is a video)."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            cc = stream.codec_context
            bits = max((c.bits for c in stream.format.components), default=8) if stream.format else 8
            return bits, {"range": _RANGES.get(int(cc.color_range)), "space": _SPACES.get(int(cc.colorspace)),
                          "primaries": _PRIMARIES.get(int(cc.color_primaries)),
                          "transfer": _TRANSFERS.get(int(cc.color_trc))}
    except (av.FFmpegError, IndexError, ValueError, TypeError, AttributeError):
        return 8, {}

