"""A contact sheet of face crops with their landmarks drawn, to check an extraction at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .. import defaults
from ..data.faceset import FaceRecord, read_crop
from ..faces.geometry import transform_points
from ..media.images import write_png


def contact_sheet(records: Sequence[FaceRecord], path: str | Path, tiles: int = defaults.PREVIEW_TILES,
                  tile: int = defaults.PREVIEW_TILE_SIZE, columns: int = 8) -> Path | None:
    """Write a grid of up to `tiles` crops sampled evenly from `records`; None if there are none."""
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
        label = f"f{meta['frame']} t{meta['track']}"
        cv2.putText(small, label, (3, tile - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(small, label, (3, tile - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(n, columns)
        sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = small
    path = Path(path)
    write_png(path, sheet)
    return path
