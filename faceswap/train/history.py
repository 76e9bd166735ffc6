"""Loss history: appended to loss.csv as training goes, plotted to loss.png."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..plot import line_plot

COLUMNS = ("iteration", "seconds", "loss_a", "loss_b", "mask_a", "mask_b", "gen_adv", "disc", "detail", "occlusion",
           "lr", "samples_s")
COLOURS = {"loss_a": (66, 133, 244), "loss_b": (219, 68, 55), "gen_adv": (15, 157, 88), "disc": (244, 180, 0),
           "detail": (120, 60, 170),
           "occlusion": (90, 90, 90)}


class LossHistory:
    """The rows of loss.csv at `path`; with no path, in memory only (a distributed run's ranks
    other than 0, which write nothing)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rows: list[dict[str, float]] = []
        if path is not None and path.is_file():
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                for row in reader:
                    try:
                        self.rows.append({k: float(v) for k, v in row.items() if v not in ("", None)})
                    except ValueError:
                        break  # torn last row
            if tuple(reader.fieldnames or ()) != COLUMNS:
                self._rewrite()  # written by another version: rows appended now must match the header

    def truncate(self, iteration: int) -> None:
        """Forget rows after `iteration` (resuming from an older checkpoint)."""
        self.rows = [r for r in self.rows if r["iteration"] <= iteration]
        self._rewrite()

    def _rewrite(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)

    def append(self, row: dict[str, float]) -> None:
        if self.path is None:
            self.rows.append(row)
            return
        new = not self.path.is_file()
        with open(self.path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self.rows.append(row)

    def plot(self, path: Path) -> None:
        """The losses over iterations on a log scale, as PNG."""
        its = np.array([r["iteration"] for r in self.rows], np.float64)
        series = [(key, np.array([r.get(key, np.nan) for r in self.rows], np.float64), colour)
                  for key, colour in COLOURS.items() if any(r.get(key, 0) > 0 for r in self.rows)]
        line_plot(path, "training losses (log scale)", its, series, x_label="iteration", log_y=True, height=420)
