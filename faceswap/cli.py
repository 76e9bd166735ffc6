"""The `faceswap` command: parses options and calls the Python API, nothing more."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__, defaults
from .errors import FaceswapError, NoFaceError
from .log import filter_native_stderr, setup_logging


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
    train    two facesets -> a swap model          (coming)
    convert  footage + model -> swapped video      (coming)
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


if __name__ == "__main__":  # pragma: no cover
    main()
