"""Optional backend: face-alignment's FAN (2DFAN4) predicts the 68 iBUG points.

FAN is the landmark network deepfakes/faceswap and DeepFaceLab align with.
Its weights are not in any wheel and face-alignment downloads them at run
time, which this toolkit never does: the file has to be put in place by the
user (see weights/README.md). Face boxes come from MediaPipe's detectors,
because face-alignment's own detector (SFD) needs downloaded weights as well.

Geometry follows face-alignment's convention, so the network sees crops like
the ones it was trained on: a box gives a centre (moved up by 12% of the box
height) and a scale of (width + height) / 195; the crop is the square of side
200 * scale around that centre, resized to 256x256, and the network answers
with one 64x64 heatmap per point. Coordinates are "pixels from the left/top
edge" (the convention of face-alignment and of MediaPipe's boxes), so a point
in the middle of pixel 10 is at 10.5.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from .. import defaults
from ..errors import FaceswapError
from .geometry import box_crop
from .types import Face

ENV_VAR = "FACESWAP_FAN_WEIGHTS"
# TorchScript is code that runs when it is loaded, not data: reading such an archive needs
# $FACESWAP_ALLOW_TORCHSCRIPT=1 (what `faceswap --allow-torchscript` sets) or FanBackend(allow_torchscript=True).
ALLOW_TORCHSCRIPT_ENV = defaults.ALLOW_TORCHSCRIPT_ENV
# The repository's own weights/ folder. Not weights/ under the current
# directory: a checkout or a shot folder someone sent could plant code there.
REPO_WEIGHTS = defaults.WEIGHTS_DIR
# In order of preference inside a folder: safetensors cannot run code at all,
# a state dict is read with weights_only=True (face-alignment 1.5 publishes a
# .pth.tar), a TorchScript archive (face-alignment 1.3/1.4) only on opt-in.
WEIGHT_PATTERNS = ("2DFAN4*.safetensors", "2DFAN4*.pth", "2DFAN4*.pth.tar", "2DFAN4*.zip")
DOWNLOAD_HINT = ("on a machine with internet download 2DFAN4-11f355bf06.pth.tar "
                 "(https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar), "
                 f"then put it in weights/ or set {ENV_VAR} to its path (see weights/README.md)")
# Full SHA-256 of the files face-alignment publishes (the same table is in
# weights/README.md). A file with one of these names must match exactly.
KNOWN_WEIGHTS: dict[str, str] = {
    "2DFAN4-11f355bf06.pth.tar": "11f355bf0693120222f5955ce3f9dc8fb5763ebb30a47d7906e509490d32e4aa",
    "2DFAN4-cd938726ad.zip": "cd938726adb1f15f361263cce2db9cb820c42585fa8796ec72ce19107f369a46",
}
# torch.hub names downloads NAME-<first hex digits of sha256>.EXT. For other
# files named that way (2DFAN4_1.6-c827573f02.zip) the name's prefix is all
# there is to check: it catches a damaged download, not a forged one.
HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")

# face-alignment's crop convention (utils.REFERENCE_SCALE, SCALE_FACTOR,
# CENTER_Y_OFFSET, CROP_RESOLUTION), restated so the geometry does not depend
# on numba-compiled helpers that truncate the result to whole pixels.
FAN_INPUT = 256
REFERENCE_SCALE = 195.0
SCALE_FACTOR = 200.0
CENTER_Y_OFFSET = 0.12
NUM_POINTS = 68

# FAN's crop convention is tuned for boxes about the size of the 68-point
# landmark box (SFD's, and the boxes tracking predicts from last frame's
# landmarks). MediaPipe's detector boxes are larger and sit higher: measured
# on the footage in shared/data, the landmark box is ~0.86 of the detector box
# and its centre ~0.066 box heights lower. detect_boxes reports boxes moved
# onto that landmark box, so both kinds of box give FAN the same framing.
MP_BOX_TO_LANDMARKS = 0.86
MP_BOX_CENTER_DROP = 0.066


class FanBackend:
    """MediaPipe face boxes, FAN 68-point landmarks."""

    name = "fan"

    def __init__(self, confidence: float = defaults.DETECT_CONFIDENCE, weights: str | Path | None = None,
                 device: str = "cpu", *, net: torch.nn.Module | None = None,
                 allow_torchscript: bool | None = None) -> None:
        """`net` replaces the weights search with a ready module (tests, or a
        caller that already holds a FAN); it must map (N,3,256,256) RGB in
        [0,1] to (N,68,H,W) heatmaps, or a list of those (last one is used).
        `allow_torchscript`: load a TorchScript archive (code); None reads
        $FACESWAP_ALLOW_TORCHSCRIPT (1 allows). Raises FaceswapError when the
        weights are missing, damaged, not 2DFAN4, or TorchScript without opt-in."""
        self.confidence = confidence
        self.device = torch.device(device)
        self.weights_path: Path | None = None
        if net is None:
            if allow_torchscript is None:
                allow_torchscript = os.environ.get(ALLOW_TORCHSCRIPT_ENV, "") == "1"
            self.weights_path = find_weights(weights)
            net = load_fan(self.weights_path, self.device, allow_torchscript=allow_torchscript)
        # .to() must run outside inference_mode, or the parameters become
        # inference tensors that tracing and autograd then refuse.
        self.net = net.to(self.device, memory_format=torch.channels_last).eval()
        self._boxes = None  # MediaPipe, created on first detect_boxes

    def close(self) -> None:
        if self._boxes is not None:
            self._boxes.close()
            self._boxes = None

    # -- stage 1: where are the faces ------------------------------------------
    def detect_boxes(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """(box x0,y0,x1,y1 in pixels, score) per face, moved onto where the landmarks will be."""
        if self._boxes is None:
            # Built on demand: callers that bring their own boxes (tracking)
            # never pay for MediaPipe's graphs.
            from .detect_mediapipe import MediaPipeBackend
            self._boxes = MediaPipeBackend(self.confidence)
        return [(_mediapipe_to_landmark_box(box), score) for box, score in self._boxes.detect_boxes(image)]

    # -- stage 2: FAN on a crop around each face --------------------------------
    def faces_in_boxes(self, image: np.ndarray, boxes: list[tuple[np.ndarray, float]]) -> list[Face]:
        if not boxes:
            return []
        windows = [crop_window(box) for box, _ in boxes]
        crops = np.stack([_crop(image, x0, y0, side) for x0, y0, side in windows])
        heatmaps = self._heatmaps(crops)
        points = heatmap_peaks(heatmaps)  # (N, 68, 2) in heatmap cells
        cells = heatmaps.shape[-1]
        faces = []
        for (x0, y0, side), pts, (_, score) in zip(windows, points, boxes):
            pts = pts * (side / cells) + np.array([x0, y0], np.float32)
            faces.append(Face(landmarks=pts.astype(np.float32), score=float(score), mesh=None))
        return faces

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in a still image (no tracking)."""
        return self.faces_in_boxes(image, self.detect_boxes(image))

    def _heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """(N,256,256,3) uint8 crops -> (N,68,H,W) float32 heatmaps, one forward for all faces."""
        with torch.inference_mode():
            # NHWC uint8 permuted to NCHW is already channels_last in memory.
            batch = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2)
            batch = batch.float().div_(255.0).contiguous(memory_format=torch.channels_last)
            out = self.net(batch)
            if isinstance(out, (list, tuple)):  # eager FAN returns every stack's output
                out = out[-1]
            return out.float().cpu().numpy()


# -- geometry -------------------------------------------------------------------
def crop_window(box: np.ndarray) -> tuple[float, float, float]:
    """Top-left corner and side, in frame pixels, of the square FAN sees for `box`."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    cy = (y0 + y1) / 2 - CENTER_Y_OFFSET * h
    side = SCALE_FACTOR * (w + h) / REFERENCE_SCALE
    return cx - side / 2, cy - side / 2, side


def _crop(image: np.ndarray, x0: float, y0: float, side: float) -> np.ndarray:
    """The square [x0, x0+side) x [y0, y0+side) of `image` as FAN_INPUT^2 RGB, black outside the frame."""
    side = max(side, 1.0)
    # box_crop averages a big face down by area instead of aliasing it
    return box_crop(image, (x0, y0, x0 + side, y0 + side), FAN_INPUT)


def heatmap_peaks(heatmaps: np.ndarray) -> np.ndarray:
    """(N,C,H,W) heatmaps -> (N,C,2) x,y of each peak in heatmap cells (edge coordinates).

    Same answer as face-alignment's get_preds_fromhm: the hottest cell's
    centre, nudged a quarter cell towards the hotter neighbour on each axis,
    unless the peak lies on the map's border (then there is no neighbour pair).
    """
    n, c, h, w = heatmaps.shape
    idx = heatmaps.reshape(n, c, h * w).argmax(axis=-1)
    py, px = np.divmod(idx, w)
    ni, ci = np.indices((n, c))
    inside = (px > 0) & (px < w - 1) & (py > 0) & (py < h - 1)
    # clipped so border peaks index safely; `inside` discards their nudge
    xl, xr = np.clip(px - 1, 0, w - 1), np.clip(px + 1, 0, w - 1)
    yu, yd = np.clip(py - 1, 0, h - 1), np.clip(py + 1, 0, h - 1)
    diff = np.stack([heatmaps[ni, ci, py, xr] - heatmaps[ni, ci, py, xl],
                     heatmaps[ni, ci, yd, px] - heatmaps[ni, ci, yu, px]], axis=-1)
    nudge = np.where(inside[..., None], np.sign(diff) * 0.25, 0.0)
    return (np.stack([px, py], axis=-1) + 0.5 + nudge).astype(np.float32)


def _mediapipe_to_landmark_box(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + MP_BOX_CENTER_DROP * h
    hw, hh = MP_BOX_TO_LANDMARKS * w / 2, MP_BOX_TO_LANDMARKS * h / 2
    return np.array([cx - hw, cy - hh, cx + hw, cy + hh], np.float32)


# -- weights --------------------------------------------------------------------
def weights_dirs() -> list[Path]:
    """Folders searched for 2DFAN4 weights after the argument and the env var."""
    dirs = [REPO_WEIGHTS, Path(torch.hub.get_dir()) / "checkpoints"]
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def find_weights(weights: str | Path | None = None) -> Path:
    """The 2DFAN4 file to load: the argument, else $FACESWAP_FAN_WEIGHTS, else the first match in weights_dirs()."""
    for given, what in ((weights, "the weights argument"), (os.environ.get(ENV_VAR) or None, f"${ENV_VAR}")):
        if given is not None:
            path = Path(given).expanduser()
            if not path.is_file():
                raise FaceswapError(f"FAN weights file from {what} not found: {path}; {DOWNLOAD_HINT}")
            return path
    dirs = weights_dirs()
    for d in dirs:
        for pattern in WEIGHT_PATTERNS:
            found = sorted(p for p in d.glob(pattern) if p.is_file())
            if found:
                return found[0]  # sorted, so which of several files wins is repeatable
    raise FaceswapError(f"FAN weights (2DFAN4) not found; searched the weights argument, ${ENV_VAR}, "
                        f"{', '.join(str(d) for d in dirs)}; {DOWNLOAD_HINT}")


def load_fan(path: Path, device: torch.device, allow_torchscript: bool = False) -> torch.nn.Module:
    """A FAN module from a safetensors file, a torch state dict (read with weights_only=True) or,
    with `allow_torchscript`, a TorchScript archive. Raises FaceswapError (one line) when the
    file is damaged, holds no 2DFAN4 weights, would run code on unpickling, or is TorchScript
    without the opt-in."""
    _check_hash(path)
    if _is_torchscript(path):
        if not allow_torchscript:
            raise FaceswapError(f"{path} is TorchScript, which is code that runs when loaded: convert it to "
                                f"safetensors (weights/README.md), or if you trust it run `faceswap "
                                f"--allow-torchscript ...` ({ALLOW_TORCHSCRIPT_ENV}=1)")
        try:
            return torch.jit.load(str(path), map_location=device)
        except RuntimeError as err:
            raise FaceswapError(f"could not read the TorchScript FAN weights {path}: {err}") from err
    if path.name.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            state = load_file(str(path), device=str(device))
        except (SafetensorError, OSError) as err:
            raise FaceswapError(f"could not read the FAN weights {path}: {err}") from err
    else:
        try:
            state = torch.load(path, map_location=device, weights_only=True)
        except Exception as err:  # the unpickler raises many types on foreign files
            # torch's refusal of a non-allow-listed global is many lines: keep the first
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise FaceswapError(f"could not read the FAN weights {path}: {first}") from err
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
    if not isinstance(state, dict):
        raise FaceswapError(f"{path} holds no state dict, so it is not 2DFAN4 weights")
    # Checkpoints saved from DataParallel prefix every key with "module.".
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        from face_alignment.models import FAN
    except ImportError as err:
        raise FaceswapError("the fan backend needs `pip install face-alignment==1.5.0`") from err
    net = FAN(4)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise FaceswapError(f"{path} does not hold 2DFAN4 weights (its tensors do not fit FAN(4))") from err
    return net.to(device)


def _is_torchscript(path: Path) -> bool:
    # torch.save writes a zip too; only TorchScript archives carry code/.
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any("/code/" in f"/{name}" for name in zf.namelist())


def _check_hash(path: Path) -> None:
    """A published file must have its pinned digest; another hub-style name must match its prefix."""
    pinned = KNOWN_WEIGHTS.get(path.name)
    match = HASH_IN_NAME.search(path.name)
    if pinned is None and match is None:
        return  # a file of the user's own (a safetensors conversion): nothing to check it against
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if pinned is not None and digest.hexdigest() != pinned:
        raise FaceswapError(f"{path} is damaged or not the published file: its sha256 is not {pinned}; "
                            "download it again")
    if pinned is None and not digest.hexdigest().startswith(match.group(1)):
        raise FaceswapError(f"{path} is damaged: its sha256 does not start with {match.group(1)} as its name "
                            "says; download it again")
