"""Run extract over one input: decode -> find faces -> align -> crop -> write.

Decoding runs in ffmpeg and a reader thread, face finding in this thread,
PNG encoding and file writes in a writer thread, so the three overlap.
Every processed frame is appended to the alignments file after its crops are
on disk, which is what makes a second run resume where the first stopped.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .. import __version__, defaults
from ..data.faceset import AlignmentsFile, alignments_path, crop_filename, round_array, write_crop
from ..errors import FaceswapError
from ..faces.backends import Backend, make_backend
from ..faces.finder import FaceFinder
from ..faces.geometry import crop_matrix, warp
from ..faces.reference import ReferenceFilter
from ..faces.types import Face
from ..interrupts import held_until_safe
from ..log import get_logger
from ..media.output_plan import rotation_note
from ..media.source import FrameSource
from .options import ExtractOptions

log = get_logger(__name__)


@dataclass
class ExtractSummary:
    """What one extract run did, for the console and for scripts."""

    source: str
    frames: int = 0              # frames processed in this run
    resumed: int = 0             # frames skipped because an earlier run did them
    frames_with_faces: int = 0
    faces: int = 0               # crops written
    tracks: set[int] = field(default_factory=set)
    no_face: list[str] = field(default_factory=list)  # frame/file names without a face
    skipped: list[str] = field(default_factory=list)  # files that were not images
    seconds: float = 0.0
    decode_warning: str | None = None
    interrupted: bool = False

    @property
    def speed_fps(self) -> float:
        """Processing speed: frames this run processed per second of its wall time (not the footage's rate)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "frames": self.frames, "resumed": self.resumed,
            "frames_with_faces": self.frames_with_faces, "faces": self.faces,
            "tracks": sorted(self.tracks), "no_face": self.no_face, "skipped": self.skipped,
            "seconds": round(self.seconds, 3), "speed_fps": round(self.speed_fps, 2),
            "decode_warning": self.decode_warning, "interrupted": self.interrupted,
        }


def _face_record(face: Face, matrix: np.ndarray, filename: str, keep_mesh: bool) -> dict[str, Any]:
    rec = {"track": face.track, "score": round(face.score, 4),
           "landmarks": round_array(face.landmarks), "matrix": round_array(matrix, 6), "file": filename}
    if keep_mesh and face.mesh is not None:
        rec["mesh"] = round_array(face.mesh, 1)
    return rec


def _prepare_output(faceset: Path) -> None:
    try:
        faceset.mkdir(parents=True, exist_ok=True)
        probe = faceset / ".faceswap-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise FaceswapError(f"cannot write to output folder {faceset}: {err.strerror or err}") from err


def extract_source(input_path: str | Path, faceset: str | Path, options: ExtractOptions,
                   backend: Backend | None = None, progress: bool = True) -> ExtractSummary:
    """Extract the faces of one video, image folder or image into `faceset`."""
    options.validate()
    input_path, faceset = Path(input_path), Path(faceset)
    source = FrameSource(input_path, colour=options)
    if source.video is not None and (note := rotation_note(source.video.info)):
        log.info("%s", note)
    _prepare_output(faceset)
    own_backend = backend is None
    backend = backend or make_backend(options.detector, options.confidence)
    try:
        return _run(source, faceset, options, backend, progress)
    finally:
        if own_backend:
            backend.close()


def _run(source: FrameSource, faceset: Path, options: ExtractOptions, backend: Backend,
         progress: bool) -> ExtractSummary:
    summary = ExtractSummary(source=str(source.path), skipped=list(source.skipped))
    alignments = AlignmentsFile(alignments_path(faceset, source.path))
    crop = options.crop_settings()
    if alignments.header is not None and alignments.header.get("crop") != crop:
        old = alignments.header.get("crop")
        raise FaceswapError(
            f"{faceset} already holds crops of {source.path.name} made with {old}; "
            f"use the same --size/--centering/--coverage or another output folder")
    finder = FaceFinder(backend, sequence=source.is_sequence, detect_every=options.detect_every,
                        min_size=options.min_size)
    reference = (ReferenceFilter(options.reference, backend, options.reference_threshold)
                 if options.reference else None)
    _resume_tracks(alignments, finder, summary)
    alignments.open({
        "source": str(source.path.resolve()), "kind": source.kind, "fps": source.fps,
        "frame_count": len(source), "detector": options.detector, "crop": crop,
        # what the crops' pixels are: train refuses to mix working spaces (data/faceset.py); the
        # plates' own space (None: ACEScg for float plates, the working space for the rest)
        "working_space": options.working_space, "input_space": options.input_space,
        "ocio": options.ocio or defaults.OCIO_CONFIG,
        "faceswap": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faceset-writer")
    pending: list[Future] = []
    bar = tqdm(total=len(source) or None, unit="frame", disable=not progress, dynamic_ncols=True,
               desc=source.path.name, leave=True)
    start = time.perf_counter()
    found = 0
    # Ctrl-C / SIGTERM wait for the next frame (interrupts.held_until_safe), not inside the writer's lock
    with held_until_safe() as held:
        try:
            for frame in source:
                held.check()
                bar.update(1)
                if frame.index % options.every:
                    continue
                if frame.key in alignments.frames:
                    summary.resumed += 1
                    continue
                faces = finder.find(frame.image, frame.index)
                if reference is not None:
                    faces = reference.keep(frame.image, faces)
                jobs = []
                for k, face in enumerate(faces):
                    matrix = crop_matrix(face.landmarks, options.size, options.centering, options.coverage)
                    jobs.append((face, matrix, warp(frame.image, matrix, options.size), k))
                pending.append(writer.submit(_write_frame, source, frame.index, frame.name, jobs,
                                             alignments, options, summary))
                summary.frames += 1
                if faces:
                    summary.frames_with_faces += 1
                else:
                    summary.no_face.append(frame.name)
                    if source.kind == "images":  # one line per image of a folder; a single image is the run's error
                        log.warning("no face found: %s", frame.name)
                summary.tracks.update(f.track for f in faces)
                found += len(faces)
                bar.set_postfix(faces=found, refresh=False)
                while len(pending) > 16:  # bound memory if the disk is slow
                    pending.pop(0).result()
        except KeyboardInterrupt:
            summary.interrupted = True
            log.warning("interrupted: finishing the frames in hand; run the same command to resume")
        finally:
            bar.close()
            writer.shutdown(wait=True)
            for job in pending:
                job.result()  # surface write errors (full disk) as FaceswapError
            alignments.close()
    summary.seconds = time.perf_counter() - start
    summary.decode_warning = source.video.warning if source.video else None
    return summary


def _resume_tracks(alignments: AlignmentsFile, finder: FaceFinder, summary: ExtractSummary) -> None:
    """Carry on the track numbering of an earlier run of the same source."""
    if not alignments.frames:
        return
    last = max(alignments.frames.values(), key=lambda r: r["frame"])
    faces = [Face(np.asarray(f["landmarks"], np.float32), f["score"], track=f["track"])
             for f in last["faces"]]
    finder.seed(last["frame"], faces)
    finder.reserve_track_ids(alignments.track_ids())
    log.info("resuming: %d frames already done", len(alignments.frames))


def _write_frame(source: FrameSource, index: int, name: str, jobs: list, alignments: AlignmentsFile,
                 options: ExtractOptions, summary: ExtractSummary) -> None:
    records = []
    for face, matrix, crop, k in jobs:
        filename = crop_filename(source.path, name, k)
        record = _face_record(face, matrix, filename, options.keep_mesh)
        meta = {"source": str(source.path.resolve()), "frame": index, "frame_name": name,
                "face_index": k, "crop": {**options.crop_settings(), "matrix": record["matrix"]},
                "working_space": options.working_space,
                **{key: record[key] for key in ("track", "score", "landmarks") if key in record},
                "faceswap": __version__}
        if "mesh" in record:
            meta["mesh"] = record["mesh"]
        write_crop(Path(alignments.path.parent) / filename, crop, meta)
        records.append(record)
        summary.faces += 1
    alignments.append({"frame": index, "name": name, "faces": records})
