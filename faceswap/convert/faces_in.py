"""Where convert gets each frame's faces, and which of them it changes.

Faces come from extract's alignments file when one is given (frames it does
not cover are searched on the fly), otherwise from the same FaceFinder
extract uses (so on-the-fly convert sees what extract would have stored).
Tracks found on the fly are numbered after the file's. No track continues
across a shot cut: box overlap would link whoever stands in the same place
after it, often another person. Which faces are changed: one track
(`--track`), the person of a reference photo (`--reference`), every face
(`--all-faces`), or by default the person the model was trained to replace:
each track is compared with the mean identity descriptor of the model's
footage-side faceset (identity.json, written by train), so the choice holds
in every shot whatever the framing, size or track number.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..data.faceset import AlignmentsFile, alignments_path
from ..data.identity import faceset_identity
from ..errors import FaceswapError
from ..faces.backends import Backend
from ..faces.finder import FaceFinder
from ..faces.reference import IdentityFilter, ReferenceFilter
from ..faces.types import Face
from ..log import get_logger
from ..model.store import load_identity, load_model_config
from .options import ConvertOptions
from .swapper import Swapper

log = get_logger(__name__)

# Reconstruction-error samples per track, and frames between two samples.
SCORE_SAMPLES = 5
SCORE_EVERY = 10
# A track is the model's person when its error is within this factor of the best track's.
SCORE_MARGIN = 1.15


def _alignments_file(path: str | Path, source: Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = alignments_path(path, source)
    if not path.is_file():
        raise FaceswapError(f"no alignments file {path} (extract writes <faceset>/<video name>.alignments.jsonl)")
    return path


class FaceProvider:
    """`faces(image, index, name)` -> the faces of that frame, tracked."""

    def __init__(self, source_path: Path, options: ConvertOptions, backend_factory: Callable[[], Backend],
                 sequence: bool) -> None:
        self.alignments: AlignmentsFile | None = None
        self.finder: FaceFinder | None = None
        self._new_finder = lambda: FaceFinder(backend_factory(), sequence=sequence,
                                              detect_every=options.detect_every)
        self.detected = 0  # frames the alignments file did not cover, found on the fly
        self._shot = 0
        self._renumbered: dict[int, int] = {}  # the file's track -> its id in this shot (after a cut)
        self._next_id = 0
        self._last_file: tuple[int, list[Face]] | None = None  # the latest frame the file held
        if options.alignments:
            path = _alignments_file(options.alignments, source_path)
            self.alignments = AlignmentsFile(path)
            src = (self.alignments.header or {}).get("source", "")
            if src and Path(src).name != source_path.name:
                log.warning("alignments file %s was made from %s, not %s", path.name, Path(src).name,
                            source_path.name)
            log.info("faces from %s (%d frames)", path, len(self.alignments.frames))
            self._next_id = max(self.alignments.track_ids(), default=-1) + 1
        else:
            self.finder = self._new_finder()

    def __call__(self, image: np.ndarray, index: int, name: str, shot: int = 0) -> list[Face]:
        """The faces of this frame; `shot` (the cut detector's shot number) ends every track when it changes."""
        if shot != self._shot:
            self._shot = shot
            self._renumbered.clear()
            if self.finder is not None:
                self.finder.cut()
        record = self.alignments.frames.get(name) if self.alignments is not None else None
        if record is None:
            # no alignments, or a frame extract skipped (--every, an interrupted run): find them here
            if self.finder is None:
                self.finder = self._new_finder()
                # its tracks must not take the numbers of the file's tracks
                self.finder.reserve_track_ids([*self.alignments.track_ids(), self._next_id - 1])
            if self._last_file is not None:
                # a face found here continues the file's track of the same face (not a second
                # track on it, which the stabiliser would also bridge: the face changed twice)
                self.finder.seed(*self._last_file)
                self._last_file = None
            if self.alignments is not None:
                self.detected += 1
            return self.finder.find(image, index)
        faces = [Face(np.asarray(f["landmarks"], np.float32), float(f.get("score", 1.0)), None,
                      self._file_track(int(f["track"]))) for f in record["faces"]]
        self._last_file = (index, faces)
        return faces

    def _file_track(self, track: int) -> int:
        """The id of a track of the alignments file: its own in the first shot, a new one per later
        shot (extract's tracker does not know about cuts)."""
        if self._shot == 0:
            return track
        if track not in self._renumbered:
            if self.finder is not None:
                self._next_id = max(self._next_id, self.finder.tracker.next_id)
                self.finder.reserve_track_ids([self._next_id])
            self._renumbered[track] = self._next_id
            self._next_id += 1
        return self._renumbered[track]


class TargetSelector:
    """Keeps the faces to change in a frame (decided per track, so the choice does not flicker)."""

    def __init__(self, options: ConvertOptions, swapper: Swapper, footage_side: str,
                 backend_factory: Callable[[], Backend]) -> None:
        self.options = options
        self.swapper = swapper
        self.side = footage_side
        self.scores: dict[int, list[float]] = {}
        self._seen: dict[int, int] = {}
        self._told: set[int] = set()
        self._fallback = False
        self._told_fallback = False
        self.likeness: IdentityFilter | None = None
        self._model_person = not (options.all_faces or options.track is not None or options.reference)
        if options.reference and not options.all_faces and options.track is None:
            self.likeness = ReferenceFilter(options.reference, backend_factory(), options.reference_threshold)

    def __call__(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        if not faces or self.options.all_faces:
            return faces
        if self.options.track is not None:
            return [f for f in faces if f.track == self.options.track]
        if self._model_person:
            # only now: reenact without --to learns the footage's side from the first faces
            self._model_person = False
            descriptor = model_identity(self.swapper.model_dir, self.side)
            if descriptor is not None:
                self.likeness = IdentityFilter(descriptor, self.options.reference_threshold)
                self._fallback = True
        if self.likeness is not None:
            kept = self.likeness.keep(image, faces)
            # footage where the model's person has not appeared (a model used on someone else on
            # purpose): the face its footage decoder rebuilds best, as without identity.json
            if kept or not self._fallback or self.likeness.seen_person:
                self._tell(faces, kept)
                return kept
            if not self._told_fallback:
                self._told_fallback = True
                log.info("no face here is the model's person yet (identity distance over %.2f): changing the "
                         "one its footage decoder rebuilds best, until that person appears",
                         self.likeness.threshold)
        self._score(image, faces)
        best = min(self.score(t) for t in self.scores)
        return [f for f in faces if self.score(f.track) <= best * SCORE_MARGIN]

    def _tell(self, faces: list[Face], kept: list[Face]) -> None:
        for face in faces:
            if face.track not in self._told:
                self._told.add(face.track)
                log.info("track %d: identity distance %.3f (under %.2f is the person): %s", face.track,
                         self.likeness.track_distance(face.track), self.likeness.threshold,
                         "changed" if any(face is k for k in kept) else "left alone")

    def score(self, track: int) -> float:
        samples = self.scores.get(track)
        return float(np.mean(samples)) if samples else float("inf")

    def _score(self, image: np.ndarray, faces: list[Face]) -> None:
        todo = []
        for face in faces:
            seen = self._seen.get(face.track, 0)
            self._seen[face.track] = seen + 1
            if len(self.scores.get(face.track, [])) < SCORE_SAMPLES and seen % SCORE_EVERY == 0:
                todo.append(face)
        if not todo:
            return
        for face, err in zip(todo, self.swapper.reconstruction_error(self.swapper.face_crops(image, todo), self.side)):
            self.scores.setdefault(face.track, []).append(float(err))


def model_identity(model_dir: Path, side: str) -> np.ndarray | None:
    """(128,) mean descriptor of the model's `side` faceset: from identity.json; for a model
    trained before train wrote it, computed from the faceset folder its config.json records
    (with a warning); None (with a warning) when neither is there."""
    sides = load_identity(model_dir)
    if sides is not None and side in sides:
        return np.asarray(sides[side]["descriptor"], np.float32)
    folder = load_model_config(model_dir)[1].get("facesets", {}).get(side)
    if folder and Path(folder).is_dir():
        log.warning("%s has no identity.json: describing its faceset %s (train writes it now)", model_dir, folder)
        return np.asarray(faceset_identity(folder)["descriptor"], np.float32)
    log.warning("%s has no identity.json nor its faceset: the face to change is the one the model rebuilds "
                "best (retrain, or pass --reference PHOTO, --track N)", model_dir)
    return None


__all__ = ["FaceProvider", "TargetSelector", "model_identity"]
