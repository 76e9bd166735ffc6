"""The `faceswap` command: parses options and calls the Python API, nothing more."""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__, defaults
from .convert.blend import BLEND_METHODS
from .convert.color import COLOR_METHODS
from .errors import FaceswapError, NoFaceError
from .log import filter_native_stderr, setup_logging
from .media.codecs import CODECS
from .qc.gates import METRICS as QC_METRICS
from .qc.integrity import FIELDS as QC_CHECKS


def user_errors(func: Callable) -> Callable:
    """Turn FaceswapError into one line on stderr and its exit code; Ctrl-C into 130."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FaceswapError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="faceswap")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              default="INFO", help="How much to log to stderr.")
def main(log_level: str) -> None:
    """Face swap and reenactment for film and TV footage.

    \b
    extract  footage -> aligned faceset (crops + alignments)
    train    two facesets -> a swap model
    convert  footage + model -> swapped (or reenacted) video
    qc       converted shot + its footage -> quality figures, report, pass/fail
    """
    if log_level.upper() != "DEBUG":
        filter_native_stderr()
    setup_logging(log_level)


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", "faceset", required=True, type=click.Path(file_okay=False),
              help="Faceset folder to write crops and alignments into (created if missing).")
@click.option("--size", default=defaults.EXTRACT_SIZE, type=int,
              help="Side of the square face crops in pixels; 256 leaves room to train a 128 px model "
                   "from a tighter crop.")
@click.option("--centering", default=defaults.EXTRACT_CENTERING, type=click.Choice(list(defaults.CENTERINGS)),
              help="What the crop is centred on: 'face' (brows to chin) or 'head' (with forehead and hair; "
                   "training can cut a face crop out of it, not the other way round).")
@click.option("--coverage", default=defaults.EXTRACT_COVERAGE, type=float,
              help="Share of the centering's full extent the crop shows (0.1-2.0); lower zooms in.")
@click.option("--every", default=defaults.EXTRACT_EVERY, type=int,
              help="Use every Nth frame of a video (faces of consecutive frames are near duplicates).")
@click.option("--min-size", default=defaults.EXTRACT_MIN_SIZE, type=int,
              help="Drop faces narrower than this many pixels in the frame (too blurry to train on).")
@click.option("--detector", default=defaults.DETECTOR, type=click.Choice(list(defaults.DETECTORS)),
              help="Landmark backend: 'mediapipe' ships its weights in its wheel; 'fan' needs the 2DFAN4 "
                   "weights in weights/ (see weights/README.md).")
@click.option("--confidence", default=defaults.DETECT_CONFIDENCE, type=float,
              help="Face detector threshold; lower finds more small or turned faces and more false ones.")
@click.option("--detect-every", default=defaults.DETECT_EVERY, type=int,
              help="In video, run the full detector every Nth frame and track faces in between "
                   "(new faces appear within N frames; 1 = detect on every frame).")
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="Photo of the person to keep; other people are skipped (dlib face descriptor, per track).")
@click.option("--reference-threshold", default=defaults.REFERENCE_THRESHOLD, type=float,
              help="Face-descriptor distance under which a face counts as the reference person.")
@click.option("--preview/--no-preview", default=False,
              help="Write FACESET/contact_sheet.png: sampled crops with their landmarks drawn.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@user_errors
def extract(inputs: tuple[str, ...], faceset: str, progress: bool, **opts: Any) -> None:
    """Extract aligned faces from videos, image folders or images into a faceset.

    Run it again with the same INPUT and --output to resume an interrupted run.
    Exits 0 when faces were found, 3 when the input held no human face, 1 on
    other errors, 130 when interrupted (the work done so far is kept).
    """
    from .api import ExtractOptions
    from .api import extract as run_extract

    result = run_extract(list(inputs), faceset, ExtractOptions(**opts), progress=progress)
    for s in result.summaries:
        name = Path(s.source).name
        pct = 100.0 * s.frames_with_faces / s.frames if s.frames else 0.0
        click.echo(f"{name}: {s.frames} frames in {s.seconds:.1f} s ({s.fps:.1f} frames/s), faces in "
                   f"{s.frames_with_faces} ({pct:.1f}%), {s.faces} crops, {len(s.tracks)} tracks"
                   + (f", {s.resumed} frames already done" if s.resumed else "")
                   + (f", {len(s.skipped)} non-image files skipped" if s.skipped else ""))
        if s.no_face and s.frames and not s.frames_with_faces:
            click.echo(f"{name}: no face found", err=True)
        elif s.no_face and not Path(s.source).is_file():
            click.echo(f"{name}: no face found in {len(s.no_face)} of {s.frames} images", err=True)
    if result.contact_sheet:
        click.echo(f"contact sheet: {result.contact_sheet}")
    if result.interrupted:
        raise KeyboardInterrupt
    total_frames = sum(s.frames + s.resumed for s in result.summaries)
    if result.faces == 0 and total_frames and not any(s.resumed for s in result.summaries):
        raise NoFaceError("no face found in " + ", ".join(Path(s.source).name for s in result.summaries))


def _preset_default(name: str) -> str:
    from .model.config import PRESETS
    values = ", ".join(f"{p} {PRESETS[p]['model'].get(name, PRESETS[p]['train'].get(name, '-'))}" for p in PRESETS)
    return f" [default: from the preset: {values}]"


@main.command()
@click.argument("faceset_a", type=click.Path(file_okay=False))
@click.argument("faceset_b", type=click.Path(file_okay=False))
@click.option("-m", "--model-dir", required=True, type=click.Path(file_okay=False),
              help="Model folder: created for a new model; an existing one resumes training.")
@click.option("--preset", default="quick", type=click.Choice(["quick", "standard", "film"]),
              help="Model size and training defaults: quick = 64 px for a CPU in 30 minutes, standard = 128 px, "
                   "film = 256 px head crops for a GPU.")
@click.option("--arch", type=click.Choice(["df", "liae"]), default=None,
              help="df: shared encoder, a decoder per identity. liae: shared encoder and decoder with an "
                   "identity-specific inter layer (keeps the target's lighting better). [default: df]")
@click.option("--resolution", type=int, default=None, help="Face crop side in pixels, 64-512." + _preset_default("resolution"))
@click.option("--centering", type=click.Choice(["face", "head"]), default=None,
              help="Crop centering the model works on." + _preset_default("centering"))
@click.option("--coverage", type=float, default=None, help="Share of the centering's extent in the crop.")
@click.option("--encoder-dims", type=int, default=None, help="Encoder width." + _preset_default("encoder_dims"))
@click.option("--latent-dims", type=int, default=None, help="Bottleneck width." + _preset_default("latent_dims"))
@click.option("--decoder-dims", type=int, default=None, help="Decoder width." + _preset_default("decoder_dims"))
@click.option("--batch-size", type=int, default=None, help="Faces per identity per iteration." + _preset_default("batch_size"))
@click.option("--lr", type=float, default=None, help="Adam learning rate." + _preset_default("lr"))
@click.option("--iterations", type=int, default=None, help="Stop at this iteration count (total, across resumes).")
@click.option("--minutes", type=float, default=None, help="Stop after this many minutes of this run.")
@click.option("--save-every", type=int, default=None, help="Checkpoint every N iterations (and always on exit). [default: 250]")
@click.option("--preview-every", type=int, default=None, help="Write previews/preview_N.png every N iterations. [default: 250]")
@click.option("--ssim-weight", type=float, default=None, help="Weight of the masked DSSIM term. [default: 1.0]")
@click.option("--pixel-loss", type=click.Choice(["l1", "mse"]), default=None, help="Pixel loss. [default: l1]")
@click.option("--pixel-weight", type=float, default=None, help="Weight of the pixel term. [default: 1.0]")
@click.option("--eyes-weight", type=float, default=None, help="Loss multiplier on the eyes. [default: 3.0]")
@click.option("--mouth-weight", type=float, default=None, help="Loss multiplier on the mouth. [default: 2.0]")
@click.option("--mask-weight", type=float, default=None, help="Weight of the mask loss. [default: 1.0]")
@click.option("--gan-weight", type=float, default=None,
              help="Weight of the adversarial loss; 0 trains no discriminator. [default: 0]")
@click.option("--gan-start", type=int, default=None, help="Iteration the discriminator starts at. [default: 0]")
@click.option("--gan-loss", type=click.Choice(["nonsaturating", "hinge", "lsgan", "wgan-gp"]), default=None,
              help="Adversarial loss. [default: nonsaturating]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default=None,
              help="auto picks CUDA, then MPS, then the CPU. [default: auto]")
@click.option("--amp/--no-amp", default=None, help="Mixed precision on GPU (bf16 where supported). [default: on]")
@click.option("--compile/--no-compile", default=None, help="torch.compile the model. [default: off]")
@click.option("--workers", type=int, default=None, help="Data loader processes. [default: by CPU count]")
@click.option("--warp/--no-warp", default=None, help="Random grid warp of the inputs. [default: on]")
@click.option("--seed", type=int, default=None, help="Random seed. [default: 0]")
@click.option("--from-backup", is_flag=True, default=False,
              help="Resume from checkpoint.bak/ (when the latest checkpoint is damaged).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@user_errors
def train(faceset_a: str, faceset_b: str, model_dir: str, preset: str, from_backup: bool, progress: bool,
          **opts: Any) -> None:
    """Train a swap model: FACESET_A is the footage to change, FACESET_B the face to put in.

    Stops at --iterations or --minutes, or on Ctrl-C / SIGTERM, and always
    saves a checkpoint first. Run it again on the same --model-dir to resume.
    """
    from .api import train as run_train
    from .model.config import ModelConfig

    model_keys = set(ModelConfig.__dataclass_fields__)
    model_overrides = {k: v for k, v in opts.items() if k in model_keys}
    train_overrides = {k: v for k, v in opts.items() if k not in model_keys}
    s = run_train(faceset_a, faceset_b, model_dir, preset, model_overrides, train_overrides,
                  from_backup=from_backup, progress=progress)
    losses = ", ".join(f"{k} {v:.4f}" for k, v in s.last_losses.items())
    click.echo(f"trained {s.model_dir}: iterations {s.start_iteration} -> {s.iteration} in {s.seconds:.0f} s "
               f"({s.samples_per_second:.0f} samples/s){', ' + losses if losses else ''}"
               + (f", {s.rollbacks} roll-backs" if s.rollbacks else ""))
    click.echo(f"preview: {Path(s.model_dir) / 'preview.png'}  loss plot: {Path(s.model_dir) / 'loss.png'}")
    if s.stopped_by in ("interrupt", "terminated"):
        raise KeyboardInterrupt


def _terminate_as_interrupt() -> None:
    """SIGTERM (a render farm's kill) cleans up like Ctrl-C: no half-written output is left."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("-m", "--model-dir", required=True, type=click.Path(file_okay=False),
              help="Model folder written by faceswap train (its config.json says the crop it needs).")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Output video file (.mp4/.mov/.mkv), a folder for a PNG sequence or patches. Written under "
                   "a temporary name and renamed when complete.")
@click.option("--mode", default="swap", type=click.Choice(["swap", "reenact"]),
              help="swap: the footage's face becomes the other identity. reenact: the footage keeps its "
                   "person, whose expression comes from --driver.")
@click.option("--to", type=click.Choice(["a", "b"]), default=None,
              help="swap: identity put into the footage [default: b, the training convention]. reenact: the "
                   "footage's own identity [default: the decoder that rebuilds the footage's face best].")
@click.option("--driver", type=click.Path(dir_okay=False), default=None,
              help="reenact: video whose expressions drive the footage (driver frame i -> output frame i).")
@click.option("--region", default=defaults.REENACT_REGION, type=click.Choice(list(defaults.REENACT_REGIONS)),
              help="reenact: part of the face replaced; mouth for dubbing, lower face, or the whole face.")
@click.option("--driver-end", default=defaults.DRIVER_END, type=click.Choice(list(defaults.DRIVER_ENDS)),
              help="reenact, driver shorter than the footage: stop there, loop the driver, or hold its last frame.")
@click.option("--audio", type=click.Choice(["input", "driver", "none"]), default=None,
              help="Sound of the output [default: input for swap, driver for reenact].")
@click.option("--alignments", type=click.Path(), default=None,
              help="Faces from extract: a <video>.alignments.jsonl or the faceset folder holding it "
                   "[default: detect and track on the fly, as extract does].")
@click.option("--track", type=int, default=None, help="Change only this face track (ids as extract numbers them).")
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="Change only the person in this photo (dlib face descriptor, decided per track).")
@click.option("--reference-threshold", default=defaults.REFERENCE_THRESHOLD, type=float,
              help="Descriptor distance under which a face is the --reference person.")
@click.option("--all-faces", is_flag=True, default=False,
              help="Change every face [default: only the track(s) the model's footage identity matches best].")
@click.option("--detector", default=defaults.DETECTOR, type=click.Choice(list(defaults.DETECTORS)),
              help="Landmark backend for on-the-fly detection (see faceswap extract --help).")
@click.option("--confidence", default=defaults.DETECT_CONFIDENCE, type=float, help="Face detector threshold.")
@click.option("--detect-every", default=defaults.DETECT_EVERY, type=int,
              help="Run the full detector every Nth frame and track in between.")
@click.option("--smooth", default=defaults.SMOOTH, type=float,
              help="Temporal smoothing of the landmarks: sigma of a centred window in frames; 0 = off. Never "
                   "crosses a shot cut.")
@click.option("--bridge-gap", default=defaults.BRIDGE_GAP, type=int,
              help="Fill detection gaps up to this many frames by interpolation, so the swap does not blink off.")
@click.option("--mask", default=defaults.MASK, type=click.Choice(list(defaults.MASKS)),
              help="predicted (the model's), landmarks, or both multiplied.")
@click.option("--landmark-mask", default=defaults.LANDMARK_MASK, type=click.Choice(list(defaults.LANDMARK_MASKS)),
              help="components follows the face outline; extended also covers the forehead.")
@click.option("--erode", default=defaults.ERODE, type=float,
              help="Shrink (or, negative, grow) the mask by this % of the face width.")
@click.option("--blur", default=defaults.BLUR, type=float, help="Feather the mask edge over this % of the face width.")
@click.option("--color", default=defaults.COLOR, type=click.Choice(list(COLOR_METHODS)),
              help="Colour matching to the footage inside the mask: Reinhard LAB (rct), linear covariance (lct), "
                   "histogram, Monge-Kantorovich optimal transport (mkl).")
@click.option("--blend", default=defaults.BLEND, type=click.Choice(list(BLEND_METHODS)),
              help="feather: alpha blend; poisson: seamless clone (fixed placement, no jitter); laplacian: "
                   "multi-band pyramid blend.")
@click.option("--codec", default=None,
              type=click.Choice([*CODECS, "patch"]),
              help="Output codec [default: from the output: .mp4/.mkv h264, .mov prores, a folder png]. patch "
                   "writes RGBA PNGs of the changed faces and their placement for a compositor.")
@click.option("--crf", type=int, default=None, help="H.264/H.265 quality (lower = better). [default: 18]")
@click.option("--preset", "enc_preset", default=None,
              help="H.264/H.265 encoder speed preset (ultrafast ... veryslow). [default: medium]")
@click.option("--frames", default=None, metavar="START:END",
              help="Convert only frames START (included) to END (excluded), 0-based; audio is trimmed to match.")
@click.option("--preview", type=int, default=None, metavar="FRAME",
              help="Only convert this frame: writes OUTPUT.preview-FRAME.png and a side-by-side with the original.")
@click.option("--overwrite", is_flag=True, default=False, help="Replace an existing output.")
@click.option("--batch-size", default=defaults.CONVERT_BATCH, type=int, help="Faces per model call.")
@click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda", "mps"]),
              help="auto picks CUDA, then MPS, then the CPU.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@user_errors
def convert(input_path: str, model_dir: str, output: str, enc_preset: str | None, progress: bool,
            **opts: Any) -> None:
    """Swap (or reenact) the faces of INPUT, a video or an image folder, with a trained model.

    Output keeps the input's frame count, frame rate, size and sound; frames
    without a face pass through untouched. Every output is tagged as
    synthetic and gets a OUTPUT.provenance.json record.
    """
    from .api import convert as run_convert
    from .convert.options import ConvertOptions

    _terminate_as_interrupt()
    options = ConvertOptions(preset=enc_preset, **opts)
    s = run_convert(input_path, model_dir, output, options, progress=progress)
    if s.preview:
        click.echo(f"preview: {s.preview[0]}  side by side: {s.preview[1]}"
                   + ("" if s.faces else "  (no face found in that frame)"))
        return
    click.echo(f"converted {s.frames} frames in {s.seconds:.1f} s ({s.fps:.1f} frames/s): "
               f"{s.swapped} with a face changed, {len(s.no_face)} passed through without one"
               + (f", {s.bridged} faces bridged over detection gaps" if s.bridged else "")
               + (f", {s.shots} shots" if s.shots > 1 else ""))
    if s.decode_warning:
        click.echo(f"warning: {s.decode_warning}", err=True)
    click.echo(f"output: {s.output}  provenance: {s.sidecar}")


_QC_METRICS = ", ".join(QC_METRICS)


@main.command()
@click.argument("output", type=click.Path())
@click.option("-i", "--original", required=True, type=click.Path(),
              help="The footage OUTPUT was made from (the convert INPUT), a video file.")
@click.option("--identity", type=click.Path(), default=None,
              help="The person who should now appear: a faceset folder, a video, an image folder or an image "
                   "(mean dlib descriptor of up to --identity-samples faces). Without it only the distance to "
                   "the original identity is measured. [default: none]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the summary as JSON to this file; '-' prints it on stdout (the human summary then "
                   "goes to stderr). [default: none]")
@click.option("--report", type=click.Path(file_okay=False), default=None,
              help="Folder for summary.json, frames.csv, worst_frames.png (original | output), identity.png, "
                   "jitter.png and flicker.png (created if missing). [default: none]")
@click.option("--fail-under", multiple=True, metavar="METRIC=VALUE",
              help="Fail (exit 4) when METRIC is below VALUE; repeatable. Metrics: " + _QC_METRICS + ". "
                   "[default: none]")
@click.option("--fail-over", multiple=True, metavar="METRIC=VALUE",
              help="Fail (exit 4) when METRIC is above VALUE; repeatable; same metrics. [default: none]")
@click.option("--ignore-integrity", multiple=True, type=click.Choice(list(QC_CHECKS)),
              help="Report this integrity check but do not fail on it (e.g. audio_duration for a reenact with "
                   "the driver's sound); repeatable. [default: every check gates]")
@click.option("--identity-every", default=defaults.QC_IDENTITY_EVERY, type=int,
              help="Identity descriptors (~10-100 ms a face) on every Nth frame; the other measures use every "
                   "frame.")
@click.option("--identity-samples", default=defaults.QC_IDENTITY_SAMPLES, type=int,
              help="Faces of --identity averaged into the wanted identity, sampled evenly.")
@click.option("--max-frames", type=int, default=None,
              help="Measure only the first N frames (a quick look); integrity still checks the whole files. "
                   "[default: all]")
@click.option("--unchanged-level", default=defaults.QC_UNCHANGED_LEVEL, type=float,
              help="A face region that differs from the input by less than this mean (8-bit levels) counts as "
                   "not swapped.")
@click.option("--detector", default=defaults.DETECTOR, type=click.Choice(list(defaults.DETECTORS)),
              help="Landmark backend, run the same way (per frame, no tracking) on both videos.")
@click.option("--confidence", default=defaults.DETECT_CONFIDENCE, type=float, help="Face detector threshold.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@user_errors
def qc(output: str, original: str, identity: str | None, json_path: str | None, progress: bool,
       **opts: Any) -> None:
    """Measure a converted OUTPUT against the footage it was made from: identity, expression
    and pose kept, jitter, flicker, coverage and file integrity.

    Exits 0 when every check passes; 4 when an integrity check or a --fail-under /
    --fail-over gate fails (the summary says which); 1 on errors (one line on
    stderr); 130 when interrupted. See docs/qc.md.
    """
    from .api import qc as run_qc
    from .qc import QcOptions
    from .qc.report import summary_lines, to_json

    options = QcOptions(json=None if json_path == "-" else json_path, **opts)
    result = run_qc(output, original, identity, options, progress=progress)
    to_stdout = json_path == "-"
    for line in summary_lines(result.summary):
        click.echo(line, err=to_stdout)
    if to_stdout:
        click.echo(to_json(result.summary), nl=False)
    if result.report:
        click.echo(f"report: {Path(result.report['summary']).parent}", err=to_stdout)
    if json_path and not to_stdout:
        click.echo(f"summary: {json_path}")
    if result.failures:
        sys.exit(4)


if __name__ == "__main__":  # pragma: no cover
    main()
