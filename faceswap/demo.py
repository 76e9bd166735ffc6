"""`make demo`: the main job on sample footage, end to end, printing where everything went.

extract d19.mp4 (A, the footage to change) and d18.mp4 (B, the face to put
in) -> train the `quick` preset for a few minutes -> convert d19.mp4 into
demo/output.mp4 (with its sound, tagged synthetic) and a side-by-side PNG.
Running it again resumes: the facesets are complete, training goes on from
its checkpoint for another few minutes, the output is rewritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .api import ConvertOptions, ExtractOptions, convert, extract, train
from .errors import FaceswapError
from .log import filter_native_stderr, setup_logging

CLIPS = ("d19.mp4", "d18.mp4")  # A = footage to change, B = face to put in
PREVIEW_FRAME = 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data",
                        help="folder with the sample footage (video/d19.mp4, video/d18.mp4)")
    parser.add_argument("--out", type=Path, default=Path("demo"), help="where the demo writes its results")
    parser.add_argument("--minutes", type=float, default=5.0, help="training time of this run (default 5)")
    args = parser.parse_args(argv)
    filter_native_stderr()
    setup_logging("WARNING")
    videos = [args.data / "video" / clip for clip in CLIPS]
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        print(f"error: sample footage not found: {', '.join(missing)} (pass --data DIR)", file=sys.stderr)
        return 2
    try:
        facesets = []
        for video, side in zip(videos, "AB"):
            faceset = args.out / f"faceset_{side}"
            result = extract(video, faceset, ExtractOptions(preview=True))
            s = result.summaries[0]
            print(f"[extract {side}] {video.name}: {s.frames} new frames ({s.resumed} done before), "
                  f"{s.faces} crops at {s.fps:.0f} frames/s -> {faceset}/ (contact sheet {result.contact_sheet})")
            facesets.append(faceset)
        model = args.out / "model"
        t = train(facesets[0], facesets[1], model, "quick", train_overrides={"minutes": args.minutes})
        losses = ", ".join(f"{k} {v:.4f}" for k, v in t.last_losses.items())
        print(f"[train] quick preset: iterations {t.start_iteration} -> {t.iteration} in {t.seconds:.0f} s "
              f"({t.samples_per_second:.0f} samples/s), {losses} -> {model}/ (preview {model / 'preview.png'})")
        output = args.out / "output.mp4"
        c = convert(videos[0], model, output, ConvertOptions(overwrite=True))
        print(f"[convert] {videos[0].name}: {c.frames} frames, {c.swapped} swapped, {c.fps:.1f} frames/s "
              f"-> {output} (provenance {c.sidecar})")
        p = convert(videos[0], model, output, ConvertOptions(preview=PREVIEW_FRAME), progress=False)
        print(f"[preview] frame {PREVIEW_FRAME}, original | swapped: {p.preview[1]}")
    except FaceswapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run make demo again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
