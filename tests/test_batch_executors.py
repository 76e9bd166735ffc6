"""Batch executors: inline, local worker processes, Ray; the worker's model cache and frame
progress; Ctrl-C stopping the workers with their cleanup; Ray missing."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswap.batch import worker
from faceswap.batch.executors import (
    RAY_MISSING,
    InlineExecutor,
    ProcessExecutor,
    Resources,
    make_executor,
)
from faceswap.errors import FaceswapError

# -- tasks: module-level, so spawned workers and Ray import them by name -------------------------


def _pid_span(seconds: float) -> tuple[int, float, float]:
    start = time.time()
    time.sleep(seconds)
    return os.getpid(), start, time.time()


def _fail(message: str) -> None:
    raise FaceswapError(message)


def _frames(n: int, times: int) -> int:
    for _ in range(times):
        worker.report_frames(n)
    return os.getpid()


def _swapper_id(model_dir: str) -> tuple[int, int]:
    return os.getpid(), id(worker.cached_swapper(model_dir, "cpu"))


def _partial_file(path: str) -> None:
    """Writes a partial output, works a long time, removes it on KeyboardInterrupt (as convert's
    writer aborts): the file left behind says whether the task's cleanup ran."""
    out = Path(path)
    try:
        # written inside the try: the test cancels as soon as the file exists, and a cancel that
        # lands while write_text is still closing the file (a worker descheduled on a loaded
        # machine) must find the cleanup in place; outside it, that left the file behind (CI, once
        # in a few runs)
        out.write_text("partial")
        for _ in range(1200):   # Python code running, as in convert: Ray's cancel interrupts between bytecodes
            time.sleep(0.1)
    except KeyboardInterrupt:
        Path(path + ".interrupted").touch()   # says, when the file stays, that the interrupt did arrive
        out.unlink(missing_ok=True)
        raise


def _render(model_dir: str, crop_png: str) -> np.ndarray:
    """The model's B face for one faceset crop (RGB float32): deterministic for one model."""
    swapper = worker.cached_swapper(model_dir, "cpu")
    image = cv2.imread(crop_png)[:, :, ::-1]
    crop = cv2.resize(image, (swapper.size, swapper.size), interpolation=cv2.INTER_AREA)
    rgb, _ = swapper.render(crop[None], "b")
    return rgb[0]


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool():
    """Two spawned workers shared by the tests below (each spawn imports torch: seconds)."""
    executor = ProcessExecutor(2)
    yield executor
    executor.close()


def test_worker_modules_import_nothing_heavy():
    # a spawned worker imports these before its first task; torch comes with the first model
    code = ("import sys, faceswap.batch.executors, faceswap.batch.worker; "
            "print(sorted(m for m in ('torch', 'cv2', 'ray', 'faceswap.convert') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


# -- inline --------------------------------------------------------------------------------------


def test_inline_runs_in_this_process_when_submitted():
    executor = make_executor(1)
    assert isinstance(executor, InlineExecutor) and executor.workers == 1
    future = executor.submit(_pid_span, 0.0)
    assert future.done() and future.result()[0] == os.getpid()
    failed = executor.submit(_fail, "sh010: no such model folder")
    assert isinstance(failed.exception(), FaceswapError) and str(failed.exception()) == "sh010: no such model folder"
    worker.frames_reported()
    executor.submit(_frames, 5, 3)
    assert worker.frames_reported() == 15 and worker.frames_reported() == 0
    executor.close()


# -- local worker processes ----------------------------------------------------------------------


def test_two_tasks_run_at_once_in_two_workers(pool):
    futures = [pool.submit(_pid_span, 2.0) for _ in range(2)]
    (pid1, start1, end1), (pid2, start2, end2) = (f.result(timeout=120) for f in futures)
    assert len({pid1, pid2, os.getpid()}) == 3
    assert start2 < end1 and start1 < end2, "the two tasks did not overlap"


def test_a_task_exception_comes_back_with_its_message(pool):
    future = pool.submit(_fail, "sh020: the model is 64 px, the shot asks for 128")
    err = future.exception(timeout=120)
    assert type(err) is FaceswapError and str(err) == "sh020: the model is 64 px, the shot asks for 128"
    assert pool.submit(_pid_span, 0.0).result(timeout=60)[0] != os.getpid()   # the worker lives on


def test_frames_reported_from_worker_processes(pool):
    worker.frames_reported()
    pids = {f.result(timeout=120) for f in [pool.submit(_frames, 4, 10) for _ in range(6)]}
    assert os.getpid() not in pids
    total, deadline = 0, time.monotonic() + 10
    while total < 240 and time.monotonic() < deadline:   # the frames queue is not ordered with the results
        total += worker.frames_reported()
        time.sleep(0.05)
    assert total == 240


def test_model_loaded_once_per_worker(pool, swap_model):
    results = [f.result(timeout=300) for f in [pool.submit(_swapper_id, str(swap_model)) for _ in range(4)]]
    by_pid: dict[int, set[int]] = {}
    for pid, ident in results:
        by_pid.setdefault(pid, set()).add(ident)
    assert os.getpid() not in by_pid
    assert all(len(ids) == 1 for ids in by_pid.values()), by_pid


def test_cancel_stops_workers_and_the_task_cleans_up(tmp_path):
    executor = ProcessExecutor(1)
    running, queued = tmp_path / "running.partial", tmp_path / "queued.partial"
    first = executor.submit(_partial_file, str(running))
    second = executor.submit(_partial_file, str(queued))
    deadline = time.monotonic() + 120
    while not running.exists():
        assert time.monotonic() < deadline and not first.done(), "the task did not start"
        time.sleep(0.05)
    procs = list(executor._pool._processes.values())
    executor.close(cancel=True)
    # close() has reaped them (through the pool's own thread): exit codes are set
    assert all(p.exitcode is not None for p in procs), [p.exitcode for p in procs]
    # killed (after STOP_GRACE_S) would mean the task did not stop when told to
    assert all(p.exitcode != -signal.SIGKILL for p in procs), [p.exitcode for p in procs]
    assert not running.exists(), "the running task's cleanup did not run"
    assert not queued.exists(), "a queued task started after the stop"
    assert isinstance(first.exception(timeout=10), KeyboardInterrupt)
    assert second.cancelled() or second.exception(timeout=10) is not None


# -- Ray -----------------------------------------------------------------------------------------


def test_ray_missing_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)   # import ray -> ImportError
    with pytest.raises(FaceswapError) as err:
        make_executor(2, "ray")
    assert str(err.value) == RAY_MISSING == "--cluster ray needs Ray: pip install 'faceswap[cluster]'"
    with pytest.raises(FaceswapError, match="--cluster must be 'ray' or ray://HOST:PORT"):
        make_executor(2, "slurm")
    # RAY_ADDRESS matters only with --cluster ray: without it a batch stays on this machine
    monkeypatch.setenv("RAY_ADDRESS", "ray://farm-head:10001")
    assert isinstance(make_executor(1), InlineExecutor)
    local = make_executor(2)   # starts no process until a task is submitted
    assert isinstance(local, ProcessExecutor) and local.workers == 2
    local.close()
    with pytest.raises(FaceswapError, match="--jobs must be at least 1"):
        make_executor(0)


def test_ray_local_instance_gives_the_inline_results(monkeypatch, request, swap_model, tmp_path):
    ray = pytest.importorskip("ray")   # dev installs ray (setup.cfg): CI runs this
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # pytest imports this file from tests/, a folder Ray's workers do not have on their path;
    # faceswap's own tasks (batch/tasks.py) are importable there by name
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    request.addfinalizer(lambda: ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__]))
    crops = sorted((swap_model.parent / "a").glob("*.png"))[:3]
    assert crops
    inline = [make_executor(1).submit(_render, str(swap_model), str(c)).result() for c in crops]
    executor = make_executor(2, "ray")
    try:
        assert ray.is_initialized() and executor.workers == 2 and not executor.live_frames
        futures = [executor.submit(_render, str(swap_model), str(c), resources=Resources(cpus=1)) for c in crops]
        failed = executor.submit(_fail, "sh030: the input is gone")
        done, _ = concurrent.futures.wait(futures + [failed], timeout=300)
        assert len(done) == 4
        for here, there in zip(inline, (f.result() for f in futures)):
            assert here.shape == (swap_model_size(swap_model),) * 2 + (3,)
            # torch's CPU kernels sum in an order set by their thread count (a 1-CPU Ray task runs on one
            # thread): the same render to float rounding, far below an 8-bit level
            assert np.abs(here - there).max() < 1e-5
        assert type(failed.exception()) is FaceswapError and str(failed.exception()) == "sh030: the input is gone"
        have = executor._gpus
        too_many = executor.submit(_pid_span, 0.0, resources=Resources(gpus=have + 1))   # not pending for ever
        # generous timeouts: they return as soon as the answer is there, and a loaded 2-core machine is slow
        assert f"the task asks for {have + 1:g} GPU; the Ray cluster has {have:g}" in str(too_many.exception(timeout=60))
        running = tmp_path / "ray.partial"
        stopped = executor.submit(_partial_file, str(running))
        deadline = time.monotonic() + 120
        while not running.exists():
            assert time.monotonic() < deadline and not stopped.done(), "the Ray task did not start"
            time.sleep(0.05)
    finally:
        executor.close(cancel=True)
    assert not ray.is_initialized()   # started here, so shut down here
    arrived = Path(str(running) + ".interrupted").exists()
    assert not running.exists(), f"the cancelled Ray task's cleanup did not run (its interrupt {'arrived' if arrived else 'never arrived'})"
    assert stopped.exception(timeout=60) is not None


def swap_model_size(model_dir: Path) -> int:
    from faceswap.model.store import load_model_config
    return load_model_config(model_dir)[0].resolution
