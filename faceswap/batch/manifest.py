"""A batch manifest: the YAML file listing a show's shots, read and checked in full before any work.

    model: models/d19_to_d18          # every shot's model unless the shot names its own
    options: {color: rct}             # ConvertOptions fields, for every shot
    qc: {identity: facesets/d18, fail_under: {retrieval: 0.8}}   # optional: QcOptions fields
    report: out/report                # optional: the report folder
    shots:
      - {input: plates/sh010.mp4, output: out/sh010.mp4}
      - {input: "plates/*.mov", output: "out/{stem}.mov", options: {blend: laplacian}, model: models/other}

Relative paths are relative to the manifest's folder. The options are the very ConvertOptions
record the CLI and the API use: each value is type-checked against the field's annotation
(pydantic, strict: no "18" for 18, no 1 for true), then `ConvertOptions.validate()` checks ranges
and combinations. Every problem is one FaceswapError line naming the shot and the key, raised
before anything is read beyond probes and headers, and before anything is written
(docs/batch.md).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import glob
import logging
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import defaults
from ..convert.frame_range import check_frame_range
from ..convert.options import ConvertOptions
from ..errors import FaceswapError
from ..log import get_logger
from ..media.sequence import find_sequence, is_sequence_spec, sequence_stem
from ..media.source import source_kind
from ..provenance import hash_path, job_key, read_sidecar, record_job_key, sidecar_path
from ..qc.options import QcOptions
from .model_fit import check_model_fits

TOP_KEYS = ("model", "options", "qc", "report", "shots")
SHOT_KEYS = ("input", "output", "model", "options")
# batch decides these per run: a manifest that set them would write previews or replace outputs
MANAGED_OPTIONS = ("preview", "overwrite")
OPTION_KEYS = tuple(f.name for f in dataclasses.fields(ConvertOptions) if f.name not in MANAGED_OPTIONS)
# ConvertOptions fields that name files: relative to the manifest, like every other path
PATH_OPTIONS = ("driver", "alignments", "reference")
# qc writes its report into the batch report's folder of each shot
QC_KEYS = ("identity",) + tuple(f.name for f in dataclasses.fields(QcOptions) if f.name not in ("report", "json"))
PLACEHOLDERS = ("stem", "name", "parent")
_GLOB_CHARS = "*?["


@dataclass
class Shot:
    """One shot of a manifest: what to convert, with what, into what. Paths are absolute."""

    name: str                 # unique in the manifest: the input's stem (-2, -3... when repeated)
    input: Path
    output: Path
    model: Path
    options: ConvertOptions   # the manifest's options, then the shot's, validated

    def inputs(self) -> dict[str, Path]:
        """The inputs by role, as convert records them in the provenance sidecar."""
        found = {"input": self.input}
        if self.options.mode == "reenact" and self.options.driver:
            found["driver"] = Path(self.options.driver)
        return found

    def key(self) -> str:
        """provenance.job_key of this shot: its inputs' contents, the model's hashes, its options.
        Reads (hashes) every input and the weights: call it once per shot and run."""
        return job_key(self.inputs(), self.model, self.options.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for a worker process or a Ray task."""
        return {"name": self.name, "input": str(self.input), "output": str(self.output), "model": str(self.model),
                "options": self.options.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shot:
        return cls(data["name"], Path(data["input"]), Path(data["output"]), Path(data["model"]),
                   ConvertOptions(**data["options"]))


@dataclass
class Manifest:
    """A checked manifest: its shots in order, the qc to run on each (None: no qc), where the
    report goes."""

    path: Path
    shots: list[Shot]
    qc: QcOptions | None
    qc_identity: Path | None
    report_dir: Path

    def qc_dict(self) -> dict[str, Any] | None:
        """The qc settings as QcOptions keyword arguments (None: no qc)."""
        if self.qc is None:
            return None
        return {f.name: getattr(self.qc, f.name) for f in dataclasses.fields(QcOptions)}


class _Where:
    """Prefixes every problem with the manifest's name and the place in it: 'm.yaml: shot d19: ...'."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, place: str, message: str) -> FaceswapError:
        return FaceswapError(f"{self.path.name}: {place}: {message}" if place else f"{self.path.name}: {message}")


def _unknown(keys: Any, allowed: tuple[str, ...], what: str) -> str | None:
    """'unknown key 'colour' (did you mean 'color'?; allowed: ...)' for the first key not allowed."""
    for key in keys:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
            return f"unknown {what} {key!r} ({hint})"
    return None


@functools.cache
def _adapter(cls: type, name: str):
    from pydantic import TypeAdapter

    return TypeAdapter(typing.get_type_hints(cls)[name])


def _typed(cls: type, values: dict[str, Any], prefix: str) -> tuple[dict[str, Any], str | None]:
    """`values` checked and converted field by field against `cls`'s annotations (strict: 2 for a
    float is 2.0, but "2" is no number and 1 no boolean); (values, first problem or None)."""
    from pydantic import ValidationError

    out = {}
    for name, value in values.items():
        try:
            out[name] = _adapter(cls, name).validate_python(value, strict=True)
        except ValidationError as err:
            first = err.errors()[0]
            return out, f"{prefix}{name}: {first['msg'][0].lower()}{first['msg'][1:]} (got {value!r})"
    return out, None


def _mapping(value: Any, where: _Where, place: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(place, f"must be a mapping of keys to values, not {type(value).__name__}")
    return value


def _path(base: Path, value: Any, where: _Where, place: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise where.error(place, f"must be a path (text), not {value!r}")
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _matches(base: Path, pattern: str) -> list[Path]:
    full = pattern if Path(pattern).is_absolute() else str(base / pattern)
    return [Path(p).resolve() for p in sorted(glob.glob(full))]


def _output(template: Any, source: Path, base: Path, where: _Where, place: str) -> Path:
    if not isinstance(template, str) or not template.strip():
        raise where.error(place, f"output must be a path (text), not {template!r}")
    try:
        text = template.format(stem=sequence_stem(source), name=source.name, parent=source.parent.name)
    except (KeyError, IndexError, ValueError) as err:
        raise where.error(place, f"output {template!r}: unknown placeholder {err} (use "
                          + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + ")") from None
    return _path(base, text, where, place)


def _options(merged: dict[str, Any], base: Path, where: _Where, place: str) -> ConvertOptions:
    values, problem = _typed(ConvertOptions, merged, "options.")
    if problem:
        raise where.error(place, problem)
    for name in PATH_OPTIONS:
        if values.get(name) is not None:
            path = _path(base, values[name], where, f"{place}: options.{name}")
            if not path.exists():
                raise where.error(place, f"options.{name}: {path} does not exist")
            values[name] = str(path)
    options = ConvertOptions(**values)
    try:
        options.validate()
    except FaceswapError as err:
        raise where.error(place, str(err)) from None
    return options


def _qc(section: Any, base: Path, where: _Where) -> tuple[QcOptions | None, Path | None]:
    if section is None:
        return None, None
    section = dict(_mapping(section, where, "qc"))
    problem = _unknown(section, QC_KEYS, "qc key")
    if problem:
        raise where.error("qc", problem)
    identity = None
    if section.get("identity") is not None:
        identity = _path(base, section.pop("identity"), where, "qc.identity")
        if not identity.exists():
            raise where.error("qc", f"identity: {identity} does not exist (a faceset folder, video or image "
                                    "of the person who should appear)")
    section.pop("identity", None)
    values, problem = _typed(QcOptions, section, "qc.")
    if problem:
        raise where.error("", problem)
    qc = QcOptions(**values)
    try:
        qc.validate()
    except FaceswapError as err:
        raise where.error("qc", str(err)) from None
    return qc, identity


def load_manifest(path: str | Path, report_dir: str | Path | None = None) -> Manifest:
    """Read and check the manifest at `path`; `report_dir` overrides its `report:` key (default:
    <manifest stem>-report/ beside it).

    Checks, each a one-line FaceswapError naming the shot and key: YAML syntax; unknown keys (top,
    shot, options, qc); value types; option ranges and combinations; inputs that do not exist and
    globs that match nothing; --frames past a shot's end; model folders that are missing or whose
    weights do not fit their config.json; the qc identity and gates; a reenact driver that is
    missing; two shots writing one output, an output that is its input. Reads probes and headers
    only, writes nothing.
    """
    path = Path(path).expanduser().resolve()
    where = _Where(path)
    if not path.is_file():
        raise FaceswapError(f"no such manifest: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise where.error("", f"not valid YAML{at}: {getattr(err, 'problem', None) or err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise FaceswapError(f"cannot read manifest {path}: {err}") from None
    base = path.parent
    top = _mapping(data, where, "")
    problem = _unknown(top, TOP_KEYS, "key")
    if problem:
        raise where.error("", problem)
    common = _mapping(top.get("options"), where, "options")
    problem = _managed(common) or _unknown(common, OPTION_KEYS, "option")
    if problem:
        raise where.error("options", problem)
    _, problem = _typed(ConvertOptions, common, "options.")
    if problem:
        raise where.error("", problem)
    qc, identity = _qc(top.get("qc"), base, where)
    entries = top.get("shots")
    if not isinstance(entries, list) or not entries:
        raise where.error("shots", "must be a list with at least one shot")
    default_model = _path(base, top["model"], where, "model") if top.get("model") is not None else None
    shots = []
    for number, entry in enumerate(entries, 1):
        shots += _entry_shots(entry, number, base, where, common, default_model, {s.name for s in shots})
    _check_outputs(shots, where)
    checked: set[Path] = set()
    for shot in shots:
        if shot.model not in checked:
            try:
                check_model_fits(shot.model)
            except FaceswapError as err:
                raise where.error(f"shot {shot.name}", str(err)) from None
            checked.add(shot.model)
    report = report_dir if report_dir is not None else top.get("report")
    report_path = (_path(Path.cwd() if report_dir is not None else base, str(report), where, "report")
                   if report is not None else base / f"{path.stem}{defaults.BATCH_REPORT_SUFFIX}")
    return Manifest(path, shots, qc, identity, report_path)


def _managed(options: dict[str, Any]) -> str | None:
    for key in options:
        if key in MANAGED_OPTIONS:
            return f"{key!r} is not a manifest option: batch decides it (outputs that exist are skipped or redone)"
    return None


def _entry_shots(entry: Any, number: int, base: Path, where: _Where, common: dict[str, Any],
                 default_model: Path | None, taken: set[str]) -> list[Shot]:
    """The shots of one `shots:` entry (several for a glob)."""
    label = f"shot {number}"
    entry = _mapping(entry, where, label)
    if isinstance(entry.get("input"), str):
        label = f"shot {number} ({entry['input']})"
    problem = _unknown(entry, SHOT_KEYS, "shot key")
    if problem:
        raise where.error(label, problem)
    for key in ("input", "output"):
        if entry.get(key) is None:
            raise where.error(label, f"{key} is missing")
    own = _mapping(entry.get("options"), where, f"{label}: options")
    problem = _managed(own) or _unknown(own, OPTION_KEYS, "option")
    if problem:
        raise where.error(label, f"options: {problem}")
    model = _path(base, entry["model"], where, f"{label}: model") if entry.get("model") is not None \
        else default_model
    if model is None:
        raise where.error(label, "no model: give `model:` at the top of the manifest or in the shot")
    pattern = entry["input"]
    if not isinstance(pattern, str) or not pattern.strip():
        raise where.error(label, f"input must be a path (text), not {pattern!r}")
    if any(c in pattern for c in _GLOB_CHARS):
        inputs = _matches(base, pattern)
        if not inputs:
            raise where.error(label, f"input {pattern!r} matches no file (relative to {base})")
    else:
        inputs = [_path(base, pattern, where, label)]
        if source_kind(inputs[0]) == "sequence":
            try:
                find_sequence(inputs[0])
            except FaceswapError as err:
                raise where.error(label, f"input: {err}") from None
        elif not inputs[0].exists():
            raise where.error(label, f"input {inputs[0]} does not exist")
    shots = []
    for source in inputs:
        stem = sequence_stem(source)  # sh010_plate for sh010_plate.####.exr
        name = stem
        n = 2
        while name in taken:
            name, n = f"{stem}-{n}", n + 1
        taken.add(name)
        place = f"shot {name}"
        options = _options({**common, **own}, base, where, place)
        try:
            check_frame_range(source, options)
        except FaceswapError as err:
            raise where.error(place, str(err)) from None
        output = _output(entry["output"], source, base, where, place)
        _check_codec(source, output, options, where, place)
        shots.append(Shot(name, source, output, model, options))
    return shots


def _check_codec(source: Path, output: Path, options: ConvertOptions, where: _Where, place: str) -> None:
    """The output convert would refuse (a codec its path cannot hold: h264 into a folder), found now
    rather than when the shot's turn comes; its decisions are logged when the shot runs."""
    from ..media import output_plan

    logger = get_logger(output_plan.__name__)
    level = logger.level
    logger.setLevel(logging.WARNING)
    # the runner makes an output's missing folders: judge the name as if they existed
    folder = output.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        output_plan.plan_for(source, folder / output.name, options.codec, options.tonemap)
    except FaceswapError as err:
        raise where.error(place, str(err)) from None
    finally:
        logger.setLevel(level)


def _check_outputs(shots: list[Shot], where: _Where) -> None:
    seen: dict[Path, str] = {}
    for shot in shots:
        if shot.output == shot.input:
            raise where.error(f"shot {shot.name}", f"output {shot.output} is its input")
        if shot.output in seen:
            raise where.error(f"shot {shot.name}", f"output {shot.output} is also shot {seen[shot.output]}'s output")
        seen[shot.output] = shot.name


def shot_state(shot: Shot, key: str | None = None) -> str:
    """Where a shot stands, from its output and the output's provenance sidecar:

    "new" (no output), "done" (the sidecar's job key is the shot's and the output's hash is the
    one the sidecar recorded), "stale" (faceswap's own earlier output of other inputs, model or
    options, or edited since: redo it), "foreign" (an output faceswap did not write: never
    replaced). `key`: the shot's key when already computed.
    """
    out = shot.output
    if not out.exists() and not (is_sequence_spec(out) and sidecar_path(out).exists()):
        return "new"
    try:
        record = read_sidecar(out)
    except FaceswapError:
        return "foreign"
    if record_job_key(record) != (key or shot.key()):
        return "stale"
    recorded = (record.get("output") or {}).get("sha256")
    if recorded is None or hash_path(out, exclude=[sidecar_path(out).name])["sha256"] != recorded:
        return "stale"
    return "done"


__all__ = ["Manifest", "PLACEHOLDERS", "Shot", "load_manifest", "shot_state"]
