"""Which ffmpeg executable to drive: the system one, else imageio-ffmpeg's."""

import functools
import shutil
import subprocess

from ..errors import FaceswapError


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary; a system ffmpeg on PATH wins (it may be newer or
    have site-specific codecs), the wheel's static build makes `pip install` enough."""
    found = shutil.which("ffmpeg")
    if found:
        return found
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
