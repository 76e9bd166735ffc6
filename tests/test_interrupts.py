"""Ctrl-C and SIGTERM held to a safe point: a stop never lands inside a lock the clean-up needs."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from faceswap.interrupts import held_until_safe, terminate_as_interrupt


@pytest.fixture(autouse=True)
def python_handlers():
    """Each test starts from Python's own handlers (Ctrl-C raises KeyboardInterrupt, SIGTERM ends
    the process), whatever an earlier test in the same process left installed."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, h in before.items():
        signal.signal(s, signal.SIG_DFL if h is None else h)


def _signal_self(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # Python runs a handler at the next bytecode: give it the chance to


def test_a_stop_inside_the_block_waits_for_the_safe_point():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with held_until_safe() as held:
            _signal_self(signal.SIGINT)
            for k in range(1000):   # Python code that a KeyboardInterrupt would have cut short
                steps.append(k)
            held.check()
            steps.append("after the check")
    assert len(steps) == 1000 and held.signum == signal.SIGINT


class _StopWhenTaken:
    """A lock that gets Ctrl-C just after it is taken: the moment the hang needs, made certain."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.armed = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._lock.acquire(blocking, timeout)
        if got and self.armed:
            self.armed = False
            signal.raise_signal(signal.SIGINT)   # its handler runs before acquire() returns
        return got

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _queue_with(lock: _StopWhenTaken) -> queue.Queue:
    q: queue.Queue = queue.Queue(maxsize=4)
    q.mutex = lock
    q.not_empty, q.not_full, q.all_tasks_done = (threading.Condition(lock) for _ in range(3))
    return q


def test_a_stop_the_moment_a_queue_is_locked_leaves_it_usable():
    """The hang it prevents (convert's CI run that never ended): Ctrl-C raised between a lock's
    acquire and the `with` that would release it (CPython issue 29988) leaves the queue locked,
    and the clean-up's get() waits for ever. Held, the put finishes and the stop comes at check()."""
    lock = _StopWhenTaken()
    q = _queue_with(lock)
    with pytest.raises(KeyboardInterrupt):
        with held_until_safe() as held:
            lock.armed = True
            q.put("frame")
            held.check()
    assert lock.acquire(timeout=1), "the queue's lock was left held"
    lock.release()
    assert q.get(timeout=1) == "frame"


def test_the_same_stop_unheld_leaves_the_queue_locked():
    """The control: without the block, the same stop does leave the lock held (so the test above
    can fail)."""
    lock = _StopWhenTaken()
    q = _queue_with(lock)
    with pytest.raises(KeyboardInterrupt):
        lock.armed = True
        q.put("frame")
    assert not lock.acquire(timeout=0.2)
    lock._lock.release()


def test_sigterm_under_terminate_as_interrupt_is_held_and_then_runs_its_handler():
    told: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with terminate_as_interrupt(on_signal=lambda: told.append("stop")):
            with held_until_safe() as held:
                _signal_self(signal.SIGTERM)
                assert told == []   # not yet: the batch worker hears it at the safe point
                held.check()
    assert told == ["stop"]


def test_a_stop_after_the_last_check_is_raised_when_the_block_ends():
    before = signal.getsignal(signal.SIGINT)
    done = False
    with pytest.raises(KeyboardInterrupt):
        with held_until_safe():
            _signal_self(signal.SIGINT)
            done = True
    assert done and signal.getsignal(signal.SIGINT) == before


_TWICE = """
import os, signal, sys, time
from faceswap.interrupts import held_until_safe
with held_until_safe() as held:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.1)
    print("held", flush=True)
    os.kill(os.getpid(), signal.SIG{second})
    time.sleep(0.5)
    print("not reached", flush=True)
"""


@pytest.mark.parametrize("second", ["INT", "TERM"])
def test_a_second_stop_ends_the_process_at_once(second):
    """A second Ctrl-C (or a batch runner's second SIGTERM) does not wait for the safe point, nor
    raise inside a clean-up it could hang: the process ends by the signal."""
    proc = subprocess.run([sys.executable, "-c", _TWICE.format(second=second)], capture_output=True, text=True,
                          timeout=60, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.split() == ["held"], (proc.stdout, proc.stderr)
    assert proc.returncode == -getattr(signal, f"SIG{second}")


_WORKER = """
import os, signal, time
from faceswap.interrupts import held_until_safe, terminate_as_interrupt
signal.signal(signal.SIGINT, signal.SIG_IGN)   # as a batch pool worker starts
for order in ((signal.SIGINT, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT), (signal.SIGINT,)):
    try:
        with terminate_as_interrupt(on_signal=lambda: print("told to stop", flush=True)):
            with held_until_safe() as held:
                for signum in order:
                    os.kill(os.getpid(), signum)
                    time.sleep(0.1)
                    print("went on after", signum.name, flush=True)
                print("pending", held.pending and held.signum == signal.SIGTERM, flush=True)
                held.check()
                print("went on after the check", flush=True)
    except KeyboardInterrupt:
        print("stopped", flush=True)
"""


def test_an_ignored_ctrl_c_stays_ignored_and_the_sigterm_with_it_is_held():
    """A batch pool worker ignores the terminal's Ctrl-C; its runner's SIGTERM comes too, before or
    after it. The SIGTERM is held like any first stop (not taken for a second Ctrl-C, which would
    end the process), it is not lost to the ignored Ctrl-C, and it stops the task at check(); the
    Ctrl-C alone stops nothing. In a subprocess: the wrong answer ends the process."""
    proc = subprocess.run([sys.executable, "-c", _WORKER], capture_output=True, text=True, timeout=60)
    once = ["went on after SIGINT", "went on after SIGTERM", "pending True", "told to stop", "stopped"]
    alone = ["went on after SIGINT", "pending False", "went on after the check"]   # a Ctrl-C alone stops nothing
    assert proc.stdout.splitlines() == once + [once[1], once[0], *once[2:]] + alone, (proc.stdout, proc.stderr)
    assert proc.returncode == 0


def test_no_stop_no_interrupt_and_handlers_put_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with held_until_safe() as held:
        held.check()
        assert signal.getsignal(signal.SIGINT) == held.hold
    assert {s: signal.getsignal(s) for s in before} == before
