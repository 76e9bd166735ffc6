"""The Python API: what the CLI calls and what scripts and `batch` use.

It wires stages together and nothing more; each stage lives in its package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .convert.options import ConvertOptions
from .data.faceset import iter_faceset
from .extract.contact_sheet import contact_sheet
from .extract.options import ExtractOptions
from .extract.pipeline import ExtractSummary, extract_source
from .faces.backends import make_backend

__all__ = ["ConvertOptions", "ExtractOptions", "ExtractResult", "convert", "extract", "train", "training_configs"]


@dataclass
class ExtractResult:
    summaries: list[ExtractSummary]
    contact_sheet: Path | None = None

    @property
    def faces(self) -> int:
        return sum(s.faces for s in self.summaries)

    @property
    def interrupted(self) -> bool:
        return any(s.interrupted for s in self.summaries)


def extract(inputs: str | Path | Sequence[str | Path], faceset: str | Path,
            options: ExtractOptions | None = None, progress: bool = True) -> ExtractResult:
    """Extract aligned face crops of every input (video, image folder or image) into `faceset`.

    Running it again on the same inputs and faceset resumes: frames already
    recorded in the faceset's alignments files are not processed again.
    """
    options = options or ExtractOptions()
    options.validate()
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
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
    sheet = None
    if options.preview:
        sources = {str(Path(p).resolve()) for p in inputs}
        records = [r for r in iter_faceset(faceset) if r.meta.get("source") in sources]
        sheet = contact_sheet(records, Path(faceset) / "contact_sheet.png")
    return ExtractResult(summaries, sheet)


def training_configs(model_dir: str | Path, preset: str = "quick", model_overrides: dict | None = None,
                     train_overrides: dict | None = None):
    """(ModelConfig or None, TrainConfig) for a run: the preset, then the overrides.

    For an existing model folder without model overrides the model config is
    None, meaning "the one saved in the folder".
    """
    from .model.config import ModelConfig, TrainConfig, from_dict, to_dict
    from .model.config import preset as load_preset

    model_cfg, train_cfg = load_preset(preset)
    model_overrides = {k: v for k, v in (model_overrides or {}).items() if v is not None}
    train_overrides = {k: v for k, v in (train_overrides or {}).items() if v is not None}
    train_cfg = from_dict(TrainConfig, {**to_dict(train_cfg), **train_overrides})
    if (Path(model_dir) / "config.json").is_file() and not model_overrides:
        return None, train_cfg
    return from_dict(ModelConfig, {**to_dict(model_cfg), **model_overrides}), train_cfg


def train(faceset_a: str | Path, faceset_b: str | Path, model_dir: str | Path, preset: str = "quick",
          model_overrides: dict | None = None, train_overrides: dict | None = None,
          from_backup: bool = False, progress: bool = True):
    """Train (or resume training) the swap model in `model_dir` on A (footage to
    change) and B (the face to put in). Returns a TrainSummary."""
    from .train.trainer import Trainer

    model_cfg, train_cfg = training_configs(model_dir, preset, model_overrides, train_overrides)
    trainer = Trainer(faceset_a, faceset_b, model_dir, model_cfg, train_cfg, from_backup=from_backup,
                      progress=progress)
    return trainer.run()


def convert(input_path: str | Path, model_dir: str | Path, output: str | Path,
            options: ConvertOptions | None = None, progress: bool = True):
    """Swap or reenact the faces of a video or image folder with the model in
    `model_dir` and write `output` (or, with options.preview, one frame as PNG).
    Returns a ConvertSummary."""
    from .convert.pipeline import convert as run_convert

    return run_convert(input_path, model_dir, output, options, progress)


def qc(output: str | Path, original: str | Path, identity: str | Path | None = None,
       options=None, progress: bool = True):
    """Measure a converted video against the footage it was made from (and, when given, a
    faceset or media of the person who should now appear): identity, expression and pose
    kept, jitter, flicker, coverage and file integrity. `options` is a
    `faceswap.qc.QcOptions`; returns a QcResult (`.summary`, `.failures`, `.ok`)."""
    from .qc import run_qc

    return run_qc(output, original, identity, options, progress)
