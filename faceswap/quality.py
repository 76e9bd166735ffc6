"""`make quality`: the whole experiment, measured.

extract d19.mp4 (A, the footage to change) and d18.mp4 (B, the face to put
in) -> train the `quick` preset for a fixed --minutes -> convert d19.mp4 ->
`faceswap qc` of the output against d19.mp4 with B's faceset as the wanted
identity; prints the figures and writes the report to OUT/qc/.

Running it again: the facesets are complete and reused (extract resumes).
Training does NOT resume: every run trains a fresh model in
OUT/models/<date-time>/ for exactly --minutes, so each run's figures answer
"what does the quick preset give after N minutes" (a resumed model would
have trained longer). OUT/output.mp4 and OUT/qc/ hold the latest run;
OUT/runs.jsonl gets one line of headline figures per run, to compare runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .api import ConvertOptions, convert, qc, train
from .errors import FaceswapError
from .log import filter_native_stderr, setup_logging
from .qc import QcOptions
from .qc.gates import METRICS, metric_value
from .qc.report import summary_lines
from .samples import add_data_argument, extract_pair, sample_videos
from .train.config import DEFAULT_PRESET, PRESETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser)
    parser.add_argument("--out", type=Path, default=Path("quality"), help="where the experiment writes its results")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time of the fresh model (default 30)")
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS),
                        help=f"model preset to train (default {DEFAULT_PRESET})")
    args = parser.parse_args(argv)
    filter_native_stderr()
    setup_logging("WARNING")
    try:
        videos = sample_videos(args.data)
        args.out.mkdir(parents=True, exist_ok=True)
        facesets = extract_pair(videos, args.out, progress=False)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        model = args.out / "models" / stamp
        print(f"[train] a fresh {args.preset} model for {args.minutes:g} minutes -> {model}/ "
              f"(every run trains its own; earlier runs' models stay in {args.out / 'models'}/)")
        t = train(facesets[0], facesets[1], model, args.preset, {"minutes": args.minutes})
        print(f"[train] iterations {t.start_iteration} -> {t.iteration} in {t.seconds:.0f} s "
              f"({t.samples_per_second:.0f} samples/s)")
        output = args.out / "output.mp4"
        c = convert(videos[0], model, output, ConvertOptions(overwrite=True))
        print(f"[convert] {videos[0].name}: {c.frames} frames, {c.swapped} swapped, {c.speed_fps:.1f} frames/s -> {output}")
        report = args.out / "qc"
        r = qc(output, videos[0], facesets[1], QcOptions(report=str(report)))
        for line in summary_lines(r.summary):
            print(f"[qc] {line}")
        print(f"[qc] report: {report}/ (summary.json, worst_frames.png, identity.png, jitter.png, flicker.png, sharpness.png, seam.png)")
        record = {"time": stamp, "preset": args.preset, "minutes": args.minutes, "model": str(model),
                  "iterations": t.iteration, "samples_per_second": round(t.samples_per_second, 1),
                  "input_identity_distance": (r.summary["identity"]["input_to_wanted"] or {}).get("mean"),
                  **{name: metric_value(r.summary, name) for name in METRICS},
                  "integrity_ok": r.summary["integrity"]["ok"]}
        with open(args.out / "runs.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        print(f"[runs] figures of this run appended to {args.out / 'runs.jsonl'}")
    except FaceswapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run make quality again (the facesets are kept; training starts afresh)", file=sys.stderr)
        return 130
    return 0 if r.ok else 4


if __name__ == "__main__":
    sys.exit(main())
