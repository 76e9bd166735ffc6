"""Training on several processes with torch DistributedDataParallel (DDP).

Two ways in, one code path (`run_rank`):

- `faceswap train ... --ddp N` (`launch`): N processes on this machine, spawned
  by torch.multiprocessing, meeting at a free local port: one per GPU with
  NCCL when CUDA has N devices, else gloo processes on the CPU.
- `torchrun --nproc-per-node N [--nnodes M ...] -m faceswap train ...`
  (`torchrun_rank`): torchrun starts the processes and sets RANK, WORLD_SIZE,
  LOCAL_RANK, MASTER_ADDR/PORT; each joins the process group from them.

Every process ("rank") loads the same facesets and the same checkpoint (so a
resumed run continues the iteration count), trains on its own disjoint shard
of each faceset with its own augmentation stream, and DDP averages the
gradients, so all ranks hold the same weights after every step. `--batch-size`
is per rank: a step sees N times as many faces. Rank 0 alone writes the model
folder (config, identity.json, checkpoints, previews, loss.csv, TensorBoard)
and shows the progress bar. When to stop (the iteration or time limit, Ctrl-C,
SIGTERM) and whether a step's loss is finite are decided by all ranks
together (an all-reduce each step), so they stop at the same iteration and no
rank is left waiting in a collective.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, replace
from datetime import timedelta
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from ..data.dataset import FacesetArrays, make_loader
from ..errors import FaceswapError
from ..interrupts import handling
from ..log import LOGGER_NAME, get_logger, setup_logging
from ..model.config import ModelConfig
from .config import TrainConfig
from .trainer import Trainer, TrainSummary

log = get_logger(__name__)

# Longest wait in a collective before a rank gives up (rank 0 writes identity.json and checkpoints while the
# others wait): a rank that died cannot leave the rest hanging for longer than this.
TIMEOUT = timedelta(minutes=15)
GRACE_S = 30.0          # after one process failed, how long the others get to exit before they are killed
STOPS = ("", "iterations", "minutes", "terminated", "interrupt")   # all_reduce MAX picks the last one any rank saw


@dataclass(frozen=True)
class Rank:
    """One process of a distributed run."""

    rank: int            # 0 .. world_size - 1; rank 0 writes the model folder
    world_size: int
    local_rank: int      # index on its machine: its GPU under NCCL
    backend: str         # "nccl" (one GPU each) or "gloo" (CPU)


@dataclass
class RankResult:
    """What one rank's run ended with: its summary and a SHA-256 of its model's weights."""

    rank: int
    summary: TrainSummary
    weights_sha256: str


def torchrun_rank(device: str = "auto") -> Rank | None:
    """This process's Rank when torchrun (or another launcher setting RANK and WORLD_SIZE > 1) started it;
    None otherwise. The backend is NCCL when `device` (TrainConfig.device) allows CUDA and CUDA has a
    device for LOCAL_RANK, else gloo. FaceswapError for --device cuda without one, and for mps."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1 or "RANK" not in os.environ:
        return None
    local = int(os.environ.get("LOCAL_RANK", "0"))
    gpu = torch.cuda.is_available() and torch.cuda.device_count() > local
    if device == "mps" or (device == "cuda" and not gpu):
        raise FaceswapError(f"--device {device}: this torchrun process (LOCAL_RANK {local}) has no such device; "
                            f"DDP runs on CUDA GPUs (one per process) or the CPU")
    return Rank(int(os.environ["RANK"]), world, local, "nccl" if gpu and device != "cpu" else "gloo")


def plan(processes: int, device: str) -> str:
    """The backend for `processes` ranks on this machine asked to train on `device` (TrainConfig.device):
    "nccl" when CUDA has that many devices, else "gloo" on the CPU. FaceswapError for --device cuda
    with too few GPUs and for mps (DDP has no MPS backend)."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "mps":
        raise FaceswapError("--ddp runs on CUDA GPUs or the CPU, not mps: use --device cpu or cuda")
    if device in ("auto", "cuda") and gpus >= processes:
        return "nccl"
    if device == "cuda":
        raise FaceswapError(f"--ddp {processes} --device cuda needs {processes} CUDA GPUs, this machine has {gpus}")
    if device == "auto" and gpus:
        log.warning("%d CUDA GPU(s) for %d processes: training on the CPU with gloo", gpus, processes)
    if processes > (os.cpu_count() or 1):
        log.warning("%d processes on %d CPU cores: they will take turns, slower than fewer", processes,
                    os.cpu_count() or 1)
    return "gloo"


def shard(faces: FacesetArrays, rank: int, world: int) -> FacesetArrays:
    """Rank `rank`'s share of a faceset: every `world`-th face from the rank-th (views, no copy); shards of
    different ranks are disjoint and together hold every face. FaceswapError when a rank would get none."""
    if len(faces) < world:
        raise FaceswapError(f"{faces.folder} has {len(faces)} faces: training on {world} processes needs at "
                            f"least one face per process")
    return replace(faces, images=faces.images[rank::world], landmarks=faces.landmarks[rank::world],
                   paths=faces.paths[rank::world],
                   covered=None if faces.covered is None else faces.covered[rank::world])


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of a module's state_dict (names and float bytes, in order): equal on ranks in step."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class BothSides(torch.nn.Module):
    """Both identities' forward passes as ONE module call, so DDP sees each swap parameter used once in
    every step and needs no unused-parameter search (two calls of the model, each using one decoder,
    would make find_unused_parameters=True mark the other decoder ready twice)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor):
        return self.model(x_a, "a"), self.model(x_b, "b")


class _DDP(DistributedDataParallel):
    """DDP that saves and loads its module's state under the module's own names (no "module." prefix),
    so checkpoints stay those of a single-process run."""

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return self.module.load_state_dict(state_dict, strict, assign)


class DistributedTrainer(Trainer):
    """The Trainer on one rank: DDP around the model (and discriminator), a shard of the data, writes
    only on rank 0, stop and NaN decisions taken by all ranks together."""

    def __init__(self, rank: Rank, *args: Any, progress: bool = True, **kwargs: Any) -> None:
        self.rank = rank
        self.world = rank.world_size
        self.writes = rank.rank == 0
        super().__init__(*args, progress=progress and self.writes, **kwargs)
        for faces in self.faces.values():    # a faceset too small for the shards: say so before any step
            shard(faces, rank.rank, rank.world_size)
        ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None   # run_rank set it
        self._both = _DDP(BothSides(self.forward), device_ids=ids, gradient_as_bucket_view=True)
        if self.disc is not None:
            self.disc = _DDP(self.disc, device_ids=ids, gradient_as_bucket_view=True)
        self._flag = torch.zeros(1, dtype=torch.int64, device=self.device)

    def _render(self, x_a: torch.Tensor, x_b: torch.Tensor):
        return self._both(x_a, x_b)

    def _all_max(self, value: int) -> int:
        self._flag.fill_(value)
        dist.all_reduce(self._flag, op=dist.ReduceOp.MAX)
        return int(self._flag.item())

    def _finite(self, loss: torch.Tensor) -> bool:
        # one rank's NaN would reach every rank through the averaged gradients: all roll back or none
        return self._all_max(int(not torch.isfinite(loss))) == 0

    def _should_stop(self, start: float) -> str:
        # Ctrl-C, SIGTERM and the time limit reach the ranks at different steps: stop where the first saw one
        return STOPS[self._all_max(STOPS.index(super()._should_stop(start)))]

    def _progress(self, start: float, start_iteration: int) -> float:
        # every rank must step with the same rate: the clocks differ a little, so the furthest one counts
        return self._all_max(round(super()._progress(start, start_iteration) * 1e6)) / 1e6

    def loaders(self):
        cfg, r, n = self.cfg, self.rank.rank, self.rank.world_size
        settings = dict(device=self.device, seed=cfg.seed, eyes_weight=cfg.eyes_weight, mouth_weight=cfg.mouth_weight,
                        warp=cfg.warp, workers=cfg.workers, occlusion=self.model_cfg.occlusion,
                        covered_weight=cfg.covered_weight)
        detail = shard(self.detail_faces, r, n) if self.detail_faces is not None else None
        # rank 0 draws the streams of a single-process run; rank r its own pair
        return (make_loader(shard(self.faces["a"], r, n), self.model_cfg, cfg.batch_size, seed_offset=2 * r,
                            **settings),
                make_loader(shard(self.faces["b"], r, n), self.model_cfg, cfg.batch_size, seed_offset=2 * r + 1,
                            detail=detail, **settings))


def describe(rank: Rank, batch_size: int) -> str:
    """The log line that says how a distributed run trains."""
    where = "one CUDA GPU each, NCCL" if rank.backend == "nccl" else "gloo on the CPU"
    return (f"DistributedDataParallel: {rank.world_size} processes ({where}); --batch-size {batch_size} is per "
            f"process: {batch_size * rank.world_size} faces of each identity per step in all")


def run_rank(rank: Rank, faceset_a: str | Path, faceset_b: str | Path, model_dir: str | Path,
             model_cfg: ModelConfig | None, train_cfg: TrainConfig, from_backup: bool = False,
             progress: bool = True, master: tuple[str, int] | None = None) -> RankResult:
    """Join the process group (from `master` (address, port), or from torchrun's environment), train this
    rank's share to the end, and leave the group. Raises what the Trainer raises (FaceswapError)."""
    if rank.rank != 0:
        logging.getLogger(LOGGER_NAME).setLevel(logging.ERROR)
    if rank.backend == "nccl":
        torch.cuda.set_device(rank.local_rank)
        train_cfg = replace(train_cfg, device="cuda")
    else:
        train_cfg = replace(train_cfg, device="cpu")
        local = int(os.environ.get("LOCAL_WORLD_SIZE", rank.world_size))
        if "OMP_NUM_THREADS" not in os.environ:  # N processes each with every core would fight over them
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    init = f"tcp://{master[0]}:{master[1]}" if master else "env://"
    dist.init_process_group(rank.backend, init_method=init, rank=rank.rank, world_size=rank.world_size,
                            timeout=TIMEOUT)
    try:
        if rank.rank == 0:
            log.info(describe(rank, train_cfg.batch_size))
        trainer = DistributedTrainer(rank, faceset_a, faceset_b, model_dir, model_cfg, train_cfg,
                                     from_backup=from_backup, progress=progress)
        summary = replace(trainer.run(), rank=rank.rank)
        result = RankResult(rank.rank, summary, weights_sha256(trainer.model))
        dist.barrier()    # rank 0 hosts the rendezvous store: nobody leaves before all are done
        return result
    finally:
        dist.destroy_process_group()


# -- `--ddp N`: spawn the ranks on this machine ---------------------------------------------

def free_port() -> int:
    """A TCP port free on this machine now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawned(index: int, world: int, backend: str, port: int, results: Any, log_level: int,
             args: tuple, kwargs: dict) -> None:
    """A spawned rank: run it, and hand its result or its error to the launcher through `results`."""
    setup_logging(logging.getLevelName(log_level))
    rank = Rank(index, world, index, backend)
    try:
        results.put(("ok", index, run_rank(rank, *args, master=("127.0.0.1", port), **kwargs)))
    except FaceswapError as err:
        results.put(("error", index, str(err), err.exit_code))
        sys.exit(err.exit_code)
    except KeyboardInterrupt:    # before training began (it catches its own): nothing to save
        sys.exit(130)
    except Exception:            # a bug, or a collective broken by another rank's end: keep the traceback
        results.put(("crash", index, traceback.format_exc(), 1))
        sys.exit(1)


def launch(processes: int, faceset_a: str | Path, faceset_b: str | Path, model_dir: str | Path,
           model_cfg: ModelConfig | None, train_cfg: TrainConfig, from_backup: bool = False,
           progress: bool = True) -> list[RankResult]:
    """Train on `processes` spawned ranks on this machine; the RankResult of each, rank 0 first.

    Ctrl-C and SIGTERM are passed on to the ranks, which stop at the same step; rank 0 saves. When a rank
    fails the others are stopped (SIGTERM, then SIGKILL after GRACE_S) and FaceswapError raised with its
    message: a FaceswapError's own line, else the traceback of the first rank that crashed.
    """
    backend = plan(processes, train_cfg.device)
    log.info("starting %d training processes", processes)
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    args = (faceset_a, faceset_b, model_dir, model_cfg, train_cfg)
    procs = mp.start_processes(_spawned, nprocs=processes, join=False, start_method="spawn",
                               args=(processes, backend, free_port(), results,
                                     logging.getLogger(LOGGER_NAME).getEffectiveLevel(), args,
                                     {"from_backup": from_backup, "progress": progress})).processes
    received: list[tuple] = []
    with _forward_signals(procs):
        _wait(procs, results, received)
    while not results.empty():
        received.append(results.get())
    done = sorted((r[2] for r in received if r[0] == "ok"), key=lambda r: r.rank)
    if len(done) == processes:
        return done
    errors = sorted((r for r in received if r[0] != "ok"), key=lambda r: (r[0] != "error", r[1]))
    if errors:
        raise FaceswapError(errors[0][2].strip(), errors[0][3])
    codes = [p.exitcode for p in procs]
    if any(c in (130, -signal.SIGINT) for c in codes):
        raise KeyboardInterrupt
    raise FaceswapError(f"training processes ended without a result (exit codes {codes})")


def _wait(procs: list, results: Any, received: list[tuple]) -> None:
    """Until every process has ended; when one fails, end the rest."""
    failed_at = None
    while any(p.is_alive() for p in procs):
        wait([p.sentinel for p in procs if p.is_alive()], timeout=0.5)
        while not results.empty():   # keep the pipe drained: a rank blocks on a full one
            received.append(results.get())
        if failed_at is None and any(p.exitcode not in (None, 0) for p in procs):
            failed_at = time.monotonic()
            for p in procs:
                if p.is_alive():
                    p.terminate()
        if failed_at is not None and time.monotonic() - failed_at > GRACE_S:
            for p in procs:
                if p.is_alive():
                    p.kill()
    for p in procs:
        p.join()


@contextlib.contextmanager
def _forward_signals(procs: list):
    """Within the block, Ctrl-C and SIGTERM to the launcher go on to the ranks (which stop at the same
    step and save) instead of stopping the launcher. (A terminal's Ctrl-C reaches the ranks too: they
    take a second one as the first.)"""
    def forward(signum: int, _frame: Any) -> None:
        for p in procs:
            if p.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signum)

    with handling((signal.SIGINT, signal.SIGTERM), forward):
        yield


def train(faceset_a: str | Path, faceset_b: str | Path, model_dir: str | Path, model_cfg: ModelConfig | None,
          train_cfg: TrainConfig, processes: int | None = None, from_backup: bool = False,
          progress: bool = True) -> TrainSummary:
    """Train with DDP: as this torchrun rank when torchrun started the process, else on `processes` ranks
    spawned here (`launch`). The summary of this rank (torchrun) or of rank 0 (launch), whose
    samples_per_second counts the samples of all ranks. FaceswapError for --ddp under torchrun."""
    rank = torchrun_rank(train_cfg.device)
    if rank is not None:
        if processes and processes > 1:
            raise FaceswapError("--ddp under torchrun: torchrun already starts the processes; drop --ddp")
        return run_rank(rank, faceset_a, faceset_b, model_dir, model_cfg, train_cfg, from_backup, progress).summary
    if processes is None or processes < 1:
        raise FaceswapError(f"--ddp must be 1 or more (got {processes})")
    return launch(processes, faceset_a, faceset_b, model_dir, model_cfg, train_cfg, from_backup, progress)[0].summary


__all__ = ["BothSides", "DistributedTrainer", "Rank", "RankResult", "launch", "plan", "run_rank", "shard",
           "torchrun_rank", "train", "weights_sha256"]
