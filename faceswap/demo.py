"""`make demo`: the main job on sample footage, end to end, printing where everything went.

extract d19.mp4 (A, the footage to change) and d18.mp4 (B, the face to put
in) -> train the `quick` preset for a few minutes -> convert d19.mp4 into
demo/output.mp4 (with its sound, tagged synthetic) and a side-by-side PNG.
Running it again resumes: the facesets are complete, training goes on from
its checkpoint for another few minutes, the output is rewritten.

Without the sample footage folder (a copy installed away from this
repository), two clips made from the portrait photos inside scikit-image
stand in for d19.mp4 and d18.mp4 (see faceswap/samples.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .api import ConvertOptions, convert, train
from .errors import FaceswapError
from .log import filter_native_stderr, setup_logging
from .samples import DEFAULT_DATA, add_data_argument, extract_pair, installed_sample_videos, sample_videos
from .train.config import DEFAULT_PRESET

PREVIEW_FRAME = 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser, installed_fallback=True)
    parser.add_argument("--out", type=Path, default=Path("demo"), help="where the demo writes its results")
    parser.add_argument("--minutes", type=float, default=5.0, help="training time of this run (default 5)")
    args = parser.parse_args(argv)
    filter_native_stderr()
    setup_logging("WARNING")
    try:
        if args.data is None and not DEFAULT_DATA.is_dir():
            videos = installed_sample_videos(args.out)
            print(f"[samples] {DEFAULT_DATA} not found: using clips made from scikit-image's photos "
                  f"(A {videos[0].name}, B {videos[1].name}) -> {videos[0].parent}/")
        else:
            videos = sample_videos(args.data)
        facesets = extract_pair(videos, args.out, preview=True)
        model = args.out / "model"
        t = train(facesets[0], facesets[1], model, DEFAULT_PRESET, {"minutes": args.minutes})
        losses = ", ".join(f"{k} {v:.4f}" for k, v in t.last_losses.items())
        print(f"[train] quick preset: iterations {t.start_iteration} -> {t.iteration} in {t.seconds:.0f} s "
              f"({t.samples_per_second:.0f} samples/s), {losses} -> {model}/ (preview {model / 'preview.png'})")
        output = args.out / "output.mp4"
        c = convert(videos[0], model, output, ConvertOptions(overwrite=True))
        print(f"[convert] {videos[0].name}: {c.frames} frames, {c.swapped} swapped, {c.speed_fps:.1f} frames/s "
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
