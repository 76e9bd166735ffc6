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
    image: 1 frame; an image sequence: its plate frame numbers, e.g. 1001-1240). Does nothing
    when neither is set or the length is unknown (0)."""
    if options.preview is None and not options.frames:
        return
    source = FrameSource(input_path)  # a video is only probed here, not decoded
    count = len(source)
    if count <= 0:
        return
    # a sequence is numbered by its plate frames (1001-1240), everything else from 0
    first = source.first
    last = source.sequence.frames[-1] if source.sequence else count - 1
    length = f"{count} frame{'s' if count != 1 else ''}, {first}-{last}"
    name = Path(input_path).name
    if options.preview is not None and not first <= options.preview <= last:
        raise FaceswapError(f"--preview {options.preview} is {'past the end' if options.preview > last else 'before the start'} "
                            f"of {name} ({length})")
    start, end = parse_frames(options.frames)
    if start > last:
        raise FaceswapError(f"--frames {options.frames} starts past the end of {name} ({length})")
    if end is not None and end > last + 1:
        raise FaceswapError(f"--frames {options.frames} ends past the end of {name} ({length}; END is "
                            f"excluded, so {last + 1} at most, or {start}: for the rest)")
    if end is not None and end <= first:
        raise FaceswapError(f"--frames {options.frames} ends before the start of {name} ({length})")


__all__ = ["check_frame_range"]
