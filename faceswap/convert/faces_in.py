"""Where convert gets each frame's faces, and which of them it changes.

Faces come from extract's alignments file when one is given (frames it does
not cover are searched on the fly), otherwise from the same FaceFinder
extract uses (so on-the-fly convert sees what extract would have stored).
Tracks found on the fly are numbered after the file's. Which faces are changed: one track (`--track`), the
person of a reference photo (`--reference`), every face (`--all-faces`), or
by default the track whose faces the model's own footage decoder rebuilds
best, i.e. the person the model was trained to replace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..data.faceset import AlignmentsFile, alignments_path
from ..errors import FaceswapError
from ..faces.backends import Backend
from ..faces.finder import FaceFinder
from ..faces.reference import ReferenceFilter
from ..faces.types import Face
from ..log import get_logger
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
        if options.alignments:
            path = _alignments_file(options.alignments, source_path)
            self.alignments = AlignmentsFile(path)
            src = (self.alignments.header or {}).get("source", "")
            if src and Path(src).name != source_path.name:
                log.warning("alignments file %s was made from %s, not %s", path.name, Path(src).name,
                            source_path.name)
            log.info("faces from %s (%d frames)", path, len(self.alignments.frames))
        else:
            self.finder = self._new_finder()

    def __call__(self, image: np.ndarray, index: int, name: str) -> list[Face]:
        record = self.alignments.frames.get(name) if self.alignments is not None else None
        if record is None:
            # no alignments, or a frame extract skipped (--every, an interrupted run): find them here
            if self.finder is None:
                self.finder = self._new_finder()
                # its tracks must not take the numbers of the file's tracks
                self.finder.reserve_track_ids(self.alignments.track_ids())
            if self.alignments is not None:
                self.detected += 1
            return self.finder.find(image, index)
        return [Face(np.asarray(f["landmarks"], np.float32), float(f.get("score", 1.0)), None, int(f["track"]))
                for f in record["faces"]]


class TargetSelector:
    """Keeps the faces to change in a frame (decided per track, so the choice does not flicker)."""

    def __init__(self, options: ConvertOptions, swapper: Swapper, footage_side: str,
                 backend_factory: Callable[[], Backend]) -> None:
        self.options = options
        self.swapper = swapper
        self.side = footage_side
        self.reference = None
        if options.reference:
            self.reference = ReferenceFilter(options.reference, backend_factory(), options.reference_threshold)
        self.scores: dict[int, list[float]] = {}
        self._seen: dict[int, int] = {}

    def __call__(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        if not faces or self.options.all_faces:
            return faces
        if self.options.track is not None:
            return [f for f in faces if f.track == self.options.track]
        if self.reference is not None:
            return self.reference.keep(image, faces)
        self._score(image, faces)
        best = min(self.score(t) for t in self.scores)
        return [f for f in faces if self.score(f.track) <= best * SCORE_MARGIN]

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


__all__ = ["FaceProvider", "TargetSelector"]
