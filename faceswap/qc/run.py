"""`faceswap qc`: measure a converted video against the footage it was made from.

Both videos are decoded in step, frame by frame; each frame pair goes
through the same stateless detector, and only per-frame numbers, identity
descriptors of sampled frames and a few thumbnails of the worst frames are
kept, so memory does not grow with the length of the shot (beyond a few
numbers per frame).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .. import defaults
from ..errors import FaceswapError
from ..faces.backends import make_backend
from ..faces.glasses import BARE_CONTRAST
from ..faces.identity import IdentityEncoder, distance
from ..log import get_logger
from ..media.probe import probe_video
from ..media.source import check_source
from ..media.video_reader import VideoReader
from .appearance import SEAM_SECTOR_HOURS, SEAM_SECTOR_NAMES, SEAM_SECTORS
from .gates import evaluate
from .integrity import Tolerances, check_integrity
from .measures import FrameMeasures, GlassesTrack, flicker, jitter, landmark_motion, measure_pair
from .options import QcOptions
from .plates import SequenceReader, check_sequence_integrity, sequence_readers
from .reference import IdentityReference, load_identity
from .report import write_json, write_report
from .tracks import changed_tracks
from .worst import WorstFrames, thumbnail_pair

log = get_logger(__name__)

COLUMNS = ("frame", "input_face", "output_face", "landmark_error", "expression_error", "yaw_diff", "pitch_diff", "roll_diff",
           "pose_error", "jitter", "original_motion", "flicker", "sharpness", "seam", "seam_at", "occlusion", "face_change", "unswapped",
           "output_to_wanted", "output_to_wanted_cosine", "output_to_original", "output_to_original_cosine",
           "input_to_wanted", "input_to_wanted_cosine")
# How errors name the footage (the CLI's -i, the API's `original`).
ORIGINAL = "original (-i)"
# Frame numbers listed in the summary per coverage problem (the counts are always complete).
LIST_LIMIT = 50


@dataclass
class QcResult:
    """`summary`: everything measured (what summary.json holds); `failures`: one line per
    failed integrity check or gate (empty: the shot passes)."""

    summary: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    report: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def status(self) -> str:
        """"failed" when an integrity check or a gate failed, else "done"."""
        return "done" if self.ok else "failed"


def _stats(values: Sequence[float]) -> dict[str, float] | None:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    return {"mean": round(float(v.mean()), 6), "min": round(float(v.min()), 6),
            "median": round(float(np.median(v)), 6),
            "p95": round(float(np.percentile(v, 95)), 6), "max": round(float(v.max()), 6), "frames": int(v.size)}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


def _check_video(path: str | Path, what: str) -> None:
    p = Path(path)
    if p.is_dir():
        raise FaceswapError(f"qc compares video files: the {what} {p} is a folder")
    if not p.is_file():
        raise FaceswapError(f"the {what}: no such file: {p}")


def _said(check: Callable[[str | Path], Any], path: str | Path, what: str) -> Any:
    """check(path), its error saying which of qc's two inputs it is about."""
    try:
        return check(path)
    except FaceswapError as err:
        raise FaceswapError(f"the {what}: {err}") from None


class _Measurer:
    """Per-frame measures into columns, identity descriptors of sampled frames, worst frames."""

    def __init__(self, options: QcOptions, encoder: IdentityEncoder, wanted: IdentityReference | None) -> None:
        self.o = options
        self.encoder = encoder
        self.wanted = wanted
        self.cols: dict[str, array] = {name: array("d") for name in COLUMNS}
        self.original_descriptors: list[np.ndarray] = []
        self.output_descriptors: list[tuple[int, np.ndarray]] = []  # (row, descriptor)
        self.worst = WorstFrames(options.worst_frames)
        self.prev: FrameMeasures | None = None
        self.unswapped: list[int] = []
        self.no_face: list[int] = []
        self.seam_sums = np.zeros(SEAM_SECTORS)         # per sector: its steps added up (8-bit levels),
        self.seam_frames = np.zeros(SEAM_SECTORS, int)  # the frames it was measured in,
        self.seam_worst = np.zeros(SEAM_SECTORS, int)   # and those in which it held the largest step
        self.counts = {"input_face": 0, "swapped": 0, "unswapped": 0, "output_no_face": 0, "output_no_face_total": 0}
        self.glasses_contrast: list[float] = []   # --glasses: each frame's found rims' line contrast
        self.glasses_share: list[float] = []      # and the share of the sharpness region they took out

    def add(self, index: int, original: np.ndarray, output: np.ndarray, m: FrameMeasures) -> None:
        nan = float("nan")
        row = {name: nan for name in COLUMNS}
        row["frame"] = index
        row["input_face"] = float(m.original_face is not None)
        row["output_face"] = float(m.output_face is not None)

        def tile() -> np.ndarray:
            return thumbnail_pair(original, output, [m.original_face, m.output_face])

        def value(v: float | None) -> float:
            return nan if v is None else v

        row["landmark_error"] = value(m.landmark_error)
        row["expression_error"] = value(m.expression_error)
        if m.pose_diff is not None:
            row["yaw_diff"], row["pitch_diff"], row["roll_diff"] = (float(x) for x in m.pose_diff)
            row["pose_error"] = m.pose_error
        row["face_change"] = value(m.face_change)
        row["sharpness"] = value(m.sharpness)
        row["seam"] = value(m.seam)
        seam_worst = None
        if m.seam_sectors is not None:
            measured = ~np.isnan(m.seam_sectors)
            self.seam_sums[measured] += m.seam_sectors[measured]
            self.seam_frames += measured
            seam_worst = int(np.nanargmax(m.seam_sectors))
            self.seam_worst[seam_worst] += 1
            row["seam_at"] = float(SEAM_SECTOR_HOURS[seam_worst])
        row["occlusion"] = value(m.occlusion)
        if m.glasses_contrast is not None:
            self.glasses_contrast.append(m.glasses_contrast)
        if m.glasses_share is not None:
            self.glasses_share.append(m.glasses_share)
        prev = self.prev
        if prev is not None:
            row["jitter"] = value(jitter(m, prev))
            row["flicker"] = value(flicker(m, prev))
            if m.original_face is not None and prev.original_face is not None:
                row["original_motion"] = landmark_motion(m.original_face.landmarks, prev.original_face.landmarks,
                                                         m.iod)
        if m.output_face is None:
            self.counts["output_no_face_total"] += 1
        if m.original_face is not None:
            self.counts["input_face"] += 1
            if m.output_face is None:
                self.counts["output_no_face"] += 1
                if len(self.no_face) < LIST_LIMIT:
                    self.no_face.append(index)
                self.worst.offer("no_face", 1.0, index, tile, "no face")
            if m.face_change is not None:
                unchanged = m.face_change < self.o.unchanged_level
                row["unswapped"] = float(unchanged)
                self.counts["unswapped" if unchanged else "swapped"] += 1
                if unchanged:
                    if len(self.unswapped) < LIST_LIMIT:
                        self.unswapped.append(index)
                    self.worst.offer("unswapped", 1.0, index, tile, f"diff {m.face_change:.2f}")
        if index % self.o.identity_every == 0:
            self._identity(len(self.cols["frame"]), index, original, output, m, row, tile)
        for key in ("landmark_error", "expression_error", "pose_error", "jitter", "flicker", "occlusion"):
            self.worst.offer(key, None if row[key] != row[key] else row[key], index, tile)
        if seam_worst is not None:  # where on the outline: what a compositor looks at first
            self.worst.offer("seam", m.seam, index, tile, f"{m.seam:.3g} at {SEAM_SECTOR_NAMES[seam_worst]}")
        if m.sharpness is not None:  # worst = least detail: ranked by the detail lost
            self.worst.offer("sharpness", 1.0 - m.sharpness, index, tile, f"{m.sharpness:.3g}")
        for name in COLUMNS:
            self.cols[name].append(row[name])
        self.prev = m

    def _identity(self, row_index: int, index: int, original: np.ndarray, output: np.ndarray, m: FrameMeasures,
                  row: dict[str, float], tile: Callable[[], np.ndarray]) -> None:
        if m.original_face is not None:
            d = self.encoder.describe(original, m.original_face)
            self.original_descriptors.append(d)
            if self.wanted is not None:
                row["input_to_wanted"] = distance(d, self.wanted.descriptor)
                row["input_to_wanted_cosine"] = _cosine(d, self.wanted.descriptor)
        if m.output_face is not None:
            d = self.encoder.describe(output, m.output_face)
            self.output_descriptors.append((row_index, d))
            if self.wanted is not None:
                row["output_to_wanted"] = distance(d, self.wanted.descriptor)
                row["output_to_wanted_cosine"] = _cosine(d, self.wanted.descriptor)
                self.worst.offer("identity", row["output_to_wanted"], index, tile)

    def finish_identity(self) -> dict[str, Any]:
        """Distances to the original identity (known only now: the mean of the input's sampled
        faces), retrieval, and the identity section of the summary."""
        cols = self.cols
        original = np.mean(self.original_descriptors, axis=0) if self.original_descriptors else None
        closer = []
        for row, d in self.output_descriptors:
            if original is not None:
                cols["output_to_original"][row] = distance(d, original)
                cols["output_to_original_cosine"][row] = _cosine(d, original)
                if self.wanted is not None:
                    closer.append(cols["output_to_wanted"][row] < cols["output_to_original"][row])
        sampled = sum(1 for f in cols["frame"] if int(f) % self.o.identity_every == 0)
        out = {
            "wanted": self.wanted.to_dict() if self.wanted else None,
            "every": self.o.identity_every,
            "sampled_frames": sampled,
            "same_person_threshold": defaults.QC_SAME_PERSON,
        }
        for key in ("output_to_wanted", "input_to_wanted", "output_to_original"):
            out[key] = _stats(cols[key])
            out[key + "_cosine"] = _stats(cols[key + "_cosine"])
        out["wanted_to_original"] = (round(distance(self.wanted.descriptor, original), 6)
                                     if self.wanted is not None and original is not None else None)
        gain = None
        if out["input_to_wanted"] and out["output_to_wanted"]:
            gain = round(out["input_to_wanted"]["mean"] - out["output_to_wanted"]["mean"], 6)
        out["gain"] = gain
        out["retrieval"] = round(sum(closer) / len(closer), 6) if closer else None
        out["retrieval_frames"] = len(closer)
        return out

    def seam_by_sector(self) -> dict[str, Any] | None:
        """The seam per sector round the face over the frames measured: where it is (clock hours of
        the frame), its mean step (8-bit levels) and the share of frames in which that sector held
        the largest; `largest_at`/`largest_mean` and `next_at`/`next_mean`: the two sectors with the
        highest means (the worst-frames sheet shows single frames, whose worst sector may be another).
        None when no frame had a seam."""
        total = int(self.seam_worst.sum())
        if total == 0:
            return None
        means = np.where(self.seam_frames > 0, self.seam_sums / np.maximum(self.seam_frames, 1), np.nan)
        sectors = [{"where": SEAM_SECTOR_NAMES[k], "mean": None if np.isnan(means[k]) else round(float(means[k]), 6),
                    "largest_share": round(float(self.seam_worst[k]) / total, 6), "frames": int(self.seam_frames[k])}
                   for k in range(SEAM_SECTORS)]
        order = [k for k in np.argsort(-np.nan_to_num(means, nan=-1.0)) if not np.isnan(means[k])]
        return {"sectors": sectors, "largest_at": SEAM_SECTOR_NAMES[order[0]],
                "largest_mean": round(float(means[order[0]]), 6),
                "next_at": SEAM_SECTOR_NAMES[order[1]] if len(order) > 1 else None,
                "next_mean": round(float(means[order[1]]), 6) if len(order) > 1 else None}

    def columns(self) -> dict[str, np.ndarray]:
        return {name: np.frombuffer(col, np.float64) if len(col) else np.zeros(0) for name, col in self.cols.items()}

    def glasses(self) -> dict[str, Any] | None:
        """--glasses: how much of the sharpness region the original's glasses took out (mean share),
        and whether they looked like glasses (the found rims' median line contrast; under
        BARE_CONTRAST, `seem_bare`: a bare face's brows and lids were left out instead). None
        without the option."""
        if not self.o.glasses:
            return None
        contrast = float(np.median(self.glasses_contrast)) if self.glasses_contrast else None
        return {"left_out_share": round(float(np.mean(self.glasses_share)), 4) if self.glasses_share else None,
                "rim_contrast": None if contrast is None else round(contrast, 3),
                "seem_bare": contrast is not None and contrast < BARE_CONTRAST}

    def sections(self) -> dict[str, Any]:
        c = self.cols
        n_in = self.counts["input_face"]
        measured_change = self.counts["swapped"] + self.counts["unswapped"]
        return {
            "identity": self.finish_identity(),
            "expression": {"landmark_error": _stats(c["landmark_error"]),
                           "expression_error": _stats(c["expression_error"]), "pose_error_deg": _stats(c["pose_error"]),
                           "yaw_diff_deg": _stats(c["yaw_diff"]), "pitch_diff_deg": _stats(c["pitch_diff"]),
                           "roll_diff_deg": _stats(c["roll_diff"])},
            "temporal": {"jitter": _stats(c["jitter"]), "flicker": _stats(c["flicker"]),
                         "original_motion": _stats(c["original_motion"])},
            "appearance": {"sharpness": _stats(c["sharpness"]), "seam": _stats(c["seam"]),
                           "seam_by_sector": self.seam_by_sector(), "occlusion": _stats(c["occlusion"]),
                           "glasses": self.glasses()},
            "coverage": {"input_face_frames": n_in, "swapped_frames": self.counts["swapped"],
                         "unswapped_frames": self.counts["unswapped"],
                         "output_no_face_frames": self.counts["output_no_face"],
                         "output_no_face_total": self.counts["output_no_face_total"],
                         "swapped_share": round(self.counts["swapped"] / measured_change, 6) if measured_change
                         else None,
                         "unchanged_level": self.o.unchanged_level,
                         "unswapped_list": self.unswapped, "output_no_face_list": self.no_face},
        }


def run_qc(output: str | Path, original: str | Path, identity: str | Path | None = None,
           options: QcOptions | None = None, progress: bool = False) -> QcResult:
    """Measure `output` (a converted video) against `original` (the footage it was made from)
    and, when given, `identity` (a faceset, video, image folder or image of the person who
    should now appear). Writes options.report / options.json when set."""
    options = options or QcOptions()
    options.validate()
    gates = options.gates()
    plates = [_said(check_source, p, what) == "sequence" for p, what in ((output, "output"), (original, ORIGINAL))]
    if any(plates) and not all(plates):
        raise FaceswapError("qc compares a sequence with a sequence and a video with a video: "
                            f"{Path(output).name} and {Path(original).name} are one of each")
    if not plates[0]:
        _check_video(output, "output")
        _check_video(original, ORIGINAL)
        infos = (_said(probe_video, output, "output"), _said(probe_video, original, ORIGINAL))
    started = time.monotonic()
    backend = make_backend(options.detector, options.confidence)
    try:
        encoder = IdentityEncoder()
        wanted = load_identity(identity, encoder, backend, options.identity_samples) if identity else None
        measurer = _Measurer(options, encoder, wanted)
        readers = sequence_readers(output, original) if plates[0] else (
            VideoReader(output, eight_bit=True), VideoReader(original, eight_bit=True))
        out_reader, orig_reader = readers
        frames, complete = _stream(out_reader, orig_reader, backend, measurer, options.max_frames, progress)
    finally:
        backend.close()
    if plates[0]:
        integrity = check_sequence_integrity(out_reader, orig_reader, tuple(options.ignore_integrity))
    else:
        integrity = check_integrity(
            output, original, frames=(out_reader.frames_read, orig_reader.frames_read) if complete else None,
            decode_warning=out_reader.warning if complete else None,
            tolerances=Tolerances(options.fps_tolerance, options.duration_tolerance, options.audio_tolerance),
            ignore=tuple(options.ignore_integrity), infos=infos)
    seconds = time.monotonic() - started
    summary: dict[str, Any] = {
        "output": str(output), "original": str(original), "identity_reference": str(identity) if identity else None,
        "frames": {"measured": frames, "output": integrity.checks[0].output, "original": integrity.checks[0].original},
        "seconds": round(seconds, 3), "speed_fps": round(frames / seconds, 2) if seconds > 0 else None,
        **measurer.sections(),
        "changed_tracks": changed_tracks(output),
        "integrity": integrity.to_dict(),
        "options": options.to_dict(),
        "warnings": [w for w in (orig_reader.warning,) if w],
    }
    bare = _bare_warning(summary["appearance"]["glasses"])
    if bare:
        summary["warnings"].append(bare)
    summary["gates"] = evaluate(summary, gates)
    failures = [f"integrity {c.name}: output {c.output} vs input {c.original}" + (f" ({c.note})" if c.note else "")
                for c in integrity.failed]
    failures += [f"{g['gate']}: " + ("not measured" if g["value"] is None else f"measured {g['value']:.4g}")
                 for g in summary["gates"] if not g["ok"]]
    summary["failures"] = failures
    summary["pass"] = not failures
    result = QcResult(summary, failures)
    if options.report:
        result.report = write_report(options.report, summary, measurer.columns(), measurer.worst)
        summary["report"] = result.report
    if options.json:
        write_json(options.json, summary)
    return result


def _bare_warning(found: dict[str, Any] | None) -> str | None:
    """One line, logged, when --glasses was given for a face that does not seem to wear any.
    found: the summary's appearance.glasses (_Measurer.glasses), None without the option."""
    if not found or not found["seem_bare"]:
        return None
    share = found["left_out_share"]
    text = (f"--glasses: no rim stands out round the original's eyes (line contrast {found['rim_contrast']:.2f}, "
            f"under {BARE_CONTRAST}): the face does not seem to wear glasses, so its brows and lids "
            + ("" if share is None else f"({share:.0%} of the sharpness region) ")
            + "were left out instead; measure without --glasses")
    log.warning(text)
    return text


def _stream(out_reader: VideoReader | SequenceReader, orig_reader: VideoReader | SequenceReader, backend, measurer: _Measurer,
            limit: int | None, progress: bool) -> tuple[int, bool]:
    """Decode both videos in step and measure each frame pair. Returns (frames measured,
    whether both videos were decoded to their end, so their frame counts are known)."""
    total = min(out_reader.info.frame_count, orig_reader.info.frame_count)
    its = [iter(out_reader), iter(orig_reader)]
    glasses = GlassesTrack() if measurer.o.glasses else None   # the measured face's, started again at a cut
    measured = 0
    complete = False
    bar = tqdm(total=min(total, limit) if limit else total, unit="frame", disable=not progress, desc="qc")
    try:
        while limit is None or measured < limit:
            out_item = next(its[0], None)
            orig_item = next(its[1], None)
            if out_item is None or orig_item is None:
                # One ended: decode the rest of the other to count its frames.
                for it in its:
                    for _ in it:
                        pass
                complete = True
                break
            index, out_frame = out_item
            _, orig_frame = orig_item
            m = measure_pair(orig_frame, out_frame, backend.detect(orig_frame), backend.detect(out_frame),
                             glasses)
            measurer.add(index, orig_frame, out_frame, m)
            measured += 1
            bar.update(1)
        else:
            # Stopped at the limit: are both at their end anyway?
            tails = [next(it, None) for it in its]
            if tails[0] is None and tails[1] is None:
                complete = True
    finally:
        bar.close()
        for it in its:
            it.close()
    return measured, complete
