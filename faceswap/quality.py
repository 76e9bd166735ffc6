"""`make quality`: the whole experiment, measured, before and after, on two pairs.

For each pair of the sample footage (A = the footage to change, B = the face
to put in; default d19/d18 and d14/d10) and each variant: extract both clips ->
train a fresh `quick` model for exactly --minutes -> convert A's clip ->
`faceswap qc` of the output against it with B's faceset as the wanted identity.
A variant is training settings plus convert options (VARIANTS); variants with
the same training settings share one model. `before` is the swap as it was
(a random start, `--init none`, and convert's render enlarged by
interpolation and blended as drawn, `--detail off --expression off`),
`after` today's defaults (the face prior `make prior` builds, B's own detail, the
footage's expression); `scratch` (not run unless asked) is today's convert
on a model from random weights, which shares `before`'s model. That prior
has seen both pairs' clips (docs/train.md says how its effect on an
unseen pair was measured).

Writes OUT/<pair>/<variant>/{output.mp4, qc/}, one contact sheet per pair
(OUT/<pair>/sheet.png: footage | each variant, four frames) and a Markdown
table of every figure side by side (OUT/quality.md); OUT/runs.jsonl gets
one line of headline figures per run. Facesets are reused (extract resumes);
models never are: each run's figures answer "what does this variant give
after N minutes" on this machine (machines differ by 2x, so compare the
variants of one run, and read the iterations and samples/s beside them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .api import ConvertOptions, ExtractOptions, convert, extract, qc, train
from .defaults import SAMPLE_DATA
from .errors import FaceswapError
from .log import filter_native_stderr, setup_logging
from .media.images import write_png
from .media.video_reader import VideoReader
from .qc import QcOptions
from .qc.gates import METRICS, metric_value
from .samples import add_data_argument
from .train.config import DEFAULT_PRESET, PRESETS

PAIRS = ("d19:d18", "d14:d10")
# Sample clips whose person wears glasses (../shared/data/README): qc leaves the glasses' rims out of
# sharpness (qc --glasses), as convert's default swaps them away with the face.
GLASSES = ("d19", "d12")
# What each variant changes from today's defaults: training settings and convert options by field name.
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "before": {"train": {"init": "none"}, "convert": {"detail": "off", "expression": "off"}},
    "after": {"train": {"init": "auto"}, "convert": {"detail": "reference", "expression": "fit"}},
    "scratch": {"train": {"init": "none"}, "convert": {"detail": "reference", "expression": "fit"}},
}
DEFAULT_VARIANTS = ("before", "after")
SHEET_FRAMES = 4
SHEET_HEIGHT = 240


def contact_sheet(videos: dict[str, Path], out: Path) -> Path:
    """Rows of SHEET_FRAMES frames spread over each video (same frame numbers in every row),
    labelled; written as PNG. `videos`: label -> path, the footage first."""
    frames: dict[str, list[np.ndarray]] = {}
    count = min(VideoReader(p).info.frame_count for p in videos.values())
    pick = set(np.linspace(0, max(count - 1, 0), SHEET_FRAMES).round().astype(int).tolist())
    for label, path in videos.items():
        row = []
        for index, frame in VideoReader(path):
            if index in pick:
                h, w = frame.shape[:2]
                tile = cv2.resize(frame, (round(w * SHEET_HEIGHT / h), SHEET_HEIGHT), interpolation=cv2.INTER_AREA)
                cv2.putText(tile, f"{label} {index}", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
                row.append(tile)
        frames[label] = row
    width = max(sum(t.shape[1] for t in row) for row in frames.values())
    rows = [np.pad(np.concatenate(row, 1), ((0, 0), (0, width - sum(t.shape[1] for t in row)), (0, 0)))
            for row in frames.values()]
    write_png(out, np.concatenate(rows, 0))
    return out


def table(records: list[dict[str, Any]]) -> str:
    """The records of one run as a Markdown table: a row per figure, a column per pair/variant."""
    cols = [f"{r['pair']} {r['variant']}" for r in records]
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    rows = ["iterations", "samples_per_second", *METRICS, "convert_fps"]
    for key in rows:
        cells = []
        for r in records:
            v = r.get(key)
            cells.append("-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_pair(data: Path, pair: str, variants: list[str], out: Path, minutes: float, preset: str,
             stamp: str) -> list[dict[str, Any]]:
    """One pair: facesets, then per variant a fresh model, its convert and qc. Returns the records."""
    a_name, b_name = pair.split(":")
    clips = {side: data / "video" / f"{name}.mp4" for side, name in (("A", a_name), ("B", b_name))}
    for clip in clips.values():
        if not clip.is_file():
            raise FaceswapError(f"sample footage not found: {clip} (pass --data DIR)")
    folder = out / f"{a_name}_as_{b_name}"
    facesets = {}
    for side, clip in clips.items():
        facesets[side] = out / "facesets" / clip.stem
        extract(clip, facesets[side], ExtractOptions(every=2), progress=False)
    records, outputs = [], {"footage": clips["A"]}
    trained: dict[str, tuple[Path, Any]] = {}   # training settings (JSON) -> the model and its run
    for variant in variants:
        settings = VARIANTS[variant]["train"]
        key = json.dumps(settings, sort_keys=True)
        if key not in trained:
            model = out / "models" / f"{stamp}-{a_name}_as_{b_name}-{variant}"
            print(f"[{pair} {variant}] training a fresh {preset} model for {minutes:g} minutes -> {model}/")
            trained[key] = model, train(facesets["A"], facesets["B"], model, preset, {"minutes": minutes, **settings},
                                        progress=False)
        model, t = trained[key]
        output = folder / variant / "output.mp4"
        output.parent.mkdir(parents=True, exist_ok=True)
        c = convert(clips["A"], model, output, ConvertOptions(overwrite=True, **VARIANTS[variant]["convert"]),
                    progress=False)
        r = qc(output, clips["A"], facesets["B"], QcOptions(report=str(folder / variant / "qc"),
                                                          glasses=a_name in GLASSES), progress=False)
        record = {"time": stamp, "pair": pair, "variant": variant, "preset": preset, "minutes": minutes,
                  "settings": VARIANTS[variant],
                  "model": str(model), "iterations": t.iteration, "samples_per_second": round(t.samples_per_second, 1),
                  **{name: metric_value(r.summary, name) for name in METRICS},
                  "convert_fps": round(c.speed_fps, 1), "integrity_ok": r.summary["integrity"]["ok"]}
        print(f"[{pair} {variant}] " + ", ".join(f"{k} {record[k]}" for k in ("iterations", *METRICS)))
        records.append(record)
        outputs[variant] = output
    sheet = contact_sheet(outputs, folder / "sheet.png")
    print(f"[{pair}] contact sheet: {sheet}")
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser)
    parser.add_argument("--out", type=Path, default=Path("quality"), help="where the experiment writes its results")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time of each fresh model (default 30)")
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS),
                        help=f"model preset to train (default {DEFAULT_PRESET})")
    parser.add_argument("--pairs", default=",".join(PAIRS),
                        help=f"A:B clip pairs, comma-separated (default {','.join(PAIRS)})")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"variants to run, comma-separated, of {', '.join(VARIANTS)} "
                             f"(default {','.join(DEFAULT_VARIANTS)})")
    args = parser.parse_args(argv)
    filter_native_stderr()
    setup_logging("WARNING")
    variants = args.variants.split(",")
    if not set(variants) <= set(VARIANTS):
        parser.error(f"--variants: choose from {', '.join(VARIANTS)}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    records: list[dict[str, Any]] = []
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for pair in args.pairs.split(","):
            records += run_pair(args.data or SAMPLE_DATA, pair, variants, args.out, args.minutes, args.preset, stamp)
    except FaceswapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run make quality again (facesets are kept; models train afresh)", file=sys.stderr)
        return 130
    finally:
        if records:
            with open(args.out / "runs.jsonl", "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in records)
    (args.out / "quality.md").write_text(f"# make quality, {stamp}, {args.minutes:g} minutes each\n\n"
                                         + table(records), encoding="utf-8")
    print(table(records))
    print(f"[runs] {args.out / 'quality.md'}, {args.out / 'runs.jsonl'}")
    return 0 if all(r["integrity_ok"] for r in records) else 4


if __name__ == "__main__":
    sys.exit(main())
