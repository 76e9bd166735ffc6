"""The `faceswap` command: parses options, calls the Python API and reports, nothing more.

Choices, ranges and the defaults `--help` shows come from the constants and
options records that define them (read through cli_base.py); how a run ended
and its exit code come from the API (`api.exit_code`).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__, defaults
from .batch.options import BatchOptions
from .cli_base import (
    Group,
    codec_by_suffix,
    finish,
    must,
    preset_default,
    presets_described,
    shown,
    train_default,
    train_must,
    user_errors,
)
from .convert.blend import BLEND_METHODS
from .convert.color import COLOR_METHODS
from .convert.options import AUDIO_SOURCES, MODES, SIDES, ConvertOptions
from .errors import FaceswapError
from .extract.options import ExtractOptions
from .faces.geometry import CENTERINGS
from .log import DEFAULT_LEVEL, LEVELS, filter_native_stderr, setup_logging
from .media.codecs import CODECS
from .model.config import ARCHS, DETAIL_SCALES, GAN_LOSSES, PIXEL_LOSSES, field_default
from .qc.gates import METRICS as QC_METRICS
from .qc.integrity import FIELDS as QC_CHECKS
from .qc.options import QcOptions
from .train.config import DEFAULT_PRESET, PRESETS, preset

_extract_default = functools.partial(field_default, ExtractOptions)
_convert_default = functools.partial(field_default, ConvertOptions)
_qc_default = functools.partial(field_default, QcOptions)
_batch_default = functools.partial(field_default, BatchOptions)


def colour_options(func: Any) -> Any:
    """--ocio, --input-space and --working-space (media/colour.py), the same for extract and convert."""
    options = [
        click.option("--ocio", default=None, metavar="CONFIG",
                     help="OpenColorIO config (a .ocio file or an ocio:// URI) for plates: EXR, DPX, 16-bit images. "
                          f"[default: {defaults.OCIO_CONFIG}, the ACES studio config built into OpenColorIO]"),
        click.option("--input-space", default=None, metavar="NAME",
                     help="Colour space of the input plates, as the OCIO config names it (ACEScg, ACES2065-1, "
                          "ADX10, 'ARRI LogC4', ...). Only the face goes back to it; the rest of the plate is "
                          f"never transformed. [default: {defaults.FLOAT_PLATE_SPACE} for float plates (EXR); "
                          "integer plates and video are taken as in --working-space]"),
        click.option("--working-space", default=defaults.WORKING_SPACE, metavar="NAME",
                     help="The display-referred space the model sees faces in (what its facesets were "
                          "extracted in)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="faceswap")
@click.option("--log-level", type=click.Choice(list(LEVELS), case_sensitive=False),
              default=DEFAULT_LEVEL, help="How much to log to stderr.")
@click.option("--allow-torchscript", is_flag=True, default=False,
              help="Let --detector fan load TorchScript weights (.zip). TorchScript is code that runs "
                   "when loaded: allow it only for a file whose SHA-256 you trust (weights/README.md). "
                   f"Same as ${defaults.ALLOW_TORCHSCRIPT_ENV}=1. [default: off]")
def main(log_level: str, allow_torchscript: bool) -> None:
    """Face swap and reenactment for film and TV footage.

    \b
    extract  footage -> aligned faceset (crops + alignments)
    train    two facesets -> a swap model
    convert  footage + model -> swapped (or reenacted) video
    qc       converted shot + its footage -> quality figures, report, pass/fail
    batch    a YAML manifest of shots -> each converted and qc'd, resumable, a report
    """
    if allow_torchscript:
        os.environ[defaults.ALLOW_TORCHSCRIPT_ENV] = "1"  # read where the detector is built, in any stage
    if log_level.upper() != "DEBUG":
        filter_native_stderr()
    setup_logging(log_level)


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", "faceset", required=True, type=click.Path(file_okay=False),
              help="Faceset folder to write crops and alignments into (created if missing).")
@click.option("--size", default=_extract_default("size"), type=int,
              help=f"Side of the square face crops in pixels; {_extract_default('size')} leaves room to train a "
                   f"{preset('standard')[0].resolution} px model from a tighter crop." + must(ExtractOptions, "size"))
@click.option("--centering", default=_extract_default("centering"), type=click.Choice(list(CENTERINGS)),
              help="What the crop is centred on: 'face' (brows to chin) or 'head' (with forehead and hair; "
                   "training can cut a face crop out of it, not the other way round).")
@click.option("--coverage", default=_extract_default("coverage"), type=float,
              help="Share of the centering's full extent the crop shows; lower zooms in."
                   + must(ExtractOptions, "coverage"))
@click.option("--every", default=_extract_default("every"), type=int,
              help="Use every Nth frame of a video (faces of consecutive frames are near duplicates)."
                   + must(ExtractOptions, "every"))
@click.option("--min-size", default=_extract_default("min_size"), type=int,
              help="Drop faces narrower than this many pixels in the frame (too blurry to train on); 0 keeps all."
                   + must(ExtractOptions, "min_size"))
@click.option("--detector", default=_extract_default("detector"), type=click.Choice(list(defaults.DETECTORS)),
              help="Landmark backend: 'mediapipe' ships its weights in its wheel; 'fan' needs the 2DFAN4 "
                   "weights in weights/ (see weights/README.md).")
@click.option("--confidence", default=_extract_default("confidence"), type=float,
              help="Face detector threshold; lower finds more small or turned faces and more false ones."
                   + must(ExtractOptions, "confidence"))
@click.option("--detect-every", default=_extract_default("detect_every"), type=int,
              help="In video, run the full detector every Nth frame and track faces in between "
                   "(new faces appear within N frames; 1 = detect on every frame)." + must(ExtractOptions, "detect_every"))
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="Photo of the person to keep; other people are skipped (dlib face descriptor, per track). "
                   "[default: none: every face is kept]")
@click.option("--reference-threshold", default=_extract_default("reference_threshold"), type=float,
              help="Face-descriptor distance under which a face counts as the reference person."
                   + must(ExtractOptions, "reference_threshold"))
@click.option("--preview/--no-preview", default=_extract_default("preview"),
              help="Write FACESET/contact_sheet.png: sampled crops with their landmarks drawn.")
@colour_options
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@user_errors
def extract(inputs: tuple[str, ...], faceset: str, progress: bool, **opts: Any) -> None:
    """Extract aligned faces from videos, image folders or images into a faceset.

    Run it again with the same INPUT and --output to resume an interrupted run.
    Exits 0 when faces were found, 3 when the input held no human face, 1 on
    other errors, 130 when interrupted by Ctrl-C or SIGTERM (the work done so
    far is kept).
    """
    from .api import extract as run_extract

    result = run_extract(list(inputs), faceset, ExtractOptions(**opts), progress=progress)
    for s in result.summaries:
        name = Path(s.source).name
        pct = 100.0 * s.frames_with_faces / s.frames if s.frames else 0.0
        click.echo(f"{name}: {s.frames} frames in {s.seconds:.1f} s ({s.speed_fps:.1f} frames/s), faces in "
                   f"{s.frames_with_faces} ({pct:.1f}%), {s.faces} crops, {len(s.tracks)} tracks"
                   + (f", {s.resumed} frames already done" if s.resumed else "")
                   + (f", {len(s.skipped)} non-image files skipped" if s.skipped else ""))
        if s.no_face and s.frames and not s.frames_with_faces:
            if result.status != "no_face":  # else the run's one-line error below says it
                click.echo(f"{name}: no face found", err=True)
        elif s.no_face and not Path(s.source).is_file():
            click.echo(f"{name}: no face found in {len(s.no_face)} of {s.frames} images", err=True)
    if result.mostly_covered:
        click.echo(f"{result.mostly_covered} of {len(result.covered or {})} faces in {faceset} are mostly covered "
                   f"(over half their bare skin not of the person's skin colour): train draws them less often "
                   f"(covered.json)")
    if result.contact_sheet:
        click.echo(f"contact sheet: {result.contact_sheet}")
    finish(result, result.problem)


@main.command()
@click.argument("faceset_a", type=click.Path(file_okay=False))
@click.argument("faceset_b", type=click.Path(file_okay=False))
@click.option("-m", "--model-dir", required=True, type=click.Path(file_okay=False),
              help="Model folder: created for a new model; an existing one resumes training.")
@click.option("--preset", default=DEFAULT_PRESET, type=click.Choice(list(PRESETS)),
              help=f"The model's size and the training settings it starts from: {presets_described()}. "
                   f"{DEFAULT_PRESET} is sized for a CPU and 30 minutes. An existing model keeps the size it was "
                   "made with; the preset's batch size and learning rate still apply unless given. (Not "
                   "convert's --preset, which is the video encoder's speed.)")
@click.option("--arch", type=click.Choice(list(ARCHS)), default=None,
              help="df: shared encoder, a decoder per identity. liae: shared encoder and decoder with an "
                   "identity-specific inter layer (keeps the target's lighting better)." + preset_default("arch"))
@click.option("--resolution", type=int, default=None, help="Face crop side in pixels, a multiple of 16." + train_must("resolution") + preset_default("resolution"))
@click.option("--centering", type=click.Choice(list(CENTERINGS)), default=None,
              help="Crop centering the model works on." + preset_default("centering"))
@click.option("--coverage", type=float, default=None,
              help="Share of the centering's extent in the crop." + train_must("coverage") + preset_default("coverage"))
@click.option("--encoder-dims", type=int, default=None, help="Encoder width." + train_must("encoder_dims") + preset_default("encoder_dims"))
@click.option("--latent-dims", type=int, default=None, help="Bottleneck width." + train_must("latent_dims") + preset_default("latent_dims"))
@click.option("--decoder-dims", type=int, default=None, help="Decoder width." + train_must("decoder_dims") + preset_default("decoder_dims"))
@click.option("--detail-scale", type=click.Choice([str(s) for s in DETAIL_SCALES]), default=None,
              callback=lambda _ctx, _param, value: None if value is None else int(value),
              help="Train B's detail stage, which convert uses to render the swap at this many times the "
                   "model's resolution from B's own stored crops; 0 = none (docs/train.md)."
                   + preset_default("detail_scale"))
@click.option("--occlusion/--no-occlusion", default=None,
              help="Train the occlusion net beside the swap: it learns from synthetic occluders laid into both "
                   "facesets what covers a face (hands, microphones, cups), and convert's --mask occlusion keeps "
                   "the footage's pixels there (docs/occlusion.md)." + preset_default("occlusion"))
@click.option("--batch-size", type=int, default=None, help="Faces per identity per iteration." + train_must("batch_size") + preset_default("batch_size"))
@click.option("--lr", type=float, default=None, help="Adam learning rate." + train_must("lr") + preset_default("lr"))
@click.option("--lr-decay", type=float, default=None,
              help="Share of the run's budget at its end over which the learning rate falls linearly to "
                   "--lr-floor times itself; 0 = a constant rate. The budget is this run's --minutes or the "
                   "iterations left to --iterations when it starts, whichever runs out first; a resumed run "
                   "starts from --lr again; a run with neither limit keeps its rate (docs/train.md)." + train_must("lr_decay") + train_default("lr_decay"))
@click.option("--lr-floor", type=float, default=None,
              help="The learning rate's multiplier at the end of the run's budget (with --lr-decay above 0)." + train_must("lr_floor")
                   + train_default("lr_floor"))
@click.option("--iterations", type=int, default=None,
              help="Stop at this iteration count (total, across resumes)." + train_must("iterations") + train_default("iterations"))
@click.option("--minutes", type=float, default=None,
              help="Stop after this many minutes of this run." + train_must("minutes") + train_default("minutes"))
@click.option("--save-every", type=int, default=None,
              help="Checkpoint every N iterations (and always on exit)." + train_must("save_every") + train_default("save_every"))
@click.option("--preview-every", type=int, default=None,
              help="Write previews/preview_N.png every N iterations." + train_must("preview_every") + train_default("preview_every"))
@click.option("--ssim-weight", type=float, default=None, help="Weight of the masked DSSIM term." + train_must("ssim_weight") + train_default("ssim_weight"))
@click.option("--pixel-loss", type=click.Choice(list(PIXEL_LOSSES)), default=None,
              help="Pixel loss." + train_default("pixel_loss"))
@click.option("--pixel-weight", type=float, default=None, help="Weight of the pixel term." + train_must("pixel_weight") + train_default("pixel_weight"))
@click.option("--eyes-weight", type=float, default=None, help="Loss multiplier on the eyes." + train_must("eyes_weight") + train_default("eyes_weight"))
@click.option("--mouth-weight", type=float, default=None, help="Loss multiplier on the mouth." + train_must("mouth_weight") + train_default("mouth_weight"))
@click.option("--covered-weight", type=float, default=None,
              help="How often a face extract found mostly covered is drawn, against 1 for the others; 0 = "
                   "never, 1 = as often (covered.json: over half its bare skin not of the person's skin colour, "
                   "e.g. a microphone, a cup, hair; a hand of the same skin tone is not seen)."
                   + train_must("covered_weight") + train_default("covered_weight"))
@click.option("--mask-weight", type=float, default=None, help="Weight of the mask loss." + train_must("mask_weight") + train_default("mask_weight"))
@click.option("--detail-highpass", type=float, default=None,
              help="Weight of the high-pass term in the detail stage's loss; 0 = none."
                   + train_must("detail_highpass") + train_default("detail_highpass"))
@click.option("--detail-energy", type=float, default=None,
              help="Weight of the local-detail term in the detail stage's loss (asks for as much fine detail as "
                   "B's crops have); 0 = none." + train_must("detail_energy") + train_default("detail_energy"))
@click.option("--gan-weight", type=float, default=None,
              help="Weight of the adversarial loss; 0 trains no discriminator." + train_must("gan_weight") + train_default("gan_weight"))
@click.option("--gan-start", type=int, default=None,
              help="Iteration the discriminator starts at." + train_must("gan_start") + train_default("gan_start"))
@click.option("--gan-loss", type=click.Choice(list(GAN_LOSSES)), default=None,
              help="Adversarial loss." + train_default("gan_loss"))
@click.option("--device", type=click.Choice(list(defaults.DEVICES)), default=None,
              help="auto picks CUDA, then MPS, then the CPU." + train_default("device"))
@click.option("--amp/--no-amp", default=None,
              help="Mixed precision on GPU (bf16 where supported)." + train_default("amp"))
@click.option("--compile/--no-compile", default=None, help="torch.compile the model." + train_default("compile"))
@click.option("--workers", type=int, default=None, help="Data loader processes." + train_must("workers") + train_default("workers", "by CPU count"))
@click.option("--warp/--no-warp", default=None, help="Random grid warp of the inputs." + train_default("warp"))
@click.option("--seed", type=int, default=None, help="Random seed." + train_must("seed") + train_default("seed"))
@click.option("--init", default=None, metavar="auto|none|FOLDER",
              help="Where a new model starts: auto = the face prior in weights/prior-quick (built by make prior) "
                   "when there and it fits the model (the quick preset's df model; others start from random weights): a face within "
                   "minutes, expression and pose kept better than from a random start (docs/train.md); none = "
                   "random weights; or a prior folder (make prior PRIOR_OUT=DIR). Ignored when resuming." + train_default("init"))
@click.option("--init-parts", default=None, type=click.Choice(defaults.INIT_PARTS),
              help="What a new model takes of the prior: all = encoder, bottleneck and decoder (copied to "
                   "both sides); encoder = encoder and bottleneck, each decoder from random weights."
                   + train_default("init_parts"))
@click.option("--from-backup", is_flag=True, default=False,
              help="Resume from checkpoint.bak/ (when the latest checkpoint is damaged). [default: off]")
@click.option("--force", is_flag=True, default=None,
              help="Train even when the two facesets were extracted in different --working-space settings. "
                   "[default: off: refused, as the model would learn two colour renderings of faces]")
@click.option("--ddp", type=int, default=None, metavar="N",
              help="Train on N processes of this machine with DistributedDataParallel: one per GPU (NCCL) "
                   "when CUDA has N, else on the CPU (gloo). --batch-size is per process. Several machines: "
                   "torchrun ... -m faceswap train (docs/train.md)." + train_must("ddp") + train_default("ddp", "one process"))
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@user_errors
def train(faceset_a: str, faceset_b: str, model_dir: str, preset: str, from_backup: bool, progress: bool,
          **opts: Any) -> None:
    """Train a swap model: FACESET_A is the footage to change, FACESET_B the face to put in.

    Stops at --iterations or --minutes, or on Ctrl-C / SIGTERM, and always
    saves a checkpoint first. Run it again on the same --model-dir to resume.
    """
    from .api import train as run_train

    s = run_train(faceset_a, faceset_b, model_dir, preset, opts, from_backup=from_backup, progress=progress)
    if s.rank:   # a torchrun process other than rank 0: rank 0 reports
        return finish(s)
    losses = ", ".join(f"{k} {v:.4f}" for k, v in s.last_losses.items())
    click.echo(f"trained {s.model_dir}: iterations {s.start_iteration} -> {s.iteration} in {s.seconds:.0f} s "
               f"({s.samples_per_second:.0f} samples/s){', ' + losses if losses else ''}"
               + (f", {s.rollbacks} roll-backs" if s.rollbacks else ""))
    click.echo(f"preview: {Path(s.model_dir) / 'preview.png'}  loss plot: {Path(s.model_dir) / 'loss.png'}")
    finish(s)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("-m", "--model-dir", required=True, type=click.Path(file_okay=False),
              help="Model folder written by faceswap train (its config.json says the crop it needs).")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Output video file (.mp4/.mov/.mkv), a folder for a PNG sequence or patches, or for an image "
                   "sequence input a pattern (comp/sh010_comp.####.exr, its folder made if missing; same file type "
                   "as the plates) or a folder (the plates' own names). A video to a pattern (.exr/.dpx/.tif/.png) "
                   "becomes plates at its depth, numbered from 1001 (docs/plates.md). Written under a temporary name "
                   "and renamed when complete.")
@click.option("--mode", default=_convert_default("mode"), type=click.Choice(list(MODES)),
              help="swap: the footage's face becomes the other identity. reenact: the footage keeps its "
                   "person, whose expression comes from --driver.")
@click.option("--to", type=click.Choice(list(SIDES)), default=None,
              help=f"swap: identity put into the footage [default: {defaults.CONVERT_TO}, the training convention]. "
                   "reenact: the "
                   "footage's own identity [default: the decoder that rebuilds the footage's face best].")
@click.option("--driver", type=click.Path(dir_okay=False), default=None,
              help="reenact: video whose expressions drive the footage (driver frame i -> output frame i). "
                   "[default: none; --mode reenact needs one]")
@click.option("--region", default=_convert_default("region"), type=click.Choice(list(defaults.REENACT_REGIONS)),
              help="reenact: part of the face replaced; mouth for dubbing, lower face, or the whole face.")
@click.option("--driver-end", default=_convert_default("driver_end"), type=click.Choice(list(defaults.DRIVER_ENDS)),
              help="reenact, driver shorter than the footage: stop there, loop the driver, or hold its last frame.")
@click.option("--audio", type=click.Choice(list(AUDIO_SOURCES)), default=None,
              help="Sound of the output [default: input for swap, driver for reenact].")
@click.option("--alignments", type=click.Path(), default=None,
              help="Faces from extract: a <video>.alignments.jsonl or the faceset folder holding it "
                   "[default: detect and track on the fly, as extract does].")
@click.option("--track", type=int, default=None,
              help="Change only this face track (ids as extract numbers them)." + must(ConvertOptions, "track")
                   + " [default: none: see --all-faces]")
@click.option("--reference", type=click.Path(dir_okay=False), default=None,
              help="Change only the person in this photo (dlib face descriptor, decided per track). "
                   "[default: none: see --all-faces]")
@click.option("--reference-threshold", default=_convert_default("reference_threshold"), type=float,
              help="Descriptor distance under which a face is the --reference person."
                   + must(ConvertOptions, "reference_threshold"))
@click.option("--all-faces", is_flag=True, default=_convert_default("all_faces"),
              help="Change every face. [default: off: only the track(s) the model's footage identity matches best]")
@click.option("--detector", default=_convert_default("detector"), type=click.Choice(list(defaults.DETECTORS)),
              help="Landmark backend for on-the-fly detection (see faceswap extract --help).")
@click.option("--confidence", default=_convert_default("confidence"), type=float,
              help="Face detector threshold." + must(ConvertOptions, "confidence"))
@click.option("--detect-every", default=_convert_default("detect_every"), type=int,
              help="Run the full detector every Nth frame and track in between." + must(ConvertOptions, "detect_every"))
@click.option("--smooth", default=_convert_default("smooth"), type=float,
              help="Temporal smoothing of the landmarks: sigma of a centred window in frames; 0 = off. Never "
                   "crosses a shot cut." + must(ConvertOptions, "smooth"))
@click.option("--bridge-gap", default=_convert_default("bridge_gap"), type=int,
              help="Fill detection gaps up to this many frames by interpolation, so the swap does not blink off."
                   + must(ConvertOptions, "bridge_gap"))
@click.option("--mask", default=_convert_default("mask"), type=click.Choice(list(defaults.MASKS)),
              help="predicted (the model's), landmarks, both multiplied, or occlusion: the landmark mask less "
                   "whatever the model's occlusion net sees in front of the footage's face (hands, microphones, "
                   "cups keep the footage's pixels; where they hide the mouth, the outline follows the jaw the net "
                   "sees; docs/occlusion.md). A model without the net (trained before "
                   "it existed, or with --no-occlusion) uses both instead, said in one line.")
@click.option("--landmark-mask", default=_convert_default("landmark_mask"), type=click.Choice(list(defaults.LANDMARK_MASKS)),
              help="components follows the face outline; extended also covers the forehead.")
@click.option("--erode", default=_convert_default("erode"), type=float,
              help="Shrink (or, negative, grow) the mask by this % of the face width." + must(ConvertOptions, "erode"))
@click.option("--occlusion-grow", default=_convert_default("occlusion_grow"), type=float,
              help="--mask occlusion: grow what covers the face by this % of the face width, so its edge keeps "
                   "the footage's pixels; more keeps fingertips and thin edges, less swaps more of the face "
                   "beside them (docs/occlusion.md)." + must(ConvertOptions, "occlusion_grow"))
@click.option("--glasses", default=_convert_default("glasses"), type=click.Choice(list(defaults.GLASSES_MODES)),
              help="For footage whose faces wear glasses. keep: the glasses (rims, bridge, arms) stay the footage's, "
                   "whole, in front of the swapped face. remove: they are painted out of the footage first, so the "
                   "swapped face wears none. face: they are swapped along with the face, so the parts past the "
                   "swapped area (arms, outer rims) stay and the rest goes (docs/occlusion.md).")
@click.option("--detail", default=_convert_default("detail"), type=click.Choice(list(defaults.DETAIL_MODES)),
              help="reference: a face shown larger than the model draws it (a 64 px model on a close-up) gets "
                   "the fine detail (lashes, lids, lip lines, skin) of the new identity's own footage, crops of which "
                   "train keeps in the model folder, aligned to the render by optical flow; off: the render is "
                   "enlarged as it is (softer). Swaps drawing B only (--mode swap --to b). Models trained before "
                   "this have no crops: off "
                   "(docs/convert.md, B's own detail).")
@click.option("--expression", default=_convert_default("expression"),
              type=click.Choice(list(defaults.EXPRESSION_MODES)),
              help="fit: the rendered face is warped so its mouth opening, mouth corners, eye openness and gaze "
                   "are the footage face's (the model draws the new identity's nearest expression, not always the "
                   "footage's: a closed smile as a half-open mouth), measured on each face's own features so the new "
                   "identity's build (eye size, lips, brows) stays; the pixels stay the new identity's. off: blended "
                   "as the model drew it. Swaps only (--mode swap): a reenactment follows its driver "
                   "(docs/convert.md, The footage's expression).")
@click.option("--blur", default=_convert_default("blur"), type=float,
              help="Feather the mask edge over this % of the face width." + must(ConvertOptions, "blur"))
@click.option("--color", default=_convert_default("color"), type=click.Choice(list(COLOR_METHODS)),
              help="Colour matching to the footage: Reinhard LAB (rct), linear covariance (lct), "
                   "histogram, Monge-Kantorovich optimal transport (mkl).")
@click.option("--color-from", default=_convert_default("color_from"), type=click.Choice(list(defaults.COLOR_SOURCES)),
              help="Where the colour statistics come from: face (the whole blended face: steadiest from frame to "
                   "frame) or skin (cheeks, nose, brow ridge only: truer skin tone when hair, brows or glasses "
                   "differ, but more flicker).")
@click.option("--edge-match", default=_convert_default("edge_match"), type=float, metavar="PERCENT",
              help="Match the swapped face's colour and shading to the footage's along the mask's edge, fully "
                   "within this % of the face width, fading out over as much again further in, so no seam or "
                   "dark wedge shows where the face is lit otherwise or the model drew hair; 0 = off "
                   "(docs/convert.md, Edge match and grain)." + must(ConvertOptions, "edge_match"))
@click.option("--edge-steady", default=_convert_default("edge_steady"), type=float, metavar="FRAMES",
              help="Average the edge match's colour field over each face's track, within a Gaussian whose sigma "
                   "is this many frames (it reaches twice as far either way, never across a cut), so the face's "
                   "edge does not flicker where a brow or hair moves across it; raise it (3-4) if the edge still "
                   "flickers, lower it if the face's lighting changes fast; 0 = each frame on its own. No effect "
                   "with --edge-match 0."
                   + must(ConvertOptions, "edge_steady"))
@click.option("--grain", default=_convert_default("grain"), type=float, metavar="SHARE",
              help="Lay this share of the footage's own finest grain (film grain, sensor noise) over the swapped "
                   "face, so it does not look pasted onto grainy footage; the footage's sharp edges (lids, "
                   "lips, glasses' rims) are held out. 0 = the model's clean render, e.g. for a plate that is "
                   "degrained and regrained in comp (docs/convert.md, Edge match and grain)."
                   + must(ConvertOptions, "grain"))
@click.option("--blend", default=_convert_default("blend"), type=click.Choice(list(BLEND_METHODS)),
              help="feather: alpha blend; poisson: seamless clone (fixed placement, no jitter); laplacian: "
                   "multi-band pyramid blend.")
@click.option("--codec", default=None,
              type=click.Choice([*CODECS, "patch"]),
              help=f"Output codec [default: from the output: {codec_by_suffix()}]. patch "
                   "writes RGBA PNGs of the changed faces and their placement for a compositor (half-float "
                   "premultiplied EXR for plates).")
@click.option("--crf", type=int, default=None,
              help="H.264/H.265 quality (lower = better; ignored by the other codecs)."
                   + must(ConvertOptions, "crf")
                   + f" [default: {defaults.H264_CRF} for H.264, {defaults.H265_CRF} for H.265]")
@click.option("--preset", "enc_preset", default=None, type=click.Choice(list(defaults.ENCODER_PRESETS)),
              help="The H.264/H.265 encoder's speed preset (x264/x265 -preset): slower makes a smaller file at "
                   "the same --crf; ignored by the other codecs. (Not train's --preset: the model's size is in its "
                   f"folder.) [default: {defaults.H264_PRESET} for H.264, {defaults.H265_PRESET} for H.265]")
@click.option("--frames", default=None, metavar="START:END",
              help="Convert only frames START (included) to END (excluded), 0-based; audio is trimmed to match. "
                   "Both must lie within the footage (END at most its frame count). For an image sequence they are "
                   "plate frame numbers (--frames 1100:1150). [default: every frame]")
@click.option("--preview", type=int, default=None, metavar="FRAME",
              help="Only convert this frame: writes OUTPUT.preview-FRAME.png and a side-by-side with the original. "
                   "Must be 0 or more and before the footage's end (a plate frame number for an image sequence). "
                   "[default: none: convert the whole footage]")
@click.option("--overwrite", is_flag=True, default=_convert_default("overwrite"),
              help=f"Replace an existing output. [default: {shown(_convert_default('overwrite'))}]")
@click.option("--batch-size", default=_convert_default("batch_size"), type=int,
              help="Faces per model call." + must(ConvertOptions, "batch_size"))
@click.option("--device", default=_convert_default("device"), type=click.Choice(list(defaults.DEVICES)),
              help="auto picks CUDA, then MPS, then the CPU.")
@click.option("--tonemap", type=click.Choice(list(defaults.TONEMAPS)), default=None,
              help="Tone map HLG or PQ video to BT.709 SDR in the output (zscale + Hable), tagged so and recorded "
                   "in the provenance. [default: none: HDR stays HDR, its transfer and tags kept]")
@click.option("--watermark", default=defaults.WATERMARK, type=click.Choice(list(defaults.WATERMARKS)),
              help="The invisible watermark that labels the output as synthetic (docs/provenance.md; "
                   "`faceswap verify` reads it). frame: every frame, whole; face: only the swapped faces, so "
                   "every other pixel stays the input's; auto: frame for video input, face for images and "
                   "plates; off: none, recorded in the sidecar and tags (for pipelines that label elsewhere). "
                   "A face-only mark covers a fraction of the frame: verify reads it on the plates as written, "
                   "not after a lossy re-encode or a downscale.")
@click.option("--sign-cert", envvar="FACESWAP_SIGN_CERT", type=click.Path(dir_okay=False), default=None,
              help="PEM certificate chain (signer first) to sign the MP4/MOV output with C2PA Content "
                   "Credentials: the edit, the AI source type, the model's and inputs' hashes "
                   "(docs/provenance.md). Also read from FACESWAP_SIGN_CERT. [default: none: not signed]")
@click.option("--sign-key", envvar="FACESWAP_SIGN_KEY", type=click.Path(dir_okay=False), default=None,
              help="The certificate's PEM private key (EC, RSA or Ed25519, unencrypted). Also read from "
                   "FACESWAP_SIGN_KEY. [default: none]")
@colour_options
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@user_errors
def convert(input_path: str, model_dir: str, output: str, enc_preset: str | None, progress: bool,
            **opts: Any) -> None:
    """Swap (or reenact) the faces of INPUT, a video, an image folder or an image sequence
    (sh010_plate.####.exr, plate.%04d.dpx, plate.1001-1240#.exr) with a trained model.

    Output keeps the input's frame count, frame rate, size and sound; frames
    without a face pass through untouched. Every output is tagged as
    synthetic and gets a OUTPUT.provenance.json record. Ctrl-C or SIGTERM
    removes the partial output (exit 130).
    """
    from .api import convert as run_convert

    options = ConvertOptions(preset=enc_preset, **opts)
    s = run_convert(input_path, model_dir, output, options, progress=progress)
    if s.preview:
        click.echo(f"preview: {s.preview[0]}  side by side: {s.preview[1]}"
                   + ("" if s.faces else "  (no face found in that frame)"))
        finish(s)
        return
    click.echo(f"converted {s.frames} frames in {s.seconds:.1f} s ({s.speed_fps:.1f} frames/s): "
               f"{s.swapped} with a face changed, {len(s.no_face)} passed through without one"
               + (f", {s.bridged} faces bridged over detection gaps" if s.bridged else "")
               + (f", {s.shots} shots" if s.shots > 1 else ""))
    if s.decode_warning:
        click.echo(f"warning: {s.decode_warning}", err=True)
    click.echo(f"output: {s.output}  provenance: {s.sidecar}")
    finish(s)


_QC_METRICS = ", ".join(QC_METRICS)


@main.command()
@click.argument("output", type=click.Path())
@click.option("-i", "--original", required=True, type=click.Path(),
              help="The footage OUTPUT was made from (the convert INPUT): a video file, or an image sequence "
                   "(plate.####.exr) for a sequence OUTPUT, whose frames are paired by plate number.")
@click.option("--identity", type=click.Path(), default=None,
              help="The person who should now appear: a faceset folder, a video, an image folder or an image "
                   "(mean dlib descriptor of up to --identity-samples faces). Without it only the distance to "
                   "the original identity is measured. [default: none]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the summary as JSON to this file; '-' prints it on stdout (the human summary then "
                   "goes to stderr). [default: none]")
@click.option("--report", type=click.Path(file_okay=False), default=None,
              help="Folder for summary.json, frames.csv, worst_frames.png (original | output), identity.png, "
                   "jitter.png, flicker.png, sharpness.png and seam.png (created if missing). [default: none]")
@click.option("--fail-under", multiple=True, metavar="METRIC=VALUE",
              help="Fail (exit 4) when METRIC is below VALUE; repeatable. Metrics: " + _QC_METRICS + ". "
                   "[default: none]")
@click.option("--fail-over", multiple=True, metavar="METRIC=VALUE",
              help="Fail (exit 4) when METRIC is above VALUE; repeatable; same metrics. [default: none]")
@click.option("--ignore-integrity", multiple=True, type=click.Choice(list(QC_CHECKS)),
              help="Report this integrity check but do not fail on it (e.g. audio_duration for a reenact with "
                   "the driver's sound); repeatable. [default: every check gates]")
@click.option("--identity-every", default=_qc_default("identity_every"), type=int,
              help="Identity descriptors (~10-100 ms a face) on every Nth frame; the other measures use every "
                   "frame." + must(QcOptions, "identity_every"))
@click.option("--identity-samples", default=_qc_default("identity_samples"), type=int,
              help="Faces of --identity averaged into the wanted identity, sampled evenly."
                   + must(QcOptions, "identity_samples"))
@click.option("--max-frames", type=int, default=None,
              help="Measure only the first N frames (a quick look); integrity still checks the whole files."
                   + must(QcOptions, "max_frames") + " [default: all]")
@click.option("--unchanged-level", default=_qc_default("unchanged_level"), type=float,
              help="A face region that differs from the input by less than this mean (8-bit levels) counts as "
                   "not swapped." + must(QcOptions, "unchanged_level"))
@click.option("--glasses/--no-glasses", default=_qc_default("glasses"),
              help="The original's faces wear glasses: the glasses' rims, bridge and arms (found as convert "
                   "--glasses finds them) are left out of sharpness in both videos, so a swap that removes "
                   "them by design (convert --glasses face or remove) is not read as softer for it: thin "
                   "metal rims can hold 40 % of an inner face's fine detail. A warning says when no rim "
                   "stands out (a bare face: its brows and lids would be left out instead).")
@click.option("--detector", default=_qc_default("detector"), type=click.Choice(list(defaults.DETECTORS)),
              help="Landmark backend, run the same way (per frame, no tracking) on both videos.")
@click.option("--confidence", default=_qc_default("confidence"), type=float,
              help="Face detector threshold." + must(QcOptions, "confidence"))
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@user_errors
def qc(output: str, original: str, identity: str | None, json_path: str | None, progress: bool,
       **opts: Any) -> None:
    """Measure a converted OUTPUT against the footage it was made from: identity, expression
    and pose kept, sharpness, seam, jitter, flicker, coverage and file integrity.

    Exits 0 when every check passes; 4 when an integrity check or a --fail-under /
    --fail-over gate fails (the summary says which); 1 on errors (one line on
    stderr); 130 when interrupted. See docs/qc.md.

    \b
    What the figures mean (means over the frames; docs/qc.md has each in full):
      identity_distance  dlib descriptor distance of the output face to --identity (< 0.6: same person)
      retrieval          share of frames whose face is nearer --identity than the footage's person
      landmark_error     68 landmarks of the output face against the footage's, inter-ocular distances
      expression_error   mouth opening, mouth corners' height, eye openness against the footage's, IOD
      pose_error         largest of yaw/pitch/roll difference from the footage, degrees
      jitter             frame-to-frame landmark motion beyond the footage's, inter-ocular distances
      flicker            frame-to-frame change of the face skin's mean colour beyond the footage's,
                         8-bit levels a frame (occluders the swap keeps are left out)
      sharpness          inner-face detail against the footage's (1.0 = as sharp)
      seam               colour step across the blend's edge beyond the footage's own, 8-bit levels
                         (each frame's worst of 12 sectors round the face; the summary says
                         which sectors are worst, by the clock hours of the frame: 9-10 o'clock
                         is the frame's left, at a temple; frames.csv's seam_at gives each
                         frame's worst sector by its first hour)
      occlusion          share of the pixels round the face that are not face skin and were changed
    """
    from .api import qc as run_qc
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
    finish(result)


@main.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write every file's findings as JSON to this file; '-' prints it on stdout (the text "
                   "report then goes to stderr). [default: none]")
@click.option("--max-windows", type=int, default=None,
              help="Read the watermark in at most this many 1-second windows of each file (a quick look). "
                   "[default: all]")
@click.option("--trust", envvar="FACESWAP_TRUST_ANCHORS", type=click.Path(dir_okay=False), default=None,
              help="PEM file of the certificate authorities you trust (e.g. your studio's own CA): Content "
                   "Credentials they signed read 'trusted', others 'valid' (not on the trust list). Also read "
                   "from FACESWAP_TRUST_ANCHORS. [default: none]")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar of frames read.")
@user_errors
def verify(files: tuple[str, ...], json_path: str | None, max_windows: int | None, trust: str | None,
           progress: bool) -> None:
    """Say whether each FILE (a video, an image sequence such as comp.####.exr, an image
    folder or an image) is labelled as synthetic: its container tags or image headers, its
    provenance sidecar (and whether the output hash in it matches), signed C2PA Content
    Credentials of an MP4/MOV (trusted, valid, invalid after an edit, or none), and the
    invisible watermark convert puts in the pixels, which survives re-encoding, scaling,
    cropping and frame-rate changes when tags and sidecar are gone.

    Exits 0 when every FILE has at least one intact label, 2 when one has none, 1 when a
    FILE could not be read (the others are still checked and reported).
    """
    import json as json_module

    from .api import verify as run_verify
    from .media.images import atomic_write_bytes

    if max_windows is not None and max_windows < 1:
        raise FaceswapError("--max-windows must be 1 or more")
    if json_path and json_path != "-" and not Path(json_path).resolve().parent.is_dir():
        raise FaceswapError(f"cannot write {json_path}: folder {Path(json_path).parent} does not exist")
    if trust is not None:
        from .credentials import check_trust
        check_trust(trust)   # one line before any file, not once a file
    to_stdout = json_path == "-"
    found, failed = [], False
    for path in files:   # one bad file is reported and the others still checked
        try:
            verdict = run_verify([path], max_windows=max_windows, progress=progress, trust=trust)[0]
        except FaceswapError as err:
            # the message names the file when it can say more of it; otherwise name it here
            click.echo(f"error: {err}" if path in str(err) else f"error: {path}: {err}", err=True)
            found.append({"path": path, "error": str(err)})
            failed = True
            continue
        for line in verdict.lines():
            click.echo(line, err=to_stdout)
        found.append(verdict.to_dict())
    if json_path:
        text = json_module.dumps(found, indent=2) + "\n"
        if to_stdout:
            click.echo(text, nl=False)
        else:
            atomic_write_bytes(json_path, text.encode("utf-8"))
    if failed:
        sys.exit(1)
    if not all(v.get("labelled") for v in found):
        sys.exit(2)


@main.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--jobs", default=_batch_default("jobs"), type=int,
              help="Shots (or segments of a long shot) converted at once, each in a worker process that loads "
                   "the model once; 1 runs them one after another in this process." + must(BatchOptions, "jobs"))
@click.option("--cluster", default=None, metavar="ray|ray://HOST:PORT",
              help="Run the shots as Ray tasks: 'ray' starts a local Ray instance, ray://HOST:PORT (or $RAY_ADDRESS "
                   "with 'ray') joins a cluster, whose nodes must see the manifest's paths (a shared filesystem). "
                   "Needs pip install 'faceswap[cluster]'. [default: none, this machine only]")
@click.option("--check", is_flag=True, default=_batch_default("check"),
              help="Only check the manifest and list each shot with its state (new, done, stale, foreign); exit 0, "
                   f"or 1 for a bad manifest or a foreign output. [default: {shown(_batch_default('check'))}]")
@click.option("--segment-frames", default=_batch_default("segment_frames"), type=int,
              help="Convert a shot longer than this in pieces of this many frames, joined without re-encoding: a "
                   "killed run redoes one piece, not the shot." + must(BatchOptions, "segment_frames"))
@click.option("--retries", default=_batch_default("retries"), type=int,
              help="Try a failed shot this many more times before reporting it." + must(BatchOptions, "retries"))
@click.option("--report", type=click.Path(file_okay=False), default=None,
              help="Folder for batch-report.json, batch-report.csv, contact_sheet.png and each shot's qc report "
                   f"(created if missing). [default: <manifest stem>{defaults.BATCH_REPORT_SUFFIX}/ beside the "
                   "manifest, or its report: key]")
@click.option("--progress/--no-progress", default=True, help="Show a bar for the shots and one for the running "
              "shot's frames.")
@user_errors
def batch(manifest: str, check: bool, progress: bool, **opts: Any) -> None:
    """Convert every shot of MANIFEST (YAML: model, options, qc, shots; docs/batch.md) and qc each.

    The whole manifest is checked before any work: a problem is one line naming the shot and key,
    and nothing is written. Shots whose output is done (same inputs, model and options) are skipped,
    so a rerun continues. Exits 0 when every shot is done or skipped, 4 when a qc gate failed, 1 when
    a shot failed (its error is in the report), 130 on Ctrl-C or SIGTERM (finished shots are kept
    and reported).
    """
    from .api import batch as run_batch
    from .api import check_batch
    from .batch.report import summary_lines

    options = BatchOptions(check=check, **opts)
    options.validate()
    if check:
        plan = check_batch(manifest, options.report)
        m = plan.manifest
        click.echo(f"{m.path.name}: {len(m.shots)} shots, report in {m.report_dir}"
                   + (f", qc against {m.qc_identity}" if m.qc_identity else ", qc " + ("on" if m.qc else "off")))
        width = max(len(s.name) for s in m.shots)
        for s in m.shots:
            click.echo(f"  {s.name.ljust(width)}  {plan.states[s.name]:7}  {s.input} -> {s.output}  (model {s.model.name})")
        foreign = [name for name, state in plan.states.items() if state == "foreign"]
        finish(plan, f"{', '.join(foreign)}: the output exists and faceswap did not write it" if foreign else None)
        return
    result = run_batch(manifest, options, progress=progress)
    for line in summary_lines(result.results):
        click.echo(line)
    if result.report:
        click.echo(f"report: {result.report['json'].parent}")
    finish(result, result.problem)


if __name__ == "__main__":  # pragma: no cover
    main()
