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
from ..plot import line_plot
from .worst import WorstFrames

# Contact sheet rows: measure key -> title (worst = highest value first).
WORST_TITLES = {
    "identity": "identity: farthest from the wanted identity (descriptor distance)",
    "landmark_error": "expression: largest landmark error (inter-ocular distances)",
    "expression_error": "expression: mouth and eyes least like the original's (inter-ocular distances)",
    "pose_error": "pose: largest yaw/pitch/roll difference (degrees)",
    "jitter": "jitter: landmark motion beyond the original's (inter-ocular distances)",
    "flicker": "flicker: face colour change beyond the original's (8-bit levels)",
    "sharpness": "sharpness: least inner-face detail against the original's (ratio, 1 = as sharp)",
    "seam": "seam: largest colour step at the blend edge beyond the original's (8-bit levels)",
    "occlusion": "occlusion: most not-face pixels around the face changed (share)",
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


INT_COLUMNS = ("frame", "input_face", "output_face", "unswapped", "seam_at")


def _seam_where(look: Mapping[str, Any]) -> str:
    """' (most at 9-10 o'clock of the frame, 5.71 there on average; then 10-11 o'clock, 4.08)', or ''."""
    where = look.get("seam_by_sector") or {}
    if not where.get("largest_at") or not where.get("largest_mean"):
        return ""   # no seam anywhere (an unchanged copy): nowhere to name
    text = f" (most at {where['largest_at']} of the frame, {_fmt(where.get('largest_mean'))} there on average"
    if where.get("next_at"):
        text += f"; then {where['next_at']}, {_fmt(where.get('next_mean'))}"
    return text + ")"


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


def write_report(folder: str | Path, summary: Mapping[str, Any], columns: Mapping[str, np.ndarray],
                 worst: WorstFrames) -> dict[str, str]:
    """summary.json, frames.csv, worst_frames.png, identity.png, jitter.png, flicker.png,
    sharpness.png, seam.png in `folder`."""
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
        "sharpness_plot": folder / "sharpness.png",
        "seam_plot": folder / "seam.png",
    }
    summary = {**summary, "report": {k: str(v) for k, v in files.items()}}
    write_json(files["summary"], summary)
    write_frames_csv(files["frames"], columns)
    worst_sheet(worst, files["worst_frames"], worst.keep)
    frame = columns["frame"]
    sampled = np.isfinite(columns["output_to_wanted"]) | np.isfinite(columns["input_to_wanted"])
    line_plot(files["identity_plot"], "identity: descriptor distance (lower = closer), sampled frames",
                frame[sampled], [("output to wanted", columns["output_to_wanted"][sampled], BLUE),
                                 ("output to original", columns["output_to_original"][sampled], RED),
                                 ("input to wanted", columns["input_to_wanted"][sampled], GREY)],
                [(defaults.QC_SAME_PERSON, "same person", GREEN)])
    line_plot(files["jitter_plot"], "jitter: landmark motion beyond the original's (inter-ocular distances)",
                frame, [("jitter", columns["jitter"], BLUE), ("original's own motion", columns["original_motion"],
                                                                GREY)])
    line_plot(files["flicker_plot"], "flicker: face colour change beyond the original's (8-bit levels)",
                frame, [("flicker", columns["flicker"], ORANGE)])
    line_plot(files["sharpness_plot"], "sharpness: inner-face detail of the output against the original's",
              frame, [("sharpness", columns["sharpness"], BLUE)], [(1.0, "as sharp as the original", GREEN)])
    line_plot(files["seam_plot"], "seam: colour step at the blend edge beyond the original's (8-bit levels)",
              frame, [("seam", columns["seam"], RED)])
    return {k: str(v) for k, v in files.items()}


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The few lines a person reads in a terminal."""
    ident, expr, temp, look, cov = (summary.get(k) or {} for k in ("identity", "expression", "temporal",
                                                                     "appearance", "coverage"))
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
    lines.append(f"  expression landmark error {_fmt(mean(expr, 'landmark_error'))} IOD, expression_error "
                 f"(mouth, eyes) {_fmt(mean(expr, 'expression_error'))} IOD, pose difference "
                 f"{_fmt(mean(expr, 'pose_error_deg'))} deg")
    lines.append(f"  temporal   jitter {_fmt(mean(temp, 'jitter'))} IOD/frame, flicker "
                 f"{_fmt(mean(temp, 'flicker'))} levels/frame")
    worn = look.get("glasses")
    left_out = "" if not worn else f" (the glasses' rims left out: {_fmt(worn.get('left_out_share'))} of the region)"
    lines.append(f"  appearance sharpness {_fmt(mean(look, 'sharpness'))} of the original's detail{left_out}, seam "
                 f"{_fmt(mean(look, 'seam'))} levels beyond the original's edge{_seam_where(look)}, occlusion "
                 f"{_fmt((look.get('occlusion') or {}).get('p95'))} (p95)")
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
