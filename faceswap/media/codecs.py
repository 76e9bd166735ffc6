"""Output codecs, the containers that hold them, and the checks made before anything is written.

The frame rate goes to ffmpeg as an exact rational (29.97 -> 30000/1001), so an
output holds exactly the frames written at exactly the input's rate.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .. import defaults
from ..errors import FaceswapError

__all__ = ["CODECS", "Codec", "check_not_input", "check_output", "chroma_of", "codec_for", "even_sides", "exact_rate",
           "fits"]


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


CODECS: dict[str, Codec] = {
    "h264": Codec("h264", "libx264", (".mp4", ".m4v", ".mov", ".mkv"), "yuv420p",
                  crf=defaults.H264_CRF, preset=defaults.H264_PRESET, yuv=True),
    # hvc1 tag: QuickTime and iOS refuse HEVC tagged hev1 (ffmpeg's default).
    "h265": Codec("h265", "libx265", (".mp4", ".m4v", ".mov", ".mkv"), "yuv420p",
                  ("-x265-params", "log-level=error"), crf=defaults.H265_CRF, preset=defaults.H265_PRESET, yuv=True),
    # apl0 vendor: some Apple/Avid tools check it before trusting a ProRes stream.
    "prores": Codec("prores", "prores_ks", (".mov",), "yuv422p10le", ("-profile:v", "3", "-vendor", "apl0"),
                    yuv=True),
    "prores4444": Codec("prores4444", "prores_ks", (".mov",), "yuv444p10le",
                        ("-profile:v", "4", "-vendor", "apl0"), yuv=True),
    # Level 3, intra only, per-slice CRCs: the archival settings; 4 slices let it use 4 threads.
    "ffv1": Codec("ffv1", "ffv1", (".mkv",), None, ("-level", "3", "-g", "1", "-slicecrc", "1", "-slices", "4")),
    "png": Codec("png", None, ("",), None),
}


def chroma_of(pix_fmt: str) -> str:
    """Chroma subsampling of an ffmpeg pixel format: "4:4:4" (RGB included), "4:2:2",
    "4:0:0" (grey), "" for "", else "4:2:0" (4:1:1 and 4:1:0 too: 4:2:0 keeps all they have
    across a frame's height and more across its width). From the names in libavutil/pixfmt.h."""
    name = pix_fmt.lower()
    if not name:
        return ""
    if name.startswith(("gray", "ya", "y400")):
        return "4:0:0"
    if name.startswith(("rgb", "bgr", "gbr", "argb", "abgr", "rgba", "bgra", "0rgb", "0bgr", "x2rgb", "x2bgr")) \
            or "444" in name or name.startswith(("ayuv", "vuya", "vuyx", "xv3", "xv4", "y410", "y412")):
        return "4:4:4"
    if "422" in name or name.startswith(("yuyv", "uyvy", "yvyu", "y210", "y212", "nv16", "nv20", "p21")):
        return "4:2:2"
    return "4:2:0"


def even_sides(chroma: str) -> tuple[bool, bool]:
    """Whether the width, the height of frames subsampled as `chroma` ("4:2:0", ...) must be even."""
    return {"4:2:0": (True, True), "4:2:2": (True, False)}.get(chroma, (False, False))


def fits(chroma: str, width: int, height: int) -> bool:
    """Whether a `width` x `height` frame can be subsampled as `chroma`."""
    even_w, even_h = even_sides(chroma)
    return not ((even_w and width % 2) or (even_h and height % 2))


# The container each codec belongs in, for the hint in an error message.
_HOME = {"h264": ".mp4", "h265": ".mp4", "prores": ".mov", "prores4444": ".mov", "ffv1": ".mkv"}


def codec_for(path: str | Path) -> str:
    """The default codec for an output path, chosen by its suffix ("" -> png, a folder).
    Raises FaceswapError (one line) for a suffix no codec is written to."""
    suffix = Path(path).suffix.lower()
    if suffix not in defaults.OUTPUT_CODEC_BY_SUFFIX:
        known = ", ".join(s for s in defaults.OUTPUT_CODEC_BY_SUFFIX if s)
        raise FaceswapError(f"cannot write {suffix} files: use one of {known}, or a folder name for PNG frames")
    return defaults.OUTPUT_CODEC_BY_SUFFIX[suffix]


def check_output(path: str | Path, codec: str) -> None:
    """Check before writing: raise a one-line FaceswapError unless `codec` is known, its
    container can be `path` (png: a folder) and `path`'s folder exists."""
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
    """Raise a one-line FaceswapError when `output` would overwrite (or, for a folder,
    contain) one of `inputs`; hard links to an input count as the input."""
    out = Path(output).resolve()
    for inp in inputs:
        src = Path(inp).resolve()
        same = out.exists() and src.exists() and os.path.samefile(out, src)  # hard links too
        if same or src == out or out in src.parents:
            raise FaceswapError(f"output {output} would overwrite the input {inp}: choose another name")


def exact_rate(fps: float | Fraction | str) -> Fraction:
    """The frame rate as the rational a container stores: NTSC rates become
    N*1000/1001 (29.97 -> 30000/1001), others the nearest fraction with a
    denominator up to 1001 (25 -> 25, 12.5 -> 25/2). `fps` in frames a second, or a
    "num/den" string. Raises FaceswapError for a rate that is not positive."""
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
