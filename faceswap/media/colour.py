"""Colour management: the one place pixels move between footage's own colour encoding and
the model's display-referred 8-bit working space.

Plates (EXR, DPX, deep TIFF/PNG) with OpenColorIO: a scene-linear ACEScg EXR or a log DPX
is not what the model learnt faces from (Rec.709 video). Convert shows the model the plate
in the working space, and takes only the face it renders back into the plate's space; the
rest of the plate goes through no transform at all.

Video with ffmpeg's own converters, whose arguments are built here: Y'CbCr to RGB with the
matrix and range the stream's tags say (`decode_args`), RGB back to Y'CbCr with the same
and the tags written unchanged (`encode_filter`), and `--tonemap bt709`'s HLG/PQ to SDR
chain (zimg's linearisation, Hable's curve).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .. import defaults
from ..errors import FaceswapError
from ..log import get_logger
from .plates import Plate

__all__ = ["SWS_MATRIX", "VIDEO_ENCODING_TAG", "ColourOptions", "PlateColour", "check_colour", "decode_args", "encode_filter", "output_tags"]

log = get_logger(__name__)

# The header entry of plates that hold a video's R'G'B' code values (writers/plates.py): read
# back as they are, not as the scene-linear ACEScg a float plate is otherwise taken to be.
VIDEO_ENCODING_TAG = "faceswap:colour_encoding"


@dataclass
class ColourOptions:
    """How plates are colour managed; one record for the CLI, the API and batch manifests."""

    ocio: str | None = None          # OCIO config file or ocio:// URI (None: defaults.OCIO_CONFIG)
    input_space: str | None = None   # the plates' colour space (None: ACEScg for float, working space for integer)
    working_space: str = defaults.WORKING_SPACE  # the display-referred space the model sees faces in

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=4)
def _config(path: str):
    import PyOpenColorIO as ocio

    try:
        return ocio.Config.CreateFromFile(path)
    except Exception as err:  # noqa: BLE001 - OCIO raises its own Exception type with the reason
        raise FaceswapError(f"cannot load the OCIO config {path}: {str(err).splitlines()[0]}") from None


@lru_cache(maxsize=16)
def _processor(config: str, source: str, target: str):
    """A CPU processor source -> target (OCIO 2; the studio config's display spaces included)."""
    try:
        return _config(config).getProcessor(source, target).getDefaultCPUProcessor()
    except Exception as err:  # noqa: BLE001
        raise FaceswapError(f"OCIO cannot convert {source!r} to {target!r}: {str(err).splitlines()[0]}") from None


def _check_space(config: str, name: str, option: str) -> None:
    cfg = _config(config)
    if cfg.getColorSpace(name) is None:
        names = [c.getName() for c in cfg.getColorSpaces()]

        def key(text: str) -> str:   # "ACES cg", "acescg" and "ACEScg" are one name to a user
            return re.sub(r"[\s_\-()]", "", text.lower())

        close = [n for n in names if key(name) in key(n) or key(n) in key(name)][:4]
        hint = f" (did you mean {', '.join(repr(n) for n in close)}?)" if close else f"; e.g. {', '.join(names[:4])}"
        raise FaceswapError(f"--{option} {name!r} is not a colour space of {config}{hint}")


def check_colour(options: ColourOptions) -> None:
    """Raise FaceswapError (one line) now, before any work, for a config that does not load or
    a colour space it does not define."""
    config = options.ocio or defaults.OCIO_CONFIG
    _check_space(config, options.working_space, "working-space")
    if options.input_space:
        _check_space(config, options.input_space, "input-space")


class PlateColour:
    """Moves one source's plates to the working space and faces back. Integer plates with no
    --input-space are taken as in the working space: only their code values are rescaled."""

    def __init__(self, options: ColourOptions | None = None, quiet: bool = False) -> None:
        self.options = options or ColourOptions()
        self.config = self.options.ocio or defaults.OCIO_CONFIG
        self._told = quiet   # the one line on how plates are shown to the model (quiet: not said)

    def space(self, plate: Plate) -> str | None:
        """The plate's colour space, or None when it is taken as the working space itself."""
        if self.options.input_space:
            return None if self.options.input_space == self.options.working_space else self.options.input_space
        if plate.attribute(VIDEO_ENCODING_TAG):   # a video's code values written as plates: no transform
            return None
        return defaults.FLOAT_PLATE_SPACE if plate.is_float else None

    def to_working(self, plate: Plate) -> np.ndarray:
        """(H, W, 3) uint8 RGB: the plate as the model sees faces (OCIO to the working space,
        clipped to its 0-1 range, rounded to 8 bits)."""
        space = self.space(plate)
        if not self._told:
            self._told = True
            if space is None:
                log.info("frames at %d bits shown to the model at 8 bits as they are (no colour transform; "
                         "--input-space NAME gives one)", plate.bits)
            else:
                log.info("plates read as %s, shown to the model as %s", space, self.options.working_space)
        if space is None and plate.pixels.dtype == np.uint8:
            return plate.pixels
        rgb = plate.pixels.astype(np.float32)
        if not plate.is_float:
            rgb *= 1.0 / plate.code_max
        if space is not None:
            rgb = np.ascontiguousarray(rgb)
            _processor(self.config, space, self.options.working_space).applyRGB(rgb)
        return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def to_plate(self, rgb: np.ndarray, plate: Plate) -> np.ndarray:
        """(h, w, 3) float32 in the plate's own encoding (its code values for integer plates) from
        `rgb` (h, w, 3) float32 in [0, 1] in the working space: the inverse of to_working."""
        out = np.ascontiguousarray(rgb, dtype=np.float32).copy()
        space = self.space(plate)
        if space is not None:
            _processor(self.config, self.options.working_space, space).applyRGB(out)
        if not plate.is_float:
            out *= plate.code_max
        return out


# --- video: the arguments of ffmpeg's converters ----------------------------------------------

# A colorspace (matrix) tag -> swscale's name for that matrix (scale's in/out_color_matrix).
SWS_MATRIX = {"bt709": "bt709", "bt2020nc": "bt2020", "bt2020c": "bt2020", "smpte170m": "bt601", "bt470bg": "bt601",
              "fcc": "fcc", "smpte240m": "smpte240m"}


def decode_args(colour: dict[str, str]) -> dict[str, str]:
    """swscale's `in_color_matrix` / `in_range` for decoding video whose tags are `colour`
    (probe's VideoInfo.colour: space, range, ...) to RGB; empty when the stream says nothing
    (swscale then takes BT.601 limited, as players do for untagged SD)."""
    return {k: v for k, v in (("in_color_matrix", SWS_MATRIX.get(colour.get("space") or "")),
                              ("in_range", colour.get("range"))) if v}


def output_tags(colour: dict[str, str]) -> dict[str, str]:
    """setparams' tags for the output: the input's `colour` unchanged, BT.709 limited range
    where the input says nothing."""
    tags = {"color_primaries": "bt709", "color_trc": "bt709", "colorspace": "bt709", "range": "tv"}
    tags.update({key: colour[name] for key, name in (("color_primaries", "primaries"), ("color_trc", "transfer"),
                                                     ("colorspace", "space"), ("range", "range")) if name in colour})
    return tags


def encode_filter(colour: dict[str, str], pix_fmt: str | None, yuv: bool,
                  tonemap_from: dict[str, str] | None = None) -> str | None:
    """The -vf chain that takes the pipeline's RGB frames to the encoder's `pix_fmt` and tags
    them: with the input's matrix and range (setparams, not -colorspace: ffmpeg 7+ lets frames'
    own unset tags win), or for `--tonemap bt709` (`tonemap_from`: the HDR input's tags, and
    `colour` then BT.709) HLG/PQ code values to linear light, BT.709 primaries, Hable's curve
    and BT.709 (zimg does each step, as ffmpeg's tonemap filter documents). None: nothing to do
    (an RGB codec of an untagged input)."""
    tags = output_tags(colour)
    tagged = "setparams=" + ":".join(f"{k}={v}" for k, v in tags.items())
    if tonemap_from:
        out = (f"zscale=t=bt709:m=bt709:r=tv,format={pix_fmt}" if yuv and pix_fmt
               else "zscale=t=bt709,format=" + (pix_fmt or "gbrp16le"))
        return (f"setparams=color_primaries={tonemap_from.get('primaries') or 'bt2020'}:"
                f"color_trc={tonemap_from['transfer']}:colorspace=gbr:range=pc,zscale=t=linear:npl=100,"
                f"format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,{out},{tagged}")
    if yuv:
        # untagged Y'CbCr is read as BT.601 or 709 depending on the player and the frame size: say it
        matrix = SWS_MATRIX.get(tags["colorspace"], "bt709")
        return (f"scale=out_color_matrix={matrix}:out_range={tags['range']}:flags=bicubic+accurate_rnd,"
                f"format={pix_fmt},{tagged}")
    if "primaries" in colour or "transfer" in colour:
        return f"setparams=color_primaries={tags['color_primaries']}:color_trc={tags['color_trc']}"
    return None
