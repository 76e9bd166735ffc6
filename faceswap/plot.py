"""Line plots as PNG, drawn with OpenCV (no matplotlib): training losses, qc measures over time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .media.images import write_png

FONT = cv2.FONT_HERSHEY_SIMPLEX


def line_plot(path: Path, title: str, x: np.ndarray, series: Sequence[tuple[str, np.ndarray, tuple]],
              lines: Sequence[tuple[float, str, tuple]] = (), x_label: str = "frame", log_y: bool = False,
              width: int = 900, height: int = 360) -> Path:
    """Lines (name, values, RGB colour) over `x`, written as PNG; NaN (and, with
    `log_y`, values <= 0) breaks a line. `lines`: horizontal reference lines."""
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 60, 20, 30, 45
    x = np.asarray(x, np.float64)

    def scale(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, np.float64)
        if not log_y:
            return v
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)

    values = [scale(v) for _, v, _ in series]
    lines = [(float(scale(np.array([value]))[0]), name, colour) for value, name, colour in lines]
    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.array([ln[0] for ln in lines], np.float64)])
    cv2.putText(img, title, (left, 20), FONT, 0.5, (40, 40, 40), 1, cv2.LINE_AA)
    if len(x) == 0 or finite.size == 0:
        cv2.putText(img, "nothing measured", (left, height // 2), FONT, 0.6, (40, 40, 40), 1, cv2.LINE_AA)
        write_png(path, img)
        return path
    x0, x1 = float(x.min()), float(max(x.max(), x.min() + 1))
    y0, y1 = (float(finite.min()) if log_y else min(0.0, float(finite.min()))), float(finite.max())
    y1 = y1 + 0.05 * (y1 - y0) if y1 > y0 else y0 + 1.0
    pw, ph = width - left - right, height - top - bottom

    def px(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.stack([left + (xs - x0) / (x1 - x0) * pw, top + (y1 - ys) / (y1 - y0) * ph], 1).round().astype(np.int32)

    for tick in np.linspace(y0, y1, 5):
        y = int(round(top + (y1 - tick) / (y1 - y0) * ph))
        cv2.line(img, (left, y), (width - right, y), (230, 230, 230), 1)
        cv2.putText(img, f"{10 ** tick if log_y else tick:.3g}", (4, y + 4), FONT, 0.4, (90, 90, 90), 1, cv2.LINE_AA)
    for tick in np.linspace(x0, x1, 6):
        xx = int(round(left + (tick - x0) / (x1 - x0) * pw))
        cv2.putText(img, f"{int(round(tick))}", (xx - 10, height - bottom + 16), FONT, 0.4, (90, 90, 90), 1,
                    cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (width - right, height - bottom), (180, 180, 180), 1)
    for value, name, colour in lines:
        y = int(round(top + (y1 - value) / (y1 - y0) * ph))
        cv2.line(img, (left, y), (width - right, y), colour, 1, cv2.LINE_4)
        cv2.putText(img, name, (width - right - 8 * len(name) - 4, y - 4), FONT, 0.4, colour, 1, cv2.LINE_AA)
    legend_x = left
    for (name, _, colour), v in zip(series, values):
        ok = np.isfinite(v)
        # split the series into runs of finite values
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            pts = px(x[start:stop], v[start:stop])
            if len(pts) == 1:
                cv2.circle(img, tuple(int(c) for c in pts[0]), 2, colour, -1, cv2.LINE_AA)
            else:
                cv2.polylines(img, [pts], False, colour, 1, cv2.LINE_AA)
        cv2.putText(img, name, (legend_x, height - 10), FONT, 0.45, colour, 1, cv2.LINE_AA)
        legend_x += 12 + 9 * len(name)
    cv2.putText(img, x_label, (width - right - 9 * len(x_label), height - 10), FONT, 0.4, (90, 90, 90), 1,
                cv2.LINE_AA)
    write_png(path, img)
    return path
