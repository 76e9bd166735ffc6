"""Which ffmpeg executable to drive: the system one, else imageio-ffmpeg's."""

import functools
import shutil

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
