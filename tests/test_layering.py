"""The package's layering, read from the source: every import goes down, never up or sideways.

    __main__                      `python -m faceswap`: runs cli
    cli, bench, demo, quality,    scripts (occlusion_bench: `make occlusion`; glasses_bench: `make glasses`,
    occlusion_bench,              on occlusion_bench's clips; watermark_look: a blind look at the watermark;
    glasses_bench, watermark_look samples: their shared first step; cli_base: what cli's commands share)
    api                           wires the stages
    batch                         many shots: convert + qc each, on workers or a Ray cluster
    extract, train, convert, qc,  the stages: none imports another
    verify
    data, provenance, plot,       built on the base (credentials: C2PA signing of a provenance record)
    credentials
    faces, model                  built on media
    media                         files, ffmpeg
    errors, log, defaults, ranges, interrupts  leaf helpers any module may use (ranges raises errors' type)

Each module is mapped to its unit (its top-level package, or itself for a
top-level module); an import between two units must be an edge of ALLOWED.
Imports inside functions and under TYPE_CHECKING count: they are still the
module reaching into another.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "faceswap"

LEAVES = {"faceswap", "errors", "log", "defaults", "ranges", "interrupts"}   # "faceswap": the package root (__version__)
BASE = {"media", "faces", "model", "data", "plot", "provenance", "credentials"}
STAGES = {"extract", "train", "convert", "qc", "verify"}
SCRIPTS = {"cli", "bench", "demo", "quality", "occlusion_bench", "glasses_bench", "watermark_look"}

ALLOWED: dict[str, set[str]] = {
    **{leaf: set() for leaf in LEAVES},
    "ranges": {"errors"},
    "media": LEAVES,
    "faces": LEAVES | {"media"},
    "model": LEAVES | {"media"},
    "data": LEAVES | {"media", "faces", "model"},
    "plot": LEAVES | {"media"},
    "provenance": LEAVES | {"media", "model"},
    "credentials": LEAVES | {"provenance"},
    **{stage: LEAVES | BASE for stage in STAGES},
    "batch": LEAVES | BASE | STAGES,
    "api": LEAVES | BASE | STAGES | {"batch"},
    "samples": LEAVES | BASE | STAGES | {"api"},
    "cli_base": LEAVES | BASE | STAGES | {"api"},
    # batch: the scripts read BatchOptions (a light record, as qc/options.py) for --help; runs go through api
    **{script: LEAVES | BASE | STAGES | {"api", "samples", "cli_base", "batch"} for script in SCRIPTS},
    # the glasses bench draws its clips, trains its model and writes its results as the occlusion bench does
    "glasses_bench": LEAVES | BASE | STAGES | {"api", "samples", "cli_base", "batch", "occlusion_bench"},
    "__main__": {"cli"},    # `python -m faceswap` (and torchrun's -m faceswap): the command and nothing else
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").is_file() or (PACKAGE.parent / rel / "__init__.py").is_file()


def imported_modules(source: str, name: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every faceswap module that `source` (module `name`) imports,
    at any depth of the syntax tree; `from x import y` names x.y when y is a module, else x."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                child = f"{target}.{alias.name}"
                found.append((node.lineno, child if is_module(child) else target))
    return sorted({(line, mod) for line, mod in found if mod == "faceswap" or mod.startswith("faceswap.")})


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "faceswap"


def violations(source: str, name: str, is_package: bool = False) -> list[str]:
    """Imports of module `name` that ALLOWED forbids, as 'module:line -> target (unit -> unit)'."""
    src = unit(name)
    out = []
    for line, target in imported_modules(source, name, is_package):
        dst = unit(target)
        if dst != src and dst not in ALLOWED.get(src, set()):
            out.append(f"{name}:{line} -> {target} ({src} -> {dst})")
    return out


def all_modules() -> list[tuple[str, Path]]:
    return sorted((module_name(p), p) for p in PACKAGE.rglob("*.py"))


def test_no_module_imports_up_or_sideways():
    found = []
    for name, path in all_modules():
        found += violations(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    assert not found, "imports the layering forbids:\n" + "\n".join(found)


def test_every_unit_has_a_place_in_the_table():
    units = {unit(name) for name, _ in all_modules()}
    assert units - set(ALLOWED) == set(), "place these in ALLOWED: " + ", ".join(sorted(units - set(ALLOWED)))


def test_the_table_only_points_down():
    """ALLOWED has no cycle, so no pair of units may import each other, directly or round about."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in ALLOWED[node]:
            assert state.get(nxt) != "open", "cycle in ALLOWED: " + " -> ".join(path + [nxt])
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in ALLOWED:
        if node not in state:
            visit(node, [node])


@pytest.mark.parametrize("name, source, expected", [
    # what the layering test was written against: convert reaching into train
    ("faceswap.convert.swapper", "from ..train.trainer import pick_device\n", "convert -> train"),
    # inside a function, absolute form
    ("faceswap.provenance", "def f():\n    import faceswap.train.checkpoint\n", "provenance -> train"),
    # the data layer reading training settings
    ("faceswap.data.dataset", "from ..train import config\n", "data -> train"),
    # a stage importing the API above it, and a sideways stage import
    ("faceswap.extract.pipeline", "from .. import api\n", "extract -> api"),
    ("faceswap.qc.run", "from ..extract.pipeline import extract_source\n", "qc -> extract"),
    # the base importing up
    ("faceswap.media.images", "from ..plot import line_plot\n", "media -> plot"),
])
def test_the_check_catches_a_forbidden_import(name, source, expected):
    found = violations(source, name)
    assert len(found) == 1 and expected in found[0], found


def test_allowed_imports_pass_the_check():
    assert violations("from ..model.store import load_model\nfrom .. import defaults\n",
                      "faceswap.convert.swapper") == []
    assert violations("from . import gates\n", "faceswap.qc", is_package=True) == []


def test_converting_never_loads_the_trainer():
    code = ("import sys, faceswap.convert.pipeline, faceswap.convert.swapper, faceswap.provenance, "
            "faceswap.model.store; print(sorted(m for m in sys.modules if m.startswith('faceswap.train')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
