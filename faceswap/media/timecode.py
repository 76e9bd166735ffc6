"""SMPTE timecode: the one a video starts at, and the one its frame N shows.

A plate from a camera or an edit carries the timecode of its first frame (a `tmcd` track
in .mov/.mp4, a TIMECODE tag in .mkv); conform tools line a converted shot up by it. A
converted range starting at frame N starts at the input's timecode plus N frames.
Drop-frame timecodes (29.97 and 59.94 fps, written with ';') skip frame numbers 0 and 1
(0-3 at 59.94) of every minute but each tenth, as SMPTE 12M counts them (the `timecode`
package does the arithmetic).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import FaceswapError
from .ffmpeg_bin import run_ffmpeg

__all__ = ["read_timecode", "shift_timecode", "smpte_timecode", "timecode_words"]

_TIMECODE_RE = re.compile(r"^\s+timecode\s*: (\d{1,2}:\d{2}:\d{2}[:;.]\d{2,3})\s*$", re.MULTILINE | re.IGNORECASE)
_PARTS_RE = re.compile(r"(\d+):(\d+):(\d+)([:;.])(\d+)")
# the nominal rates SMPTE 12M defines drop-frame counting for, as the timecode package names them
_DROP_RATES = {30: "29.97", 60: "59.94"}


def read_timecode(path: str | Path) -> str | None:
    """The start timecode of a video ("HH:MM:SS:FF", ';' before FF for drop-frame) as ffmpeg
    reads it from the container or a stream; None when it has none."""
    match = _TIMECODE_RE.search(run_ffmpeg(["-i", str(path)], f"read {path}").stderr)
    return match.group(1) if match else None


def shift_timecode(timecode: str, frames: int, fps: float) -> str:
    """`timecode` plus `frames` (>= 0) frames at `fps` frames a second (counted at its nominal
    rate, round(fps); drop-frame when the timecode is written with ';' or '.' at 29.97 or
    59.94), wrapping at 24 hours. The arithmetic is the `timecode` package's. Raises
    FaceswapError for text that is not a timecode."""
    from timecode import Timecode

    match = _PARTS_RE.fullmatch(timecode.strip())
    if match is None:
        raise FaceswapError(f"not a timecode: {timecode!r} (HH:MM:SS:FF)")
    h, m, s, sep, f = match.groups()
    nominal = max(round(fps), 1)
    drop = sep in ";." and nominal in _DROP_RATES
    rate = _DROP_RATES[nominal] if drop else str(nominal)
    start = Timecode(rate, f"{int(h):02d}:{int(m):02d}:{int(s):02d}{';' if drop else ':'}{int(f):02d}",
                     force_non_drop_frame=not drop)
    shifted = start + frames if frames else start
    return str(shifted).replace(";", sep) if drop else str(shifted).replace(";", ":")


def smpte_timecode(words: tuple[int, int] | list[int] | None) -> str | None:
    """"HH:MM:SS:FF" (';' before FF when the drop-frame flag is set) of an SMPTE 12M time address
    as EXR (smpte:TimeCode) and DPX headers hold it: the first word's BCD digits, frames in
    bits 0-5, the drop-frame flag bit 6, seconds 8-14, minutes 16-22, hours 24-29. None for none."""
    if not words:
        return None
    word = int(words[0])

    def bcd(shift: int, tens_bits: int) -> int:
        return ((word >> (shift + 4)) & ((1 << tens_bits) - 1)) * 10 + ((word >> shift) & 0xF)

    sep = ";" if word & (1 << 6) else ":"
    return f"{bcd(24, 2):02d}:{bcd(16, 3):02d}:{bcd(8, 3):02d}{sep}{bcd(0, 2):02d}"


def timecode_words(timecode: str, fps: float | None = None) -> tuple[int, int]:
    """The SMPTE 12M time address of "HH:MM:SS:FF" (';' or '.' before FF: drop-frame) as EXR's
    smpte:TimeCode and DPX's headers hold it (the inverse of `smpte_timecode`; user bits 0).
    At `fps` above 30 the frames are counted in pairs, as SMPTE 12M does for 50 and 60 fps
    (the address holds frames 0-39). Raises FaceswapError for text that is not a timecode or
    one the address cannot hold."""
    match = _PARTS_RE.fullmatch(timecode.strip())
    if match is None:
        raise FaceswapError(f"not a timecode: {timecode!r} (HH:MM:SS:FF)")
    h, m, s, sep, f = (int(v) if v.isdigit() else v for v in match.groups())
    if fps is not None and round(fps) > 30:
        f //= 2
    if f > 39 or s > 59 or m > 59 or h > 23:
        raise FaceswapError(f"timecode {timecode!r} cannot be written as an SMPTE 12M time address")

    def bcd(value: int, shift: int) -> int:
        return ((value // 10) << (shift + 4)) | ((value % 10) << shift)

    word = bcd(f, 0) | bcd(s, 8) | bcd(m, 16) | bcd(h, 24) | ((1 << 6) if sep in ";." else 0)
    return word, 0
