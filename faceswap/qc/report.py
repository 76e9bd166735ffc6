"""What qc writes: summary.json, frames.csv, a worst-frames contact sheet, plots over time,
and the short text the command line prints. Drawn with OpenCV (no matplotlib)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import defaults
from ..errors import FaceswapError
from ..media.images import atomic_write_bytes, write_png
from .worst import WorstFrames

# Contact sheet rows: measure key -> title (worst = highest value first).
WORST_TITLES = {
    "identity": "identity: farthest from the wanted identity (descriptor distance)",
    "landmark_error": "expression: largest landmark error (inter-ocular distances)",
    "pose_error": "pose: largest yaw/pitch/roll difference (degrees)",
    "jitter": "jitter: landmark motion beyond the original's (inter-ocular distances)",
    "flicker": "flicker: face colour change beyond the original's (8-bit levels)",
    "unswapped": "coverage: input face left unchanged (levels under the threshold)",
    "no_face": "coverage: input face, no face found in the output",
}
BLUE, RED, GREEN, GREY, ORANGE = (66, 133, 244), (219, 68, 55), (15, 157, 88), (120, 120, 120), (244, 160, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def to_json(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, indent=2, allow_nan=False) + "\n"


def write_json(path: str | Path, summary: Mapping[str, Any]) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise FaceswapError(f"cannot write {path}: folder {path.parent} does not exist")
    atomic_write_bytes(path, to_json(summary).encode("utf-8"))
    return path


INT_COLUMNS = ("frame", "input_face", "output_face", "unswapped")


def _cell(name: str, value: float) -> str:
    if value != value:  # NaN: not measured in this frame
        return ""
    return str(int(value)) if name in INT_COLUMNS else f"{value:.5g}"


def write_frames_csv(path: Path, columns: Mapping[str, Sequence[float]]) -> None:
    """One row per measured frame; empty cells where a measure does not apply."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    names = list(columns)
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names)):
        writer.writerow([_cell(n, v) for n, v in zip(names, row)])
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def _label(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.45,
           colour: tuple[int, int, int] = (255, 255, 255)) -> None:
    cv2.putText(img, text, org, FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, scale, colour, 1, cv2.LINE_AA)


def worst_sheet(worst: WorstFrames, path: Path, keep: int = defaults.QC_WORST_FRAMES,
                tile: int = defaults.QC_TILE) -> Path:
    """One row per measure: its worst frames, original | output, worst first."""
    gap, head = 6, 26
    width = max(keep, 1) * (2 * tile + gap) + gap
    blocks = []
    for key, title in WORST_TITLES.items():
        items = worst.worst(key)
        strip = np.full((head, width, 3), 24, np.uint8)
        _label(strip, title + ("" if items else ": none"), (gap, 18), 0.5, (230, 230, 230))
        blocks.append(strip)
        if not items:
            continue
        row = np.full((tile + gap, width, 3), 24, np.uint8)
        for n, item in enumerate(items):
            x = gap + n * (2 * tile + gap)
            pair = item.tile.copy()
            cv2.line(pair, (tile, 0), (tile, tile - 1), (255, 255, 255), 1)
            _label(pair, f"frame {item.frame}", (4, 14), 0.4)
            _label(pair, item.text or f"{item.value:.3g}", (tile + 4, 14), 0.4, (255, 220, 120))
            _label(pair, "original", (4, tile - 6), 0.35, (200, 200, 200))
            _label(pair, "output", (tile + 4, tile - 6), 0.35, (200, 200, 200))
            row[:tile, x:x + 2 * tile] = pair
        blocks.append(row)
    write_png(path, np.concatenate(blocks, axis=0))
    return path


def plot_series(path: Path, title: str, x: np.ndarray, series: Sequence[tuple[str, np.ndarray, tuple]],
                lines: Sequence[tuple[float, str, tuple]] = (), width: int = 900, height: int = 360) -> Path:
    """A line plot over frame numbers; NaN breaks a line. `lines`: horizontal reference lines."""
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 60, 20, 30, 45
    x = np.asarray(x, np.float64)
    values = [np.asarray(v, np.float64) for _, v, _ in series]
    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.array([ln[0] for ln in lines], np.float64)])
    cv2.putText(img, title, (left, 20), FONT, 0.5, (40, 40, 40), 1, cv2.LINE_AA)
    if len(x) == 0 or finite.size == 0:
        cv2.putText(img, "nothing measured", (left, height // 2), FONT, 0.6, (40, 40, 40), 1, cv2.LINE_AA)
        write_png(path, img)
        return path
    x0, x1 = float(x.min()), float(max(x.max(), x.min() + 1))
    y0, y1 = min(0.0, float(finite.min())), float(finite.max())
    y1 = y1 + 0.05 * (y1 - y0) if y1 > y0 else y0 + 1.0
    pw, ph = width - left - right, height - top - bottom

    def px(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.stack([left + (xs - x0) / (x1 - x0) * pw, top + (y1 - ys) / (y1 - y0) * ph], 1).round().astype(np.int32)

    for tick in np.linspace(y0, y1, 5):
        y = int(round(top + (y1 - tick) / (y1 - y0) * ph))
        cv2.line(img, (left, y), (width - right, y), (230, 230, 230), 1)
        cv2.putText(img, f"{tick:.3g}", (4, y + 4), FONT, 0.4, (90, 90, 90), 1, cv2.LINE_AA)
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
    cv2.putText(img, "frame", (width - right - 45, height - 10), FONT, 0.4, (90, 90, 90), 1, cv2.LINE_AA)
    write_png(path, img)
    return path


def write_report(folder: str | Path, summary: Mapping[str, Any], columns: Mapping[str, np.ndarray],
                 worst: WorstFrames) -> dict[str, str]:
    """summary.json, frames.csv, worst_frames.png, identity.png, jitter.png, flicker.png in `folder`."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FaceswapError(f"cannot write the report into {folder}: {err.strerror or err}") from err
    files = {
        "summary": folder / "summary.json",
        "frames": folder / "frames.csv",
        "worst_frames": folder / "worst_frames.png",
        "identity_plot": folder / "identity.png",
        "jitter_plot": folder / "jitter.png",
        "flicker_plot": folder / "flicker.png",
    }
    summary = {**summary, "report": {k: str(v) for k, v in files.items()}}
    write_json(files["summary"], summary)
    write_frames_csv(files["frames"], columns)
    worst_sheet(worst, files["worst_frames"], worst.keep)
    frame = columns["frame"]
    sampled = np.isfinite(columns["output_to_wanted"]) | np.isfinite(columns["input_to_wanted"])
    plot_series(files["identity_plot"], "identity: descriptor distance (lower = closer), sampled frames",
                frame[sampled], [("output to wanted", columns["output_to_wanted"][sampled], BLUE),
                                 ("output to original", columns["output_to_original"][sampled], RED),
                                 ("input to wanted", columns["input_to_wanted"][sampled], GREY)],
                [(defaults.QC_SAME_PERSON, "same person", GREEN)])
    plot_series(files["jitter_plot"], "jitter: landmark motion beyond the original's (inter-ocular distances)",
                frame, [("jitter", columns["jitter"], BLUE), ("original's own motion", columns["original_motion"],
                                                                GREY)])
    plot_series(files["flicker_plot"], "flicker: face colour change beyond the original's (8-bit levels)",
                frame, [("flicker", columns["flicker"], ORANGE)])
    return {k: str(v) for k, v in files.items()}


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The few lines a person reads in a terminal."""
    ident, expr, temp, cov = (summary.get(k) or {} for k in ("identity", "expression", "temporal", "coverage"))
    mean = lambda d, k: (d.get(k) or {}).get("mean")  # noqa: E731
    lines = [f"qc {summary['output']} against {summary['original']}: {summary['frames']['measured']} frames "
             f"measured in {summary['seconds']:.1f} s"]
    if ident.get("wanted"):
        lines.append(f"  identity   distance to wanted {_fmt(mean(ident, 'output_to_wanted'))} (input "
                     f"{_fmt(mean(ident, 'input_to_wanted'))}), to original {_fmt(mean(ident, 'output_to_original'))}"
                     f", retrieval {_fmt(ident.get('retrieval'))} over {ident.get('sampled_frames', 0)} sampled frames")
    else:
        lines.append(f"  identity   distance to original {_fmt(mean(ident, 'output_to_original'))} "
                     f"(no --identity given)")
    lines.append(f"  expression landmark error {_fmt(mean(expr, 'landmark_error'))} IOD, pose difference "
                 f"{_fmt(mean(expr, 'pose_error_deg'))} deg")
    lines.append(f"  temporal   jitter {_fmt(mean(temp, 'jitter'))} IOD/frame, flicker "
                 f"{_fmt(mean(temp, 'flicker'))} levels/frame")
    lines.append(f"  coverage   {cov.get('swapped_frames', 0)} of {cov.get('input_face_frames', 0)} input faces "
                 f"changed, {cov.get('unswapped_frames', 0)} unchanged, {cov.get('output_no_face_frames', 0)} "
                 f"without a face in the output")
    integ = summary.get("integrity") or {}
    bad = [f"{k} {v['output']} vs {v['original']}" for k, v in integ.items()
           if isinstance(v, dict) and not v.get("ok") and k not in integ.get("ignored", [])]
    lines.append("  integrity  " + ("ok" if not bad else "FAILED: " + "; ".join(bad)))
    for gate in summary.get("gates", []):
        lines.append(f"  gate       {gate['gate']}: {_fmt(gate['value'])} {'ok' if gate['ok'] else 'FAILED'}")
    lines.append("PASS" if not summary.get("failures") else f"FAIL ({len(summary['failures'])}): "
                 + "; ".join(summary["failures"]))
    return lines
