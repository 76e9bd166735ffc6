"""What runs inside a batch worker: the model cache, frame progress back to the runner, and the
wrapper every task runs in.

One module for both ends of a worker pool. In a task (a worker process, a Ray worker, or the
runner itself when `--jobs 1`) `cached_swapper` gives the loaded model and `report_frames`
counts frames; on the runner `frames_reported` collects those counts. Where the counts travel
is set by whoever started the process: `init_pool_worker` (a local pool: a multiprocessing
queue), `run_ray_task` (nowhere: the runner counts a Ray task's frames when it completes), or
nothing (the runner's own process: a plain counter).

Nothing heavy at module level: a spawned worker imports this module before its first task,
and torch loads only with the first model.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue as queue_module
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..interrupts import terminate_as_interrupt
from ..log import setup_logging

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    from ..convert.swapper import Swapper

# Models a worker keeps loaded: a manifest may give some shots another model, and going back
# and forth between two should not reload; more would hold memory for models no shot uses.
MODELS_KEPT = 2

_swappers: OrderedDict[tuple[str, str], Swapper] = OrderedDict()
_sink: Callable[[int], None] | None = None   # set in pool workers (queue.put) and Ray workers (None)
_pool_worker = False
_counted = 0                                 # frames reported in this process with no sink
_listener: Callable[[int], None] | None = None  # runner side: inline tasks' frames, as they come
_listening: list[Queue] = []                 # runner side: the queues of the pools it runs
_runner: int | None = None                   # a pool worker: its runner's pid
_stopping = False                            # a pool worker told to stop starts no further task
_threads: int | None = None                  # torch threads of a pool worker (its share of the cores)


def cached_swapper(model_dir: str | Path, device: str) -> Swapper:
    """The `convert.swapper.Swapper` of MODEL_DIR on `device` ("auto", "cpu", "cuda", ...),
    loaded once per process: later calls with the same folder and device return the same
    object. Keeps the last MODELS_KEPT models. Raises what `Swapper` raises (FaceswapError for
    a missing or broken model folder)."""
    key = (str(Path(model_dir).resolve()), device)
    swapper = _swappers.get(key)
    if swapper is not None:
        _swappers.move_to_end(key)
        return swapper
    import torch

    from ..convert.swapper import Swapper
    if _threads is not None:
        torch.set_num_threads(_threads)
    swapper = _swappers[key] = Swapper(model_dir, device)
    while len(_swappers) > MODELS_KEPT:
        _swappers.popitem(last=False)
    return swapper


def report_frames(n: int) -> None:
    """In a task: `n` more frames are done (the runner's frame bar). Cheap enough to call per
    batch of frames; `Converter(on_frames=report_frames)` does."""
    global _counted
    if _sink is not None:
        _sink(n)
    elif _listener is not None:
        _listener(n)
    elif not _pool_worker:
        _counted += n


def set_listener(listener: Callable[[int], None] | None) -> None:
    """Runner side: frames of tasks run in this process (InlineExecutor) go to `listener` as they
    are written (the frame bar); worker processes' frames still come through `frames_reported`."""
    global _listener
    _listener = listener


def frames_reported() -> int:
    """On the runner: frames reported since the last call, by tasks run inline and by every
    worker of the local pools this process has open. Ray tasks report nothing here (see the
    module docstring)."""
    global _counted
    total, _counted = _counted, 0
    for q in _listening:
        total += _drain(q)
    return total


def _drain(q: Queue) -> int:
    total = 0
    with contextlib.suppress(queue_module.Empty, OSError, ValueError):   # closed: nothing more to read
        while True:
            total += q.get_nowait()
    return total


def listen(q: Queue) -> None:
    """Runner side: count the frames the workers put on `q` in `frames_reported`."""
    _listening.append(q)


def unlisten(q: Queue) -> None:
    """Runner side: stop reading `q`; frames still on it count in the next `frames_reported`."""
    global _counted
    if q in _listening:
        _listening.remove(q)
        _counted += _drain(q)


def init_pool_worker(frames: Queue, threads: int, log_level: str) -> None:
    """Initializer of a local pool's worker process: frames go to `frames`, torch uses
    `threads` threads (the worker's share of the cores: N workers on N cores each with N
    threads would fight over them), the package logs at the runner's `log_level`, and Ctrl-C
    is left to the runner, which stops the workers with SIGTERM (`run_task`) so that a
    terminal's SIGINT to the whole process group does not print a traceback from each idle
    worker. The worker's fd 2 is the runner's, filter of native chatter included. On Linux
    the worker also gets SIGTERM when the runner dies (kill -9 of a batch on a farm), so it
    removes its partial segment and exits instead of converting on as an orphan."""
    global _sink, _threads, _pool_worker, _runner
    _sink, _threads, _pool_worker, _runner = frames.put, max(1, threads), True, os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    setup_logging(log_level)


def _die_with_parent() -> None:
    # prctl(PR_SET_PDEATHSIG, SIGTERM): Linux only; elsewhere an orphan finishes its task and the
    # pool's broken pipe ends it
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
        if os.getppid() == 1:   # the runner died before the call
            os.kill(os.getpid(), signal.SIGTERM)


def _stop() -> None:
    global _stopping
    _stopping = True


def run_task(fn: Callable[..., Any], args: tuple) -> Any:
    """What a local pool worker runs: `fn(*args)`, SIGTERM raising KeyboardInterrupt inside it.
    Raises KeyboardInterrupt at once when the worker was already told to stop (a task queued
    to it before the stop must not start)."""
    if _stopping:
        raise KeyboardInterrupt(f"worker {os.getpid()} is stopping")
    # a task told to stop cleans up as after Ctrl-C (convert removes its partial output); the
    # worker then starts nothing more
    try:
        with terminate_as_interrupt(on_signal=_stop):
            return fn(*args)
    finally:
        if _stopping and _runner is not None and os.getppid() != _runner:
            # the runner died (kill -9; PDEATHSIG sent the SIGTERM): no one will read a result or
            # send the pool's stop message, so the worker ends here rather than wait as an orphan
            os._exit(1)


def run_ray_task(fn: Callable[..., Any], args: tuple) -> Any:
    """What a Ray task runs: `fn(*args)` with `report_frames` a no-op (the runner counts a Ray
    task's frames from its result). Ray's own cancel raises KeyboardInterrupt in the task by
    `_thread.interrupt_main()`, which does nothing where SIGINT is ignored: the workers of a Ray
    started by a runner in the background (`cmd &`, whose children start with SIGINT ignored)
    would never hear it and be killed without cleaning up, so Python's own handler is put back."""
    global _sink, _pool_worker
    _sink, _pool_worker = None, True
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return fn(*args)


__all__ = ["MODELS_KEPT", "cached_swapper", "frames_reported", "init_pool_worker", "listen", "report_frames",
           "run_ray_task", "run_task", "set_listener", "unlisten"]
