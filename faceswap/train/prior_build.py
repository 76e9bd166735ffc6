"""Build a face prior (model/prior.py) from facesets of many people: `make prior` runs this.

    python -m faceswap.train.prior_build --out DIR --iterations 6000 FACESET...

Both decoders of a `quick` df model are trained on the same mixed pool of
every faceset's crops (a folder of links to them), so encoder, bottleneck
and decoders learn faces in general rather than two identities; decoder "a"
is then stored as the prior's decoder. `--init` continues from an existing
prior (e.g. one trained without some clips, given more faces).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from ..data.faceset import iter_faceset
from ..errors import FaceswapError
from ..log import get_logger, setup_logging
from ..model.prior import INIT_NONE, export_prior
from .config import preset
from .trainer import Trainer

log = get_logger(__name__)


def pool_facesets(facesets: list[Path], pool: Path) -> dict[str, int]:
    """Link every crop of `facesets` into the folder `pool` (crops describe themselves, so a
    folder of links is a faceset); returns {faceset name: crops}. FaceswapError for an empty one."""
    counts: dict[str, int] = {}
    for folder in facesets:
        n = 0
        for rec in iter_faceset(folder):
            os.symlink(Path(rec.path).resolve(), pool / Path(rec.path).name)
            n += 1
        if n == 0:
            raise FaceswapError(f"{folder} holds no face crops")
        counts[folder.name] = n
    return counts


def build_prior(facesets: list[Path], out: Path, *, minutes: float | None, iterations: int | None,
                init: str = INIT_NONE, seed: int = 0, command: str = "") -> Path:
    """Train the quick preset's df model on the pooled `facesets` for `minutes` or `iterations` and
    export it to `out` (model/prior.py's layout). The work folder (pool, model) is removed after."""
    model_cfg, train_cfg = preset("quick")
    train_cfg.minutes, train_cfg.iterations, train_cfg.init, train_cfg.seed = minutes, iterations, init, seed
    train_cfg.save_every = train_cfg.preview_every = 1000
    with tempfile.TemporaryDirectory(prefix="faceswap-prior-") as work:
        pool = Path(work) / "faces"
        pool.mkdir()
        counts = pool_facesets(facesets, pool)
        log.info("prior: %d crops from %s", sum(counts.values()), ", ".join(f"{k} {v}" for k, v in counts.items()))
        trainer = Trainer(pool, pool, Path(work) / "model", model_cfg, train_cfg, progress=sys.stderr.isatty())
        summary = trainer.run()
        # the last preview shows what the prior renders; keep it beside the weights
        preview = Path(work) / "model" / "preview.png"
        export_prior(trainer.model.cpu(), out, {
            "faces": counts, "iterations": summary.iteration, "seconds": round(summary.seconds),
            "samples_per_second": round(summary.samples_per_second, 1), "init": init, "command": command})
        if preview.is_file():
            shutil.copyfile(preview, out / "preview.png")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faceswap.train.prior_build", description=__doc__.split("\n")[0])
    parser.add_argument("facesets", nargs="+", type=Path, help="faceset folders (faceswap extract)")
    parser.add_argument("--out", type=Path, required=True, help="prior folder to write")
    parser.add_argument("--minutes", type=float, default=None, help="train this long [default: no limit]")
    parser.add_argument("--iterations", type=int, default=None, help="train this many iterations [default: no limit]")
    parser.add_argument("--init", default=INIT_NONE, help="start from this prior folder [default: none]")
    parser.add_argument("--seed", type=int, default=0, help="random seed [default: 0]")
    args = parser.parse_args(argv)
    setup_logging("info")
    if args.minutes is None and args.iterations is None:
        parser.error("give --minutes or --iterations")
    try:
        out = build_prior(args.facesets, args.out, minutes=args.minutes, iterations=args.iterations,
                          init=args.init, seed=args.seed, command=shlex.join(["python", "-m", __spec__.name, *sys.argv[1:]]))
    except FaceswapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
