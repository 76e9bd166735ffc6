"""`make glasses`: do glasses' frames stay entirely the footage's, or go entirely? (issue 16)

    python -m faceswap.glasses_bench [--model MODEL_DIR] [--pair d19:d18] [--data DIR] [--out DIR] [--clips d18,d14]

Synthetic glasses of a known matte (data/occluders.glasses: round metal rims, a bridge, arms past
the face's outline) are drawn at each frame's landmarks into the first --seconds of each clip
(occlusion_bench.make_clips, FFV1), which is converted with each `--glasses` mode; the clip without
glasses, converted with `face`, is the swap the face would get without them. Per mode
(qc/occlusion.glasses_frame): the share of the frames in which >= 90 % of the frames' pixels kept
the footage's (within 3 levels), and in which >= 90 % went (nearer the swap without glasses than
the footage), and the share of the rest of the face still swapped. `--real d19,d12` adds a sheet of
each real clip converted with each mode (no matte to measure against: looked at). A clip of the
model's own identity A is put in as B (`--to b`); B's as A; any other as B, with the landmark mask
(the model's occlusion net knows its own two people only); `--pair` names the model's A and B
clips.

Writes OUT/glasses.md (the table), OUT/glasses.json and OUT/sheet.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .api import ConvertOptions, convert
from .defaults import GLASSES_MODES, SAMPLE_DATA
from .errors import FaceswapError
from .faces.backends import make_backend
from .log import filter_native_stderr, setup_logging
from .media.video_reader import VideoReader, read_frame
from .occlusion_bench import GLASSES, _models, _tile, face_box, make_clips, write_results
from .qc.occlusion import glasses_frame, summarise_glasses, swap_region
from .samples import add_data_argument

SECONDS = 3.0


def measure(footage: Path, output: Path, clean: Path, clean_output: Path, mattes: np.ndarray) -> dict[str, Any]:
    """summarise_glasses over every frame of a conversion of a clip with glasses."""
    frames = []
    readers = [iter(VideoReader(p)) for p in (footage, output, clean, clean_output)]
    for items in zip(*readers):
        i = items[0][0]
        foot, out, cl, cl_out = (frame for _, frame in items)
        frames.append(glasses_frame(out, foot, cl_out, mattes[i], swap_region(cl_out, cl), cl))
    return summarise_glasses(frames)


def _options(clip: str, pair: tuple[str, str], glasses: str) -> ConvertOptions:
    """Convert options for `clip` with a model of `pair` (A's clip, B's clip)."""
    known = clip in pair
    return ConvertOptions(to="a" if clip == pair[1] else "b", glasses=glasses, codec="ffv1", audio="none",
                          watermark="off", **({} if known else {"mask": "landmarks"}))


def run(data: Path, out: Path, model: Path, pair: tuple[str, str], clips: list[str], real: list[str], modes: list[str],
        seconds: float) -> tuple[list[dict[str, Any]], np.ndarray]:
    records, rows = [], []
    (out / "converted").mkdir(parents=True, exist_ok=True)
    backend = make_backend("mediapipe")
    try:
        for clip in clips:
            folder = out / "clips" / clip
            paths = make_clips(data / "video" / f"{clip}.mp4", folder, seconds, (GLASSES,), backend)
            mattes = np.load(folder / f"{GLASSES}.matte.npy")
            clean_out = out / "converted" / f"{clip}.clean.mkv"
            convert(paths["clean"], model, clean_out, _options(clip, pair, "face"), progress=False)
            box = face_box([read_frame(paths["clean"], 0)], backend)
            index = len(mattes) // 2
            tiles = [_tile(read_frame(paths[GLASSES], index), box, f"{clip} + glasses")]
            for mode in modes:
                result = out / "converted" / f"{clip}.{mode}.mkv"
                convert(paths[GLASSES], model, result, _options(clip, pair, mode), progress=False)
                figures = measure(paths[GLASSES], result, paths["clean"], clean_out, mattes)
                records.append({"clip": clip, "glasses": mode, **figures})
                print(f"[{clip} --glasses {mode}] " + ", ".join(f"{k} {v}" for k, v in figures.items()))
                tiles.append(_tile(read_frame(result, index), box, mode))
            rows.append(np.concatenate(tiles, axis=1))
        for clip in real:
            source = data / "video" / f"{clip}.mp4"
            frames = [frame.copy() for i, frame in VideoReader(source) if i < 2]
            box = face_box(frames[:1], backend)
            index = 1
            tiles = [_tile(frames[index], box, clip)]
            for mode in modes:
                result = out / "converted" / f"{clip}.{mode}.mkv"
                options = _options(clip, pair, mode)
                options.frames = f"0:{max(2, int(seconds * 25))}"
                convert(source, model, result, options, progress=False)
                tiles.append(_tile(read_frame(result, index), box, mode))
            rows.append(np.concatenate(tiles, axis=1))
    finally:
        backend.close()
    return records, np.concatenate(rows, axis=0)


def table(records: list[dict[str, Any]]) -> str:
    """Markdown: a row per clip and mode."""
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    lines = ["| clip | --glasses | frames with glasses | kept frames (mean kept) | gone frames (mean gone) | swapped |",
             "|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['clip']} | {r['glasses']} | {r['glasses_frames']} | {fmt(r['kept_frames'])} "
                     f"({fmt(r['kept_mean'])}) | {fmt(r['gone_frames'])} ({fmt(r['gone_mean'])}) | "
                     f"{fmt(r['swapped_mean'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser)
    parser.add_argument("--model", type=Path, default=None,
                        help="a model folder of --pair (default: a quick model trained for --minutes)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training time of a model not given (default 5)")
    parser.add_argument("--out", type=Path, default=Path("glasses-out"), help="where results go (default glasses-out)")
    parser.add_argument("--pair", default="d19:d18", help="the model's A:B clips (default d19:d18)")
    parser.add_argument("--clips", default="d18,d14", help="clips given synthetic glasses (default d18,d14)")
    parser.add_argument("--real", default="d19,d12", help="clips with real glasses, for the sheet (default d19,d12)")
    parser.add_argument("--modes", default=",".join(GLASSES_MODES), help="--glasses modes (default all)")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="length of each clip (default 3)")
    args = parser.parse_args(argv)
    filter_native_stderr()
    setup_logging("WARNING")
    modes = args.modes.split(",")
    if not set(modes) <= set(GLASSES_MODES):
        parser.error(f"--modes: choose from {', '.join(GLASSES_MODES)}")
    split = lambda text: [c for c in text.split(",") if c]  # noqa: E731
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        data = args.data or SAMPLE_DATA
        model = args.model or _models(data, args.out, {}, args.minutes, {args.pair})[args.pair]
        records, sheet = run(data, args.out, model, tuple(args.pair.split(":", 1)),
                             split(args.clips), split(args.real),
                             modes, args.seconds)
    except FaceswapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    write_results(args.out, "glasses", table(records), records, sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
