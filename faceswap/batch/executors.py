"""Where batch tasks run: in this process, in local worker processes, or as Ray tasks.

The runner sees one small contract, `Executor`: `submit(fn, *args, resources=...)` gives a
`concurrent.futures.Future`, `close(cancel=...)` ends the run. A task is a module-level
function taking picklable arguments (paths, dicts, options records); its exception comes back
through its Future with its own type and message, whichever executor ran it.

    make_executor(1)                 InlineExecutor: the task runs when submitted, here
    make_executor(N)                 ProcessExecutor: N spawned worker processes
    make_executor(N, "ray")          RayExecutor: a local Ray instance of N CPUs, or the cluster
                                     at RAY_ADDRESS when that is set
    make_executor(N, "ray://H:P")    RayExecutor: the Ray cluster at H:P (Ray Client)

Frames done inside a task reach the runner through `worker.report_frames` /
`worker.frames_reported` for the inline and process executors (`live_frames` True); a Ray
task's frames are counted by the runner when the task completes (`live_frames` False).
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import FaceswapError
from ..log import LOGGER_NAME, get_logger
from . import worker

log = get_logger(__name__)

RAY_MISSING = "--cluster ray needs Ray: pip install 'faceswap[cluster]'"
# Seconds a stopped worker gets to clean up (convert: end its reader and ffmpeg writer, remove
# the partial file) before it is killed: 3 s for two converts on a loaded 2-core machine here.
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class Resources:
    """What one task needs: CPU cores and GPUs (fractions allowed, as Ray counts them). Ray
    schedules by it; a local pool runs one task per worker whatever it asks."""

    cpus: float = 1.0
    gpus: float = 0.0


class Executor(Protocol):
    """Runs tasks; see the module docstring."""

    workers: int          # tasks that can run at once
    live_frames: bool     # True: tasks' report_frames reach worker.frames_reported while they run

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               resources: Resources = Resources()) -> concurrent.futures.Future: ...

    def close(self, cancel: bool = False) -> None: ...


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class InlineExecutor:
    """`--jobs 1`: each task runs in this process when it is submitted; `submit` returns a
    finished Future. An exception of the task goes into the Future; KeyboardInterrupt (Ctrl-C,
    or SIGTERM under api.terminate_as_interrupt) is not caught and stops the runner."""

    workers = 1
    live_frames = True

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               resources: Resources = Resources()) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args))
        except Exception as err:   # noqa: BLE001 - any failure of a task is that task's result
            future.set_exception(err)
        return future

    def close(self, cancel: bool = False) -> None:
        """Nothing to stop: every task finished in `submit`."""


class ProcessExecutor:
    """`--jobs N`: N worker processes on this machine (spawned: torch's threads do not survive
    a fork), each loading a model once (`worker.cached_swapper`) and using its share of the
    cores for torch. Tasks queue until a worker is free."""

    live_frames = True

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise FaceswapError(f"--jobs must be at least 1 (got {workers})")
        self.workers = workers
        self._futures: list[concurrent.futures.Future] = []
        context = multiprocessing.get_context("spawn")
        self._frames = context.Queue()
        worker.listen(self._frames)
        self._pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=worker.init_pool_worker,
            initargs=(self._frames, _cores() // workers,
                      logging.getLevelName(logging.getLogger(LOGGER_NAME).getEffectiveLevel())))

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               resources: Resources = Resources()) -> concurrent.futures.Future:
        self._futures = [f for f in self._futures if not f.done()]
        future = self._pool.submit(worker.run_task, fn, args)
        self._futures.append(future)
        return future

    def close(self, cancel: bool = False) -> None:
        """cancel False: wait for every submitted task. cancel True (Ctrl-C): drop the queued
        tasks, send each worker SIGTERM (its running task raises KeyboardInterrupt and cleans
        up: convert removes its partial output), wait up to STOP_GRACE_S, then kill."""
        try:
            if not cancel:
                self._pool.shutdown(wait=True)
                return
            # the pool's own list of its processes (Python 3.14 adds terminate_workers() for this)
            procs = dict(getattr(self._pool, "_processes", None) or {})
            reaper = getattr(self._pool, "_executor_manager_thread", None)
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs.values():
                proc.terminate()   # SIGTERM
            deadline = time.monotonic() + STOP_GRACE_S
            # the running tasks clean up and end; then a worker waits for the pool's stop message,
            # which a busy machine can hold back: a second SIGTERM, outside any task, ends it at once
            concurrent.futures.wait(self._futures, timeout=STOP_GRACE_S)
            for proc in procs.values():
                if not _ended(proc):
                    proc.terminate()
            # the processes' sentinels say when they end; is_alive()/join() would call waitpid,
            # which races with the pool's own thread reaping the same workers (one of two waitpid
            # calls on a pid gets ECHILD, and is_alive() then says True of a process long gone)
            left = [p.sentinel for p in procs.values()]
            while left and time.monotonic() < deadline:
                ended = multiprocessing.connection.wait(left, max(0.0, deadline - time.monotonic()))
                left = [s for s in left if s not in ended]
            for proc in procs.values():
                if not _ended(proc):
                    log.warning("worker %d did not stop in %.0f s: killed", proc.pid, STOP_GRACE_S)
                    proc.kill()
                    multiprocessing.connection.wait([proc.sentinel], 10.0)
            # every worker has ended: the pool's thread reaps them and stops (exit codes set)
            if reaper is not None and all(_ended(p) for p in procs.values()):
                reaper.join(STOP_GRACE_S)
        finally:
            worker.unlisten(self._frames)


def _ended(proc: multiprocessing.process.BaseProcess) -> bool:
    """Whether a worker process has exited, read from its sentinel (no waitpid: see close)."""
    return bool(multiprocessing.connection.wait([proc.sentinel], 0))


class RayExecutor:
    """`--cluster ray`: tasks run as Ray tasks with `num_cpus`/`num_gpus` from their Resources.

    address None: a local Ray instance of `cpus` CPUs (started here, shut down by `close`).
    "ray://HOST:PORT", "HOST:PORT" or "auto": connect to that cluster (Ray Client for ray://);
    the cluster's nodes must see the same paths (a shared filesystem) and have faceswap
    installed. A Ray already initialised in this process (a user's script) is used as it is
    and left running."""

    live_frames = False

    def __init__(self, address: str | None = None, cpus: int | None = None) -> None:
        ray = _import_ray()
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
            try:
                if address is None:
                    ray.init(num_cpus=cpus or _cores(), include_dashboard=False, **quiet)
                else:
                    ray.init(address=address, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as err:
                what = f"reach the Ray cluster at {address}" if address else "start a local Ray instance"
                reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise FaceswapError(f"cannot {what}: {reason}") from None
        # a local instance's CPUs are known; a cluster's are what its nodes have (at connect time)
        local = (cpus or _cores()) if address is None and self._started else None
        self._own_instance = local is not None
        self.workers = local or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Ray would keep a task that asks for more GPUs than the cluster has pending for ever
        self._gpus = float(ray.cluster_resources().get("GPU", 0))
        self._remotes: dict[Resources, Any] = {}
        self._pending: dict[Any, concurrent.futures.Future] = {}
        self._lock = threading.Lock()   # Ray completes futures from its own thread

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               resources: Resources = Resources()) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        if resources.gpus > self._gpus:
            future.set_exception(FaceswapError(f"the task asks for {resources.gpus:g} GPU; the Ray cluster has "
                                               f"{self._gpus:g} (use device cpu, or a cluster with GPUs)"))
            return future
        remote = self._remotes.get(resources)
        if remote is None:
            # max_retries 0: a failed shot is retried by the runner (--retries), not twice over
            remote = self._remotes[resources] = self._ray.remote(
                num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=0)(worker.run_ray_task)
        ref = remote.remote(fn, args)
        with self._lock:
            self._pending[ref] = future
        ref.future().add_done_callback(lambda done, ref=ref: self._finish(ref, done))
        return future

    def _finish(self, ref: Any, done: concurrent.futures.Future) -> None:
        # The task's own exception, not Ray's wrapper (whose text holds the remote traceback):
        # the report shows the same one-line error as a local run.
        with self._lock:
            future = self._pending.pop(ref, None)
        if future is None:
            return
        err = done.exception()
        if err is None:
            future.set_result(done.result())
        else:
            cause = getattr(err, "cause", None)
            future.set_exception(cause if isinstance(cause, BaseException) else err)

    def close(self, cancel: bool = False) -> None:
        """cancel False: wait for the submitted tasks. cancel True: Ray's cancel raises
        KeyboardInterrupt in each running task (convert removes its partial output); those
        still running after STOP_GRACE_S are killed. Shuts Ray down when it was started here."""
        with self._lock:
            refs = list(self._pending)
        ray = self._ray
        try:
            if refs and cancel:
                for ref in refs:
                    ray.cancel(ref)
                deadline = time.monotonic() + STOP_GRACE_S
                _, left = ray.wait(refs, num_returns=len(refs), timeout=STOP_GRACE_S)
                for ref in left:
                    ray.cancel(ref, force=True)
                if self._own_instance:
                    # a task's CPU comes back when its worker is through with it, cleanup included;
                    # shutting down before that would cut a cleanup short, so wait (up to the grace
                    # time) for every CPU of the instance this executor started to be free again
                    total = ray.cluster_resources().get("CPU", 0)
                    while ray.available_resources().get("CPU", 0) < total and time.monotonic() < deadline:
                        time.sleep(0.05)
            elif refs:
                ray.wait(refs, num_returns=len(refs))
        finally:
            if self._started:
                ray.shutdown()
            # Ray says nothing more about tasks cut short by the shutdown
            with self._lock:
                cut, self._pending = list(self._pending.values()), {}
            for future in cut:
                future.set_exception(KeyboardInterrupt("the Ray run was stopped"))


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise FaceswapError(RAY_MISSING) from None
    return ray


def make_executor(jobs: int = 1, cluster: str | None = None) -> Executor:
    """The executor for `--jobs JOBS [--cluster CLUSTER]` (see the module docstring).

    cluster "ray": the cluster at $RAY_ADDRESS when that is set (Ray's own convention),
    otherwise a local Ray instance of `jobs` CPUs (all the cores when jobs is 1).
    RAY_ADDRESS alone, without `--cluster`, changes nothing: a local batch stays local.
    Raises FaceswapError for jobs < 1, an unknown cluster, Ray not installed, or a cluster
    that cannot be reached.
    """
    if jobs < 1:
        raise FaceswapError(f"--jobs must be at least 1 (got {jobs})")
    if cluster is None:
        return InlineExecutor() if jobs == 1 else ProcessExecutor(jobs)
    if cluster == "ray":
        address = os.environ.get("RAY_ADDRESS") or None
        return RayExecutor(address, None if address or jobs == 1 else jobs)
    if cluster.startswith("ray://"):
        return RayExecutor(cluster)
    raise FaceswapError(f"--cluster must be 'ray' or ray://HOST:PORT (got {cluster!r})")


__all__ = ["RAY_MISSING", "STOP_GRACE_S", "Executor", "InlineExecutor", "ProcessExecutor", "RayExecutor",
           "Resources", "make_executor"]
