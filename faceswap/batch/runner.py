"""Run a manifest: every shot converted and qc'd, on an executor, resumable, reported.

The whole manifest is checked first (batch/manifest.py), so a typo in shot 200 stops the run
before shot 1 starts and before anything is written. Then each shot's state decides its work:
"done" shots are skipped (their figures come from their earlier qc), "new" and "stale" ones are
converted (a stale output is faceswap's own, so it is replaced), a "foreign" output is never
touched and its shot fails. Failed shots are tried again (`retries`); one shot's failure never
stops the others. Ctrl-C or SIGTERM (api.terminate_as_interrupt) stops the batch: finished
shots stay, the running one's partial output is removed, the report covers what finished.
"""

from __future__ import annotations

import concurrent.futures
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..convert.options import parse_frames
from ..convert.segments import Segment, plan_segments
from ..errors import FaceswapError, NoFaceError
from ..log import get_logger
from ..qc.tracks import changed_tracks
from . import tasks, worker
from .executors import Resources, make_executor
from .manifest import Manifest, Shot, load_manifest, shot_state
from .options import BatchOptions
from .report import ShotResult, batch_exit_code, write_report

log = get_logger(__name__)

__all__ = ["BatchOptions", "BatchPlan", "BatchResult", "check_batch", "run_batch"]


@dataclass
class BatchPlan:
    """What `--check` found: the checked manifest and each shot's state (new, done, stale, foreign)."""

    manifest: Manifest
    states: dict[str, str]

    @property
    def status(self) -> str:
        """"error" when a shot's output is foreign (the run would fail it), else "done"."""
        return "error" if "foreign" in self.states.values() else "done"


@dataclass
class BatchResult:
    """How a batch run ended: one ShotResult per finished shot (manifest order), the report files."""

    manifest: Manifest
    results: list[ShotResult]
    report: dict[str, Path] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def status(self) -> str:
        """"interrupted", "error" (a shot failed: exit 1), "failed" (a qc gate failed: exit 4) or "done"."""
        if self.interrupted:
            return "interrupted"
        return {0: "done", 4: "failed"}.get(batch_exit_code(self.results), "error")

    @property
    def problem(self) -> str | None:
        """The one-line message for a failed batch (None otherwise)."""
        failed = [r.shot for r in self.results if r.status == "failed"]
        gated = [r.shot for r in self.results if r.status == "gated"]
        if failed:
            return f"{len(failed)} of {len(self.results)} shots failed: {', '.join(failed)} (see {self.report['csv']})"
        if gated:
            return f"{len(gated)} of {len(self.results)} shots failed qc: {', '.join(gated)}"
        return None


def check_batch(manifest_path: str | Path, report: str | Path | None = None) -> BatchPlan:
    """Check a manifest (load_manifest) and find each shot's state; writes nothing."""
    manifest = load_manifest(manifest_path, report)
    return BatchPlan(manifest, {shot.name: shot_state(shot) for shot in manifest.shots})


def _frame_total(shot: Shot) -> int | None:
    from ..media.source import FrameSource

    try:
        count = len(FrameSource(shot.input))
    except FaceswapError:
        return None
    start, end = parse_frames(shot.options.frames)
    return max(0, (min(end, count) if end is not None else count) - start) or None


def _skipped(shot: Shot, earlier: dict[str, Any] | None) -> ShotResult:
    """A shot whose output is done: frames from its sidecar's record of changed tracks, figures
    from its earlier qc."""
    record = changed_tracks(shot.output) or {}
    runs = record.get("runs") or []
    frames = sum(r["output_frames"][1] - r["output_frames"][0] + 1 for r in runs)
    earlier = earlier or {}
    failures = earlier.get("qc_failures") or []
    return ShotResult(shot.name, str(shot.input), str(shot.output), "gated" if failures else "skipped",
                      frames=frames, swapped=record.get("frames_changed", 0), qc=earlier.get("qc") or {},
                      qc_failures=failures, qc_note=earlier.get("qc_note"))


class _Run:
    """One batch run's bookkeeping: the queue of shot tasks, tries, results, progress bars."""

    def __init__(self, manifest: Manifest, options: BatchOptions, progress: bool) -> None:
        self.manifest, self.options = manifest, options
        self.qc, self.identity = manifest.qc_dict(), str(manifest.qc_identity) if manifest.qc_identity else None
        self.report_dir = str(manifest.report_dir)
        self.results: dict[str, ShotResult] = {}
        self.tries: dict[str, int] = {}
        self.converting: dict[str, bool] = {}
        self.keys: dict[str, str] = {}
        self.states: dict[str, str] = {}
        self.todo: deque[Shot] = deque()
        # tasks ready to run: (shot, kind, payload), kind "shot" (whole), "segment" or "join"
        self.ready: deque[tuple[Shot, str, Any]] = deque()
        self.segments: dict[str, list[Segment]] = {}      # a segmented shot's plan
        self.pending: dict[str, set[int]] = {}            # its segments not finished yet
        self.broken: dict[str, str] = {}                  # a segment of it failed: the error
        self.stale: dict[str, bool] = {}
        self.shot_bar = tqdm(total=len(manifest.shots), unit="shot", desc="shots", position=0,
                             disable=not progress, dynamic_ncols=True)
        self.frame_bar = tqdm(total=None, unit="frame", position=1, leave=False, disable=not progress,
                              dynamic_ncols=True)

    def plan(self) -> None:
        """Each shot's state decides its work: skip, convert, or fail (foreign output)."""
        for shot in self.manifest.shots:
            self.keys[shot.name] = shot.key()
            state = self.states[shot.name] = shot_state(shot, self.keys[shot.name])
            if state == "foreign":
                self.finish(ShotResult(shot.name, str(shot.input), str(shot.output), "failed", error=(
                    f"{shot.output} exists and faceswap did not write it (no provenance sidecar): move it away or "
                    "give the shot another output")))
            elif state == "done" and not self.needs_qc(shot):
                self.finish(_skipped(shot, tasks.stored_qc(shot.to_dict(), self.qc, self.identity, self.report_dir)))
            else:
                self.todo.append(shot)

    def needs_qc(self, shot: Shot) -> bool:
        """A done shot whose qc figures are missing or were measured with other settings."""
        if self.qc is None or not tasks.is_video(shot.input):
            return False
        folder = Path(self.report_dir) / shot.name
        if tasks.qc_options(shot.options, self.qc, folder, shot.input)[0] is None:
            return False
        return tasks.stored_qc(shot.to_dict(), self.qc, self.identity, self.report_dir) is None

    def start(self, shot: Shot) -> None:
        """Queue a shot's tasks: the whole shot, or its segments (then a join) when it is long.
        Its state is read again on a retry (a try that failed in qc left a finished output, which
        is not converted twice; segments finished by the failed try are not converted again)."""
        self.tries[shot.name] = self.tries.get(shot.name, 0) + 1
        self.broken.pop(shot.name, None)
        state = self.states[shot.name] if self.tries[shot.name] == 1 else shot_state(shot, self.keys[shot.name])
        self.converting[shot.name] = state != "done"
        self.stale[shot.name] = state == "stale"   # faceswap's own earlier output: replaced
        if state != "done":
            # one bar over the frames of every shot being converted (several at once with --jobs N)
            self.frame_bar.total = (self.frame_bar.total or 0) + (_frame_total(shot) or 0)
            self.frame_bar.refresh()
        segments = []
        if state != "done" and self.options.segment_frames:
            try:
                shot.output.parent.mkdir(parents=True, exist_ok=True)
                segments = plan_segments(shot.input, shot.output, shot.options, self.options.segment_frames,
                                         shot.model)
            except FaceswapError as err:
                self.failed(shot, str(err), retry=False)
                return
        if segments:
            self.segments[shot.name] = segments
            self.pending[shot.name] = {s.index for s in segments}
            self.ready.extend((shot, "segment", s) for s in segments)
        else:
            self.ready.append((shot, "shot", state))

    def submit(self, executor: Any, shot: Shot, kind: str, payload: Any) -> concurrent.futures.Future:
        """One task of a shot on the executor (a GPU for it when the shot runs on CUDA)."""
        resources = Resources(gpus=1.0 if shot.options.device == "cuda" else 0.0)
        if kind == "segment":
            return executor.submit(tasks.run_segment, shot.to_dict(), payload, resources=resources)
        if kind == "join":
            return executor.submit(tasks.join_shot, shot.to_dict(), self.segments[shot.name], self.qc,
                                   self.identity, self.report_dir, self.stale[shot.name], resources=resources)
        return executor.submit(tasks.run_shot, shot.to_dict(), self.qc, self.identity, self.report_dir,
                               payload != "done", payload == "stale", resources=resources)

    def collect(self, shot: Shot, kind: str, payload: Any, future: concurrent.futures.Future,
                still_running: bool) -> None:
        """A finished task: its result, or its failure (the shot queued again while tries are left).
        `still_running`: other tasks of the same shot have not finished yet."""
        try:
            out = future.result()
        except FaceswapError as err:
            self.task_failed(shot, kind, str(err), not isinstance(err, NoFaceError), still_running)
            return
        except Exception as err:  # noqa: BLE001 - a bug in one shot must not stop the others
            log.error("shot %s: unexpected %s", shot.name, type(err).__name__, exc_info=err)
            self.task_failed(shot, kind, f"{type(err).__name__}: {err}", True, still_running)
            return
        if kind == "segment":
            self.pending[shot.name].discard(payload.index)
            if shot.name in self.broken:
                if not still_running:
                    self.failed(shot, self.broken[shot.name], retry=True)
            elif not self.pending[shot.name]:
                self.ready.appendleft((shot, "join", None))   # before other shots: the output is one step away
            return
        status = "gated" if out["qc_failures"] else ("done" if self.converting[shot.name] else "skipped")
        if not self.converting[shot.name]:  # qc only: the frames come from the earlier run's record
            earlier = _skipped(shot, None)
            out["frames"], out["swapped"] = earlier.frames, earlier.swapped
        self.finish(ShotResult(shot.name, str(shot.input), str(shot.output), status, frames=out["frames"],
                               swapped=out["swapped"], speed_fps=out["speed_fps"], seconds=out["seconds"],
                               qc=out["qc"], qc_failures=out["qc_failures"], qc_note=out["qc_note"],
                               attempts=self.tries[shot.name], segments=len(self.segments.get(shot.name, ())) or 1))

    def task_failed(self, shot: Shot, kind: str, error: str, retry: bool, still_running: bool) -> None:
        if kind != "segment":
            self.failed(shot, error, retry)
            return
        # the shot fails once its other segments have stopped; the retry keeps those that finished
        self.broken.setdefault(shot.name, error)
        if not still_running:
            self.failed(shot, self.broken[shot.name], retry)

    def failed(self, shot: Shot, error: str, retry: bool) -> None:
        if retry and self.tries[shot.name] <= self.options.retries:
            log.warning("shot %s failed (%s): trying again (%d of %d)", shot.name, error, self.tries[shot.name] + 1,
                        self.options.retries + 1)
            self.todo.append(shot)
            return
        self.finish(ShotResult(shot.name, str(shot.input), str(shot.output), "failed", error=error,
                               attempts=self.tries.get(shot.name, 1)))

    def finish(self, result: ShotResult) -> None:
        self.results[result.shot] = result
        log.info("shot %s: %s%s", result.shot, result.status, f" ({result.error})" if result.error else "")
        self.shot_bar.update(1)

    def run(self, executor: Any) -> None:
        running: dict[concurrent.futures.Future, tuple[Shot, str, Any]] = {}
        self.running = running
        while self.todo or self.ready or running:
            while len(running) < max(1, executor.workers) and (self.ready or self.todo):
                if not self.ready:
                    self.start(self.todo.popleft())
                    continue
                shot, kind, payload = self.ready.popleft()
                if shot.name in self.broken:
                    continue  # a segment of this shot failed: its other segments are not started
                running[self.submit(executor, shot, kind, payload)] = (shot, kind, payload)
            if not running:
                continue
            # a short timeout: the frame bar follows the workers' frames between completions
            done, _ = concurrent.futures.wait(running, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED)
            self.frame_bar.update(worker.frames_reported())
            for future in done:
                shot, kind, payload = running.pop(future)
                self.collect(shot, kind, payload, future, any(s.name == shot.name for s, _, _ in running.values()))
                if not executor.live_frames and kind != "join" and future.exception() is None:
                    self.frame_bar.update(future.result()["frames"])  # Ray: a task's frames when it is done

    def collect_finished(self) -> None:
        """After Ctrl-C: the shots whose last task had finished (their outputs are whole) go into
        the report; a stopped task is not a failure."""
        for future, (shot, kind, payload) in list(getattr(self, "running", {}).items()):
            if kind != "segment" and future.done() and not future.cancelled() and future.exception() is None:
                self.collect(shot, kind, payload, future, False)

    def close(self) -> None:
        self.frame_bar.close()
        self.shot_bar.close()

    def ordered(self) -> list[ShotResult]:
        return [self.results[s.name] for s in self.manifest.shots if s.name in self.results]


def run_batch(manifest_path: str | Path, options: BatchOptions | None = None, progress: bool = True) -> BatchResult:
    """Run every shot of the manifest at `manifest_path` (see the module's docstring).

    Raises FaceswapError, before any work or write, for bad options or a bad manifest
    (load_manifest); the shots' own failures are in the results. A KeyboardInterrupt stops it:
    the result is then `interrupted`, with the shots that finished, and its report is written.
    """
    options = options or BatchOptions()
    options.validate()
    manifest = load_manifest(manifest_path, options.report)
    executor = make_executor(options.jobs, options.cluster)
    state = _Run(manifest, options, progress)
    interrupted = False
    worker.set_listener(state.frame_bar.update)
    try:
        state.plan()
        state.run(executor)
    except KeyboardInterrupt:
        interrupted = True
        state.collect_finished()
        log.warning("interrupted: %d of %d shots finished; the report covers them", len(state.results),
                    len(manifest.shots))
    finally:
        worker.set_listener(None)
        executor.close(cancel=interrupted)
        state.close()
    results = state.ordered()
    report = write_report(manifest.report_dir, results, manifest.path, interrupted=interrupted)
    return BatchResult(manifest, results, report, interrupted)
