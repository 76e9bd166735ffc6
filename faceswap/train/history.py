"""Loss history: appended to loss.csv as training goes, plotted to loss.png."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from ..media.images import write_png

COLUMNS = ("iteration", "seconds", "loss_a", "loss_b", "mask_a", "mask_b", "gen_adv", "disc", "lr", "samples_s")
COLOURS = {"loss_a": (66, 133, 244), "loss_b": (219, 68, 55), "gen_adv": (15, 157, 88), "disc": (244, 180, 0)}


class LossHistory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, float]] = []
        if path.is_file():
            with open(path, newline="") as fh:
                for row in csv.DictReader(fh):
                    try:
                        self.rows.append({k: float(v) for k, v in row.items() if v not in ("", None)})
                    except ValueError:
                        break  # torn last row

    def truncate(self, iteration: int) -> None:
        """Forget rows after `iteration` (resuming from an older checkpoint)."""
        self.rows = [r for r in self.rows if r["iteration"] <= iteration]
        self._rewrite()

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)

    def append(self, row: dict[str, float]) -> None:
        new = not self.path.is_file()
        with open(self.path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self.rows.append(row)

    def plot(self, path: Path, width: int = 900, height: int = 420) -> None:
        """A log-scale line plot of the losses, drawn with OpenCV (no matplotlib needed)."""
        img = np.full((height, width, 3), 255, np.uint8)
        left, right, top, bottom = 60, 20, 20, 40
        series = {k: np.array([(r["iteration"], r[k]) for r in self.rows if r.get(k, 0) > 0]) for k in COLOURS}
        series = {k: v for k, v in series.items() if len(v) > 1}
        if series:
            its = np.concatenate([v[:, 0] for v in series.values()])
            vals = np.log10(np.concatenate([v[:, 1] for v in series.values()]))
            x0, x1 = its.min(), max(its.max(), its.min() + 1)
            y0, y1 = vals.min(), max(vals.max(), vals.min() + 1e-3)

            def to_px(it: np.ndarray, val: np.ndarray) -> np.ndarray:
                x = left + (it - x0) / (x1 - x0) * (width - left - right)
                y = top + (y1 - np.log10(val)) / (y1 - y0) * (height - top - bottom)
                return np.stack([x, y], axis=1).round().astype(np.int32)

            for tick in np.linspace(y0, y1, 5):
                y = int(top + (y1 - tick) / (y1 - y0) * (height - top - bottom))
                cv2.line(img, (left, y), (width - right, y), (230, 230, 230), 1)
                cv2.putText(img, f"{10 ** tick:.3g}", (4, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (90, 90, 90), 1)
            for n, (key, pts) in enumerate(series.items()):
                cv2.polylines(img, [to_px(pts[:, 0], pts[:, 1])], False, COLOURS[key], 1, cv2.LINE_AA)
                cv2.putText(img, key, (left + 10 + 90 * n, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                            COLOURS[key], 1, cv2.LINE_AA)
            cv2.putText(img, f"iteration {int(x0)}..{int(x1)}", (width - 220, height - 12),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1, cv2.LINE_AA)
        write_png(path, img)
