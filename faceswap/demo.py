"""`make demo`: the main job on sample footage, end to end, printing where everything went.

Today that is extract (train and convert are the next issues): both suggested
swap clips are extracted into facesets with contact sheets, ready to train.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .api import ExtractOptions, extract
from .errors import FaceswapError
from .log import filter_native_stderr, setup_logging

CLIPS = ("d19.mp4", "d18.mp4")  # A = footage to change, B = face to put in


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data",
                        help="folder with the sample footage (video/d19.mp4, video/d18.mp4)")
    parser.add_argument("--out", type=Path, default=Path("demo"), help="where the demo writes its results")
    args = parser.parse_args(argv)
    filter_native_stderr()
    setup_logging("WARNING")
    videos = [args.data / "video" / clip for clip in CLIPS]
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        print(f"error: sample footage not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        for video, side in zip(videos, "AB"):
            faceset = args.out / f"faceset_{side}"
            result = extract(video, faceset, ExtractOptions(preview=True))
            s = result.summaries[0]
            print(f"[{side}] {video.name}: {s.frames} new frames, {s.frames_with_faces} with a face, "
                  f"{s.faces} crops at {s.fps:.0f} frames/s -> {faceset}/")
            print(f"    contact sheet: {result.contact_sheet}")
    except FaceswapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("next: faceswap train (coming in the train issue)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
