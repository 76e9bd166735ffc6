"""A contact sheet of face crops with their landmarks drawn, to check an extraction at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from .. import defaults
from ..data.covered import MOSTLY
from ..data.faceset import FaceRecord, read_crop
from ..faces.geometry import transform_points
from ..media.images import write_png

# The frame drawn round a mostly covered face (RGB), so a curator sees what train draws less often.
COVERED_COLOUR = (255, 48, 48)


def contact_sheet(records: Sequence[FaceRecord], path: str | Path, tiles: int = defaults.PREVIEW_TILES,
                  tile: int = defaults.PREVIEW_TILE_SIZE, columns: int = 8,
                  covered: Mapping[str, float] | None = None) -> Path | None:
    """Write a grid of up to `tiles` crops sampled evenly from `records`; None if there are none.
    `covered` (crop file name -> covered share, data/covered.py): a mostly covered face's tile is
    framed in COVERED_COLOUR and its label gives the share."""
    if not records:
        return None
    pick = np.unique(np.linspace(0, len(records) - 1, min(tiles, len(records))).round().astype(int))
    rows = (len(pick) + columns - 1) // columns
    sheet = np.full((rows * tile, columns * tile, 3), 32, np.uint8)
    for n, i in enumerate(pick):
        crop, meta = read_crop(records[i].path)
        scale = tile / crop.shape[0]
        small = cv2.resize(crop, (tile, tile), interpolation=cv2.INTER_AREA)
        pts = transform_points(np.asarray(meta["landmarks"]), np.asarray(meta["crop"]["matrix"])) * scale
        for x, y in pts:
            cv2.circle(small, (int(round(x)), int(round(y))), 1, (0, 255, 0), -1, cv2.LINE_AA)
        share = (covered or {}).get(records[i].path.name, 0.0)
        label = f"f{meta['frame']} t{meta['track']}" + (f" cov {share:.2f}" if share > MOSTLY else "")
        if share > MOSTLY:
            cv2.rectangle(small, (1, 1), (tile - 2, tile - 2), COVERED_COLOUR, 2)
        cv2.putText(small, label, (3, tile - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(small, label, (3, tile - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(n, columns)
        sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = small
    path = Path(path)
    write_png(path, sheet)
    return path
