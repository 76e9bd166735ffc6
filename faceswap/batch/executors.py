"""Where batch tasks run. MINIMAL version (part M of issue 13): only the in-process executor;
part X's executors.py (worker processes, Ray) replaces this file with the same interface."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import FaceswapError


@dataclass(frozen=True)
class Resources:
    """What one task needs from a worker (Ray's num_cpus / num_gpus)."""

    cpus: float = 1.0
    gpus: float = 0.0


class InlineExecutor:
    """Runs each task in this process when it is submitted and hands back a finished Future.
    KeyboardInterrupt is not caught: Ctrl-C stops the batch at once."""

    workers = 1

    def submit(self, fn: Callable[..., Any], /, *args: Any, resources: Resources = Resources()) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except Exception as err:  # noqa: BLE001 - the runner reads it from the future
            future.set_exception(err)
        return future

    def close(self, cancel: bool = False) -> None:
        pass


def make_executor(jobs: int = 1, cluster: str | None = None) -> InlineExecutor:
    """The executor for `jobs` and `cluster`; this minimal version runs jobs=1 in this process only."""
    if jobs != 1 or cluster is not None:
        raise FaceswapError("--jobs above 1 and --cluster are not available in this build")
    return InlineExecutor()


__all__ = ["InlineExecutor", "Resources", "make_executor"]
