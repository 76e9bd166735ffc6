"""SIGTERM as Ctrl-C: how every long run (a CLI command, a batch worker's task) stops cleanly."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["handling", "terminate_as_interrupt"]


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
