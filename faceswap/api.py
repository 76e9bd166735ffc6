"""The Python API: what the CLI calls and what scripts and `batch` use.

It wires stages together and holds the policy of a run that the CLI only
reports: how a run ended (each result's `status`) and the exit code that
stands for it (`exit_code`), which settings belong to the model and which to
training, and that SIGTERM stops a run the way Ctrl-C does
(`terminate_as_interrupt`). Each stage lives in its package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .convert.frame_range import check_frame_range
from .convert.options import ConvertOptions
from .data.covered import COVERED_FILE, MOSTLY, record_faceset
from .data.faceset import iter_faceset
from .errors import FaceswapError, NoFaceError
from .extract.contact_sheet import contact_sheet
from .extract.options import ExtractOptions
from .extract.pipeline import ExtractSummary, extract_source
from .faces.backends import make_backend
from .interrupts import terminate_as_interrupt
from .model.config import ModelConfig
from .train.config import DEFAULT_PRESET, TrainConfig, split_settings, with_overrides
from .train.config import preset as load_preset

if TYPE_CHECKING:  # the stages below load torch / dlib: only when called
    from .batch.options import BatchOptions
    from .batch.runner import BatchPlan, BatchResult
    from .convert.pipeline import ConvertSummary
    from .qc.run import QcOptions, QcResult
    from .train.trainer import TrainSummary

__all__ = ["ConvertOptions", "EXIT_CODES", "ExtractOptions", "ExtractResult", "Outcome", "batch", "check_batch",
           "convert", "exit_code", "extract", "qc", "terminate_as_interrupt", "train", "training_configs", "verify"]

# How a run ended -> the process exit code (docs/extract.md, convert.md, qc.md). An error
# (FaceswapError) is not a status: it carries its own exit_code (1, or 3 for NoFaceError).
EXIT_CODES: dict[str, int] = {
    "done": 0,
    "no_face": NoFaceError.exit_code,   # the input held no human face
    "failed": 4,                        # qc: an integrity check or a gate failed (batch: in a shot)
    "error": 1,                         # batch: a shot failed (each shot's error is in the report)
    "interrupted": 130,                 # Ctrl-C or SIGTERM; 128 + SIGINT, as a shell reports it
}


class Outcome(Protocol):
    """What every API result has: `status`, one of EXIT_CODES' keys."""

    @property
    def status(self) -> str: ...


def exit_code(result: Outcome) -> int:
    """The process exit code for a result's `status` (see EXIT_CODES)."""
    return EXIT_CODES[result.status]


@dataclass
class ExtractResult:
    """What `extract` did: one summary per input (in order; after an interruption, the inputs
    reached so far) and the contact sheet's path when one was asked for."""

    summaries: list[ExtractSummary]
    contact_sheet: Path | None = None
    covered: dict[str, float] | None = None   # every crop's covered share (data/covered.py), None: no crops

    @property
    def mostly_covered(self) -> int:
        """Crops of the faceset whose bare skin is mostly covered (train draws them less often)."""
        return sum(share > MOSTLY for share in (self.covered or {}).values())

    @property
    def faces(self) -> int:
        """Crops written by this run, over all inputs."""
        return sum(s.faces for s in self.summaries)

    @property
    def interrupted(self) -> bool:
        return any(s.interrupted for s in self.summaries)

    @property
    def status(self) -> str:
        """"interrupted"; "no_face" when frames were read but none of any input held a face (and no
        earlier run had found some, so a resumed run that had nothing left to do is "done"); else "done"."""
        if self.interrupted:
            return "interrupted"
        read = sum(s.frames + s.resumed for s in self.summaries)
        if self.faces == 0 and read and not any(s.resumed for s in self.summaries):
            return "no_face"
        return "done"

    @property
    def problem(self) -> str | None:
        """The one-line message for a "no_face" status (None otherwise)."""
        if self.status != "no_face":
            return None
        return "no face found in " + ", ".join(Path(s.source).name for s in self.summaries)


def extract(inputs: str | Path | Sequence[str | Path], faceset: str | Path,
            options: ExtractOptions | None = None, progress: bool = True) -> ExtractResult:
    """Extract aligned face crops of every input (video, image folder or image) into `faceset`.

    Running it again on the same inputs and faceset resumes: frames already
    recorded in the faceset's alignments files are not processed again. A
    KeyboardInterrupt stops after the frames in hand are written (status
    "interrupted"); no face anywhere is status "no_face", not an exception.
    Raises FaceswapError for unreadable inputs, bad options or an output
    folder that cannot be written.
    """
    options = options or ExtractOptions()
    options.validate()
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    if (Path(faceset) / COVERED_FILE).is_dir():   # said now, not after the run
        raise FaceswapError(f"{Path(faceset) / COVERED_FILE} is a folder: extract writes a file there; move it")
    backend = make_backend(options.detector, options.confidence)
    summaries = []
    try:
        for path in inputs:
            summary = extract_source(path, faceset, options, backend=backend, progress=progress)
            summaries.append(summary)
            if summary.interrupted:
                break
    finally:
        backend.close()
    # the faceset's faces judged for what covers them, with the crops of earlier runs and inputs;
    # not after Ctrl-C (the user wants out): the next run, resumed, judges them all
    interrupted = any(s.interrupted for s in summaries)
    covered = None if interrupted else (record_faceset(faceset) or None)
    sheet = None
    if options.preview:
        sources = {str(Path(p).resolve()) for p in inputs}
        records = [r for r in iter_faceset(faceset) if r.meta.get("source") in sources]
        sheet = contact_sheet(records, Path(faceset) / "contact_sheet.png", covered=covered)
    return ExtractResult(summaries, sheet, covered)


def training_configs(model_dir: str | Path, preset: str = DEFAULT_PRESET,
                     overrides: Mapping[str, Any] | None = None) -> tuple[ModelConfig | None, TrainConfig]:
    """(ModelConfig or None, TrainConfig) for a run: the preset, then the `overrides`.

    `overrides` holds settings of either config by field name (None values
    are ignored, so CLI options left unset fall through). For an existing
    model folder without model overrides the model config is None, meaning
    "the one saved in the folder". FaceswapError for an unknown preset or
    setting name, or a setting out of its range ("--iterations must be 1 or
    more (got -5)"), before any folder is read or made.
    """
    model_cfg, train_cfg = load_preset(preset)
    model_overrides, train_overrides = split_settings({k: v for k, v in (overrides or {}).items() if v is not None})
    train_cfg = with_overrides(train_cfg, train_overrides)
    train_cfg.validate()
    if (Path(model_dir) / "config.json").is_file() and not model_overrides:
        return None, train_cfg
    model_cfg = with_overrides(model_cfg, model_overrides)
    model_cfg.validate()
    return model_cfg, train_cfg


def train(faceset_a: str | Path, faceset_b: str | Path, model_dir: str | Path, preset: str = DEFAULT_PRESET,
          overrides: Mapping[str, Any] | None = None, from_backup: bool = False,
          progress: bool = True, ddp: int | None = None) -> TrainSummary:
    """Train (or resume training) the swap model in `model_dir` on A (footage to change) and B
    (the face to put in), with `preset` and `overrides` as in `training_configs`.

    Stops at the iteration or time limit, or on Ctrl-C / SIGTERM (status
    "interrupted"), and saves a checkpoint first in every case. Raises
    FaceswapError for facesets that are missing or too small, a model folder
    that holds another model, or a damaged checkpoint.

    `ddp` (or the `ddp` setting) N > 1 trains on N processes of this machine with
    DistributedDataParallel (train/distributed.py; the batch size is per process);
    a process that torchrun started trains as its rank without it.
    """
    from .train import distributed
    from .train.trainer import Trainer

    model_cfg, train_cfg = training_configs(model_dir, preset, overrides)
    ddp = train_cfg.ddp if ddp is None else ddp
    if ddp is not None and ddp < 1:
        raise FaceswapError(f"--ddp must be 1 or more (got {ddp})")
    if (ddp or 1) > 1 or distributed.torchrun_rank(train_cfg.device) is not None:
        return distributed.train(faceset_a, faceset_b, model_dir, model_cfg, train_cfg, ddp, from_backup, progress)
    trainer = Trainer(faceset_a, faceset_b, model_dir, model_cfg, train_cfg, from_backup=from_backup,
                      progress=progress)
    return trainer.run()


def convert(input_path: str | Path, model_dir: str | Path, output: str | Path,
            options: ConvertOptions | None = None, progress: bool = True) -> ConvertSummary:
    """Swap or reenact the faces of a video or image folder with the model in `model_dir` and
    write `output` (or, with options.preview, one frame as PNG), with a provenance sidecar.

    The output appears under its name only when complete: on any error or
    a KeyboardInterrupt the partial output is removed. Ctrl-C and SIGTERM take
    effect at the next frame (interrupts.held_until_safe); one that comes while
    the finished output is being closed lets it finish, with its sidecar, and
    KeyboardInterrupt is raised after. Raises NoFaceError
    (exit code 3) when no face to change was found, FaceswapError for bad
    inputs, options (a number out of its range; a --preview frame or --frames
    range past the footage's end, naming its length) or model folders, all
    before the model loads or a frame is decoded.
    """
    from .convert.pipeline import convert as run_convert

    options = options or ConvertOptions()
    options.validate()
    check_frame_range(input_path, options)
    return run_convert(input_path, model_dir, output, options, progress)


def verify(paths: list[str | Path], max_windows: int | None = None, progress: bool = False,
           trust: str | Path | None = None) -> list:
    """Check the synthetic-media labels of each path (verify.verify_file): container tags or
    image headers, the provenance sidecar and its output hash, signed C2PA Content Credentials,
    and the invisible watermark (with a progress bar of frames read when `progress`; `trust`:
    the PEM certificate authorities whose signatures count as trusted). Returns
    one verify.Verdict a path; raises FaceswapError (one line) for a path that is not readable
    media."""
    from .verify import verify_file

    if trust is not None:
        from .credentials import check_trust
        check_trust(trust)   # before any file is read
    return [verify_file(p, max_windows=max_windows, progress=progress, trust=trust) for p in paths]


def qc(output: str | Path, original: str | Path, identity: str | Path | None = None,
       options: QcOptions | None = None, progress: bool = True) -> QcResult:
    """Measure a converted video against the footage it was made from (and, when given, a
    faceset or media of the person who should now appear): identity, expression and pose
    kept, sharpness, seam, jitter, flicker, coverage and file integrity.

    Returns a QcResult (`.summary`, `.failures`; status "failed" when a check
    or gate of `options` failed). Raises FaceswapError for unreadable files or
    bad gates.
    """
    from .qc import run_qc

    return run_qc(output, original, identity, options, progress)


def batch(manifest: str | Path, options: BatchOptions | None = None, progress: bool = True) -> BatchResult:
    """Convert and qc every shot of a YAML manifest (docs/batch.md), skipping shots whose output is
    already done (same inputs, model and options, by provenance.job_key), and write the report
    (batch-report.json, .csv, a contact sheet) into options.report or <manifest stem>-report/.

    Returns a BatchResult: `.results` (one ShotResult per shot), `.status` ("done"; "failed" when a
    qc gate failed, exit 4; "error" when a shot failed, exit 1; "interrupted" after Ctrl-C or
    SIGTERM, with the shots that finished). Raises FaceswapError, one line naming the shot and
    key, for a bad manifest or options, before any work starts and before anything is written.
    """
    from .batch.runner import run_batch

    return run_batch(manifest, options, progress)


def check_batch(manifest: str | Path, report: str | Path | None = None) -> BatchPlan:
    """Check a manifest as `batch` does and say what each shot would do (`.states`: shot name ->
    "new", "done", "stale" or "foreign"); writes nothing. Raises FaceswapError as `batch` does."""
    from .batch.runner import check_batch as plan

    return plan(manifest, report)
