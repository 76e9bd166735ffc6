"""Plates: image files read and written at their own bit depth with OpenImageIO.

EXR (half or float), DPX (10/12/16-bit), TIFF and PNG (8/16-bit) and the other formats
OpenImageIO reads come in as their stored numbers, not squeezed into 8 bits: a converted
plate is the input plate with only the face's pixels changed, in the same format, type,
bit depth, channels and header (timecode, colour space, camera metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FaceswapError

__all__ = ["PLATE_EXTENSIONS", "Plate", "lossy_compression", "oiio_string", "read_plate", "write_plate"]

# Formats read as plates (OpenImageIO); 8-bit PNG/TIFF read as plates too when in a sequence.
PLATE_EXTENSIONS = (".exr", ".dpx", ".cin", ".hdr", ".tif", ".tiff", ".png")
# Header entries OpenImageIO makes up on reading, not the file's own: not written back.
_DERIVED = ("oiio:subimages", "oiio:ColorSpace", "oiio:BitsPerSample", "DateTime", "Software")


@dataclass
class Plate:
    """One image file's pixels as stored, and what is needed to write it back the same way."""

    pixels: np.ndarray          # (H, W, 3) RGB in the file's type: uint8, uint16, float16 or float32
    extra: np.ndarray | None    # (H, W, k) the channels after RGB (alpha, ...), written back untouched
    channel_names: tuple[str, ...]
    format: str                 # the stored type as OpenImageIO names it: uint8, uint16, half, float
    bits: int                   # bits per sample stored (10 for 10-bit DPX, 16 for half)
    attributes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (name, TypeDesc, value)
    # each channel's stored type when they differ (half RGB beside a float depth channel): the
    # pixels are then held at `format`, the widest, and written back at these
    channel_formats: tuple[str, ...] = ()

    @property
    def is_float(self) -> bool:
        return self.pixels.dtype.kind == "f"

    @property
    def code_max(self) -> float:
        """The value of full white: 1.0 for float plates, 255 / 65535 for integer ones (OpenImageIO
        scales a 10-bit DPX to the whole uint16 range, so 65535 there too)."""
        return 1.0 if self.is_float else float(np.iinfo(self.pixels.dtype).max)

    def attribute(self, name: str) -> Any:
        """A header entry's value, or None."""
        return next((value for key, _, value in self.attributes if key == name), None)


def oiio_string():
    """OpenImageIO's string TypeDesc, for header entries of a Plate."""
    import OpenImageIO as oiio

    return oiio.TypeDesc("string")


def read_plate(path: str | Path) -> Plate:
    """Read an image file with OpenImageIO at its own type. Raises FaceswapError (one line) for a
    file OpenImageIO cannot read, or one with fewer than 3 channels (plates are RGB)."""
    import OpenImageIO as oiio

    path = Path(path)
    image = oiio.ImageInput.open(str(path))
    if image is None:
        reason = oiio.geterror().strip().splitlines()
        raise FaceswapError(f"cannot read {path.name}: {reason[0] if reason else 'not an image OpenImageIO reads'}")
    try:
        spec = image.spec()
        if spec.nchannels < 3:
            raise FaceswapError(f"{path.name} has {spec.nchannels} channel(s): plates must be RGB")
        data = image.read_image(0, 0, 0, spec.nchannels, spec.format)
        if data is None:
            raise FaceswapError(f"cannot read {path.name}: {image.geterror().strip() or 'truncated or damaged'}")
        attributes = [(a.name, a.type, a.value) for a in spec.extra_attribs if a.name not in _DERIVED]
        bits = spec.get_int_attribute("oiio:BitsPerSample", spec.format.size() * 8)
        format_name = str(spec.format)
        channel_formats = tuple(str(t) for t in spec.channelformats)
        if len(set(channel_formats)) < 2:
            channel_formats = ()
        elif len(set(channel_formats[:3])) == 1:
            bits = oiio.TypeDesc(channel_formats[0]).size() * 8   # RGB's own depth, e.g. half's 16
    finally:
        image.close()
    data = np.asarray(data).reshape(spec.height, spec.width, spec.nchannels)
    return Plate(np.ascontiguousarray(data[..., :3]),
                 np.ascontiguousarray(data[..., 3:]) if spec.nchannels > 3 else None,
                 tuple(spec.channelnames), format_name, int(bits), attributes, channel_formats)


# OpenEXR's lossy codecs (pxr24 is lossy on 32-bit float only)
_LOSSY_EXR = ("dwaa", "dwab", "b44", "b44a")


def lossy_compression(plate: Plate) -> str | None:
    """The plate's EXR compression when it loses detail on writing (e.g. "dwaa:45"), else None.
    write_plate writes such plates with lossless zip compression instead."""
    value = str(plate.attribute("compression") or "")
    codec = value.split(":")[0].lower()
    if codec in _LOSSY_EXR or (codec == "pxr24" and plate.format == "float"):
        return value
    return None


def write_plate(path: str | Path, plate: Plate, attributes: dict[str, str] | None = None,
                window: tuple[int, int, int, int] | None = None) -> None:
    """Write `plate` to `path` in the format its suffix names, at the plate's type and bit depth
    (each channel's own when they differ), with its header and the extra string `attributes`
    (e.g. the synthetic-media tags); a lossy EXR compression (`lossy_compression`) becomes zip,
    so pixels outside the face stay bit-exact. `window` (x, y, frame width, frame height) makes
    the image the data window of a part of a larger frame (EXR). Not atomic by itself: writers
    put plates into a temporary folder that is renamed when complete. Raises FaceswapError (one
    line) when OpenImageIO cannot write it."""
    import OpenImageIO as oiio

    path = Path(path)
    data = plate.pixels if plate.extra is None else np.concatenate([plate.pixels, plate.extra], axis=2)
    height, width, channels = data.shape
    spec = oiio.ImageSpec(width, height, channels, oiio.TypeDesc(plate.format))
    spec.channelnames = plate.channel_names
    if window is not None:
        # a part of a larger frame (a face patch): its data window at (x, y) inside a display
        # window of the whole frame, so Nuke's Read places it with no Transform
        spec.x, spec.y, spec.full_x, spec.full_y = window[0], window[1], 0, 0
        spec.full_width, spec.full_height = window[2], window[3]
    if plate.channel_formats:
        spec.channelformats = tuple(oiio.TypeDesc(t) for t in plate.channel_formats)
    for name, kind, value in plate.attributes:
        spec.attribute(name, kind, value)
    if plate.bits != spec.format.size() * 8 and not plate.is_float:
        spec.attribute("oiio:BitsPerSample", plate.bits)
    for name, value in (attributes or {}).items():
        spec.attribute(name, str(value))
    if lossy_compression(plate) and path.suffix.lower() == ".exr":
        # a lossy codec would re-encode every pixel, the untouched background included
        spec.attribute("compression", "zip")
    out = oiio.ImageOutput.create(str(path))
    if out is None:
        raise FaceswapError(f"cannot write {path.name}: {oiio.geterror().strip() or 'no writer for its suffix'}")
    try:
        if not out.open(str(path), spec) or not out.write_image(np.ascontiguousarray(data)):
            raise FaceswapError(f"cannot write {path.name}: {out.geterror().strip()}")
    finally:
        out.close()
