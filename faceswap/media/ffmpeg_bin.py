"""Which ffmpeg executable to drive (the system one, else imageio-ffmpeg's), running it, and reading its complaint."""

import functools
import re
import shutil
import subprocess
from collections.abc import Iterable

from ..errors import DISK_FULL, FaceswapError
from ..log import get_logger

# The writers use `-fps_mode` and the readers `-sws_flags` inside filters: ffmpeg 5.1 or newer.
MIN_VERSION = (5, 1)


def _version(exe: str) -> tuple[int, ...] | None:
    """(major, minor) of `exe -version`, or None for a build that does not say (git snapshots)."""
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(r"ffmpeg version n?(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary; a system ffmpeg on PATH wins (it may be newer or
    have site-specific codecs) unless it is older than MIN_VERSION; the wheel's static
    build makes `pip install` enough."""
    found = shutil.which("ffmpeg")
    if found:
        version = _version(found)
        if version is None or version >= MIN_VERSION:
            return found
        get_logger(__name__).warning(
            "%s is ffmpeg %d.%d, older than %d.%d: using imageio-ffmpeg's build instead",
            found, *version, *MIN_VERSION)
    try:
        import imageio_ffmpeg
    except ImportError as err:  # pragma: no cover - it is a hard dependency
        raise FaceswapError("no ffmpeg found: install ffmpeg or `pip install imageio-ffmpeg`") from err
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], what: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """ffmpeg with `args`, its stdout and stderr captured as text. An ffmpeg that
    does not answer within `timeout` s is a one-line error: "cannot {what}: ...".
    The exit status is the caller's to judge (ffmpeg -i alone always fails)."""
    try:
        return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], capture_output=True, text=True,
                              errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise FaceswapError(f"cannot {what}: ffmpeg did not answer in {timeout:g} s") from err


# `-progress` lines are key=value, some with the value padded: "bitrate=   2.2kbits/s".
_PROGRESS_RE = re.compile(r"^\w+=\s*\S*$")
# What ffmpeg says when a write fails with ENOSPC; the error line then names the disk.
_DISK_FULL = ("No space left on device", "Disk quota exceeded")
# Lines ffmpeg prints after the real complaint, saying only that something failed.
_GENERIC = ("Conversion failed", "Terminating thread", "Error closing file", "At least one output file",
            "Nothing was written", "Exiting normally", "received signal", "Error muxing a packet",
            "Task finished with error code", "Could not write header (incorrect codec parameters")


def is_progress(line: str) -> bool:
    """Whether `line` is one of `-progress`'s `key=value` lines rather than a message."""
    return bool(_PROGRESS_RE.match(line.strip()))


def complaint(stderr: str | Iterable[str], default: str = "") -> str:
    """ffmpeg's most specific complaint in its stderr (text or lines), as one line
    without its `[muxer @ 0x...]` or `/path/file: ` prefix; `default` when it said nothing.
    A write that failed for want of space is always said as DISK_FULL, whatever came after."""
    lines = stderr.splitlines() if isinstance(stderr, str) else stderr
    kept = [ln.strip() for ln in lines if ln.strip() and not is_progress(ln)]
    if any(words in ln for ln in kept for words in _DISK_FULL):
        return DISK_FULL
    specific = [ln for ln in kept if not any(g in ln for g in _GENERIC)]
    if not (specific or kept):
        return default
    line = re.sub(r"^\[[^\]]*\]\s*", "", (specific or kept)[-1])
    if line.startswith("/") and ": " in line:  # "/path/in.mp4: Invalid data ...": the caller names the file
        line = line.split(": ", 1)[1]
    return line or default
