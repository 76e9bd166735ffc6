"""Image files and folders of them, read and written with OpenCV."""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from ..defaults import IMAGE_EXTENSIONS
from ..errors import FaceswapError, os_reason
from ..log import get_logger

log = get_logger(__name__)


def _natural_key(name: str) -> list:
    """frame2 sorts before frame10, as a user numbering frames expects."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def list_images(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """(image files, other files) in a folder, naturally sorted. Hidden files are ignored."""
    folder = Path(folder)
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: _natural_key(p.name))
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    others = [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
    return images, others


# EXIF orientation (1-8) -> np.rot90 turns (counterclockwise) after an optional mirror, so
# the image is shown as a camera or phone meant it to be (the EXIF 2.32 table).
_ORIENT = {2: (True, 0), 3: (False, 2), 4: (True, 2), 5: (True, 1), 6: (False, 3), 7: (True, 3), 8: (False, 1)}


def _exif_orientation(path: str | Path) -> int:
    """The EXIF orientation tag of an image file (1 when it has none), read by Pillow from the
    file's header without decoding the pixels."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - no EXIF we can read is no rotation
        return 1


def read_image(path: str | Path) -> np.ndarray | None:
    """RGB uint8 image (HxWx3), upright: EXIF orientation applied, as a photo viewer shows it;
    None when the file is not a decodable image. OpenCV applies the orientation of JPEG, PNG
    and TIFF itself but ignores WebP's, which Pillow reads here."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        return None
    if Path(path).suffix.lower() == ".webp":
        mirror, turns = _ORIENT.get(_exif_orientation(path), (False, 0))
        img = np.rot90(img[:, ::-1] if mirror else img, turns)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def encode_png(rgb: np.ndarray, compression: int = 3, text: Mapping[str, str] | None = None) -> bytes:
    """PNG bytes of an RGB (or single-channel / RGBA) image; `text`: keyword -> value entries
    (PNG iTXt/tEXt chunks, written by Pillow; e.g. the synthetic-media tags)."""
    if text:
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        for key, value in text.items():
            info.add_text(str(key), str(value))
        out = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="PNG", pnginfo=info, compress_level=compression)
        return out.getvalue()
    if rgb.ndim == 3 and rgb.shape[2] == 3:
        img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    elif rgb.ndim == 3 and rgb.shape[2] == 4:
        img = cv2.cvtColor(rgb, cv2.COLOR_RGBA2BGRA)
    else:
        img = rgb
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise FaceswapError("could not encode PNG")
    return buf.tobytes()


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp file beside `path`, then rename: a file under its final
    name is always complete, even after a crash or a full disk."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise FaceswapError(f"cannot write {path}: {os_reason(err)}") from err


def write_png(path: str | Path, rgb: np.ndarray, text: Mapping[str, str] | None = None) -> None:
    """Atomically write an RGB image as PNG, with `text` entries (see encode_png)."""
    atomic_write_bytes(path, encode_png(rgb, text=text))


def read_png_text(path: str | Path) -> dict[str, str]:
    """The text entries of a PNG file (Pillow), {} for another format or an unreadable file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
    except (OSError, UnidentifiedImageError):
        return {}


class ImageFolderReader:
    """The image files of a folder (`images`, naturally sorted); other files are listed in
    `skipped` with a warning (FrameSource adds the ones it cannot decode)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.images, others = list_images(self.folder)
        self.skipped: list[str] = [p.name for p in others]
        for name in self.skipped:
            log.warning("skipping %s: not an image file", name)
        if not self.images:
            raise FaceswapError(f"no images in {self.folder} (looked for {', '.join(IMAGE_EXTENSIONS)})")

    def __len__(self) -> int:
        return len(self.images)
