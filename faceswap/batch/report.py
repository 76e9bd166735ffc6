"""What a batch run reports: one ShotResult per shot, the exit code they add up to, the summary
table printed at the end, and the report folder (batch-report.json, batch-report.csv, a contact
sheet of one output frame per shot). Every file is written atomically."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .. import defaults
from ..errors import FaceswapError
from ..media.images import atomic_write_bytes, write_png
from ..qc.gates import METRICS

STATUSES = ("done", "skipped", "failed", "gated")
# The qc figures the printed table shows (the JSON and CSV carry every gate metric).
TABLE_FIGURES = ("retrieval", "landmark_error", "jitter", "seam")
# A shot failed (1) outranks a gate that failed (4): a missing shot is worse than a weak one.
EXIT_FAILED, EXIT_GATED = 1, 4


@dataclass
class ShotResult:
    """How one shot ended. `qc`: gate metric -> value (qc.gates.METRICS; only those measured);
    `qc_failures`: one line per failed integrity check or gate; `attempts`: tasks run for it this
    run, convert and qc or qc alone (0: nothing run); `segments`: pieces it was converted in."""

    shot: str
    input: str
    output: str
    status: str                      # one of STATUSES
    frames: int = 0
    swapped: int = 0
    speed_fps: float = 0.0           # frames converted per second of wall time
    seconds: float = 0.0             # convert + qc, wall time
    qc: dict[str, float] = field(default_factory=dict)
    qc_failures: list[str] = field(default_factory=list)
    error: str | None = None
    attempts: int = 0
    segments: int = 1
    qc_note: str | None = None       # why qc did not run (a still, a range not from frame 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# An interrupted batch's exit code, as api.EXIT_CODES["interrupted"] (128 + SIGINT)
INTERRUPTED_EXIT = 130


def batch_exit_code(results: Sequence[ShotResult]) -> int:
    """0 when every shot is done or skipped, 4 when a qc gate (or integrity check) failed,
    1 when a shot failed (1 wins over 4)."""
    statuses = {r.status for r in results}
    if "failed" in statuses:
        return EXIT_FAILED
    return EXIT_GATED if "gated" in statuses else 0


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def summary_lines(results: Sequence[ShotResult]) -> list[str]:
    """The table printed at the end: one row per shot, then the count of each status."""
    header = ["shot", "status", "frames", "swapped", "fps", *TABLE_FIGURES, "error / qc"]
    rows = [header]
    for r in results:
        note = r.error or "; ".join(r.qc_failures) or r.qc_note or ""
        rows.append([r.shot, r.status, str(r.frames), str(r.swapped), f"{r.speed_fps:.1f}",
                     *(_figure(r.qc.get(k)) for k in TABLE_FIGURES), note])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    counts = ", ".join(f"{sum(r.status == s for r in results)} {s}" for s in STATUSES
                       if any(r.status == s for r in results))
    return [line.rstrip() for line in lines] + [f"{len(results)} shots: {counts or 'none run'}"]


def _csv(results: Sequence[ShotResult]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["shot", "status", "frames", "swapped", "fps", "seconds", "attempts", "segments",
                     *(f"qc_{name}" for name in METRICS), "qc_failures", "error", "input", "output"])
    for r in results:
        writer.writerow([r.shot, r.status, r.frames, r.swapped, f"{r.speed_fps:.2f}", f"{r.seconds:.1f}",
                         r.attempts, r.segments, *(_figure(r.qc.get(k)) for k in METRICS),
                         "; ".join(r.qc_failures), r.error or r.qc_note or "", r.input, r.output])
    return buf.getvalue().encode("utf-8")


def _output_frame(output: Path, frames: int) -> np.ndarray | None:
    """An RGB frame of an output: the middle frame of a video, the first image of a folder."""
    from ..media.images import read_image
    from ..media.sequence import is_sequence_spec
    from ..media.source import FrameSource
    from ..media.video_reader import VideoReader

    try:
        if is_sequence_spec(output):
            return next(iter(FrameSource(output)), None).image
        if output.is_dir():
            images = sorted(p for p in output.iterdir()
                            if p.suffix.lower() in defaults.IMAGE_EXTENSIONS and not p.name.startswith("."))
            return read_image(images[0]) if images else None
        if output.is_file():
            wanted = max(frames // 2, 0)
            for index, image in VideoReader(output, eight_bit=True):
                if index >= wanted:
                    return image.copy()
    except (FaceswapError, OSError):
        return None
    return None


def _tile(result: ShotResult, size: int) -> np.ndarray:
    import cv2

    image = _output_frame(Path(result.output), result.frames) if result.status != "failed" else None
    height = size * 3 // 4
    tile = np.full((height + 44, size, 3), 40, np.uint8)
    if image is not None:
        scale = min(size / image.shape[1], height / image.shape[0])
        w, h = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
        small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        y, x = (height - h) // 2, (size - w) // 2
        tile[y:y + h, x:x + w] = small
    else:
        cv2.putText(tile, "no output", (10, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200, 200, 200), 1,
                    cv2.LINE_AA)
    colour = {"done": (15, 157, 88), "skipped": (66, 133, 244), "gated": (244, 160, 0)}.get(result.status,
                                                                                            (219, 68, 55))
    figure = result.qc.get("retrieval")
    label = f"{result.shot}  {result.status}" + (f"  retrieval {figure:.2f}" if figure is not None else "")
    cv2.rectangle(tile, (0, height), (size - 1, height + 43), colour, -1)
    cv2.putText(tile, label[:42], (6, height + 28), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return tile


def contact_sheet(results: Sequence[ShotResult], path: Path, size: int = defaults.BATCH_SHEET_TILE,
                  columns: int = defaults.BATCH_SHEET_COLUMNS) -> Path:
    """One output frame per shot (the middle one of a video), labelled with the shot, its status and
    its qc retrieval, `columns` to a row; written as PNG at `path`."""
    tiles = [_tile(r, size) for r in results]
    if not tiles:
        tiles = [np.full((size * 3 // 4 + 44, size, 3), 40, np.uint8)]
    columns = min(columns, len(tiles))
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    write_png(path, np.concatenate(rows, axis=0))
    return path


def write_report(report_dir: str | Path, results: Sequence[ShotResult], manifest_path: str | Path,
                 interrupted: bool = False) -> dict[str, Path]:
    """Write batch-report.json, batch-report.csv and contact_sheet.png into `report_dir` (made if
    missing); returns their paths by kind ("json", "csv", "sheet"). FaceswapError when the folder
    cannot be written."""
    report_dir = Path(report_dir)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        paths = {"json": report_dir / "batch-report.json", "csv": report_dir / "batch-report.csv",
                 "sheet": report_dir / "contact_sheet.png"}
        data = {
            "format": "faceswap-batch-report", "version": 1, "manifest": str(manifest_path),
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "interrupted": interrupted, "exit_code": INTERRUPTED_EXIT if interrupted else batch_exit_code(results),
            "counts": {s: sum(r.status == s for r in results) for s in STATUSES},
            "shots": [r.to_dict() for r in results],
        }
        atomic_write_bytes(paths["json"], (json.dumps(data, indent=2, allow_nan=False) + "\n").encode("utf-8"))
        atomic_write_bytes(paths["csv"], _csv(results))
        contact_sheet(results, paths["sheet"])
    except OSError as err:
        raise FaceswapError(f"cannot write the batch report in {report_dir}: {err.strerror or err}") from err
    return paths


__all__ = ["STATUSES", "ShotResult", "batch_exit_code", "contact_sheet", "summary_lines", "write_report"]
