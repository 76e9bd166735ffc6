"""The sample footage that `make demo` and `make quality` run on, and their
shared first step: a faceset of each clip.

A is the footage to change (d19.mp4), B the face to put in (d18.mp4), as in
the training convention. Where that footage is absent (an installed copy
away from this repository), `installed_sample_videos` makes two short clips
from the portrait photos that ship inside scikit-image (installed with
face-alignment), so the demo still runs end to end offline.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

from .api import ExtractOptions, extract
from .defaults import SAMPLE_DATA as DEFAULT_DATA
from .errors import FaceswapError
from .faces.geometry import similarity, warp
from .log import get_logger
from .media.writers import VideoWriter

log = get_logger(__name__)

CLIPS = ("d19.mp4", "d18.mp4")  # A = footage to change, B = face to put in


def add_data_argument(parser: argparse.ArgumentParser, installed_fallback: bool = False) -> None:
    """The --data option both scripts share (None: the default folder)."""
    fallback = " or, when that folder is absent, clips made from photos that ship with scikit-image"
    parser.add_argument("--data", type=Path, default=None,
                        help=f"folder with the sample footage (video/{CLIPS[0]}, video/{CLIPS[1]}) "
                             f"[default: {DEFAULT_DATA}{fallback if installed_fallback else ''}]")


def sample_videos(data: Path | None, clips: tuple[str, ...] = CLIPS) -> list[Path]:
    """The `clips` (default: A and B) under `data` (None: DEFAULT_DATA); a one-line
    error when any is missing."""
    data = DEFAULT_DATA if data is None else data
    videos = [data / "video" / clip for clip in clips]
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        raise FaceswapError(f"sample footage not found: {', '.join(missing)} (pass --data DIR)")
    return videos


# scikit-image's astronaut (Eileen Collins, NASA, public domain) and
# cameraman (grey): the two photos in its wheel in which a face is found.
INSTALLED_PHOTOS = ("astronaut", "camera")
INSTALLED_FRAMES = 125   # 5 s at 25 fps: enough frames for a preview at frame 100
INSTALLED_FPS = 25


def installed_sample_videos(out: Path) -> list[Path]:
    """Two 5-second clips, out/samples/{astronaut,camera}.mp4, of the photos in
    INSTALLED_PHOTOS under a slow synthetic camera move (zoom, pan, a little
    roll), so tracking and training see some motion. Made once; reused."""
    try:
        from skimage import data as skdata
    except ImportError as err:
        raise FaceswapError("no sample footage: pass --data DIR (scikit-image, whose photos stand in "
                            "for it, is not installed)") from err
    folder = out / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    videos = []
    for name in INSTALLED_PHOTOS:
        path = folder / f"{name}.mp4"
        videos.append(path)
        if path.is_file():
            continue
        photo = getattr(skdata, name)()
        photo = np.repeat(photo[..., None], 3, axis=2) if photo.ndim == 2 else photo[..., :3]
        h, w = photo.shape[:2]
        with VideoWriter(path, width=w, height=h, fps=INSTALLED_FPS) as writer:
            for t in range(INSTALLED_FRAMES):
                phase = 2 * math.pi * t / INSTALLED_FRAMES
                # a slow roll (counter-clockwise first), zoom and drift about (w/2, h/2), as the clips always had
                mat = similarity(-math.radians(3 * math.sin(phase)), 1.0 + 0.08 * t / INSTALLED_FRAMES,
                                 (w / 2, h / 2), (0.03 * w * math.sin(phase), 0.02 * h * math.cos(phase)))
                writer.write(warp(photo, mat, (w, h), interpolation=cv2.INTER_CUBIC))
        log.info("made %s from scikit-image's %s photo", path, name)
    return videos


def extract_pair(videos: list[Path], out: Path, preview: bool = False, progress: bool = True) -> list[Path]:
    """Facesets out/faceset_A and out/faceset_B of the two clips (extract resumes
    where a faceset is already complete), printing a line for each."""
    facesets = []
    for video, side in zip(videos, "AB"):
        faceset = out / f"faceset_{side}"
        result = extract(video, faceset, ExtractOptions(preview=preview), progress=progress)
        s = result.summaries[0]
        sheet = f" (contact sheet {result.contact_sheet})" if preview else ""
        print(f"[extract {side}] {video.name}: {s.frames} new frames ({s.resumed} done before), "
              f"{s.faces} crops at {s.speed_fps:.0f} frames/s -> {faceset}/{sheet}")
        facesets.append(faceset)
    return facesets
