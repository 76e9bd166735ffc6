"""Training on two processes with DistributedDataParallel (gloo on the CPU), on the `swap_model`
fixture's real facesets (d19 -> d18): one run through `distributed.launch`, whose ranks report their
weights, then resumed by the CLI's `--ddp 2` and by torchrun, then a Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from faceswap.model.config import ModelConfig
from faceswap.model.store import load_model
from faceswap.train.config import TrainConfig
from faceswap.train.distributed import DistributedTrainer, free_port, launch, weights_sha256

pytestmark = pytest.mark.slow

TINY = ModelConfig(resolution=64, encoder_dims=16, latent_dims=64, decoder_dims=16)
TINY_ARGS = ["--resolution", "64", "--encoder-dims", "16", "--latent-dims", "64", "--decoder-dims", "16"]
ENV = {**os.environ, "GLOG_minloglevel": "2", "OMP_NUM_THREADS": "1"}


def loss_rows(model_dir) -> list[dict[str, str]]:
    with open(model_dir / "loss.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def state_iteration(model_dir) -> int:
    return json.loads((model_dir / "checkpoint" / "state.json").read_text())["iteration"]


def faceswap(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "faceswap", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


@pytest.fixture(scope="module")
def ddp_run(swap_model, tmp_path_factory):
    """A new tiny model trained 30 iterations on 2 gloo ranks: (facesets folder, model folder, RankResults)."""
    root = swap_model.parent
    model_dir = tmp_path_factory.mktemp("ddp") / "m"
    cfg = TrainConfig(batch_size=4, lr=1e-3, iterations=30, save_every=10_000, preview_every=15, workers=0,
                      init="none")
    return root, model_dir, launch(2, root / "a", root / "b", model_dir, TINY, cfg, progress=False)


def test_two_ranks_train_in_step_and_only_rank_0_writes(ddp_run):
    root, model_dir, results = ddp_run
    assert [r.rank for r in results] == [0, 1]
    assert [r.summary.iteration for r in results] == [30, 30]
    # each rank trained on its own shard and augmentation stream; the averaged gradients kept them equal,
    # and equal to what rank 0 saved
    saved = weights_sha256(load_model(model_dir, "cpu").model)
    assert results[0].weights_sha256 == results[1].weights_sha256 == saved
    rows = loss_rows(model_dir)
    assert [int(float(r["iteration"])) for r in rows] == list(range(1, 31))      # one writer, one row a step
    total = [float(r["loss_a"]) + float(r["loss_b"]) for r in rows]
    assert np.mean(total[-5:]) < 0.9 * np.mean(total[:5]), total
    # one checkpoint, one preview per preview step, nothing from rank 1
    assert sorted(os.listdir(model_dir)) == ["checkpoint", "config.json", "identity.json", "loss.csv", "loss.png",
                                             "preview.png", "previews", "references_b.safetensors"]
    assert sorted(os.listdir(model_dir / "previews")) == ["preview_0000015.png", "preview_0000030.png"]
    assert state_iteration(model_dir) == 30
    # samples/s counts both ranks' samples
    s = results[0].summary
    assert s.samples_per_second == pytest.approx(2 * 2 * 4 * 30 / s.seconds, rel=1e-6)


def test_cli_ddp_2_resumes_and_continues_the_iteration_count(ddp_run):
    root, model_dir, _ = ddp_run
    proc = faceswap("train", str(root / "a"), str(root / "b"), "-m", str(model_dir), "--ddp", "2",
                    "--iterations", "40", "--batch-size", "4", "--workers", "0", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "gloo on the CPU" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout.count("iterations 30 -> 40") == 1, proc.stdout
    assert state_iteration(model_dir) == 40
    assert [int(float(r["iteration"])) for r in loss_rows(model_dir)] == list(range(1, 41))
    assert json.loads((model_dir / "checkpoint.bak" / "state.json").read_text())["iteration"] == 30


def test_torchrun_ranks_train_as_one_run(ddp_run):
    """torchrun starts the processes; they find their rank in its environment and only rank 0 reports."""
    root, model_dir, _ = ddp_run
    before = state_iteration(model_dir)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                           "2", "-m", "faceswap", "train", str(root / "a"), str(root / "b"),
                           "-m", str(model_dir), "--iterations", str(before + 5), "--batch-size", "4",
                           "--workers", "0", "--no-progress"],
                          capture_output=True, text=True, env=ENV, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained ") == 1, proc.stdout     # two plain runs would each report
    assert f"iterations {before} -> {before + 5}" in proc.stdout
    assert "2 processes (gloo on the CPU)" in proc.stderr
    assert state_iteration(model_dir) == before + 5
    assert [int(float(r["iteration"])) for r in loss_rows(model_dir)] == list(range(1, before + 6))


def test_ctrl_c_stops_every_rank_and_rank_0_saves(swap_model, tmp_path):
    root, model_dir = swap_model.parent, tmp_path / "m"
    proc = subprocess.Popen([sys.executable, "-m", "faceswap", "train", str(root / "a"), str(root / "b"), "-m",
                             str(model_dir), *TINY_ARGS, "--ddp", "2", "--batch-size", "4", "--workers", "0",
                             "--init", "none", "--no-progress", "--preview-every", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 180
    while time.time() < deadline and not (model_dir / "preview.png").exists() and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)    # to the launcher alone: it passes it on to the ranks
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert state_iteration(model_dir) >= 5
    assert sorted(p.name for p in model_dir.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint"]
    assert "iterations 0 ->" in out


def _decide(index: int, port: int, out: str) -> None:
    """A rank of test_ranks_agree_on_nan_and_stop: only the trainer's collective decisions, no model."""
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=index, world_size=2)
    trainer = DistributedTrainer.__new__(DistributedTrainer)
    trainer.cfg, trainer._flag = TrainConfig(), torch.zeros(1, dtype=torch.int64)
    seen = []
    for nan_on, stop_on in ((1, 1), (None, None), (0, None)):
        trainer._stop_reason = "interrupt" if index == stop_on else ""
        loss = torch.tensor(float("nan") if index == nan_on else 0.5)
        seen.append([trainer._finite(loss), trainer._should_stop(time.monotonic())])
    (Path(out) / f"rank{index}.json").write_text(json.dumps(seen))
    dist.destroy_process_group()


def test_ranks_agree_on_nan_and_stop(tmp_path):
    """A NaN loss or a Ctrl-C seen by one rank is acted on by all (else one would wait for the other forever)."""
    mp.spawn(_decide, args=(free_port(), str(tmp_path)), nprocs=2)
    expected = [[False, "interrupt"], [True, ""], [False, ""]]
    assert [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)] == [expected, expected]
