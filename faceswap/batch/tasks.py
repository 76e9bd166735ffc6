"""The work of a batch, as module-level functions of plain arguments (paths, dicts), so that an
executor can run them here, in a worker process or as a Ray task (batch/executors.py).

`run_shot` converts one shot and qc's it; its result is a dict of plain values the runner turns
into a ShotResult (batch/report.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..convert.options import ConvertOptions, parse_frames
from ..log import get_logger
from ..media.source import source_kind
from ..qc.gates import METRICS, metric_value
from ..qc.options import QcOptions
from .worker import cached_swapper, report_frames

log = get_logger(__name__)

# Integrity checks that compare lengths: a shot converted with `frames: 0:N` is shorter than its
# footage by design, so they are reported, not gated (the frames it has are still measured).
LENGTH_CHECKS = ("frame_count", "duration", "audio_duration")

NOT_MEASURED = "qc measures shots: not run on a still or image folder"

def is_video(path: Path) -> bool:
    """A shot qc measures: a video file or an image sequence (stills and image folders are
    converted, not measured)."""
    return source_kind(path) in ("video", "sequence")


def qc_options(options: ConvertOptions, qc: dict[str, Any], folder: Path,
               shot_input: str | Path = "") -> tuple[QcOptions | None, str | None]:
    """The QcOptions of one shot (its report in `folder`), or (None, why qc does not apply)."""
    start, _ = parse_frames(options.frames)
    sequence = bool(shot_input) and source_kind(Path(shot_input)) == "sequence"  # qc pairs its plate frame numbers
    if start > 0 and not sequence:
        return None, f"qc skipped: frames {options.frames} does not start at frame 0 (qc pairs frames from the start)"
    ignore = list(qc.get("ignore_integrity") or ())
    if options.frames and not sequence:
        ignore += [c for c in LENGTH_CHECKS if c not in ignore]
    return QcOptions(**{**qc, "ignore_integrity": ignore, "report": str(folder), "json": None}), None


def figures(summary: dict[str, Any]) -> dict[str, float]:
    """The gate metrics a qc summary measured (qc.gates.METRICS), by name."""
    values = {name: metric_value(summary, name) for name in METRICS}
    return {name: value for name, value in values.items() if value is not None}


def stored_qc(shot: dict[str, Any], qc: dict[str, Any] | None, identity: str | None,
              report_dir: str) -> dict[str, Any] | None:
    """The figures of an earlier qc of this shot's current output, when its summary.json in the
    report is newer than the output's sidecar and was measured with the same qc settings; else None."""
    from ..provenance import sidecar_path

    output = Path(shot["output"])
    folder = Path(report_dir) / shot["name"]
    path = folder / "summary.json"
    if qc is None:
        return None
    if not is_video(Path(shot["input"])):
        return {"qc": {}, "qc_failures": [], "qc_note": NOT_MEASURED}
    wanted, _ = qc_options(ConvertOptions(**shot["options"]), qc, folder, shot["input"])
    try:
        if path.stat().st_mtime < sidecar_path(output).stat().st_mtime:
            return None
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if wanted is None or summary.get("options") != wanted.to_dict() or \
            summary.get("identity_reference") != (str(identity) if identity else None):
        return None
    return {"qc": figures(summary), "qc_failures": list(summary.get("failures") or []), "qc_note": None}


def run_qc_of_shot(shot: dict[str, Any], qc: dict[str, Any] | None, identity: str | None,
                   report_dir: str) -> dict[str, Any]:
    """qc of a converted shot against its input, its report in REPORT_DIR/<shot>/: {"qc": figures,
    "qc_failures": lines, "qc_note": why qc did not run or None}."""
    from ..qc import run_qc

    if qc is None:
        return {"qc": {}, "qc_failures": [], "qc_note": None}
    if not is_video(Path(shot["input"])):
        return {"qc": {}, "qc_failures": [], "qc_note": NOT_MEASURED}
    options, note = qc_options(ConvertOptions(**shot["options"]), qc, Path(report_dir) / shot["name"], shot["input"])
    if options is None:
        return {"qc": {}, "qc_failures": [], "qc_note": note}
    result = run_qc(shot["output"], shot["input"], identity, options, progress=False)
    return {"qc": figures(result.summary), "qc_failures": list(result.failures), "qc_note": None}


def run_shot(shot: dict[str, Any], qc: dict[str, Any] | None, identity: str | None, report_dir: str,
             convert: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Convert one shot (Shot.to_dict()) unless `convert` is False (its output is done), then qc it
    with the manifest's settings `qc` (QcOptions keywords; None: no qc) against `identity`.

    Returns plain values: frames, swapped, speed_fps, seconds and run_qc_of_shot's keys. Raises
    what convert and qc raise (FaceswapError, NoFaceError; KeyboardInterrupt removes the partial
    output).
    """
    from ..convert.pipeline import Converter

    started = time.perf_counter()
    out: dict[str, Any] = {"frames": 0, "swapped": 0, "speed_fps": 0.0}
    if convert:
        options = ConvertOptions(**shot["options"])
        options.overwrite = overwrite
        Path(shot["output"]).parent.mkdir(parents=True, exist_ok=True)
        swapper = cached_swapper(shot["model"], options.device)
        summary = Converter(shot["input"], shot["model"], shot["output"], options, progress=False,
                            swapper=swapper, on_frames=report_frames).run()
        out.update(frames=summary.frames, swapped=summary.swapped, speed_fps=round(summary.speed_fps, 3))
    out.update(run_qc_of_shot(shot, qc, identity, report_dir))
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def run_segment(shot: dict[str, Any], segment: Any) -> dict[str, Any]:
    """Convert one segment of a long shot (convert.segments.convert_segment) with this worker's
    model; a segment finished by an earlier run is skipped. Returns its record (frames, ...)."""
    from ..convert.segments import convert_segment

    options = ConvertOptions(**shot["options"])
    return convert_segment(shot["input"], shot["model"], shot["output"], options, segment,
                           swapper=cached_swapper(shot["model"], options.device), on_frames=report_frames)


def join_shot(shot: dict[str, Any], segments: list[Any], qc: dict[str, Any] | None, identity: str | None,
              report_dir: str, overwrite: bool = False) -> dict[str, Any]:
    """Join a long shot's finished segments into its output (convert.segments.join_segments: stream
    copy, the sound once, the provenance of a one-piece run), then qc it as `run_shot` does."""
    from ..convert.segments import join_segments

    started = time.perf_counter()
    options = ConvertOptions(**shot["options"])
    options.overwrite = overwrite
    summary = join_segments(shot["input"], shot["model"], shot["output"], options, segments)
    out: dict[str, Any] = {"frames": summary.frames, "swapped": summary.swapped,
                           "speed_fps": round(summary.speed_fps, 3)}
    out.update(run_qc_of_shot(shot, qc, identity, report_dir))
    out["seconds"] = round(summary.seconds + time.perf_counter() - started, 3)
    return out


__all__ = ["figures", "is_video", "join_shot", "qc_options", "run_qc_of_shot", "run_segment", "run_shot",
           "stored_qc"]
