"""A blind look at the watermark: can a viewer tell a marked frame from an unmarked one, each seen
on its own? (issue 15, "no visible pattern in a flat area")

    python -m faceswap.watermark_look make --out DIR [--data DIR] [--frame 50] [--seed 42]
    python -m faceswap.watermark_look score DIR.key.json RATINGS.txt

`make` writes DIR/img01.png ...: one frame of each clip of the sample footage, marked as convert
marks video and unmarked, both through H.264 CRF 18 as convert writes them, each shown whole and
as a 3x enlargement (nearest neighbour) of its flattest area (the crop a third of the frame's height
whose watermark squares are most often flat or dark: a wall, a background), shuffled. The key goes
beside the folder (DIR.key.json), so the reviewer's folder holds the images alone. A reviewer who
has not seen this rates each image on its own: 0 nothing artificial seen in its flat areas, 1 maybe,
2 a visible pattern (blotches, colour mottle, patches of tint, regular grain).

`score` reads the ratings (one line per image, `imgNN: R ...`) and prints, per view and overall,
how many marked and how many unmarked images were rated 1 or more and 2, with the one-sided Fisher
exact test (scipy) of "marked images are rated so more often": a mark seen on its own gives a
small p; one that is not, ratings that follow the unmarked images'. A side-by-side comparison with
the unmarked frame is a stricter test (a transparency test), not what a viewer of a delivered file
does: docs/provenance.md reports both.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .defaults import SAMPLE_DATA
from .errors import FaceswapError
from .media import watermark
from .media.delivered import through_h264
from .media.images import write_png
from .media.video_reader import read_frame
from .samples import add_data_argument

__all__ = ["flattest_crop", "make", "score"]

CLIPS = ("d18", "d19", "s18", "s32", "hamilton_stage", "d10", "d14", "d12")
IDENT = 0x5EC0FFEE42
ZOOM = 3


def flattest_crop(frame: np.ndarray) -> tuple[int, int, int, int]:
    """(x, y, w, h) in pixels: the crop of `frame` ((H, W, 3) uint8) a third of its height high,
    4:3, whose watermark squares (`watermark.square_levels`) are most often flat or dark, searched
    in steps of one square; the first such crop from the top left on a tie."""
    height, width = frame.shape[:2]
    block = watermark.LAYERS[-1].cell(height, width)
    calm = watermark.square_levels(frame, block) != watermark.BUSY
    ch, cw = height // 3, min(width, height // 3 * 4 // 3)
    rows, cols = ch // block, cw // block
    best = (-1.0, 0, 0)
    for y in range(0, height - ch + 1, block):
        for x in range(0, width - cw + 1, block):
            share = float(calm[y // block:y // block + rows, x // block:x // block + cols].mean())
            if share > best[0]:
                best = (share, y, x)
    return best[2], best[1], cw, ch


def make(data: Path, out: Path, index: int = 50, seed: int = 42, clips: tuple[str, ...] = CLIPS) -> Path:
    """Write the shuffled images to `out` and their key to `out`.key.json (see the module); returns
    the key's path. Raises FileNotFoundError for a clip missing from `data`/video."""
    items: list[tuple[str, str, str, np.ndarray]] = []
    for clip in clips:
        video = data / "video" / f"{clip}.mp4"
        if not video.is_file():
            raise FileNotFoundError(video)
        frame = read_frame(video, index, or_last=True)
        h, w = frame.shape[:2]
        marked = watermark.embed(frame.copy(), watermark.mark_pattern(IDENT, h, w))
        x, y, cw, ch = flattest_crop(frame)
        for kind, image in (("marked", through_h264(marked, threads=1)), ("unmarked", through_h264(frame, threads=1))):
            items.append((clip, kind, "full", image))
            crop = image[y:y + ch, x:x + cw]
            items.append((clip, kind, f"crop{ZOOM}x", cv2.resize(crop, None, fx=ZOOM, fy=ZOOM,
                                                                  interpolation=cv2.INTER_NEAREST)))
    random.Random(seed).shuffle(items)
    out.mkdir(parents=True, exist_ok=True)
    key: dict[str, dict[str, Any]] = {}
    for n, (clip, kind, view, image) in enumerate(items, 1):
        name = f"img{n:02d}"
        write_png(out / f"{name}.png", image)
        key[name] = {"clip": clip, "kind": kind, "view": view, "frame": index}
    key_path = out.with_name(out.name + ".key.json")
    key_path.write_text(json.dumps(key, indent=1))
    return key_path


def parse_ratings(text: str) -> dict[str, int]:
    """{"img01": rating, ...} from lines such as `img01: 1 - faint tint on the wall` (other lines
    are ignored). Raises ValueError for a rating outside 0-2."""
    ratings = {}
    for m in re.finditer(r"^\W*(img\d+)\W*(?:\.png)?\W*[:=-]\s*(\d+)", text, re.MULTILINE):
        value = int(m.group(2))
        if value not in (0, 1, 2):
            raise ValueError(f"{m.group(1)}: rating {value} is not 0, 1 or 2")
        ratings[m.group(1)] = value
    return ratings


def score(key: dict[str, dict[str, Any]], ratings: dict[str, int]) -> list[dict[str, Any]]:
    """Per view (each, then all): images, how many marked / unmarked were rated >= 1 and == 2, and
    the one-sided Fisher exact p of marked rated >= 1 more often than unmarked. Raises ValueError
    when an image of the key has no rating."""
    from scipy.stats import fisher_exact

    missing = sorted(set(key) - set(ratings))
    if missing:
        raise ValueError(f"no rating for {', '.join(missing)}")
    rows = []
    for view in sorted({v["view"] for v in key.values()}) + ["all"]:
        counts = {}
        for kind in ("marked", "unmarked"):
            rated = [ratings[n] for n, v in key.items() if v["kind"] == kind and view in ("all", v["view"])]
            counts[kind] = (len(rated), sum(r >= 1 for r in rated), sum(r == 2 for r in rated))
        (nm, m1, m2), (nu, u1, u2) = counts["marked"], counts["unmarked"]
        p = fisher_exact([[m1, nm - m1], [u1, nu - u1]], alternative="greater").pvalue
        rows.append({"view": view, "marked": nm, "marked_maybe_or_seen": m1, "marked_seen": m2,
                     "unmarked": nu, "unmarked_maybe_or_seen": u1, "unmarked_seen": u2, "p_one_sided": round(float(p), 3)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    mk = sub.add_parser("make", help="write the shuffled images and their key")
    add_data_argument(mk)
    mk.add_argument("--out", type=Path, required=True, help="folder for the images (the key goes beside it)")
    mk.add_argument("--frame", type=int, default=50, help="frame index of each clip (default 50)")
    mk.add_argument("--seed", type=int, default=42, help="shuffle seed (default 42)")
    sc = sub.add_parser("score", help="compare the ratings of marked and unmarked images")
    sc.add_argument("key", type=Path, help="the key make wrote (DIR.key.json)")
    sc.add_argument("ratings", type=Path, help="text with one line `imgNN: R` per image (R 0, 1 or 2)")
    args = parser.parse_args(argv)
    try:
        if args.command == "make":
            key_path = make(args.data or SAMPLE_DATA, args.out, args.frame, args.seed)
            print(f"{len(json.loads(key_path.read_text()))} images in {args.out}; key {key_path}")
            return 0
        rows = score(json.loads(args.key.read_text()), parse_ratings(args.ratings.read_text()))
    except (OSError, ValueError, FaceswapError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{'view':<8}{'marked >=1':>12}{'=2':>5}{'unmarked >=1':>15}{'=2':>5}{'p':>8}")
    for r in rows:
        print(f"{r['view']:<8}{r['marked_maybe_or_seen']:>7} of {r['marked']:<2}{r['marked_seen']:>5}"
              f"{r['unmarked_maybe_or_seen']:>10} of {r['unmarked']:<2}{r['unmarked_seen']:>5}{r['p_one_sided']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
