"""One way to read footage, whether it is a video file or a folder of images."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..defaults import IMAGE_EXTENSIONS
from ..errors import FaceswapError
from .images import ImageFolderReader, read_image
from .video_reader import VideoReader


@dataclass
class Frame:
    """A decoded frame. `key` identifies it for resuming: the frame number for
    video, the file name for images (numbering shifts if files are added)."""

    index: int
    image: np.ndarray  # HxWx3 uint8 RGB; for video, only valid until the next few frames
    name: str

    @property
    def key(self) -> str:
        return self.name


class FrameSource:
    """Frames of a video, an image folder or a single image."""

    def __init__(self, path: str | Path, start: int = 0, hold: int = 1) -> None:
        """`start`: first frame of a video to decode; `hold`: how many decoded frames stay
        valid at once (see VideoReader), for callers that keep frames while looking ahead."""
        self.path = Path(path)
        if not self.path.exists():
            raise FaceswapError(f"no such file or folder: {self.path}")
        self.video: VideoReader | None = None
        self.folder: ImageFolderReader | None = None
        if self.path.is_dir():
            self.kind = "images"
            self.folder = ImageFolderReader(self.path)
        elif self.path.suffix.lower() in IMAGE_EXTENSIONS:
            self.kind = "image"
        else:
            self.kind = "video"
            self.video = VideoReader(self.path, start=start, hold=hold)

    @property
    def is_video(self) -> bool:
        return self.kind == "video"

    @property
    def skipped(self) -> list[str]:
        return self.folder.skipped if self.folder else []

    @property
    def fps(self) -> float:
        return self.video.info.fps if self.video else 0.0

    def __len__(self) -> int:
        if self.video:
            return self.video.info.frame_count
        return len(self.folder) if self.folder else 1

    def __iter__(self) -> Iterator[Frame]:
        if self.video is not None:
            for index, img in self.video:
                yield Frame(index, img, f"{index:06d}")
        elif self.folder is not None:
            for index, img, name in self.folder:
                yield Frame(index, img, name)
        else:
            img = read_image(self.path)
            if img is None:
                raise FaceswapError(f"cannot read image {self.path}: not a decodable image file")
            yield Frame(0, img, self.path.name)
