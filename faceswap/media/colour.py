"""Colour management of plates: the one place pixels move between a plate's own colour
space and the model's display-referred 8-bit working space, with OpenColorIO.

A scene-linear ACEScg EXR or a log DPX is not what the model learnt faces from (Rec.709
video). Convert shows the model the plate in the working space, and takes only the face it
renders back into the plate's space; the rest of the plate goes through no transform at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .. import defaults
from ..errors import FaceswapError
from ..log import get_logger
from .plates import Plate

__all__ = ["ColourOptions", "PlateColour", "check_colour"]

log = get_logger(__name__)


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
        close = [n for n in names if name.lower() in n.lower() or n.lower() in name.lower()][:4]
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

    def __init__(self, options: ColourOptions | None = None) -> None:
        self.options = options or ColourOptions()
        self.config = self.options.ocio or defaults.OCIO_CONFIG
        self._told = False

    def space(self, plate: Plate) -> str | None:
        """The plate's colour space, or None when it is taken as the working space itself."""
        if self.options.input_space:
            return None if self.options.input_space == self.options.working_space else self.options.input_space
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
