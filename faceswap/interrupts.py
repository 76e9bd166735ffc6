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
        self.signum: int | None = None   # the stop held: the first signal that was not ignored
        self._delivered = False

    @property
    def pending(self) -> bool:
        """A stop arrived and has not been delivered yet."""
        return self.signum is not None and not self._delivered

    def hold(self, signum: int, frame: Any) -> None:
        """The signal handler. A signal that was ignored before the block stays ignored (a batch
        pool worker ignores the terminal's Ctrl-C and stops on its runner's SIGTERM). The first
        other one is kept for `check()`. A second one ends the process at once by the signal's
        default action, without the clean-up: the user pressed Ctrl-C again, or a batch runner's
        grace ran out, and a KeyboardInterrupt raised inside the clean-up's own queue drains could
        hang it, which is what this class is for."""
        if self._previous.get(signum) is signal.SIG_IGN:
            return
        if self.signum is not None:
            _end_by(signum)
        self.signum = signum

    def check(self) -> None:
        """Deliver a held signal here, where no lock is held: the handler that was in place before
        the block runs (Ctrl-C's raises KeyboardInterrupt; terminate_as_interrupt's also tells a
        batch worker to stop); under the default action (or a handler installed outside Python)
        the process ends by the signal, as it would have. Does nothing when none is pending."""
        signum = self.signum
        if signum is None or self._delivered:
            return
        self._delivered = True
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, sys._getframe(1))
        else:
            _end_by(signum)


def _end_by(signum: int) -> None:
    """End the process by `signum`'s default action (SIGINT and SIGTERM terminate it)."""
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


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
