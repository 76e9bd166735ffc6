"""One way to read footage: a video file, an image sequence (plate), a folder of images or one image."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..defaults import IMAGE_EXTENSIONS
from ..errors import FaceswapError
from ..log import get_logger
from .colour import ColourOptions, PlateColour
from .images import ImageFolderReader, read_image
from .plates import Plate, read_plate
from .sequence import PlateSequence, find_sequence, is_sequence_spec
from .video_reader import VideoReader

log = get_logger(__name__)

# Read with OpenImageIO always; .png/.tif only when stored with more than 8 bits (`_needs_plate`).
_PLATE_ONLY = (".exr", ".dpx", ".cin", ".hdr")


def source_kind(path: str | Path) -> str:
    """"sequence" (a pattern such as plate.####.exr), "images" (a folder), "image" or "video"."""
    path = Path(path)
    if is_sequence_spec(path) and not path.exists():
        return "sequence"
    if path.is_dir():
        return "images"
    return "image" if path.suffix.lower() in IMAGE_EXTENSIONS else "video"


def check_source(path: str | Path) -> str:
    """`source_kind(path)` once the footage is known to be there; raises FaceswapError (one
    line) for a missing file or folder, or a sequence pattern no file matches."""
    kind = source_kind(path)
    if kind == "sequence":
        find_sequence(path)
    elif not Path(path).exists():
        raise FaceswapError(f"no such file or folder: {path}")
    return kind


def _needs_plate(path: Path) -> bool:
    """Whether an image file must be read at its own depth: plate formats, and PNG/TIFF
    stored with more than 8 bits (a header read, no decode)."""
    suffix = path.suffix.lower()
    if suffix in _PLATE_ONLY:
        return True
    if suffix not in (".png", ".tif", ".tiff"):
        return False
    import OpenImageIO as oiio

    image = oiio.ImageInput.open(str(path))
    if image is None:
        # read_image says why; the error is taken here, or OpenImageIO prints it again at exit
        oiio.geterror()
        return False
    try:
        return str(image.spec().format) != "uint8"
    finally:
        image.close()


@dataclass
class Frame:
    """A decoded frame. `key` identifies it for resuming: the frame number for video and
    sequences, the file name for images (numbering shifts if files are added)."""

    index: int          # video: 0-based; sequence: the plate frame number; images: position in the folder
    image: np.ndarray   # HxWx3 uint8 RGB in the working space; for video only valid until the next few frames
    name: str
    plate: Plate | None = None  # the file's own pixels when they are not 8-bit working-space RGB

    @property
    def key(self) -> str:
        return self.name


class FrameSource:
    """Frames of a video, an image sequence, an image folder or a single image."""

    def __init__(self, path: str | Path, start: int = 0, hold: int = 1, colour: ColourOptions | None = None,
                 quiet: bool = False) -> None:
        """`start`: first frame to read (a sequence's plate number); `hold`: how many decoded frames
        stay valid at once (see VideoReader), for callers that keep frames while looking ahead;
        `colour`: how plates are shown to the model (media/colour.py); `quiet`: without saying so
        (a reader that shows no model, such as verify)."""
        self.path = Path(path)
        self.kind = source_kind(self.path)
        if self.kind != "sequence" and not self.path.exists():
            raise FaceswapError(f"no such file or folder: {self.path}")
        self.video: VideoReader | None = None
        self.folder: ImageFolderReader | None = None
        self.sequence: PlateSequence | None = None
        self.colour = PlateColour(colour, quiet)
        self.start = start
        if self.kind == "sequence":
            self.sequence = find_sequence(self.path)
            gaps = self.sequence.missing()
            if gaps:
                shown = ", ".join(map(str, gaps[:8])) + (f" and {len(gaps) - 8} more" if len(gaps) > 8 else "")
                log.warning("%s: frames %s are missing; the others keep their numbers", self.path.name, shown)
            # one plate read now: a grey or damaged first frame is refused before a faceset,
            # model or output is opened
            read_plate(self.sequence.path(self.sequence.frames[0]))
        elif self.kind == "images":
            self.folder = ImageFolderReader(self.path)
        elif self.kind == "video":
            self.video = VideoReader(self.path, start=start, hold=hold)

    @property
    def is_video(self) -> bool:
        return self.kind == "video"

    @property
    def is_sequence(self) -> bool:
        """Frames in time order (a video or an image sequence): faces are tracked from frame to frame."""
        return self.kind in ("video", "sequence")

    @property
    def skipped(self) -> list[str]:
        return self.folder.skipped if self.folder else []

    @property
    def fps(self) -> float:
        return self.video.info.fps if self.video else 0.0

    @property
    def first(self) -> int:
        """The first frame's number: a sequence's first plate frame, else 0."""
        return self.sequence.frames[0] if self.sequence else 0

    def __len__(self) -> int:
        if self.video:
            return self.video.info.frame_count
        if self.sequence:
            return len(self.sequence.frames)
        return len(self.folder) if self.folder else 1

    def read(self, path: Path) -> tuple[np.ndarray, Plate | None]:
        """(working-space uint8 RGB, the plate or None) of one image file. Raises FaceswapError
        (one line) for a file that cannot be read."""
        if _needs_plate(path):
            plate = read_plate(path)
            return self.colour.to_working(plate), plate
        img = read_image(path)
        if img is None:
            raise FaceswapError(f"cannot read image {path}: not a decodable image file")
        return img, None

    def __iter__(self) -> Iterator[Frame]:
        if self.video is not None:
            for index, img in self.video:
                if img.dtype == np.uint16:  # more than 8 bits: the model sees it in 8, the output keeps it
                    plate = Plate(img, None, ("R", "G", "B"), "uint16", 16)
                    yield Frame(index, self.colour.to_working(plate), f"{index:06d}", plate)
                else:
                    yield Frame(index, img, f"{index:06d}")
        elif self.sequence is not None:
            for number in self.sequence.frames:
                if number >= self.start:
                    img, plate = self.read(self.sequence.path(number))
                    yield Frame(number, img, self.sequence.name(number), plate)
        elif self.folder is not None:
            for index, path in enumerate(self.folder.images):
                try:
                    img, plate = self.read(path)
                except FaceswapError as err:
                    log.warning("skipping %s: %s", path.name, err)
                    self.folder.skipped.append(path.name)
                    continue
                yield Frame(index, img, path.name, plate)
        else:
            img, plate = self.read(self.path)
            yield Frame(0, img, self.path.name, plate)
