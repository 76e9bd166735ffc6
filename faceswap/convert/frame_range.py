"""Where --frames and --preview fall in the footage: checked against its length before any work."""

from __future__ import annotations

from pathlib import Path

from ..errors import FaceswapError
from ..media.source import FrameSource
from .options import ConvertOptions, parse_frames


def check_frame_range(input_path: str | Path, options: ConvertOptions) -> None:
    """FaceswapError "--preview 99999 is past the end of d18.mp4 (216 frames, 0-215)" when
    options.preview, or START or END of options.frames (END excluded), lies past the last frame
    of `input_path` (a video: its container's frame count; an image folder: its images; an
    image: 1 frame). Does nothing when neither is set or the length is unknown (0)."""
    if options.preview is None and not options.frames:
        return
    count = len(FrameSource(input_path))  # a video is only probed here, not decoded
    if count <= 0:
        return
    length = f"{count} frame{'s' if count != 1 else ''}, 0-{count - 1}"
    name = Path(input_path).name
    if options.preview is not None and options.preview >= count:
        raise FaceswapError(f"--preview {options.preview} is past the end of {name} ({length})")
    start, end = parse_frames(options.frames)
    if start >= count:
        raise FaceswapError(f"--frames {options.frames} starts past the end of {name} ({length})")
    if end is not None and end > count:
        raise FaceswapError(f"--frames {options.frames} ends past the end of {name} ({length}; END is "
                            f"excluded, so {count} at most, or {start}: for the rest)")

__all__ = ["check_frame_range"]
