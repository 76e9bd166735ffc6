"""Per-face RGBA patches for compositors, and putting them back over the plate.

`folder/{frame:06d}_{n}.png` (RGBA, straight alpha; for plates `.exr`, half float,
premultiplied, in the plate's own colour space) and an index,
`patches.json`: the frame size and rate, and for each frame written its
patches' files, placement and face alignment. The folder is written as
`.folder.partial/` (the index streamed as JSON Lines, `patches.jsonl`, so
memory stays flat) and renamed into place by `close()`; `abort()` removes it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ... import defaults
from ...errors import FaceswapError
from ..codecs import check_not_input, exact_rate
from ..images import encode_png
from ..plates import Plate, oiio_string, read_plate, write_plate
from .base import (
    FrameWriter,
    Patch,
    check_frame,
    check_overwrite_folder,
    oserror_line,
    partial_folder,
    publish_folder,
    remove,
    write_file,
)

__all__ = ["PATCHES_FORMAT", "Patch", "PatchIndex", "PatchWriter", "load_patches", "patch_matte", "recomposite",
           "recomposite_plate"]

PATCHES_FORMAT = "faceswap-patches"


class PatchWriter(FrameWriter):
    """Per-frame face patches a compositor can place over the untouched plate.

    `write(frame, index, patches=...)` stores the frame's patches (none: a frame
    without faces) under its `index`; the frame itself is only checked for size.
    """

    PATTERNS = (r"\d+_\d+\.(png|exr)", r"patches\.jsonl?", r"provenance\.json")
    keeps_patches = True

    def __init__(self, folder: str | Path, *, width: int, height: int, fps: float | Fraction | str,
                 overwrite: bool = False, inputs: Sequence[str | Path] = (),
                 compression: int = defaults.PNG_COMPRESSION) -> None:
        self.path = Path(folder)
        if not self.path.parent.is_dir():
            raise FaceswapError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
        check_not_input(self.path, inputs)
        check_overwrite_folder(self.path, overwrite, self.PATTERNS, "patch output")
        self.width, self.height = int(width), int(height)
        self.rate = exact_rate(fps)
        self.compression = compression
        self.frames_written = 0
        self.patches_written = 0
        self._next = 0
        self.tmp = partial_folder(self.path)
        try:
            self._jsonl = open(self.tmp / "patches.jsonl", "w", encoding="utf-8")  # closed by close()/abort()
        except OSError as err:
            remove(self.tmp)
            raise FaceswapError(f"cannot write {self.path}: {oserror_line(err)}") from err
        self._line({"format": PATCHES_FORMAT, "version": 1, "frame_size": [self.width, self.height],
                    "fps": float(self.rate), "rate": f"{self.rate.numerator}/{self.rate.denominator}"})

    def _line(self, obj: dict[str, Any]) -> None:
        try:
            self._jsonl.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self._jsonl.flush()
        except OSError as err:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: {oserror_line(err)}") from err

    def write(self, frame: np.ndarray, index: int | None = None, *, name: str | None = None,
              patches: Sequence[Patch] = (), plate: Plate | None = None) -> None:
        """Store frame `index`'s patches (index None: one after the last). `frame` (HxWx3 uint8,
        the composited frame) is checked, not stored; `name` is ignored. Raises ValueError for
        a frame of another size or a patch that is not HxWx4 uint8, FaceswapError (after
        aborting) when a file could not be written."""
        self._check_open()
        check_frame(frame, (self.height, self.width, 3))
        index = self._next if index is None else int(index)
        faces = []
        for patch in patches:  # check them all before writing any, so no file is left unindexed
            rgba = patch.rgba
            if not isinstance(rgba, np.ndarray) or rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
                raise ValueError("Patch.rgba must be an HxWx4 uint8 array")
            faces.append(np.asarray(patch.face_matrix, dtype=np.float64).reshape(2, 3))
        entries = []
        for n, (patch, face) in enumerate(zip(patches, faces)):
            rgba = patch.rgba
            # over a plate: half-float EXR in the plate's own space, premultiplied, as Nuke merges it
            exr = patch.plate_rgba is not None
            file = f"{index:06d}_{n}.{'exr' if exr else 'png'}"
            try:
                if exr:
                    layer = patch.plate_rgba.astype(np.float16)
                    write_plate(self.tmp / file, Plate(layer[..., :3], layer[..., 3:], ("R", "G", "B", "A"), "half", 16,
                                                       [("compression", oiio_string(), "zip")]),
                                window=(int(patch.x), int(patch.y), self.width, self.height))
                else:
                    write_file(self.tmp / file, encode_png(rgba, self.compression))
            except BaseException:
                self.abort()
                raise
            x, y = int(patch.x), int(patch.y)
            entries.append({"file": file, "x": x, "y": y, "width": int(rgba.shape[1]), "height": int(rgba.shape[0]),
                            "alpha": "premultiplied" if exr else "straight",
                            "matrix": [[1.0, 0.0, float(x)], [0.0, 1.0, float(y)]],
                            "face_matrix": face.tolist(), "track": int(patch.track)})
        self._line({"frame": index, "patches": entries})
        self._next = index + 1
        self.frames_written += 1
        self.patches_written += len(entries)

    def close(self) -> Path:
        """Write `patches.json` (streamed from the JSON Lines, so memory stays flat) and rename
        the folder into place; returns its name. Raises FaceswapError (after aborting) when
        nothing was written or a file could not be written."""
        if self._was_closed():
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise FaceswapError(f"cannot write {self.path}: no frames were written")
        self._jsonl.close()
        jsonl = self.tmp / "patches.jsonl"
        try:
            with open(jsonl, encoding="utf-8") as src, open(self.tmp / "patches.json", "w", encoding="utf-8") as dst:
                header = json.loads(src.readline())
                dst.write("{\n" + "".join(f" {json.dumps(k)}: {json.dumps(v)},\n" for k, v in header.items()))
                dst.write(' "frames": [')
                first = True
                for line in src:
                    if line.strip():
                        dst.write(("\n  " if first else ",\n  ") + line.strip())
                        first = False
                dst.write("\n ]\n}\n")
            os.unlink(jsonl)
            publish_folder(self.tmp, self.path)
        except BaseException as err:
            self.abort()
            if isinstance(err, OSError):
                raise FaceswapError(f"cannot write {self.path}: {oserror_line(err)}") from err
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Stop and delete the partial folder. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._aborted = True
        self._jsonl.close()
        remove(self.tmp)


@dataclass
class PatchIndex:
    """A patch folder's index: frame size, rate and each frame's patch entries."""

    folder: Path
    frame_size: tuple[int, int]
    fps: float | None
    frames: dict[int, list[dict[str, Any]]]


def load_patches(folder: str | Path) -> PatchIndex:
    """Read a patch folder's index: `patches.json`, or the `patches.jsonl` that a killed run
    leaves in its `.folder.partial/` (up to its last whole line). Raises FaceswapError
    when `folder` is not a patch folder."""
    folder = Path(folder)
    try:
        if (folder / "patches.json").is_file():
            data = json.loads((folder / "patches.json").read_text(encoding="utf-8"))
            header, frames = data, data.get("frames", [])
        else:
            lines = (folder / "patches.jsonl").read_text(encoding="utf-8").splitlines()
            rows = []
            for ln in lines:
                try:
                    rows.append(json.loads(ln))
                except json.JSONDecodeError:  # the last line of a killed run may be cut
                    break
            header, frames = rows[0], rows[1:]
    except (OSError, json.JSONDecodeError, IndexError) as err:
        raise FaceswapError(f"{folder} is not a faceswap patch folder ({type(err).__name__})") from err
    if header.get("format") != PATCHES_FORMAT:
        raise FaceswapError(f"{folder} is not a faceswap patch folder")
    w, h = header["frame_size"]
    return PatchIndex(folder, (int(w), int(h)), header.get("fps"),
                      {int(e["frame"]): e["patches"] for e in frames})


def recomposite_plate(folder: str | Path | PatchIndex, frame_index: int, plate: Plate) -> np.ndarray:
    """Merge frame `frame_index`'s EXR patches "over" `plate` (the untouched input plate) as a
    compositor does with premultiplied layers: layer + plate * (1 - alpha). Returns (H, W, 3)
    float32 in the plate's own units (its code values for integer plates). Raises FaceswapError
    for a size that is not the folder's or a missing patch."""
    index = folder if isinstance(folder, PatchIndex) else load_patches(folder)
    h, w = plate.pixels.shape[:2]
    if (w, h) != index.frame_size:
        raise FaceswapError(f"plate is {w}x{h} but the patches were made for "
                            f"{index.frame_size[0]}x{index.frame_size[1]} frames")
    out = plate.pixels.astype(np.float32)
    for entry in index.frames.get(int(frame_index), []):
        layer = read_plate(index.folder / entry["file"])
        rgb = layer.pixels.astype(np.float32) * plate.code_max
        alpha = layer.extra[..., :1].astype(np.float32)
        x, y = int(entry["x"]), int(entry["y"])
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + rgb.shape[1], w), min(y + rgb.shape[0], h)
        if x0 < x1 and y0 < y1:
            part = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
            out[y0:y1, x0:x1] = rgb[part] + out[y0:y1, x0:x1] * (1.0 - alpha[part])
    return out


def _placed(index: PatchIndex, frame_index: int, size: tuple[int, int]
            ) -> Iterator[tuple[np.ndarray, tuple[slice, slice]]]:
    """Frame `frame_index`'s PNG patches, each as its RGBA float32 pixels clipped to a frame of
    `size` (h, w) (a face at the edge may hang over it) and where they go in the frame. Raises
    FaceswapError for a missing patch file or one that is not RGBA."""
    h, w = size
    for entry in index.frames.get(int(frame_index), []):
        img = cv2.imread(str(index.folder / entry["file"]), cv2.IMREAD_UNCHANGED)
        if img is None or img.ndim != 3 or img.shape[2] != 4:
            raise FaceswapError(f"{index.folder / entry['file']} is missing or not an RGBA PNG")
        rgba = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
        x, y = int(entry["x"]), int(entry["y"])
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + rgba.shape[1], w), min(y + rgba.shape[0], h)
        if x0 < x1 and y0 < y1:
            yield rgba[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32), (slice(y0, y1), slice(x0, x1))


def _index_for(folder: str | Path | PatchIndex, size: tuple[int, int], what: str) -> PatchIndex:
    index = folder if isinstance(folder, PatchIndex) else load_patches(folder)
    h, w = size
    if (w, h) != index.frame_size:
        raise FaceswapError(f"{what} is {w}x{h} but the patches were made for "
                            f"{index.frame_size[0]}x{index.frame_size[1]} frames")
    return index


def recomposite(folder: str | Path | PatchIndex, frame_index: int, background: np.ndarray) -> np.ndarray:
    """Alpha-composite (straight alpha, "over") frame `frame_index`'s stored patches onto a
    copy of `background` (HxWx3 uint8 RGB, the untouched plate), as a compositor would; returns
    the HxWx3 uint8 frame. Raises FaceswapError when the background's size is not the
    folder's frame size, or a patch file is missing or not RGBA."""
    index = _index_for(folder, background.shape[:2], "background")
    out = background[..., :3].astype(np.float32)
    for part, where in _placed(index, frame_index, background.shape[:2]):
        alpha = part[..., 3:4] / 255.0
        out[where] = part[..., :3] * alpha + out[where] * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def patch_matte(folder: str | Path | PatchIndex, frame_index: int, size: tuple[int, int]) -> np.ndarray:
    """The matte of frame `frame_index`'s stored patches over a frame of `size` (h, w): (h, w)
    float32 in [0, 1], each patch's alpha laid "over" the others (1 where any face covers the pixel
    fully, 0 where none was drawn): what of the frame the swap replaced. Raises FaceswapError as
    `recomposite`."""
    index = _index_for(folder, size, "frame")
    matte = np.zeros(size, np.float32)
    for part, where in _placed(index, frame_index, size):
        alpha = part[..., 3] / 255.0
        matte[where] = alpha + matte[where] * (1.0 - alpha)
    return matte
