"""JSON metadata inside a PNG's iTXt chunk, so a face crop describes itself.

Written by hand (a chunk is length, type, data, CRC) to avoid a PIL
dependency and a decode/re-encode; read without decoding the pixels.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

from ..errors import FaceswapError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"faceswap"
# A face crop's JSON (68 landmarks, the 478-point mesh, the crop matrix) is
# about 11 kB. The cap leaves room for far more, and stops a chunk of a few kB
# that inflates to gigabytes (a decompression bomb) from filling memory.
MAX_METADATA_BYTES = 1 << 20


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def add_metadata(png: bytes, meta: dict[str, Any]) -> bytes:
    """PNG bytes with `meta` as a compressed iTXt chunk right after IHDR."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not PNG data")
    text = zlib.compress(json.dumps(meta, separators=(",", ":")).encode("utf-8"), 6)
    # iTXt: keyword \0 compression-flag compression-method language \0 translated \0 text
    payload = KEYWORD + b"\x00\x01\x00" + b"\x00" + b"\x00" + text
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + _chunk(b"iTXt", payload) + png[ihdr_end:]


def _inflate(data: bytes, name: str) -> bytes:
    """zlib `data` inflated to at most MAX_METADATA_BYTES; FaceswapError past that or when damaged."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, MAX_METADATA_BYTES)
    except zlib.error as err:
        raise FaceswapError(f"{name}: damaged faceswap metadata ({err})") from None
    if inflater.unconsumed_tail:  # output stopped at the cap with input left: it expands further
        raise FaceswapError(f"{name}: faceswap metadata expands past {MAX_METADATA_BYTES >> 20} MiB; "
                            "refusing it (faceswap never writes that much)")
    return text


def read_metadata_bytes(data: bytes, name: str = "PNG data") -> dict[str, Any] | None:
    """The faceswap metadata of PNG bytes, or None if there is none.

    Raises FaceswapError (naming `name`) when the chunk is damaged or its
    compressed text would inflate past MAX_METADATA_BYTES.
    """
    if not data.startswith(PNG_SIGNATURE):
        return None
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if pos + 12 + length > len(data):
            return None  # chunk runs past what was read
        body = data[pos + 8:pos + 8 + length]
        if kind == b"iTXt" and body.startswith(KEYWORD + b"\x00"):
            rest = body[len(KEYWORD) + 1:]
            compressed = rest[0] == 1
            rest = rest[2:]
            _, rest = rest.split(b"\x00", 1)  # language tag
            _, text = rest.split(b"\x00", 1)  # translated keyword
            if compressed:
                text = _inflate(text, name)
            try:
                return json.loads(text.decode("utf-8"))
            except ValueError as err:  # UnicodeDecodeError and JSONDecodeError both are
                raise FaceswapError(f"{name}: damaged faceswap metadata ({err})") from None
        if kind in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


def read_metadata(path: str | Path) -> dict[str, Any] | None:
    """Metadata of a PNG file; reads only up to the first image data chunk.

    Raises FaceswapError naming the file when its metadata is damaged or too large.
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
        meta = read_metadata_bytes(head, str(path))
        if meta is None and len(head) == 1 << 16:
            meta = read_metadata_bytes(head + fh.read(), str(path))
    return meta
