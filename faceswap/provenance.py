"""Provenance: what labels a converted output as synthetic media.

DESIGN.md asks for three labels; this module makes two of them (the
watermark lives elsewhere):

- a **record** (`build_record`): "synthetic": true, the tool and its
  version, the UTC time, the sha256 of every input, the model's config and
  weight hashes, and the settings. It is written as a **sidecar** JSON file
  beside the output (`write_sidecar`), which adds an "output" section with
  the finished output's own hash.
- **container tags** (`container_tags`): short key/values the video writer
  stores in the file, among them `faceswap_record`, the sha256 of the
  record's canonical JSON. The output carries the record's digest and the
  sidecar carries the output's hash; the digest therefore covers the record
  without its "output" section (the output cannot hash itself).

Nothing that identifies the operator's machine or account is recorded
beyond the input paths as given.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import os
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from . import __version__, defaults
from .errors import FaceswapError
from .log import get_logger
from .media.ffmpeg_bin import ffmpeg_exe, run_ffmpeg
from .media.images import atomic_write_bytes
from .media.sequence import find_sequence, is_sequence_spec, sequence_stem

__all__ = [
    "ProvenanceRecord", "RECORD_FORMAT", "build_record", "container_tags", "hash_file", "hash_path", "job_key",
    "record_job_key",
    "read_container_tags", "read_sidecar", "record_digest", "sidecar_path", "write_sidecar",
]

log = get_logger(__name__)

RECORD_FORMAT = "faceswap-provenance"
# Keys a sidecar adds to the record after the output exists; the digest excludes them.
_UNSIGNED = ("output", "record_sha256", "earlier_runs")
# Keys of the record known only once the run ends (convert's per-frame record of the tracks it
# changed): kept in the sidecar, left out of the digest the container tags carry.
_AFTER_RUN = ("changed_tracks",)
_CHUNK = 1 << 20


class ProvenanceRecord(TypedDict):
    """The keys of a record (a plain dict, so it serialises as it is)."""

    format: str
    version: int
    synthetic: bool
    kind: str
    tool: dict[str, str]
    created_utc: str
    inputs: dict[str, dict[str, Any]]
    model: dict[str, Any] | None
    settings: dict[str, Any]
    media: dict[str, Any] | None  # the probe-based decisions (media/output_plan.py): rotation, codec, chroma


# --- hashing -----------------------------------------------------------------------------

def hash_file(path: str | Path) -> str:
    """sha256 of a file, read in 1 MiB chunks. Kept per (path, inode, size, mtime) for this
    process: a segmented convert names the same plate in every segment's key and record, and
    a plate can be tens of GB."""
    st = os.stat(path)
    return _hash_file(os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _hash_file(path: str, inode: int, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _folder_files(folder: Path, exclude: Iterable[str]) -> list[tuple[str, Path, int]]:
    skip = set(exclude)
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            p = Path(root) / name
            rel = p.relative_to(folder).as_posix()
            # Hidden files (.DS_Store, partial writes) change without the content changing.
            if name.startswith(".") or rel in skip or not p.is_file():
                continue
            files.append((rel, p, p.stat().st_size))
    return sorted(files)


def hash_path(path: str | Path, folder_limit: int = defaults.PROVENANCE_HASH_FOLDER_LIMIT,
              exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Identify a file, folder or image sequence (plate.####.exr) by sha256, saying how (`method`):

    - "file": the file's bytes;
    - "folder-contents" / "sequence-contents": for each non-hidden file (each frame's file),
      sorted by relative path, `path NUL size NUL bytes`;
    - "folder-names-sizes" / "sequence-names-sizes" (over `folder_limit` bytes): `path NUL size
      LF` per file only, which detects added, removed and resized files, not edits.
    """
    path = Path(path)
    try:
        if path.is_file():
            return {"sha256": hash_file(path), "method": "file", "bytes": path.stat().st_size}
        if path.is_dir():
            files, kind = _folder_files(path, exclude), "folder"
        elif is_sequence_spec(path):
            seq = find_sequence(path)
            files, kind = [(seq.path(f).name, seq.path(f), seq.path(f).stat().st_size) for f in seq.frames], "sequence"
        else:
            raise FaceswapError(f"cannot hash {path}: no such file or folder")
        total = sum(size for _, _, size in files)
        h = hashlib.sha256()
        if total <= folder_limit:
            method = f"{kind}-contents"
            for rel, p, size in files:
                h.update(f"{rel}\0{size}\0".encode())
                with open(p, "rb") as fh:
                    for chunk in iter(lambda fh=fh: fh.read(_CHUNK), b""):
                        h.update(chunk)
        else:
            method = f"{kind}-names-sizes"
            for rel, _, size in files:
                h.update(f"{rel}\0{size}\n".encode())
        return {"sha256": h.hexdigest(), "method": method, "files": len(files), "bytes": total}
    except OSError as err:
        raise FaceswapError(f"cannot read {path} to hash it: {err.strerror or err}") from err


# --- the record ------------------------------------------------------------------------------

def _jsonable(obj: Any) -> Any:
    """Settings as plain JSON: paths, enums, dataclasses, numpy values converted."""
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else str(obj)
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((_jsonable(v) for v in obj), key=str)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return _jsonable(obj.value)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, Fraction):
        return f"{obj.numerator}/{obj.denominator}"
    # A record must never stop a render: anything else is kept as its text.
    return str(obj)


@functools.lru_cache(maxsize=1)
def _ffmpeg_version() -> str:
    try:
        out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True,
                             errors="replace", timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.match(r"ffmpeg version (\S+)", out)
    return match.group(1) if match else "unknown"


def _model_section(model_dir: Path) -> dict[str, Any]:
    """Config and weight hashes of a model folder (see model/store.py for its layout)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FaceswapError(f"model folder {model_dir} does not exist")
    section: dict[str, Any] = {"path": str(model_dir), "config": None, "config_sha256": None, "weights": {}}
    config = model_dir / "config.json"
    if config.is_file():
        try:
            section["config"] = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise FaceswapError(f"{config} is unreadable or corrupt: {err}") from err
        section["config_sha256"] = hash_file(config)
    from .model.store import weights_file  # torch: only where a model is recorded

    # The weights convert loads, found the way it finds them.
    weights = [path] if (path := weights_file(model_dir)) is not None else []
    if not weights:
        log.warning("no weight files found in %s: the record names the model by its config only", model_dir)
    section["weights"] = {p.relative_to(model_dir).as_posix(): hash_file(p) for p in weights}
    return section


def build_record(inputs: Mapping[str, str | Path], model_dir: str | Path | None, settings: Mapping[str, Any],
                 kind: str, media: Mapping[str, Any] | None = None) -> ProvenanceRecord:
    """The provenance record of one output, made before it is written.

    `inputs` names each input by role (e.g. {"target": ..., "driver": ...}); `kind`
    says what was done ("swap", "reenact"); `media` what was decided from the input's
    probe (`OutputPlan.to_dict()`: rotation, codec, pixel format and why).
    """
    hashed: dict[str, dict[str, Any]] = {}
    for role, path in inputs.items():
        path = Path(path)
        hashed[str(role)] = {"name": path.name, "path": str(path), **hash_path(path)}
    return ProvenanceRecord(
        format=RECORD_FORMAT,
        version=1,
        synthetic=True,
        kind=str(kind),
        tool={"name": "faceswap", "version": __version__, "python": platform.python_version(),
              "ffmpeg": _ffmpeg_version()},
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        inputs=hashed,
        model=_model_section(Path(model_dir)) if model_dir is not None else None,
        settings=_jsonable(dict(settings)),
        media=_jsonable(dict(media)) if media is not None else None,
    )


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


# Settings that change how a run behaves, not what it writes: left out of a job's key.
_NOT_IN_KEY = ("overwrite",)


def _key(inputs: Mapping[str, str], model: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical({
        "inputs": dict(inputs),
        "model": {k: model.get(k) for k in ("config_sha256", "weights")} if model is not None else None,
        "settings": _jsonable({k: v for k, v in settings.items() if k not in _NOT_IN_KEY}),
    })).hexdigest()


def job_key(inputs: Mapping[str, str | Path], model_dir: str | Path | None, settings: Mapping[str, Any]) -> str:
    """sha256 (hex) that names what a job would write: its inputs' contents (`hash_path`), the
    model's config and weight hashes, and its settings (without `overwrite`). Equal keys: the same
    output, so batch skips a shot or segment whose recorded key matches (`record_job_key`).
    FaceswapError when an input or the model folder cannot be read."""
    model = _model_section(Path(model_dir)) if model_dir is not None else None
    return _key({str(role): hash_path(path)["sha256"] for role, path in inputs.items()}, model, settings)


def record_job_key(record: Mapping[str, Any]) -> str | None:
    """The `job_key` of the job a provenance record (or sidecar) describes; None for a record
    that lacks a part of it (not written by convert)."""
    try:
        inputs = {role: entry["sha256"] for role, entry in record["inputs"].items()}
        return _key(inputs, record["model"], record["settings"])
    except (KeyError, TypeError, AttributeError):
        return None


def record_digest(record: Mapping[str, Any]) -> str:
    """sha256 of the record's canonical JSON (sorted keys, no spaces), without the
    keys a sidecar adds once the output exists."""
    return hashlib.sha256(_canonical({k: v for k, v in record.items()
                                      if k not in _UNSIGNED + _AFTER_RUN})).hexdigest()


def container_tags(record: Mapping[str, Any]) -> dict[str, str]:
    """Short tags for the output container (and a PNG sequence's sequence.json)."""
    version = record.get("tool", {}).get("version", __version__)
    return {
        "synthetic": "1",
        "comment": f"Synthetic media: faces altered by faceswap {version} ({record.get('kind', 'swap')})",
        "faceswap_version": str(version),
        "faceswap_kind": str(record.get("kind", "")),
        "faceswap_created": str(record.get("created_utc", "")),
        "faceswap_record": record_digest(record),
        **({"faceswap_watermark": _watermark_tag(record["watermark"])} if record.get("watermark") else {}),
    }


def _watermark_tag(section: Mapping[str, Any]) -> str:
    """"off", or "<scheme> <output id>" (convert/marking.py)."""
    if section.get("mode") == "off":
        return "off"
    return f"{section.get('scheme')} {section.get('output_id')}"


# --- the sidecar -------------------------------------------------------------------------------

def sidecar_path(output: str | Path) -> Path:
    """`<output>.provenance.json` beside a file; `<folder>/provenance.json` for a folder output;
    `<folder>/<name>.provenance.json` for an image sequence `<folder>/<name>.####.exr`."""
    output = Path(output)
    if is_sequence_spec(output):
        return output.parent / f"{sequence_stem(output)}.provenance.json"
    if output.is_dir() or not output.suffix:
        return output / "provenance.json"
    return output.with_name(output.name + ".provenance.json")


def write_sidecar(output: str | Path, record: Mapping[str, Any], hash_output: bool = True) -> Path:
    """Write the record beside the finished output (atomically), with the output's
    hash when `hash_output`; returns the sidecar's path. For a folder or image sequence
    that already has one (an earlier --frames range), the earlier records are kept, newest
    first, under "earlier_runs"."""
    output = Path(output)
    path = sidecar_path(output)
    data = {k: v for k, v in record.items() if k not in _UNSIGNED}
    data["record_sha256"] = record_digest(record)
    if hash_output and (output.exists() or is_sequence_spec(output)):
        data["output"] = {"name": output.name, **hash_path(output, exclude=[path.name])}
    if (output.is_dir() or is_sequence_spec(output)) and path.is_file():
        # another --frames range into the same folder or sequence: its frames stay, so does
        # the record of the run that wrote them
        try:
            before = read_sidecar(output)
        except FaceswapError:
            before = None
        if before is not None and before.get("record_sha256") != data["record_sha256"]:
            data["earlier_runs"] = [{k: v for k, v in before.items() if k != "earlier_runs"},
                                    *before.get("earlier_runs", [])]
    atomic_write_bytes(path, (json.dumps(_jsonable(data), indent=2, allow_nan=False) + "\n").encode("utf-8"))
    return path


def read_sidecar(output: str | Path) -> dict[str, Any]:
    """The sidecar of an output, as written by `write_sidecar`."""
    path = sidecar_path(output)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise FaceswapError(f"{output} has no provenance sidecar ({path.name})") from err
    except (OSError, json.JSONDecodeError) as err:
        raise FaceswapError(f"{path} is unreadable or corrupt: {err}") from err
    if data.get("format") != RECORD_FORMAT:
        raise FaceswapError(f"{path} is not a faceswap provenance record")
    return data


# --- reading tags back ---------------------------------------------------------------------------

_TAG_RE = re.compile(r"^(?P<indent> {4,})(?P<key>\S[^:]*?)?\s*: (?P<value>.*)$")


def read_container_tags(path: str | Path) -> dict[str, str]:
    """The container-level tags of a video (keys lower-cased: Matroska stores them
    upper-case), parsed from `ffmpeg -i`; for a PNG sequence folder, the tags
    in its sequence.json."""
    path = Path(path)
    if path.is_dir():
        info = path / "sequence.json"
        if not info.is_file():
            return {}
        try:
            return {str(k): str(v) for k, v in json.loads(info.read_text(encoding="utf-8")).get("tags", {}).items()}
        except (OSError, json.JSONDecodeError) as err:
            raise FaceswapError(f"{info} is unreadable or corrupt: {err}") from err
    if not path.is_file():
        raise FaceswapError(f"no such file: {path}")
    text = run_ffmpeg(["-i", str(path)], f"read {path}").stderr
    tags: dict[str, str] = {}
    in_block = False
    last: str | None = None
    for line in text.splitlines():
        if line.startswith("Input #"):
            in_block = False
            continue
        if line == "  Metadata:":
            in_block = True
            continue
        if not in_block:
            continue
        match = _TAG_RE.match(line)
        if match is None:
            break  # "  Duration:" or a stream: the container's block is over
        key = match["key"]
        if key is None:  # ffmpeg prints each further line of a value as "   : ..."
            if last is not None:
                tags[last] += "\n" + match["value"]
            continue
        last = key.strip().lower()
        tags[last] = match["value"]
    return tags
