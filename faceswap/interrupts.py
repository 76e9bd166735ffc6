"""SIGTERM as Ctrl-C: how every long run (a CLI command, a batch worker's task) stops cleanly."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["HeldStop", "handling", "held_until_safe", "terminate_as_interrupt"]


@contextlib.contextmanager
def terminate_as_interrupt(on_signal: Callable[[], None] | None = None) -> Iterator[None]:
    """Within the block, SIGTERM (a render farm's or a container's stop, a batch runner stopping
    its workers) raises KeyboardInterrupt as Ctrl-C does, so each stage cleans up its own way:
    train saves a checkpoint, extract keeps the frames it finished, convert removes its partial
    output. `on_signal()` runs first (a batch worker marks itself stopping). Restores the previous
    handler. Does nothing outside the main thread (Python delivers signals only there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        if on_signal is not None:
            on_signal()
        raise KeyboardInterrupt

    with handling((signal.SIGTERM,), interrupt):
        yield


@contextlib.contextmanager
def handling(signals: tuple[int, ...], handler: Callable[[int, Any], None]) -> Iterator[None]:
    """Within the block, `handler(signum, frame)` handles each of `signals`; the previous
    handlers are put back after it. Main thread only (where Python delivers signals)."""
    old = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in old.items():
            # None: a handler installed outside Python, which cannot be put back from here
            signal.signal(s, signal.SIG_DFL if h is None else h)


class HeldStop:
    """A Ctrl-C or SIGTERM that arrived inside `held_until_safe`, waiting for a safe point."""

    def __init__(self, previous: dict[int, Any] | None = None) -> None:
        self._previous = previous or {}
        self.signum: int | None = None
        self._delivered = False

    def hold(self, signum: int, frame: Any) -> None:
        """The signal handler: keep the first signal; a second one is delivered at once (a user
        pressing Ctrl-C again does not want to wait for the safe point)."""
        if self.signum is not None:
            self._deliver(signum, frame)
        self.signum = signum

    def check(self) -> None:
        """Deliver a held signal here, where no lock is held: the handler that was in place before
        the block runs (Ctrl-C's raises KeyboardInterrupt; terminate_as_interrupt's also tells a
        batch worker to stop). Does nothing when no signal arrived."""
        if self.signum is not None and not self._delivered:
            self._deliver(self.signum, sys._getframe(1))

    def _deliver(self, signum: int, frame: Any) -> None:
        self._delivered = True
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous in (signal.SIG_DFL, None):
            # the default action (SIGTERM ends the process) as if it had never been held
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        # SIG_IGN: ignored, as it would have been


@contextlib.contextmanager
def held_until_safe(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[HeldStop]:
    """Within the block, Ctrl-C and SIGTERM wait for the block's next `HeldStop.check()` (or its
    end) instead of raising KeyboardInterrupt wherever the main thread happens to be.

    Why: Python raises a signal's KeyboardInterrupt between any two bytecodes, also between a
    lock's acquire and the `with` that would release it (CPython issue 29988). A stop that lands
    inside `queue.Queue.put` leaves the queue's lock held, and the clean-up that drains the
    writer's or the face thread's queue then waits on it for ever: the job hangs instead of
    stopping. Long loops call `check()` once per frame. Outside the main thread (where Python
    delivers no signals) the block holds nothing and `check()` does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield HeldStop()
        return
    previous = {s: signal.getsignal(s) for s in signals}
    held = HeldStop(previous)
    try:
        with handling(signals, held.hold):
            yield held
    finally:
        # one that came after the last safe point: delivered now, also over an error on its way
        # out (a batch worker told to stop must hear it)
        held.check()
