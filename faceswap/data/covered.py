"""Which faces of a faceset are mostly covered (a hand, a microphone, a cup, hair across the face):
recorded by extract, so that train draws them less often and does not learn the occluder as the face.

The occlusion net (model/occlusion.py) exists only once a model is trained, so extract judges a
face by colour: the share of its bare skin (the landmarks' `skin` mask: cheeks, nose, the brow
ridge and a band of forehead, no eyes, brows or lips) whose chroma is not the skin colour of its
own track. A track's skin colour is the median over its faces of each face's median skin chroma,
so an occluder that crosses a few of its frames does not set the colour it is judged by; the
spread allowed round it is the track's own (the median of its faces' spreads), so a face is
compared with that person under that light. This is the test qc's `occlusion` figure makes on
the footage (qc/occlusion.py: Mahalanobis distance in Cr/Cb, dark pixels not skin).

It sees what is not skin-coloured: a microphone, a cup, a dark sleeve, hair. A hand of the same
skin tone as the face is not seen (the occlusion net learns those from synthetic hands).

The record is `covered.json` in the faceset: {"format", "method", "mostly", "faces": {crop file
name: share of the bare skin covered, 0-1}}, written atomically by `record_faceset`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import FaceswapError
from ..faces.geometry import transform_points
from ..faces.masks import SKIN_DISTANCE, SKIN_MIN_LUMA, landmark_mask, off_skin
from ..log import get_logger
from ..media.images import atomic_write_bytes
from .faceset import FaceRecord, iter_faceset, read_crop

log = get_logger(__name__)

COVERED_FILE = "covered.json"
FORMAT = "faceswap-covered-1"
# A face with more than this share of its bare skin covered is "mostly covered".
MOSTLY = 0.5
# Fewer bare-skin pixels than this in a crop: the face is not judged (share 0).
MIN_PIXELS = 200
# The least spread allowed round the track's skin chroma, in Cr/Cb levels: a flat, evenly lit
# skin is not a point (the same floor qc uses).
MIN_SPREAD = 2.0


def _bare_skin(crop: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(N, 3) float64 Y, Cr, Cb of the bare-skin pixels of `crop` ((S, S, 3) uint8 RGB; `landmarks`
    (68, 2) in its pixels)."""
    ycc = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb)
    return ycc[landmark_mask(landmarks, crop.shape[:2], "skin") >= 128].astype(np.float64)


def covered_share(skin: np.ndarray, mean: np.ndarray, inverse_cov: np.ndarray, dark: float) -> float:
    """The share (0-1) of a face's bare skin (`_bare_skin`, (N, 3) Y/Cr/Cb) that is not of the skin
    colour given by `mean` (2,) Cr/Cb and `inverse_cov` (2, 2) (`off_skin`), or darker than `dark`
    (luma: a dark microphone, an occluder's shadow). 0.0 under MIN_PIXELS of bare skin."""
    if len(skin) < MIN_PIXELS:
        return 0.0
    return float(np.mean(off_skin(skin[:, 1:], mean, inverse_cov) | (skin[:, 0] <= dark)))


def _face_stats(skin: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(median (2,), covariance about it (2, 2)) of the Cr/Cb of a face's bare skin (`_bare_skin`)
    brighter than SKIN_MIN_LUMA (the chroma of near-black pixels is noise), and the median luma of
    all of it; None when fewer than MIN_PIXELS are bright enough."""
    chroma = skin[skin[:, 0] > SKIN_MIN_LUMA, 1:]
    if len(chroma) < MIN_PIXELS:
        return None
    median = np.median(chroma, axis=0)
    return median, np.cov((chroma - median).T), float(np.median(skin[:, 0]))


def _track_model(stats: list[tuple[np.ndarray, np.ndarray, float] | None]) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(mean (2,), inverse covariance (2, 2), dark luma) of a track's skin from its faces'
    `_face_stats`: the median of the faces' medians, the median of their covariances (per
    element) floored at MIN_SPREAD, and the luma under which a pixel counts as covered:
    SKIN_MIN_LUMA, or half the track's skin luma for a face in shadow (a dark stage: its own skin
    sits near SKIN_MIN_LUMA, and hamilton_stage's face in shadow read 0.80 covered without this).
    None when no face shows enough skin."""
    usable = [s for s in stats if s is not None]
    if not usable:
        return None
    cov = np.median([c for _, c, _ in usable], axis=0) + np.eye(2) * MIN_SPREAD ** 2
    dark = min(float(SKIN_MIN_LUMA), 0.5 * float(np.median([y for _, _, y in usable])))
    return np.median([m for m, _, _ in usable], axis=0), np.linalg.inv(cov), dark


def record_faceset(faceset: str | Path) -> dict[str, float]:
    """Judge every face crop in `faceset` and write `covered.json` beside them (atomically):
    {crop file name: covered share}. Faces are grouped by source and track (an untracked face,
    track -1, is judged against the faces of its source that are untracked too). Returns the
    shares, {} (and no file) when the folder holds no crops. Raises FaceswapError when the
    file cannot be written."""
    faceset = Path(faceset)
    groups: dict[tuple[str, int], list[FaceRecord]] = defaultdict(list)
    for rec in iter_faceset(faceset):
        groups[str(rec.meta.get("source", "")), int(rec.meta.get("track", -1))].append(rec)
    if not groups:
        return {}

    def skin(rec: FaceRecord) -> np.ndarray:
        return _bare_skin(read_crop(rec.path)[0], transform_points(rec.landmarks, rec.matrix))

    # two passes over each track, reading its crops twice: a faceset of thousands of crops is not
    # held in memory, only each face's skin statistics
    shares: dict[str, float] = {}
    for faces in groups.values():
        model = _track_model([_face_stats(skin(rec)) for rec in faces])
        for rec in faces:
            shares[rec.path.name] = 0.0 if model is None else round(covered_share(skin(rec), *model), 4)
    doc = {"format": FORMAT, "method": "bare skin not of its track's skin colour (Cr/Cb Mahalanobis "
           f"> {SKIN_DISTANCE:g}) or darker than luma {SKIN_MIN_LUMA}", "mostly": MOSTLY,
           "faces": dict(sorted(shares.items()))}
    try:
        atomic_write_bytes(faceset / COVERED_FILE, (json.dumps(doc, indent=1) + "\n").encode())
    except OSError as err:
        raise FaceswapError(f"cannot write {faceset / COVERED_FILE}: {err.strerror or err}") from err
    log.debug("%s: %d of %d faces mostly covered", faceset, sum(s > MOSTLY for s in shares.values()), len(shares))
    return shares


def read_shares(faceset: str | Path) -> dict[str, float]:
    """The covered shares `record_faceset` wrote for `faceset`, by crop file name; {} when the
    faceset has none (extracted before it was recorded) or the file is not ours (one warning)."""
    path = Path(faceset) / COVERED_FILE
    if not path.exists():
        return {}
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("faces"), dict):
            raise ValueError(f"not a {FORMAT} record")
        shares = doc["faces"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in shares.values()):
            raise ValueError("a share is not a number from 0 to 1")
        return {str(k): float(v) for k, v in shares.items()}
    except (OSError, ValueError, RecursionError) as err:
        log.warning("%s ignored (every face drawn alike): %s", path, getattr(err, "strerror", None) or err)
        return {}


def sample_weights(shares: np.ndarray, covered_weight: float) -> np.ndarray | None:
    """(N,) float64 sampling weights of a faceset's faces in load order: `covered_weight` for a
    mostly covered face (share > MOSTLY), 1 for the rest; None when all weigh the same (then
    every face is drawn alike, whatever `covered_weight`)."""
    weights = np.where(np.asarray(shares, np.float64) > MOSTLY, covered_weight, 1.0)
    return None if np.all(weights == weights[0]) else weights
