"""`faceswap verify`: is a file labelled as synthetic, and by which labels.

Four labels, each checked on its own, so a file that lost some still shows the others:
the container tags (or image headers) convert writes, the provenance sidecar (and whether the
output hash it holds matches the file), signed Content Credentials (C2PA, credentials.py:
valid, invalid after an edit, or none), and the invisible watermark (media/watermark.py),
which survives re-encoding, scaling, cropping and a new frame rate when the others are gone.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from . import defaults
from .credentials import read_credentials
from .errors import FaceswapError
from .log import get_logger
from .media import watermark
from .media.images import read_png_text
from .media.source import FrameSource, check_source
from .provenance import hash_path, read_container_tags, read_sidecar, sidecar_path

__all__ = ["Verdict", "WindowReader", "verify_file"]

log = get_logger(__name__)


@dataclass
class Verdict:
    """What `verify_file` found for one file. `labelled`: at least one intact label says
    synthetic (tags with synthetic=1, a sidecar whose hash matches, a valid C2PA manifest that
    says AI-composited, or the watermark)."""

    path: str
    kind: str
    tags: dict[str, str] = field(default_factory=dict)
    tags_synthetic: bool = False
    sidecar: dict[str, Any] = field(default_factory=dict)
    c2pa: dict[str, Any] = field(default_factory=lambda: {"status": "not checked"})
    watermark: dict[str, Any] = field(default_factory=dict)
    labelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """A short human report."""
        out = [f"{self.path} ({self.kind}): " + ("LABELLED as synthetic" if self.labelled else "no label found")]
        out.append("  tags: " + ("synthetic=1" if self.tags_synthetic else "none saying synthetic")
                   + (f" (watermark {self.tags['faceswap_watermark']})" if "faceswap_watermark" in self.tags else ""))
        sc = self.sidecar
        out.append("  sidecar: " + (f"unreadable ({sc['error']})" if sc.get("error") else "none" if not sc.get("found")
                                    else f"{sc['path']}, output hash " + ("matches" if sc.get("output_hash_ok")
                                                                          else "does NOT match")))
        out.append(f"  c2pa: {_c2pa_line(self.c2pa)}")
        w = self.watermark
        if w.get("found"):
            out.append(f"  watermark: found, output id {w['output_id']} in {w['decoded']} of {w['windows']} windows "
                       f"({w['share']:.0%}), sync {w['sync_median']:.1f}"
                       + ("" if w.get("matches_sidecar") is None else
                          # the id, not the file: a re-encoded output keeps its id and loses its hash
                          (", the sidecar's output id" + ("" if self.sidecar.get("output_hash_ok")
                                                          else " (this file was changed since: see the hash)"))
                          if w["matches_sidecar"] else ", NOT the sidecar's output id"))
        else:
            windows = w.get("windows", 0)
            off = self.tags.get("faceswap_watermark") == "off" or \
                (self.sidecar.get("watermark") or {}).get("mode") == "off"
            out.append(f"  watermark: not found in {windows} window{'s' if windows != 1 else ''}"
                       + (" (convert wrote none: --watermark off, say the tags or sidecar)" if off else ""))
        return out


def _c2pa_line(c2pa: dict[str, Any]) -> str:
    status = c2pa["status"]
    if status in ("valid", "trusted"):
        return (f"{status}, signed by {c2pa.get('signer')}"
                + ("" if c2pa.get("on_trust_list") else " (not on c2pa's trust list)")
                + (", says AI-composited (c2pa.edited)" if c2pa.get("synthetic") else ", says nothing of AI"))
    if status == "invalid":
        return "INVALID: " + ", ".join(c2pa.get("failures") or ["unreadable"]) + " (the file changed after signing)"
    return {"none": "none", "unsupported": "not read (C2PA is read from MP4/MOV)"}.get(status, status)


def _tags(path: Path, kind: str, first) -> dict[str, str]:
    if kind == "video" or (kind == "images" and path.is_dir() and (path / "sequence.json").is_file()):
        return read_container_tags(path)
    plate = first.plate if first is not None else None
    if plate is None:   # an 8-bit still: its PNG text entries
        image = path / first.name if path.is_dir() else path
        return {k.split(":", 1)[1]: v for k, v in read_png_text(image).items() if k.startswith("faceswap:")}
    return {name.split(":", 1)[1]: str(value) for name, _, value in plate.attributes if name.startswith("faceswap:")}


def _sidecar(path: Path) -> dict[str, Any]:
    if not sidecar_path(path).exists():
        return {"found": False}
    try:
        record = read_sidecar(path)
    except FaceswapError as err:
        return {"found": False, "path": str(sidecar_path(path)), "error": str(err)}
    out: dict[str, Any] = {"found": True, "path": str(sidecar_path(path)), "record_sha256": record.get("record_sha256"),
                           "watermark": record.get("watermark")}
    wanted = record.get("output") or {}
    try:
        now = hash_path(path, exclude=[sidecar_path(path).name])
    except FaceswapError:
        now = {}
    out["output_hash_ok"] = bool(wanted.get("sha256")) and wanted.get("sha256") == now.get("sha256")
    return out


class WindowReader:
    """Reads the mark of one window: over the whole frame, then, when that finds nothing, over
    the faces of the window's middle frame only (a mark convert put on the faces alone, as on
    plates, is too faint against a whole frame's unmarked pixels). The face detector loads on
    first need; `close()` releases it."""

    def __init__(self, detector: str = defaults.DETECTOR) -> None:
        self.detector = detector
        self._backend = None

    def read(self, sums: list[np.ndarray], middle: np.ndarray) -> watermark.Mark:
        """`sums`: the window's `watermark.residuals` summed; `middle`: its middle frame (H, W, 3)
        uint8 RGB."""
        mark = watermark.decode_window(sums)
        if mark.found:
            return mark
        if self._backend is None:
            from .faces.backends import make_backend

            self._backend = make_backend(self.detector)
        weights = np.zeros(middle.shape[:2], np.float32)
        for face in self._backend.detect(middle):
            hull = cv2.convexHull(face.landmarks.astype(np.float32)).astype(np.int32)
            cv2.fillConvexPoly(weights, hull, 1.0)
        if not weights.any():
            return mark
        # the blend reaches past the landmarks' hull (forehead, jaw): grown by a tenth of the frame
        grow = max(3, min(middle.shape[:2]) // 10) | 1
        weights = cv2.dilate(weights, np.ones((grow, grow), np.uint8))
        on_faces = watermark.decode_window(sums, weights=weights)
        return on_faces if on_faces.found else mark

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def _watermark(frames: Iterable, window: int, max_windows: int | None) -> dict[str, Any]:
    """Decode the mark window by window (`window` frames each; a shorter last one counts when
    it is the only one)."""
    marks: list[watermark.Mark] = []
    sums: list[np.ndarray] | None = None
    middle = None
    n = 0
    reader = WindowReader()
    try:
        for frame in frames:
            res = watermark.residuals(frame.image)
            if sums is not None and sums[0].shape != res[0].shape:
                # a folder of images of several sizes: a window ends where the size changes
                marks.append(reader.read(sums, middle))
                sums, n, middle = None, 0, None
            sums = res if sums is None else [a + b for a, b in zip(sums, res, strict=True)]
            if n == window // 2 or middle is None:
                middle = frame.image.copy()
            n += 1
            if n == window:
                marks.append(reader.read(sums, middle))
                sums, n = None, 0
                if max_windows is not None and len(marks) >= max_windows:
                    break
        if sums is not None and (not marks or n >= window // 2) and \
                (max_windows is None or len(marks) < max_windows):
            marks.append(reader.read(sums, middle))   # the last part, when half a window or more
    finally:
        reader.close()
    ids = Counter(m.output_id for m in marks if m.found)
    best, count = ids.most_common(1)[0] if ids else (None, 0)
    return {"found": best is not None, "output_id": None if best is None else f"{best:010x}",
            "windows": len(marks), "decoded": count, "share": count / len(marks) if marks else 0.0,
            "sync_median": float(np.median([m.sync_score for m in marks])) if marks else 0.0,
            "other_ids": sorted(f"{i:010x}" for i in ids if i != best)}


def _counted(frames: Iterable, bar) -> Iterable:
    for frame in frames:
        bar.update(1)
        yield frame


def verify_file(path: str | Path, window_seconds: float = defaults.VERIFY_WINDOW_SECONDS,
                max_windows: int | None = None, progress: bool = False,
                trust: str | Path | None = None) -> Verdict:
    """Check every label of `path` (a video, an image sequence pattern, an image folder or an
    image). The watermark is read over windows of `window_seconds` (VERIFY_IMAGE_FPS frames a
    second for images and sequences), at most `max_windows` of them (None: the whole file), with
    a progress bar of frames read when `progress`; `trust`: the PEM certificate authorities
    whose signed Content Credentials count as trusted (credentials.read_credentials). Raises
    FaceswapError (one line) for a path that is not readable media."""
    path = Path(path)
    kind = check_source(path)
    source = FrameSource(path, quiet=True)
    frames = iter(source)
    try:
        first = next(frames, None)
        if first is None:
            raise FaceswapError(f"{path} has no frames to read")
        verdict = Verdict(str(path), source.kind)
        verdict.tags = _tags(path, kind, first)
        verdict.tags_synthetic = verdict.tags.get("synthetic") == "1"
        verdict.sidecar = _sidecar(path)
        fps = source.fps if source.is_video else defaults.VERIFY_IMAGE_FPS
        window = max(1, round(fps * window_seconds))
        total = len(source) if max_windows is None else min(len(source), max_windows * window)
        with tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True, desc=path.name,
                  leave=False) as bar:
            verdict.watermark = _watermark(_counted(itertools.chain([first], frames), bar), window, max_windows)
    finally:
        frames.close()
    expected = (verdict.sidecar.get("watermark") or {}).get("output_id")
    if verdict.watermark["found"] and expected:
        verdict.watermark["matches_sidecar"] = verdict.watermark["output_id"] == expected
    verdict.c2pa = read_credentials(path, trust)
    signed = verdict.c2pa["status"] in ("valid", "trusted") and bool(verdict.c2pa.get("synthetic"))
    verdict.labelled = (verdict.tags_synthetic or bool(verdict.sidecar.get("output_hash_ok")) or signed
                        or verdict.watermark["found"])
    return verdict
