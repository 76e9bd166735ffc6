"""SMPTE timecode: the one a video starts at, and the one its frame N shows.

A plate from a camera or an edit carries the timecode of its first frame (a `tmcd` track
in .mov/.mp4, a TIMECODE tag in .mkv); conform tools line a converted shot up by it. A
converted range starting at frame N starts at the input's timecode plus N frames.
Drop-frame timecodes (29.97 and 59.94 fps, written with ';') skip frame numbers 0 and 1
(0-3 at 59.94) of every minute but each tenth, as SMPTE 12M counts them.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import FaceswapError
from .ffmpeg_bin import run_ffmpeg

__all__ = ["read_timecode", "shift_timecode", "smpte_timecode"]

_TIMECODE_RE = re.compile(r"^\s+timecode\s*: (\d{1,2}:\d{2}:\d{2}[:;.]\d{2,3})\s*$", re.MULTILINE | re.IGNORECASE)
_PARTS_RE = re.compile(r"(\d+):(\d+):(\d+)([:;.])(\d+)")


def read_timecode(path: str | Path) -> str | None:
    """The start timecode of a video ("HH:MM:SS:FF", ';' before FF for drop-frame) as ffmpeg
    reads it from the container or a stream; None when it has none."""
    match = _TIMECODE_RE.search(run_ffmpeg(["-i", str(path)], f"read {path}").stderr)
    return match.group(1) if match else None


def shift_timecode(timecode: str, frames: int, fps: float) -> str:
    """`timecode` plus `frames` frames at `fps` frames a second (counted at its nominal
    rate, round(fps); drop-frame when the timecode is written with ';' or '.'), wrapping at
    24 hours. Raises FaceswapError for text that is not a timecode."""
    match = _PARTS_RE.fullmatch(timecode.strip())
    if match is None:
        raise FaceswapError(f"not a timecode: {timecode!r} (HH:MM:SS:FF)")
    h, m, s, sep, f = match.groups()
    nominal = max(round(fps), 1)
    drop = (nominal // 30) * 2 if sep in ";." and nominal % 30 == 0 else 0
    minutes = int(h) * 60 + int(m)
    number = (minutes * 60 + int(s)) * nominal + int(f) - drop * (minutes - minutes // 10) + frames
    per_day = 24 * 3600 * nominal - drop * (24 * 60 - 24 * 6)
    number %= per_day
    if drop:
        ten_minutes = nominal * 600 - drop * 9
        minute = nominal * 60 - drop
        tens, rest = divmod(number, ten_minutes)
        number += drop * 9 * tens + (drop * ((rest - drop) // minute) if rest > drop else 0)
    ff = number % nominal
    ss = number // nominal
    return f"{ss // 3600:02d}:{ss // 60 % 60:02d}:{ss % 60:02d}{sep}{ff:02d}"


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
