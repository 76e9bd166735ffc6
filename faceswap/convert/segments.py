"""A long shot converted in segments: each a complete file, resumable, joined without re-encoding.

Segment [START, END) is converted by reading frames [START - back, END + ahead) and writing
only [START, END) (`Converter(write_range=...)`), so the stabiliser (stabilize.py: a
Gaussian window of radius ceil(3 sigma) and gap bridging up to `bridge_gap` frames, both
within a shot) and the edge match's window (edge_steady.py, which reads rendered frames either
side) see the same neighbours on either side of a border as a one-piece run.
`back` is longer than the stabiliser needs: the face finder's state (its tracks, which the
mesh follows from frame to frame, and its detector, run every `detect_every` frames) is
rebuilt from the first frame read, so the context spans a few detections
(defaults.SEGMENT_TRACK_WARMUP) and starts on the detection phase a one-piece run has
when nothing has moved it since the job's start. What still depends on the whole history
(that phase after a lost track, a track's identity samples, its number) is said in
docs/convert.md, with the difference it made on real footage.

Each segment is written in the final codec, without sound, as `<output>.segments/NNNN.<suffix>`
(by the writer, under a temporary name then renamed), then its record `NNNN.json` (key, file
hash, what it changed). A segment whose file and record match its key is not converted again,
so a run killed at any moment loses at most the segments in progress. `join_segments` joins the
files by stream copy (media/concat.py), muxes the sound once over the whole and writes the
provenance sidecar of a one-piece run, then removes the folder.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import defaults
from ..credentials import sign_output, signing_for
from ..errors import FaceswapError
from ..log import get_logger
from ..media.audio import AudioSource
from ..media.concat import concat_files
from ..media.images import atomic_write_bytes
from ..media.output_plan import plan_for
from ..media.probe import VideoInfo, probe_video
from ..media.source import check_source, source_kind
from ..media.timecode import read_timecode, shift_timecode
from ..media.timing import variable_timeline
from ..media.writers.base import remove
from ..provenance import build_record, container_tags, hash_file, job_key, sidecar_path, write_sidecar
from .edge_steady import reach
from .expression_fit import fit_reach
from .frame_range import check_frame_range
from .marking import Marker, job_mark_id, output_id, resolve_mode
from .occlusion import REACH
from .options import ConvertOptions, parse_frames
from .pipeline import Converter
from .stabilize import Stabilizer
from .summary import ConvertSummary
from .swapper import Swapper

__all__ = ["Segment", "convert_in_segments", "convert_segment", "join_segments", "plan_segments",
           "work_folder"]

log = get_logger(__name__)

# Bumped when what a segment file holds changes: older segments are then converted again.
SEGMENT_FORMAT = 2
# Codecs whose segments can be joined by stream copy (every one of convert's video codecs);
# PNG sequences and patch folders are written in one piece.
JOINABLE = ("h264", "h265", "prores", "prores4444", "ffv1")


@dataclass
class Segment:
    """Frames [`start`, `end`) of a shot, written to `path`; `key` names what it holds (the
    job's key, its ranges, SEGMENT_FORMAT). Frames [`read_start`, `read_end`) are read
    (`read_end` None: to the footage's end); `to_end`: the last segment of a shot without an
    END, which writes every frame from `start` on (`end` is then the container's count)."""

    index: int
    start: int
    end: int
    path: Path
    key: str
    read_start: int = 0
    read_end: int | None = None
    to_end: bool = False

    @property
    def record_path(self) -> Path:
        """The segment's record: `NNNN.json` beside its file, written once the file is complete."""
        return self.path.with_suffix(".json")


def work_folder(output: str | Path) -> Path:
    """Where the segments of `output` are kept until joined: `<output>.segments/` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".segments")


def context_frames(options: ConvertOptions) -> tuple[int, int]:
    """(back, ahead): frames read before and after a segment. `ahead` is the stabiliser's
    look-ahead; `back` its look-back plus defaults.SEGMENT_TRACK_WARMUP, rounded up to whole
    `detect_every` periods from the job's start (the face finder's detection phase in one
    piece, until a cut or a lost track moves it)."""
    stabilizer = Stabilizer(options.smooth, options.bridge_gap)
    # the edge match's window reads `edge` rendered frames either side of the segment, each with its full
    # context, and each of those the expression fit's window's renders
    edge = (reach(options.edge_steady) if options.edge_match > 0 else 0) + fit_reach(options)
    back = max(stabilizer.radius, stabilizer.bridge_gap) + defaults.SEGMENT_TRACK_WARMUP + edge
    every = max(int(options.detect_every), 1)
    # ahead: the occlusion masks' look-ahead too, with full landmark look-ahead for each of its frames
    return math.ceil(back / every) * every, stabilizer.ahead + 2 * REACH + edge


def _one_piece_reason(input_path: Path, options: ConvertOptions, codec: str | None) -> str | None:
    """Why this job is written in one piece (None: it may be segmented)."""
    if source_kind(input_path) != "video":
        return "images and image sequences are converted frame by frame, in one piece"
    if options.mode == "reenact":
        return "reenact pairs every frame with the driver's from the first"
    if options.preview is not None:
        return "a preview is one frame"
    if codec not in JOINABLE:
        return f"{codec or 'png'} output is a folder, not a file to join"
    return None


def plan_segments(input_path: str | Path, output: str | Path, options: ConvertOptions, segment_frames: int,
                  model_dir: str | Path | None = None) -> list[Segment]:
    """The segments of a job, each of `segment_frames` frames (the last may be shorter), or []
    when it is written in one piece (the reason logged): one segment's worth or less, images,
    variable frame rate (each frame keeps its own time: not a stream to cut and join), reenact,
    PNG or patch output. `model_dir` goes into the keys (None: convert_segment checks the model
    against the record instead). Raises FaceswapError (one line) for unreadable input, bad
    options or `segment_frames` < 1."""
    if segment_frames < 1:
        raise FaceswapError(f"--segment-frames must be 1 or more, not {segment_frames}")
    options.validate()
    input_path, output = Path(input_path), Path(output)
    check_source(input_path)
    plan = plan_for(input_path, output, options.codec, options.tonemap) if options.preview is None else None
    reason = _one_piece_reason(input_path, options, plan.codec if plan else None)
    info = probe_video(input_path) if reason is None else None
    if info is not None and variable_timeline(input_path, info.fps) is not None:
        reason = "variable frame rate: each frame keeps its own time"
    start, end = parse_frames(options.frames)
    last = min(end, info.frame_count) if info is not None and end is not None else (
        info.frame_count if info is not None else 0)
    if reason is None and last - start <= segment_frames:
        reason = f"{max(last - start, 0)} frames, not more than one segment of {segment_frames}"
    if reason is not None:
        log.info("%s: converted in one piece (%s)", input_path.name, reason)
        return []
    job = job_key({"input": input_path}, model_dir, options.to_dict())
    back, ahead = context_frames(options)
    every = max(int(options.detect_every), 1)
    folder = work_folder(output)
    segments = []
    for index, first in enumerate(range(start, last, segment_frames)):
        stop = min(first + segment_frames, last)
        to_end = stop == last and end is None
        read_end = None if to_end else min(stop + ahead, last if end is not None else sys.maxsize)
        read_end = None if read_end == sys.maxsize else read_end
        # whole detect_every periods from the job's start, whatever the segment length: the face
        # finder then detects on the frames the one-piece run detects on
        read_start = max(start, first - back - (first - back - start) % every)
        key = job_key({}, None, {"job": job, "write": [first, None if to_end else stop],
                                 "read": [read_start, read_end], "format": SEGMENT_FORMAT})
        segments.append(Segment(index, first, stop, folder / f"{index:04d}{output.suffix}", key, read_start,
                                read_end, to_end))
    log.info("%s: %d segments of up to %d frames in %s (context %d frames back, %d ahead)", input_path.name,
             len(segments), segment_frames, folder, back, ahead)
    return segments


class _SegmentConverter(Converter):
    """A Converter that also notes the shots of the frames it writes: `written_shots`, how
    many, and `cut_at_start`, whether the first begins one (a cut between it and the frame
    before)."""

    def _items(self, start: int, end: int | None):
        first, last = self.write_range
        previous = None
        seen: set[int] = set()
        self.cut_at_start = first == start
        for item in super()._items(start, end):
            if first <= item.index < last:
                if not seen and previous is not None:
                    self.cut_at_start = item.shot != previous
                seen.add(item.shot)
                self.written_shots = len(seen)
            previous = item.shot
            yield item


def _model_key(model_dir: str | Path) -> str:
    return job_key({}, model_dir, {})


def _finished(segment: Segment, model_key: str) -> dict[str, Any] | None:
    """The segment's record if its file is complete and holds what its key names, else None."""
    try:
        record = json.loads(segment.record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or record.get("key") != segment.key or record.get("model_key") != model_key:
        return None
    try:
        if segment.path.stat().st_size != record.get("bytes") or hash_file(segment.path) != record.get("sha256"):
            return None
    except OSError:
        return None
    return record


def convert_segment(input_path: str | Path, model_dir: str | Path, output: str | Path, options: ConvertOptions,
                    segment: Segment, *, swapper: Swapper | None = None,
                    on_frames: Callable[[int], None] | None = None, progress: bool = False) -> dict[str, Any]:
    """Convert one segment of `output` (see plan_segments) into `segment.path` (in the folder
    beside `output`), then write its record; every argument pickles, so a worker process can run it. A segment whose file and
    record already match its key is skipped. Returns the record (JSON-ready): index, start, end,
    frames, swapped, faces, tracks, bridged, no_face, changed (runs, see ChangedTracks),
    seconds, file, bytes, sha256, and "skipped": whether it was already done. Raises
    FaceswapError as convert does; the segment's file is then not left under its name."""
    model_key = _model_key(model_dir)
    done = _finished(segment, model_key)
    if done is not None:
        log.info("segment %d (frames %d-%d): finished before, skipped", segment.index, segment.start, segment.end)
        if on_frames is not None:
            on_frames(int(done.get("frames", 0)))
        return {**done, "skipped": True}
    segment.path.parent.mkdir(parents=True, exist_ok=True)
    segment.record_path.unlink(missing_ok=True)  # a stale record must not vouch for the new file
    read = f"{segment.read_start}:{'' if segment.read_end is None else segment.read_end}"
    # no sound: join_segments muxes it once over the whole
    seg_options = dataclasses.replace(options, frames=read, audio="none", overwrite=True, preview=None)
    # a name of this run's own: a killed run's ffmpeg may still be finishing its partial file
    own = segment.path.with_name(f".{segment.path.stem}.{uuid.uuid4().hex[:12]}{segment.path.suffix}")
    converter = _SegmentConverter(input_path, model_dir, own, seg_options, progress, swapper=swapper,
                                  on_frames=on_frames, mark_id=job_mark_id(input_path, model_dir, options),
                                  write_range=(segment.start, sys.maxsize if segment.to_end else segment.end))
    try:
        summary = converter.run()
        os.replace(own, segment.path)
    finally:
        remove(own)
        remove(sidecar_path(own))  # the whole shot's record is join_segments'
    record = {"format": SEGMENT_FORMAT, "key": segment.key, "model_key": model_key, "index": segment.index,
              "start": segment.start, "end": segment.start + summary.frames, "file": segment.path.name,
              "bytes": segment.path.stat().st_size, "sha256": hash_file(segment.path),
              "frames": summary.frames, "swapped": summary.swapped, "faces": summary.faces,
              "tracks": sorted(summary.tracks), "bridged": summary.bridged, "no_face": summary.no_face,
              "changed": summary.changed.runs, "shots": converter.written_shots,
              "cut_at_start": converter.cut_at_start, "seconds": round(summary.seconds, 3)}
    atomic_write_bytes(segment.record_path, (json.dumps(record, indent=1) + "\n").encode("utf-8"))
    log.info("segment %d (frames %d-%d): %d frames, %d changed, in %.1f s", segment.index, segment.start,
             record["end"], summary.frames, summary.swapped, summary.seconds)
    return {**record, "skipped": False}


def _track_map(runs: list[dict[str, Any]], first: dict[str, Any] | None) -> dict[int, int]:
    """Track ids of a segment's first run (numbered by its own face finder) -> ids over the
    whole: the tracks changed in its first frame continue those changed in the frame before it,
    paired in order of their ids (the order the tracks began) when both frames have as many."""
    mapping: dict[int, int] = {}
    previous = runs[-1] if runs else None
    if previous is not None and first is not None and first["frames"][0] == previous["frames"][1] + 1 \
            and len(first["tracks"]) == len(previous["tracks"]):
        mapping.update(zip(first["tracks"], previous["tracks"]))
    return mapping


def _merge_runs(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[int]]:
    """The segments' changed-track runs as one run list over the joined output (output frame
    numbers shifted by the frames before each segment, track ids as `_track_map` carries them
    over the borders, a run continuing across a border joined), and every track id used."""
    runs: list[dict[str, Any]] = []
    used: set[int] = set()
    offset = 0
    for record in records:
        mapping = _track_map(runs, record["changed"][0] if record["changed"] else None)
        next_id = max(used, default=-1) + 1
        for track in sorted({t for run in record["changed"] for t in run["tracks"]} | set(record["tracks"])):
            if track not in mapping:
                mapping[track] = next_id
                next_id += 1
        used.update(mapping.values())
        for run in record["changed"]:
            run = {**run, "tracks": sorted(mapping[t] for t in run["tracks"])}
            first, last = run["output_frames"][0] + offset, run["output_frames"][1] + offset
            prev = runs[-1] if runs else None
            if prev is not None and prev["tracks"] == run["tracks"] and prev["frames"][1] == run["frames"][0] - 1:
                prev["frames"][1], prev["output_frames"][1] = run["frames"][1], last
            else:
                runs.append({"frames": list(run["frames"]), "output_frames": [first, last], "tracks": run["tracks"]})
        offset += record["frames"]
    return runs, used


def _audio(input_path: Path, options: ConvertOptions, info: VideoInfo) -> AudioSource | None:
    """The input's sound over the job's frames, cut as the one-piece writer cuts it (pipeline.py)."""
    if options.audio_source == "none":
        return None
    start, end = parse_frames(options.frames)
    count = info.frame_count - start
    if end is not None:
        count = min(count, end - start)
    fps = info.fps or 25.0
    return AudioSource(input_path, start_s=start / fps, duration_s=max(count, 1) / fps if info.frame_count > 0 else None)


def join_segments(input_path: str | Path, model_dir: str | Path, output: str | Path, options: ConvertOptions,
                  segments: list[Segment]) -> ConvertSummary:
    """Join finished segments into `output` by stream copy, with the input's sound muxed once
    over the whole and the container tags and provenance sidecar a one-piece run writes (its
    record's job key is the one-piece job's), and the input's start timecode moved to the first
    frame written (media/timecode.py); then remove the segment folder. Returns the
    summary of the whole. Raises FaceswapError when a segment is not finished or ffmpeg fails
    (the segments are then kept), or when `output` exists without options.overwrite."""
    input_path, output = Path(input_path), Path(output)
    started = time.perf_counter()
    if output.exists() and not options.overwrite:
        raise FaceswapError(f"{output} exists: pass --overwrite to replace it")
    signing = signing_for(options, output)
    model_key = _model_key(model_dir)
    records = []
    for segment in segments:
        record = _finished(segment, model_key)
        if record is None:
            raise FaceswapError(f"segment {segment.index} (frames {segment.start}-{segment.end}) of {output.name} "
                                f"is not finished: convert it first")
        records.append(record)
    plan = plan_for(input_path, output, options.codec, options.tonemap)
    record = build_record({"input": input_path}, model_dir, options.to_dict(), options.mode, plan.to_dict())
    info = probe_video(input_path)
    timecode = read_timecode(input_path)
    if timecode is not None:
        timecode = shift_timecode(timecode, segments[0].start, info.fps)
    record["timecode"] = timecode  # as a one-piece run records it
    mode = resolve_mode(options.watermark, "video")
    record["watermark"] = Marker(mode, output_id(record)).record() if mode != "off" else {"mode": "off"}
    concat_files([s.path for s in segments], output, audio=_audio(input_path, options, info),
                 metadata=container_tags(record), timecode=timecode)
    if signing is not None:
        record["credentials"] = sign_output(output, record, signing, input_path)
    summary = ConvertSummary(str(input_path), str(output))
    summary.changed.runs, summary.tracks = _merge_runs(records)
    summary.sidecar = str(write_sidecar(output, {**record, "changed_tracks": summary.changed.runs}))
    for rec in records:
        summary.frames += rec["frames"]
        summary.swapped += rec["swapped"]
        summary.faces += rec["faces"]
        summary.bridged += rec["bridged"]
        summary.no_face += rec["no_face"]
        summary.seconds += rec["seconds"]
    # a shot running across a border is in both segments
    summary.shots = sum(rec["shots"] for rec in records) - sum(not rec["cut_at_start"] for rec in records[1:])
    summary.segments = [{k: rec[k] for k in ("index", "start", "end", "frames", "seconds")} for rec in records]
    shutil.rmtree(work_folder(output), ignore_errors=True)
    summary.seconds += time.perf_counter() - started
    return summary


def convert_in_segments(input_path: str | Path, model_dir: str | Path, output: str | Path,
                        options: ConvertOptions | None = None, segment_frames: int = defaults.SEGMENT_FRAMES,
                        progress: bool = True) -> ConvertSummary:
    """Convert `input_path` into `output` segment by segment (plan_segments, convert_segment,
    join_segments), in this process; segments finished by an earlier run are skipped. A job
    plan_segments keeps whole is converted in one piece. The summary's `segments` lists each
    segment with "skipped" (done before) or not; `seconds` is this run's wall time. Raises
    FaceswapError as convert does, before the model loads for an existing output without
    options.overwrite."""
    options = options or ConvertOptions()
    options.validate()
    output = Path(output)
    check_source(input_path)
    if output.resolve() == Path(input_path).resolve():
        raise FaceswapError("the output must not be the input")
    if output.exists() and not options.overwrite:
        raise FaceswapError(f"{output} exists: pass --overwrite to replace it")
    check_frame_range(input_path, options)
    signing_for(options, output)   # a key that cannot sign is refused before the first segment
    started = time.perf_counter()
    segments = plan_segments(input_path, output, options, segment_frames, model_dir)
    if not segments:
        return Converter(input_path, model_dir, output, options, progress).run()
    swapper = Swapper(model_dir, options.device)
    bar = tqdm(total=segments[-1].end - segments[0].start, unit="frame", disable=not progress,
               dynamic_ncols=True, desc=Path(input_path).name)
    done = []
    try:
        for segment in segments:
            done.append(convert_segment(input_path, model_dir, output, options, segment, swapper=swapper,
                                        on_frames=bar.update))
    finally:
        bar.close()
    skipped = sum(d["skipped"] for d in done)
    if skipped:
        log.info("%d of %d segments were finished before and skipped", skipped, len(segments))
    summary = join_segments(input_path, model_dir, output, options, segments)
    summary.segments = [{**s, "skipped": d["skipped"]} for s, d in zip(summary.segments, done)]
    summary.seconds = time.perf_counter() - started
    return summary
