"""`make occlusion`: does the swap keep what crosses the face in front of it? (issue 16)

    python -m faceswap.occlusion_bench [--data DIR] [--out DIR] [--models d19:d18=MODEL,...]

For each clip (default d18, d19, d14: the first --seconds of each), the footage is
decoded once and written losslessly (FFV1, RGB) without an occluder and once per test
occluder of `data/occluders.py` (hand, microphone, box, cup) moving across the face, with
the occluder's matte per frame (OUT/clips/<clip>/<kind>.matte.npy, uint8 (frames, H, W)).
Each of those clips is converted (lossless output, and again as patches for convert's matte) with
each --masks value, by a model of its pair (d19 and d18: the d19:d18 model, to the other side;
d14: the d14:d10 model),
trained for --minutes from the face prior unless --models names one. Then, per occluder,
`qc/occlusion.py` compares the converted occluded clip with the footage, the matte and the
converted clip without the occluder (the swap the face would get): the share of the frames
where the occluder overlaps the face in which >= 90 % of its pixels keep the footage's (within
3 levels), and the share of the rest of the face still swapped: counted as pixels the output
changes, and read from convert's matte (which counts a swapped pixel that happens to match the
footage, and separates what the masks leave out). Writes OUT/occlusion.md (the
table), OUT/occlusion.json and OUT/sheet.png (the frame of most overlap per clip and occluder:
footage | each mask).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .api import ConvertOptions, ExtractOptions, convert, extract, train
from .data.occluders import MOVING_KINDS, composite, glasses, moving_occluder
from .defaults import MASKS, SAMPLE_DATA
from .errors import FaceswapError
from .faces.backends import make_backend
from .log import filter_native_stderr, setup_logging
from .media.images import write_png
from .media.video_reader import VideoReader, read_frame
from .media.writers import VideoWriter, load_patches, patch_matte
from .qc.occlusion import matte_swapped, occluder_frame, summarise, swap_region
from .samples import add_data_argument

# clip -> (model pair A:B, the side convert puts in)
CLIPS = {"d19": ("d19:d18", "b"), "d18": ("d19:d18", "a"), "d14": ("d14:d10", "b")}
SECONDS = 3.0
GLASSES = "glasses"   # make_clips' kind for synthetic glasses worn in every frame
SHEET_TILE = 160


def face_box(frames: list[np.ndarray], backend) -> tuple[float, float, float, float]:
    """The median landmark box (x0, y0, x1, y1) of the largest face in a few of `frames`;
    FaceswapError when none has a face."""
    boxes = []
    for frame in frames[:: max(len(frames) // 5, 1)]:
        faces = backend.detect(frame)
        if faces:
            lm = max(faces, key=lambda f: f.size).landmarks
            boxes.append((*lm.min(axis=0), *lm.max(axis=0)))
    if not boxes:
        raise FaceswapError("no face found in the clip to draw occluders over")
    return tuple(float(v) for v in np.median(np.array(boxes), axis=0))


def _write(path: Path, frames: list[np.ndarray], fps: float) -> None:
    h, w = frames[0].shape[:2]
    writer = VideoWriter(path, width=w, height=h, fps=fps, codec="ffv1", overwrite=True)
    try:
        for i, frame in enumerate(frames):
            writer.write(frame, i)
    except BaseException:
        writer.abort()
        raise
    writer.close()


def make_clips(video: Path, folder: Path, seconds: float = SECONDS, kinds: tuple[str, ...] = MOVING_KINDS,
               backend=None) -> dict[str, Path]:
    """The first `seconds` of `video` as folder/clean.mkv and, per occluder kind,
    folder/<kind>.mkv (FFV1, lossless RGB) with folder/<kind>.matte.npy (uint8, (frames, H, W)):
    the occluder crosses the face once over the clip; `glasses` (data/occluders.glasses) are worn
    by the frame's largest face in every frame. Returns kind -> path ("clean" included)."""
    reader = VideoReader(video)
    count = max(int(round(seconds * reader.info.fps)), 2)
    frames = []
    for i, f in reader:
        if i >= count:
            break
        frames.append(f.copy())
    own = backend is None
    backend = backend or make_backend("mediapipe")
    try:
        box = face_box(frames, backend)
        # glasses are worn: drawn at each frame's own landmarks (the frame's largest face)
        worn = [max(backend.detect(f), key=lambda face: face.size, default=None) for f in frames] \
            if GLASSES in kinds else []
    finally:
        if own:
            backend.close()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"clean": folder / "clean.mkv"}
    _write(paths["clean"], frames, reader.info.fps)
    for kind in kinds:
        mattes = np.zeros((len(frames), *frames[0].shape[:2]), np.uint8)
        drawn = []
        for i, frame in enumerate(frames):
            if kind == GLASSES:
                if worn[i] is None:
                    drawn.append(frame)
                    continue
                rgb, mattes[i] = glasses(worn[i].landmarks, frame.shape)
            else:
                rgb, mattes[i] = moving_occluder(kind, i, frame.shape, box, period=len(frames))
            drawn.append(composite(frame, rgb, mattes[i]))
        paths[kind] = folder / f"{kind}.mkv"
        _write(paths[kind], drawn, reader.info.fps)
        np.save(folder / f"{kind}.matte.npy", mattes, allow_pickle=False)
    return paths


def measure(footage: Path, output: Path, clean: Path, clean_output: Path, mattes: np.ndarray,
            patches: Path | None = None, clean_patches: Path | None = None) -> tuple[
        dict[str, Any], int, np.ndarray | None]:
    """`summarise` of every frame, the frame of most overlap and its output frame. `patches`,
    `clean_patches`: the same two conversions as patch folders (`--codec patch`), whose mattes
    give `swapped_matte`."""
    per_frame, best, best_frame = [], (-1, -1), None
    readers = [iter(VideoReader(p)) for p in (footage, output, clean, clean_output)]
    indexes = (load_patches(patches), load_patches(clean_patches)) if patches and clean_patches else None
    for items in zip(*readers):
        i = items[0][0]
        foot, out, cl, cl_out = (frame for _, frame in items)
        f = occluder_frame(out, foot, cl_out, mattes[i], swap_region(cl_out, cl))
        if indexes is not None:
            size = foot.shape[:2]
            f.swapped_matte = matte_swapped(patch_matte(indexes[0], i, size), patch_matte(indexes[1], i, size), mattes[i])
        per_frame.append(f)
        if f.overlap > best[1]:
            best, best_frame = (i, f.overlap), out.copy()
    return summarise(per_frame), best[0], best_frame


def _tile(frame: np.ndarray, box: tuple[float, ...], label: str) -> np.ndarray:
    x0, y0, x1, y1 = box
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 1.5
    h, w = frame.shape[:2]
    a, b = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    crop = frame[b:min(int(b + side), h), a:min(int(a + side), w)]
    tile = cv2.resize(np.ascontiguousarray(crop), (SHEET_TILE, SHEET_TILE), interpolation=cv2.INTER_AREA)
    cv2.putText(tile, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
    return tile


def table(records: list[dict[str, Any]], masks: list[str]) -> str:
    """Markdown: a row per clip and occluder, per mask the kept-frames share, the mean change of
    the occluder's pixels, and the share of the rest of the face still swapped, counted in changed
    pixels and read from convert's matte."""
    head = "| clip | occluder | overlap frames | " + " | ".join(
        f"{m}: kept frames / occluder change / swapped / swapped (matte)" for m in masks) + " |"
    lines = [head, "|---" * (3 + len(masks)) + "|"]
    fmt = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    for clip in dict.fromkeys(r["clip"] for r in records):
        for kind in dict.fromkeys(r["occluder"] for r in records if r["clip"] == clip):
            rows = {r["mask"]: r for r in records if r["clip"] == clip and r["occluder"] == kind}
            first = next(iter(rows.values()))
            cells = [f"{fmt(rows[m]['kept_frames'])} / {fmt(rows[m]['occluder_change'], 1)} / "
                     f"{fmt(rows[m]['swapped_mean'], 3)} / {fmt(rows[m].get('swapped_matte_mean'), 3)}"
                     if m in rows else "-" for m in masks]
            lines.append(f"| {clip} | {kind} | {first['overlap_frames']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _models(data: Path, out: Path, given: dict[str, str], minutes: float, pairs: set[str]) -> dict[str, Path]:
    models = {}
    for pair in sorted(pairs):
        if pair in given:
            models[pair] = Path(given[pair])
            continue
        a, b = pair.split(":")
        sets = {}
        for name in (a, b):
            sets[name] = out / "facesets" / name
            extract(data / "video" / f"{name}.mp4", sets[name], ExtractOptions(every=2), progress=False)
        models[pair] = out / "models" / pair.replace(":", "_")
        print(f"[{pair}] training a quick model from the face prior for {minutes:g} minutes -> {models[pair]}")
        train(sets[a], sets[b], models[pair], "quick", {"minutes": minutes}, progress=False)
    return models


def run(data: Path, out: Path, clips: list[str], masks: list[str], models: dict[str, Path],
        seconds: float, reuse: bool = False) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Every clip x occluder x mask: records of figures, and the contact sheet. `reuse`: keep
    the clips and conversions already in `out` (to measure them again)."""
    records, rows = [], []
    backend = make_backend("mediapipe")
    try:
        for clip in clips:
            pair, side = CLIPS[clip]
            folder = out / "clips" / clip
            paths = {kind: folder / f"{kind}.mkv" for kind in ("clean", *MOVING_KINDS)}
            if not (reuse and all(p.is_file() for p in paths.values())):
                paths = make_clips(data / "video" / f"{clip}.mp4", folder, seconds, backend=backend)
            box = face_box([read_frame(paths["clean"], 0)], backend)
            converted, patched = {}, {}
            for mask in masks:
                for kind, path in paths.items():
                    target = out / "converted" / clip / f"{kind}.{mask}.mkv"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    converted[kind, mask] = target
                    # the same conversion as patches: their alpha is convert's matte (`swapped_matte`)
                    patched[kind, mask] = out / "patches" / clip / f"{kind}.{mask}"
                    patched[kind, mask].parent.mkdir(parents=True, exist_ok=True)
                    for codec, where in (("ffv1", target), ("patch", patched[kind, mask])):
                        if reuse and (where / "patches.json" if codec == "patch" else where).is_file():
                            continue
                        convert(path, models[pair], where, ConvertOptions(to=side, mask=mask, overwrite=True, codec=codec,
                                                                          watermark="off", audio="none"), progress=False)
            for kind in MOVING_KINDS:
                mattes = np.load(folder / f"{kind}.matte.npy", allow_pickle=False)
                tiles = []
                for mask in masks:
                    figures, index, frame = measure(paths[kind], converted[kind, mask], paths["clean"],
                                                    converted["clean", mask], mattes, patched[kind, mask],
                                                    patched["clean", mask])
                    records.append({"clip": clip, "occluder": kind, "mask": mask, "model": str(models[pair]),
                                    "to": side, **figures})
                    print(f"[{clip} {kind} --mask {mask}] " + ", ".join(f"{k} {v}" for k, v in figures.items()))
                    if not tiles:
                        tiles.append(_tile(read_frame(paths[kind], index), box, f"{clip} {kind} {index}"))
                    tiles.append(_tile(frame, box, mask))
                rows.append(np.concatenate(tiles, axis=1))
    finally:
        backend.close()
    return records, np.concatenate(rows, axis=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(parser)
    parser.add_argument("--out", type=Path, default=Path("occlusion-out"), help="where results go")
    parser.add_argument("--clips", default=",".join(CLIPS), help=f"clips of {', '.join(CLIPS)} (default all)")
    parser.add_argument("--masks", default="landmarks,both,occlusion", help="convert --mask values to compare")
    parser.add_argument("--models", default="", help="PAIR=MODEL_DIR,... (e.g. d19:d18=model) instead of training")
    parser.add_argument("--minutes", type=float, default=5.0, help="training time of a model not given")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="length of each clip (default 3)")
    parser.add_argument("--reuse", action="store_true", help="keep the clips and conversions already in --out")
    args = parser.parse_args(argv)
    filter_native_stderr()
    setup_logging("WARNING")
    clips, masks = args.clips.split(","), args.masks.split(",")
    if not set(clips) <= set(CLIPS):
        parser.error(f"--clips: choose from {', '.join(CLIPS)}")
    if not set(masks) <= set(MASKS):
        parser.error(f"--masks: choose from {', '.join(MASKS)}")
    given = dict(item.split("=", 1) for item in args.models.split(",") if "=" in item)
    data = args.data or SAMPLE_DATA
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        models = _models(data, args.out, given, args.minutes, {CLIPS[c][0] for c in clips})
        records, sheet = run(data, args.out, clips, masks, models, args.seconds, args.reuse)
    except FaceswapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    write_results(args.out, "occlusion", table(records, masks), records, sheet)
    return 0


def write_results(out: Path, name: str, text: str, records: list[dict[str, Any]], sheet: np.ndarray) -> None:
    """A bench's results: OUT/<name>.md (the table `text`), OUT/<name>.json, OUT/sheet.png; the table printed."""
    (out / f"{name}.md").write_text(text, encoding="utf-8")
    (out / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    write_png(out / "sheet.png", sheet)
    print(text)
    print(f"[{name}] {out / f'{name}.md'}, {out / 'sheet.png'}")


if __name__ == "__main__":
    sys.exit(main())
