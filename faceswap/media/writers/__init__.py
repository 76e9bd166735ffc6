"""Writers of converted frames, and `open_writer`, which picks one for an output.

Every writer takes the same calls (see `FrameWriter`): `write(frame, index,
name=..., patches=...)` for each frame, then `close()` or `abort()`; so the
caller never branches on what it writes. video.py: a file through an ffmpeg
pipe; png.py: a PNG sequence, or images under their input names; patch.py:
per-face RGBA patches for compositors.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from ..audio import AudioSource
from ..codecs import check_output, codec_for
from ..output_plan import PlateFormat
from ..sequence import PlateSequence
from ..timing import Timeline
from .base import FrameWriter, Patch
from .patch import PatchIndex, PatchWriter, load_patches, patch_matte, recomposite, recomposite_plate
from .plates import PlateSequenceWriter
from .png import ImageSetWriter, PngSequenceWriter
from .video import VideoWriter

__all__ = ["FrameWriter", "ImageSetWriter", "Patch", "PatchIndex", "PatchWriter", "PlateSequenceWriter", "PngSequenceWriter",
           "VideoWriter", "load_patches", "open_writer", "patch_matte", "recomposite", "recomposite_plate"]


def open_writer(path: str | Path, codec: str | None = None, *, width: int, height: int,
                fps: float | Fraction | str, images: bool = False, crf: int | None = None,
                preset: str | None = None, audio: AudioSource | None = None,
                metadata: dict[str, str] | None = None, overwrite: bool = False,
                inputs: Sequence[str | Path] = (), pix_fmt: str | None = None,
                sar: tuple[int, int] | None = None, timeline: Timeline | None = None,
                timecode: str | None = None, sequence: PlateSequence | None = None, deep: bool = False,
                colour: dict[str, str | None] | None = None,
                tonemap_from: dict[str, str | None] | None = None, plates: PlateFormat | None = None) -> FrameWriter:
    """The writer for `path`: `codec` "patch" a PatchWriter; "png" (or None for a folder
    name) a PngSequenceWriter, or an ImageSetWriter when `images` (the frames come from a
    folder of images, each kept under its own name and size; None then means png); any
    other codec (None: by the suffix, see `codec_for`) a VideoWriter. `width` x `height` in pixels (an image set's
    first image), `fps` in frames a second; `pix_fmt` and `sar` the video's (None: the codec's
    own, square pixels; see media/output_plan.py); `timeline`, each frame's own time (a video file
    shows each frame at it; a PNG sequence lists it in sequence.json; patches are numbered only); the other options as the writers'
    constructors, each given only to the writers that use it. Raises FaceswapError (one line) for
    an unknown codec, a path that cannot hold it, or an output that may not be written.
    `sequence`: write a plate sequence there instead (PlateSequenceWriter; `path` is then unused),
    and with `plates`, a video's frames as that type of plates, with `timecode`, `colour` and `audio`;
    `deep`, `colour`, `tonemap_from`: a video's 16-bit frames, its output colour tags, the HDR tags it is
    tone mapped from (VideoWriter; output_plan decides)."""
    if codec == "patch":
        return PatchWriter(path, width=width, height=height, fps=fps, overwrite=overwrite, inputs=inputs)
    if sequence is not None:
        return PlateSequenceWriter(sequence, fps=fps, metadata=metadata, overwrite=overwrite, inputs=inputs,
                                   form=plates, timecode=timecode if plates else None,
                                   colour=colour if plates else None, audio=audio if plates else None)
    # Images in, images out: a file name then is refused by check_output, not made a video.
    codec = codec or ("png" if images else codec_for(path))
    check_output(path, codec)
    if codec == "png" and images:
        return ImageSetWriter(path, width=width, height=height, fps=fps, metadata=metadata, overwrite=overwrite,
                              inputs=inputs)
    if codec == "png":
        return PngSequenceWriter(path, width=width, height=height, fps=fps, crf=crf, preset=preset, audio=audio,
                                 metadata=metadata, overwrite=overwrite, inputs=inputs, timeline=timeline)
    return VideoWriter(path, codec=codec, width=width, height=height, fps=fps, crf=crf, preset=preset, audio=audio,
                       metadata=metadata, overwrite=overwrite, inputs=inputs, pix_fmt=pix_fmt, sar=sar,
                       timeline=timeline, timecode=timecode, deep=deep, colour=colour,
                       tonemap_from=tonemap_from)
