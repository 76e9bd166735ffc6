"""`make bench`: how fast the toolkit runs on this machine, against what it could do.

    python -m faceswap.bench [extract|train|convert|batch] [--data DIR] [--frames N]

Each benchmark measures the real pipeline and, in the same run on the same
frames, a floor: the unavoidable work (decoding, the models) done with no
pipeline around it. The ratio of the two shows how much the pipeline costs
on top. Results are printed and written to bench-out/<name>.json. Targets
print PASS/MISS for information only: the exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .defaults import SAMPLE_DATA
from .errors import FaceswapError
from .log import filter_native_stderr, setup_logging

OUT_DIR = Path("bench-out")
EXTRACT_CLIPS = ("d14.mp4", "s18.mp4")  # 512x512 talking head; 720p with a small face
EXTRACT_FPS_TARGET = 60.0  # on 512x512
EXTRACT_RATIO_TARGET = 0.7


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _report_targets(targets: list[tuple[str, float, bool]]) -> list[dict[str, Any]]:
    """Print each (label, value, met) target as PASS/MISS; the same as JSON rows."""
    for label, value, ok in targets:
        print(f"  target {label:<44} {value:>8.2f}  {'PASS' if ok else 'MISS'}")
    return [{"target": label, "value": value, "pass": ok} for label, value, ok in targets]


def _cut(video: Path, frames: int, folder: Path) -> Path:
    """The first `frames` frames of `video` as a new file, stream-copied so decoding
    cost per frame is the original's; every measurement then runs on this copy."""
    from .media.ffmpeg_bin import ffmpeg_exe
    out = folder / video.name
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(video),
                    "-map", "0:v:0", "-c", "copy", "-frames:v", str(frames), str(out)], check=True)
    return out


def _measure_clip(video: Path, backend: Any) -> dict[str, Any]:
    from .extract.options import ExtractOptions
    from .extract.pipeline import extract_source
    from .media.video_reader import VideoReader

    # Floor (a): decode alone. A separate, untimed pass keeps the copies that
    # the model pass needs, so copying does not count as decoding.
    start = time.perf_counter()
    decoded = sum(1 for _ in VideoReader(video))
    t_decode = time.perf_counter() - start
    frames = [image.copy() for _, image in VideoReader(video)]
    info = VideoReader(video).info

    # Floor (b): detectors + mesh on every frame, i.e. the per-frame work extract
    # does on a frame where it runs the detector (it tracks in between, so it can
    # beat this floor).
    start = time.perf_counter()
    faces = sum(len(backend.detect(image)) for image in frames)
    t_model = time.perf_counter() - start
    del frames

    # The real pipeline, into a fresh faceset so nothing resumes.
    with tempfile.TemporaryDirectory(prefix="bench-faceset-") as faceset:
        start = time.perf_counter()
        summary = extract_source(video, faceset, ExtractOptions(), backend=backend, progress=False)
        t_call = time.perf_counter() - start

    floor_fps = decoded / (t_decode + t_model)
    return {
        "clip": video.name, "width": info.width, "height": info.height,
        "frames": summary.frames, "faces": summary.faces,
        "extract_seconds": round(summary.seconds, 3), "extract_fps": round(summary.speed_fps, 2),
        # the whole call, with source probing, verifier load and writer drain
        "extract_call_seconds": round(t_call, 3),
        "decode_frames": decoded, "decode_seconds": round(t_decode, 3),
        "decode_fps": round(decoded / t_decode, 2),
        "model_faces": faces, "model_seconds": round(t_model, 3), "model_fps": round(decoded / t_model, 2),
        "floor_fps": round(floor_fps, 2), "ratio": round(summary.speed_fps / floor_fps, 3),
    }


def bench_extract(data: Path, frames: int | None = None) -> dict[str, Any]:
    """Extract frames/s on the sample clips next to the decode + model floor."""
    from .faces.backends import make_backend
    from .media.video_reader import VideoReader
    from .samples import sample_videos

    videos = sample_videos(data, EXTRACT_CLIPS)
    backend = make_backend("mediapipe")
    rows = []
    try:
        # Model start-up happens on the first call; keep it out of every timing.
        _, first = next(iter(VideoReader(videos[0])))
        backend.detect(first.copy())
        with tempfile.TemporaryDirectory(prefix="bench-clips-") as cuts:
            for video in videos:
                if frames:
                    video = _cut(video, frames, Path(cuts))
                rows.append(_measure_clip(video, backend))
    finally:
        backend.close()

    print(f"{f'extract benchmark ({_cores()} CPU cores)':<34}"
          f"{'frames':>7}{'extract f/s':>13}{'decode f/s':>12}{'model f/s':>11}{'floor f/s':>11}{'ratio':>7}")
    for r in rows:
        print(f"{r['clip'] + ' ' + str(r['width']) + 'x' + str(r['height']):<34}{r['frames']:>7}"
              f"{r['extract_fps']:>13.1f}{r['decode_fps']:>12.1f}{r['model_fps']:>11.1f}"
              f"{r['floor_fps']:>11.1f}{r['ratio']:>7.2f}")
    targets = []
    for r in rows:
        if (r["width"], r["height"]) == (512, 512):
            targets.append((f"extract {r['clip']} >= {EXTRACT_FPS_TARGET:g} frames/s",
                            r["extract_fps"], r["extract_fps"] >= EXTRACT_FPS_TARGET))
        targets.append((f"ratio {r['clip']} >= {EXTRACT_RATIO_TARGET:g}",
                        r["ratio"], r["ratio"] >= EXTRACT_RATIO_TARGET))
    checked = _report_targets(targets)
    print("  (floor = decode + detectors and mesh on every frame; extract runs the detector every "
          "4th frame and tracks in between)")
    return {"cores": _cores(), "frames_limit": frames, "clips": rows,
            "targets": checked}


TRAIN_PRESETS = ("quick", "standard", "film")
TRAIN_RATIO_TARGET = 0.85
# Steps timed per pass and preset: enough batches to average over (quick: some
# 10 s a pass on 2 cores), few enough that the 256 px film model (built for a
# GPU, ~25 s a step on 2 cores) keeps the benchmark within a few minutes.
TRAIN_STEPS = {"quick": 60, "standard": 4, "film": 1}
# Untimed pipeline steps before the timed ones: the second step of a fresh
# trainer is still slow (as much as the first on CPU), and the loaders made
# batches ahead during start-up that steady state does not have in hand.
TRAIN_SETTLE_STEPS = 4


def _train_rates(trainer: Any, steps: int) -> tuple[float, float]:
    """(pipeline samples/s, compute-only samples/s) of one trainer, measured back to back.

    Pipeline: `steps` steps on batches from the real loaders, in steady state.
    Compute: the same number of steps on one pair of those batches already in
    memory, with the loaders shut down, so no data work runs beside them.
    """
    loader_a, loader_b = trainer.loaders()
    batch_a, batch_b = next(loader_a), next(loader_b)
    trainer.step(batch_a, batch_b)  # warm-up: allocations, oneDNN kernel choice, worker start
    for _ in range(min(steps, TRAIN_SETTLE_STEPS)):
        trainer.step(next(loader_a), next(loader_b))
    per_step = 2 * trainer.cfg.batch_size
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step(next(loader_a), next(loader_b))
    pipeline = steps * per_step / (time.perf_counter() - start)
    del loader_a, loader_b  # stops the loader workers
    start = time.perf_counter()
    for _ in range(steps):  # the same batches again: tensors already in memory, no data work
        trainer.step(batch_a, batch_b)
    compute = steps * per_step / (time.perf_counter() - start)
    return pipeline, compute


def bench_train(data: Path, frames: int | None = None) -> dict[str, Any]:
    """Training samples/s per preset: real data pipeline vs the same steps on in-memory tensors."""
    from .extract.options import ExtractOptions
    from .extract.pipeline import extract_source
    from .faces.backends import make_backend
    from .model.autoencoder import count_parameters
    from .samples import sample_videos
    from .train.config import preset
    from .train.trainer import Trainer

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        root = Path(tmp)
        backend = make_backend("mediapipe")
        try:
            for side, video in zip("ab", sample_videos(data)):
                extract_source(video, root / side, ExtractOptions(every=4), backend=backend,
                               progress=False)
        finally:
            backend.close()
        print(f"{f'train benchmark ({_cores()} CPU cores)':<30}{'params':>8}{'batch':>7}{'samples/s':>11}"
              f"{'compute':>9}{'ratio':>7}", flush=True)
        for name in TRAIN_PRESETS:
            model_cfg, train_cfg = preset(name)
            trainer = Trainer(root / "a", root / "b", root / f"model-{name}", model_cfg, train_cfg, progress=False)
            pipeline, compute = _train_rates(trainer, frames or TRAIN_STEPS[name])
            r = {"preset": name, "resolution": model_cfg.resolution, "batch": train_cfg.batch_size,
                 "params_m": round(count_parameters(trainer.model) / 1e6, 2),
                 "device": str(trainer.device), "samples_s": round(pipeline, 2),
                 "compute_samples_s": round(compute, 2), "ratio": round(pipeline / compute, 3)}
            rows.append(r)
            # one row at a time: the big presets take minutes on a CPU
            print(f"{r['preset'] + ' ' + str(r['resolution']) + ' px ' + r['device']:<30}{r['params_m']:>7.1f}M"
                  f"{r['batch']:>7}{r['samples_s']:>11.1f}{r['compute_samples_s']:>9.1f}{r['ratio']:>7.2f}",
                  flush=True)
            del trainer
    targets = [(f"ratio {r['preset']} >= {TRAIN_RATIO_TARGET:g}", r["ratio"], r["ratio"] >= TRAIN_RATIO_TARGET)
               for r in rows]
    checked = _report_targets(targets)
    print("  (samples/s counts both identities; compute = the same steps on a batch already in memory)")
    return {"cores": _cores(), "presets": rows,
            "targets": checked}


CONVERT_CLIPS = ("d14.mp4", "s18.mp4")
CONVERT_PRESETS = ("quick", "standard")
CONVERT_FPS_TARGET = 20.0  # quick, 512 px
CONVERT_MEMORY_TARGET = 1.15  # peak memory of a 4x longer input over a short one

# Runs one convert in a fresh interpreter, so its peak memory is its own.
_CONVERT_ONE = """
import json, resource, sys
from faceswap.log import filter_native_stderr, setup_logging
filter_native_stderr(); setup_logging("WARNING")
from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import convert
s = convert(sys.argv[1], sys.argv[2], sys.argv[3], ConvertOptions(overwrite=True), progress=False)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"frames": s.frames, "swapped": s.swapped, "seconds": s.seconds, "fps": s.speed_fps, "rss_mb": rss}))
"""


def _untrained_model(folder: Path, name: str) -> Path:
    """A model folder of the preset with random weights, and B references of textured noise on the
    mean face's landmarks (convert --detail reference aligns them like real ones): speed does not
    depend on what it learnt or on what the references show."""
    import cv2
    import torch

    from .data.references import REFERENCES, References, reference_side, save_references
    from .faces.geometry import MEAN_FACE, face_to_crop, transform_points
    from .model.autoencoder import FaceSwapModel
    from .model.store import save_model_config
    from .train.checkpoint import Checkpoint, save_checkpoint
    from .train.config import preset
    cfg, _ = preset(name)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save_model_config(folder, cfg)
    save_checkpoint(folder, Checkpoint(FaceSwapModel(cfg).state_dict(), None, {"iteration": 0}))
    if not cfg.detail_scale:
        side = reference_side(cfg)
        noise = np.random.default_rng(0).normal(128, 40, (REFERENCES, side, side, 3)).astype(np.float32)
        crops = np.stack([cv2.GaussianBlur(c, (0, 0), 1.5) for c in noise]).clip(0, 255).astype(np.uint8)
        marks = transform_points(MEAN_FACE, face_to_crop(side, cfg.centering, cfg.coverage)).astype(np.float32)
        save_references(folder, References(crops, np.repeat(marks[None], REFERENCES, 0)), folder, cfg)
    return folder


def _convert_once(video: Path, model: Path, out: Path) -> dict[str, Any]:
    run = subprocess.run([sys.executable, "-c", _CONVERT_ONE, str(video), str(model), str(out)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise FaceswapError(f"convert of {video.name} failed: {run.stderr.strip().splitlines()[-1:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _codec_floor(video: Path, out: Path) -> float:
    """Frames/s of decoding the clip and encoding it again with convert's default writer: the I/O floor."""
    from .media.video_reader import VideoReader
    from .media.writers import open_writer
    reader = VideoReader(video)
    info = reader.info
    start = time.perf_counter()
    frames = 0
    writer = open_writer(out, None, width=info.width, height=info.height, fps=info.fps, audio=None,
                         metadata={}, overwrite=True)
    for _, image in reader:
        writer.write(image)
        frames += 1
    writer.close()
    return frames / (time.perf_counter() - start)


def _loop(video: Path, times: int, folder: Path) -> Path:
    """The clip `times` over, stream-copied: a longer input with the same content per frame."""
    from .media.ffmpeg_bin import ffmpeg_exe
    listing = folder / "concat.txt"
    listing.write_text("".join(f"file '{video.resolve()}'\n" for _ in range(times)))
    out = folder / f"{video.stem}_x{times}{video.suffix}"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-c", "copy", str(out)], check=True)
    return out


def bench_convert(data: Path, frames: int | None = None) -> dict[str, Any]:
    """Convert frames/s per clip and preset next to the decode + encode floor; peak memory vs input length."""
    from .media.probe import probe_video
    from .samples import sample_videos

    videos = sample_videos(data, CONVERT_CLIPS)
    rows = []
    print(f"{f'convert benchmark ({_cores()} CPU cores)':<36}{'frames':>7}{'convert f/s':>13}"
          f"{'floor f/s':>11}{'ratio':>7}{'peak MiB':>10}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as tmp:
        root = Path(tmp)
        models = {name: _untrained_model(root / f"model-{name}", name) for name in CONVERT_PRESETS}
        for video in videos:
            if frames:
                video = _cut(video, frames, root)
            floor = _codec_floor(video, root / f"floor{video.suffix}")
            info = probe_video(video)
            size = f"{info.width}x{info.height}"
            for name in CONVERT_PRESETS:
                r = _convert_once(video, models[name], root / f"out-{name}{video.suffix}")
                row = {"clip": video.name, "size": size, "preset": name, "frames": r["frames"],
                       "swapped": r["swapped"], "fps": round(r["fps"], 2), "floor_fps": round(floor, 2),
                       "ratio": round(r["fps"] / floor, 3), "peak_rss_mb": round(r["rss_mb"], 1)}
                rows.append(row)
                print(f"{row['clip'] + ' ' + row['size'] + ' ' + name:<36}{row['frames']:>7}{row['fps']:>13.1f}"
                      f"{row['floor_fps']:>11.1f}{row['ratio']:>7.2f}{row['peak_rss_mb']:>10.0f}", flush=True)
        # Memory must not grow with length: the same clip, once and four times over.
        short = videos[0]
        if frames:
            (root / "short").mkdir()
            short = _cut(videos[0], frames, root / "short")
        long = _loop(short, 4, root)
        mem = {}
        for label, clip in (("short", short), ("4x longer", long)):
            r = _convert_once(clip, models["quick"], root / f"mem-{label[:2]}{clip.suffix}")
            mem[label] = {"frames": r["frames"], "peak_rss_mb": round(r["rss_mb"], 1), "fps": round(r["fps"], 2)}
            print(f"{'memory: ' + clip.name + ' quick':<36}{r['frames']:>7}{r['fps']:>13.1f}{'':>11}{'':>7}"
                  f"{r['rss_mb']:>10.0f}", flush=True)
    growth = mem["4x longer"]["peak_rss_mb"] / mem["short"]["peak_rss_mb"]
    targets = [(f"convert {r['clip']} quick >= {CONVERT_FPS_TARGET:g} frames/s", r["fps"],
                r["fps"] >= CONVERT_FPS_TARGET) for r in rows if r["preset"] == "quick" and r["size"] == "512x512"]
    targets.append((f"peak memory 4x input / 1x <= {CONVERT_MEMORY_TARGET:g}", round(growth, 3),
                    growth <= CONVERT_MEMORY_TARGET))
    checked = _report_targets(targets)
    print("  (floor = decode + encode of the same clip with the default writer, no faces; models have random "
          "weights: speed does not depend on training)")
    return {"cores": _cores(), "frames_limit": frames, "rows": rows, "memory": mem,
            "targets": checked}


BATCH_CLIPS = ("d18.mp4", "d19.mp4", "d12.mp4", "d14.mp4")
BATCH_FRAMES = 90  # frames per shot: short, so start-up (spawn, model load) shows as a batch of short shots pays it
BATCH_JOBS = (1, 2)


def run_shots(shots: list[tuple[Path, Path]], model: Path, options: dict[str, Any], jobs: int,
              folder: Path) -> dict[str, Any]:
    """Run `faceswap batch --jobs JOBS` on a manifest (written in `folder`) of each (input,
    output) of `shots` with `model` and the ConvertOptions fields `options`; wall seconds of
    the whole batch, worker start-up and model loads included."""
    import yaml

    from .api import batch
    from .batch.options import BatchOptions
    manifest = folder / "bench.yaml"
    manifest.write_text(yaml.safe_dump({"model": str(model), "options": options, "shots": [
        {"input": str(i), "output": str(o)} for i, o in shots]}), encoding="utf-8")
    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    result = batch(manifest, BatchOptions(jobs=jobs, retries=0), progress=False)
    seconds = time.perf_counter() - start
    failed = [f"{r.shot}: {r.error}" for r in result.results if r.status != "done"]
    if failed:
        raise FaceswapError(f"--jobs {jobs}: {failed[0]}")
    cores_busy = (_cpu_seconds() - cpu_before) / seconds   # how much of the machine the batch used
    frames = sum(r.frames for r in result.results)
    return {"jobs": jobs, "shots": len(shots), "frames": frames, "swapped": sum(r.swapped for r in result.results),
            "seconds": round(seconds, 2), "cores_busy": round(cores_busy, 2),
            "shots_per_hour": round(len(shots) * 3600 / seconds, 1), "fps": round(frames / seconds, 2)}


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (workers, ffmpeg)."""
    return sum(sum(resource.getrusage(who)[:2]) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def bench_batch(data: Path, frames: int | None = None) -> dict[str, Any]:
    """Shots/hour and frames/s of a batch of 4 short shots with `--jobs 1` vs `--jobs 2`, in one run."""
    from .samples import sample_videos

    videos = sample_videos(data, BATCH_CLIPS)
    count = frames or BATCH_FRAMES
    options = {"frames": f"0:{count}", "device": "cpu"}
    rows = []
    print(f"{f'batch benchmark ({_cores()} CPU cores, {len(videos)} shots of {count} frames)':<52}"
          f"{'seconds':>8}{'shots/h':>9}{'frames/s':>10}{'cores busy':>12}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        model = _untrained_model(root / "model-quick", "quick")
        for jobs in BATCH_JOBS:
            (root / f"jobs{jobs}").mkdir()
            r = run_shots([(v, root / f"jobs{jobs}" / f"{v.stem}.mp4") for v in videos], model, options, jobs,
                          root / f"jobs{jobs}")
            rows.append(r)
            print(f"{f'--jobs {jobs}':<52}{r['seconds']:>8.1f}{r['shots_per_hour']:>9.0f}{r['fps']:>10.1f}"
                  f"{r['cores_busy']:>12.2f}", flush=True)
    ratio = rows[-1]["fps"] / rows[0]["fps"]
    print(f"  --jobs {BATCH_JOBS[-1]} / --jobs {BATCH_JOBS[0]}: {ratio:.2f}x  (wall time per batch, worker "
          "start-up and model loads included; quick model with random weights)")
    return {"cores": _cores(), "frames_per_shot": count, "clips": list(BATCH_CLIPS), "rows": rows,
            "ratio": round(ratio, 3)}


WATERMARK_CLIPS = ("d18.mp4", "s18.mp4")
# what footage goes through on its way to a viewer (docs/provenance.md): ffmpeg output options
WATERMARK_TRANSFORMS = {
    "h264 crf 18": ["-c:v", "libx264", "-crf", "18"],
    "h264 crf 23": ["-c:v", "libx264", "-crf", "23"],
    "h264 crf 28": ["-c:v", "libx264", "-crf", "28"],
    "h265 crf 28": ["-c:v", "libx265", "-crf", "28", "-x265-params", "log-level=error"],
    "50% downscale": ["-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-crf", "18"],
    # even sizes: yuv420p cannot hold an odd one (a 512 px side's 90 % is 460.8)
    "10% crop": ["-vf", "crop=2*trunc(iw*0.45):2*trunc(ih*0.45):iw*0.05:ih*0.03", "-c:v", "libx264", "-crf", "18"],
    "25 fps": ["-vf", "fps=25", "-c:v", "libx264", "-crf", "23"],
    "crf 28 + 50% downscale": ["-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-crf", "28"],
    # re-encoded twice: a list of passes, each the output of the one before
    "crf 23 then crf 28": [["-c:v", "libx264", "-crf", "23"], ["-c:v", "libx264", "-crf", "28"]],
}
WATERMARK_MS_TARGET = 3.0   # embedding, per 1080p frame


def _mark_clip(video: Path, out: Path, ident: int, frames: int | None) -> tuple[float, int]:
    """Write `video` marked as convert marks a frame (losslessly, FFV1) to `out`; returns (luma
    PSNR of the marked frames against the clip's in dB, frames written)."""
    import cv2

    from .media import watermark
    from .media.ffmpeg_bin import ffmpeg_exe
    from .media.probe import probe_video
    from .media.video_reader import VideoReader

    info = probe_video(video)
    embedder = watermark.Embedder(watermark.mark_pattern(ident, info.height, info.width))
    proc = subprocess.Popen([ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                             f"{info.width}x{info.height}", "-r", str(info.fps), "-i", "-", "-c:v", "ffv1", str(out)],
                            stdin=subprocess.PIPE)
    errors, n = [], 0
    for _, frame in VideoReader(video):
        before = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float64)
        embedder(frame)
        errors.append(np.mean((cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) - before) ** 2))
        proc.stdin.write(frame.tobytes())
        n += 1
        if frames and n >= frames:
            break
    proc.stdin.close()
    proc.wait()
    return 10 * np.log10(255 ** 2 / max(float(np.mean(errors)), 1e-12)), n


def _mark_delta_e(video: Path, ident: int, index: int = 30) -> tuple[float, float]:
    """How visible the mark is on frame `index` of `video` (its last frame if shorter): the mean
    CIEDE2000 colour difference (scikit-image) between the frame marked and unmarked, both through
    H.264 CRF 18 as convert writes them, over the squares the mark calls flat and bright, and over the whole frame."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    from .media import watermark
    from .media.delivered import through_h264
    from .media.video_reader import read_frame

    frame = read_frame(video, index, or_last=True)
    h, w = frame.shape[:2]
    pattern = watermark.mark_pattern(ident, h, w)
    difference = deltaE_ciede2000(rgb2lab(through_h264(frame)), rgb2lab(through_h264(watermark.embed(frame.copy(), pattern))))
    levels = watermark.square_levels(frame, pattern.block)
    flat = np.repeat(np.repeat(levels == watermark.FLAT, pattern.block, 0), pattern.block, 1)[:h, :w]
    return float(difference[flat].mean()) if flat.any() else float("nan"), float(difference.mean())


def bench_watermark(data: Path, frames: int | None = None) -> dict[str, Any]:
    """The watermark: embedding ms per 1080p frame beside convert's own frame time there, its luma
    PSNR, and the share of 1-second windows that decode after each delivery transformation."""
    from .media import watermark
    from .media.ffmpeg_bin import run_ffmpeg
    from .media.video_reader import VideoReader
    from .samples import sample_videos
    from .verify import verify_file

    videos = sample_videos(data, WATERMARK_CLIPS)
    ident = 0x5EC0FFEE42
    with tempfile.TemporaryDirectory(prefix="bench-watermark-") as tmp:
        root = Path(tmp)
        # 1080p: the 720p clip scaled up; convert at that size beside the mark
        big = root / "hd.mp4"
        run_ffmpeg(["-y", "-i", str(videos[-1]), "-frames:v", str(frames or 30), "-vf", "scale=1920:1080",
                    "-c:v", "libx264", "-crf", "16", str(big)], "make a 1080p clip")
        started = time.perf_counter()
        pattern = watermark.mark_pattern(ident, 1080, 1920)
        pattern_ms = (time.perf_counter() - started) * 1000
        # the clip's frames one after another (the busy squares follow the picture as in convert),
        # and the same letterboxed to 2.39:1 in black bars (left unmarked: the masked path)
        clip = [frame.copy() for _, frame in itertools.islice(VideoReader(big), 30)]   # the reader reuses its buffers
        boxed = [frame.copy() for frame in clip]
        for frame in boxed:
            frame[:138] = frame[-138:] = 0

        def embed_ms_of(images: list[np.ndarray]) -> float:
            embedder = watermark.Embedder(pattern)
            embedder(images[0].copy())      # the first frame sets every busy square once
            copies = [image.copy() for image in images[1:]]
            started = time.perf_counter()
            for copy in copies:
                embedder(copy)
            return (time.perf_counter() - started) * 1000 / len(copies)

        embed_ms_of(clip)
        embed_ms, boxed_ms = embed_ms_of(clip), embed_ms_of(boxed)
        model = _untrained_model(root / "model-quick", "quick")
        convert_ms = 1000 / _convert_once(big, model, root / "hd-out.mp4")["fps"]
        print(f"watermark benchmark ({_cores()} CPU cores): embedding {embed_ms:.2f} ms per 1080p frame "
              f"({boxed_ms:.2f} letterboxed) "
              f"(pattern made once a run: {pattern_ms:.0f} ms); convert {convert_ms:.0f} ms per 1080p frame; "
              f"embedding / convert {embed_ms / convert_ms:.4f}", flush=True)
        rows, visibility = [], []
        print(f"{'clip / transformation':<44}{'windows':>8}{'decoded':>9}{'share':>8}", flush=True)
        for video in videos:
            marked = root / f"{video.stem}-marked.mkv"
            psnr, count = _mark_clip(video, marked, ident, frames)
            flat_de, all_de = _mark_delta_e(video, ident)
            print(f"{video.name} marked: luma PSNR {psnr:.2f} dB, {count} frames; colour difference after CRF 18 "
                  f"(mean CIEDE2000, frame 30) {flat_de:.2f} in flat bright squares, {all_de:.2f} over the frame",
                  flush=True)
            visibility.append({"clip": video.name, "delta_e_flat": round(flat_de, 2), "delta_e_frame": round(all_de, 2)})
            for name, args in WATERMARK_TRANSFORMS.items():
                source = marked
                for step, pass_args in enumerate(args if isinstance(args[0], list) else [args]):
                    out = root / f"{video.stem}-{len(rows)}-{step}.mp4"
                    run_ffmpeg(["-y", "-i", str(source), *pass_args, "-pix_fmt", "yuv420p", str(out)], name)
                    source = out
                w = verify_file(out).watermark
                decoded = w["decoded"] if w["found"] and w["output_id"] == f"{ident:010x}" else 0
                rows.append({"clip": video.name, "transform": name, "psnr_db": round(psnr, 2),
                             "windows": w["windows"], "decoded": decoded,
                             "share": round(decoded / max(w["windows"], 1), 3)})
                print(f"{'  ' + name:<44}{w['windows']:>8}{decoded:>9}{rows[-1]['share']:>8.0%}", flush=True)
    targets = [(f"embedding ms per 1080p frame <= {WATERMARK_MS_TARGET:g}", embed_ms, embed_ms <= WATERMARK_MS_TARGET),
               (f"embedding ms per letterboxed 1080p frame <= {WATERMARK_MS_TARGET:g}", boxed_ms,
                boxed_ms <= WATERMARK_MS_TARGET)]
    for r in rows:
        goal = 0.95 if "+" in r["transform"] else 0.99
        targets.append((f"{r['clip']} {r['transform']} share >= {goal:g}", r["share"], r["share"] >= goal))
    checked = _report_targets(targets)
    return {"cores": _cores(), "embed_ms_1080p": round(embed_ms, 3), "embed_ms_1080p_letterboxed": round(boxed_ms, 3), "pattern_ms_1080p": round(pattern_ms, 1),
            "convert_ms_1080p": round(convert_ms, 1), "ratio": round(embed_ms / convert_ms, 5), "rows": rows,
            "visibility": visibility, "targets": checked}


BENCHMARKS: dict[str, Callable[[Path, int | None], dict[str, Any]]] = {
    "extract": bench_extract,
    "train": bench_train,
    "convert": bench_convert,
    "batch": bench_batch,
    "watermark": bench_watermark,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faceswap.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", nargs="?", choices=list(BENCHMARKS), help="run one (default: all)")
    parser.add_argument("--data", type=Path, default=SAMPLE_DATA,
                        help="folder with the sample footage (video/d14.mp4, video/s18.mp4)")
    parser.add_argument("--frames", type=int, default=None,
                        help="quick run: extract only the first N frames of each clip; train only N steps; "
                             "batch: N frames a shot (default 30)")
    args = parser.parse_args(argv)
    if args.frames is not None and args.frames < 1:
        parser.error("--frames must be at least 1")
    if not args.data.is_dir():
        print(f"error: sample data folder not found: {args.data} (pass --data DIR)", file=sys.stderr)
        return 2
    filter_native_stderr()
    setup_logging("WARNING")
    OUT_DIR.mkdir(exist_ok=True)
    for name in [args.benchmark] if args.benchmark else list(BENCHMARKS):
        try:
            result = BENCHMARKS[name](args.data, args.frames)
        except FaceswapError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        (OUT_DIR / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"  -> {OUT_DIR / f'{name}.json'}")
    # ru_maxrss is in KiB on Linux
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
