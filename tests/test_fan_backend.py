"""The optional FAN landmark backend: weights search, loading, crop geometry.

No real 2DFAN4 weights exist offline, so a seeded random FAN(4) stands in for
the loading tests, and small fake networks with known outputs test the
geometry, which random weights cannot.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from faceswap.errors import FaceswapError
from faceswap.faces import detect_fan
from faceswap.faces.detect_fan import FanBackend

# torch 2.13 marks torch.jit deprecated, but TorchScript is the format
# face-alignment publishes 2DFAN4 in, so the backend has to keep reading it.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


def fa_window(box) -> tuple[float, float, float]:
    """face-alignment's crop for a box, written out from its constants: top-left and side."""
    from face_alignment import utils
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    side = utils.SCALE_FACTOR * (w + h) / utils.REFERENCE_SCALE
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - utils.CENTER_Y_OFFSET * h
    return cx - side / 2, cy - side / 2, side


@pytest.fixture(scope="module")
def frame(data) -> np.ndarray:
    from faceswap.media.source import FrameSource
    return next(iter(FrameSource(data / "video" / "d18.mp4"))).image.copy()


@pytest.fixture(scope="module")
def random_fan(tmp_path_factory) -> dict:
    """One seeded random FAN(4), saved as face-alignment publishes it (TorchScript) and as safetensors."""
    from face_alignment.models import FAN
    from safetensors.torch import save_file
    torch.manual_seed(0)
    net = FAN(4).eval()
    out = tmp_path_factory.mktemp("fan")
    # FAN's forward indexes submodules by name, which torch.jit.script rejects;
    # tracing is how such archives are made. One trace pass, no re-check: CPU time.
    traced = torch.jit.trace(net, torch.rand(1, 3, 256, 256), strict=False, check_trace=False)
    traced.save(str(out / "2DFAN4-random.zip"))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / "2DFAN4-random.safetensors"))
    torch.save(net.state_dict(), out / "2DFAN4-random.pth")
    return {"zip": out / "2DFAN4-random.zip", "safetensors": out / "2DFAN4-random.safetensors",
            "pth": out / "2DFAN4-random.pth", "net": net}


def real_boxes(frame: np.ndarray) -> list[tuple[np.ndarray, float]]:
    h, w = frame.shape[:2]
    return [(np.array([w * 0.4, h * 0.25, w * 0.6, h * 0.6], np.float32), 0.9),
            # half outside the frame: the crop pads, the mapping must not care
            (np.array([-40, h * 0.5, 80, h * 0.5 + 130], np.float32), 0.7)]


def test_constants_match_face_alignment() -> None:
    from face_alignment import utils
    assert detect_fan.FAN_INPUT == utils.CROP_RESOLUTION
    assert detect_fan.REFERENCE_SCALE == utils.REFERENCE_SCALE
    assert detect_fan.SCALE_FACTOR == utils.SCALE_FACTOR
    assert detect_fan.CENTER_Y_OFFSET == utils.CENTER_Y_OFFSET
    assert detect_fan.NUM_POINTS == utils.NUM_LANDMARKS


def test_random_fan_torchscript_and_safetensors_agree(frame, random_fan) -> None:
    boxes = real_boxes(frame)
    results = {}
    for kind in ("zip", "safetensors"):
        backend = FanBackend(weights=random_fan[kind], allow_torchscript=kind == "zip")
        assert backend.name == "fan"
        faces = backend.faces_in_boxes(frame, boxes)
        backend.close()
        assert len(faces) == 2
        for face, (box, score) in zip(faces, boxes):
            assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
            assert np.isfinite(face.landmarks).all()
            assert face.score == pytest.approx(score) and face.mesh is None
            # random heatmap peaks land anywhere in the crop, never outside it
            x0, y0, side = fa_window(box)
            assert (face.landmarks >= np.array([x0, y0]) - 1).all()
            assert (face.landmarks <= np.array([x0 + side, y0 + side]) + 1).all()
        results[kind] = np.stack([f.landmarks for f in faces])
    np.testing.assert_allclose(results["zip"], results["safetensors"], atol=1e-3)


def test_state_dict_pth_loads_with_weights_only(random_fan) -> None:
    backend = FanBackend(weights=random_fan["pth"])
    want = random_fan["net"].state_dict()["l3.weight"]
    assert torch.equal(backend.net.state_dict()["l3.weight"].contiguous(), want)


class _LeavesAMarker:
    """Unpickling this calls open(path, "w"): a global no weights-only unpickler allows."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pth_whose_pickle_runs_code_is_refused_without_running_it(tmp_path, monkeypatch) -> None:
    marker = tmp_path / "the_pickle_ran"
    path = tmp_path / "2DFAN4-evil.pth"
    torch.save({"l3.weight": torch.zeros(3), "payload": _LeavesAMarker(marker)}, path)
    # torch >= 2.6 reads weights-only by default; this makes a torch.load that does not
    # ask for it explicitly fall back to full unpickling, so the test sees the call site.
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(FaceswapError, match="could not read the FAN weights") as err:
        FanBackend(weights=path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert not marker.exists(), "the pickle's callable ran"


def test_detect_uses_mediapipe_boxes(frame, random_fan) -> None:
    backend = FanBackend(weights=random_fan["safetensors"])
    try:
        boxes = backend.detect_boxes(frame)
        assert boxes, "MediaPipe finds the face in d18 frame 0"
        faces = backend.detect(frame)
    finally:
        backend.close()
    assert len(faces) == len(boxes)
    for face, (box, score) in zip(faces, boxes):
        assert face.landmarks.shape == (68, 2) and face.score == pytest.approx(score)
        x0, y0, side = fa_window(box)
        assert (face.landmarks >= np.array([x0, y0]) - 1).all()
        assert (face.landmarks <= np.array([x0 + side, y0 + side]) + 1).all()


# -- geometry ----------------------------------------------------------------------
class PeakNet(torch.nn.Module):
    """Ignores the image; answers a single-cell peak per point at known heatmap cells."""

    def __init__(self, cells: np.ndarray, neighbours: np.ndarray) -> None:
        super().__init__()
        n = cells.shape[0]
        hm = torch.zeros(n, 68, 64, 64)
        for b in range(n):
            for k in range(68):
                x, y = cells[b, k]
                hm[b, k, y, x] = 1.0
                dx, dy = neighbours[b, k]  # a warmer neighbour pulls the peak a quarter cell
                if dx or dy:
                    hm[b, k, y + dy, x + dx] = 0.5
        self.register_buffer("hm", hm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hm[: x.shape[0]]


def test_heatmap_cells_map_to_frame_pixels() -> None:
    from face_alignment.utils import _get_preds_fromhm, transform
    rng = np.random.default_rng(1)
    cells = rng.integers(1, 63, size=(2, 68, 2))
    cells[0, 0] = (0, 30)  # a border peak gets no nudge
    neighbours = np.zeros_like(cells)
    neighbours[:, 1::3, 0] = 1
    neighbours[:, 2::3, 1] = -1
    neighbours[0, 0] = 0
    boxes = [(np.array([100.0, 80.0, 260.0, 270.0], np.float32), 0.8),
             (np.array([-30.0, 400.0, 50.0, 470.0], np.float32), 0.6)]
    backend = FanBackend(net=PeakNet(cells, neighbours))
    faces = backend.faces_in_boxes(np.zeros((480, 640, 3), np.uint8), boxes)
    assert len(faces) == 2
    hm = PeakNet(cells, neighbours).hm.numpy()
    for b, (face, (box, _)) in enumerate(zip(faces, boxes)):
        x0, y0, side = fa_window(box)
        nudge = np.where((cells[b] > 0).all(-1, keepdims=True), neighbours[b] * 0.25, 0.0)
        want = np.array([x0, y0]) + (cells[b] + 0.5 + nudge) * side / 64
        assert np.abs(face.landmarks - want).max() < 1e-2
        # face-alignment's own decoder (numba's pure-Python twin: no compile
        # wait) agrees; its frame mapping truncates to whole pixels.
        idx = hm[b:b + 1].reshape(1, 68, -1).argmax(-1)
        preds, _ = _get_preds_fromhm.py_func(hm[b:b + 1], idx, None, None)
        center = torch.tensor([x0 + side / 2, y0 + side / 2])
        scale = side / 200.0
        theirs = np.array([transform([float(p[0]), float(p[1])], center, scale, 64, invert=True).numpy() for p in preds[0]])
        assert np.abs(face.landmarks - theirs).max() < 1.5


class BrightestSpotNet(torch.nn.Module):
    """Heatmaps that peak where the crop's red channel is brightest, for every point."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x[:, :1], 4).expand(-1, 68, -1, -1)


def test_crop_and_mapping_round_trip() -> None:
    """A bright spot drawn at known frame pixels comes back at those pixels: this
    exercises the crop warp (small faces, a face off the frame edge, a big face
    that is box-averaged down) and its inverse together."""
    image = np.zeros((1080, 1920, 3), np.uint8)
    yy, xx = np.mgrid[0:1080, 0:1920] + 0.5  # pixel centres, edge coordinates
    spots = [((300.3, 400.7), 2.0, np.array([270, 370, 330, 430])),     # 60 px face
             ((15.2, 900.6), 2.0, np.array([-20, 870, 40, 930])),       # off the left edge
             ((1400.6, 500.2), 8.0, np.array([1240, 340, 1560, 660]))]  # 320 px face
    boxes = []
    for (sx, sy), sigma, box in spots:
        blob = 255 * np.exp(-((xx - sx) ** 2 + (yy - sy) ** 2) / (2 * sigma ** 2))
        image[..., 0] = np.maximum(image[..., 0], blob.astype(np.uint8))
        boxes.append((box.astype(np.float32), 1.0))
    backend = FanBackend(net=BrightestSpotNet())
    faces = backend.faces_in_boxes(image, boxes)
    for face, ((sx, sy), _, box) in zip(faces, spots):
        cell = fa_window(box)[2] / 64
        err = np.abs(face.landmarks - np.array([sx, sy])).max()
        # the decoder resolves a quarter heatmap cell (0.5 px for the 60 px
        # face); a crop shifted by half a cell or scaled by a few % fails this
        assert err < 0.3 * cell, (box, err, cell)


def test_mediapipe_boxes_move_onto_landmark_box() -> None:
    box = np.array([100, 100, 300, 300], np.float32)
    moved = detect_fan._mediapipe_to_landmark_box(box)
    assert moved[2] - moved[0] == pytest.approx(200 * detect_fan.MP_BOX_TO_LANDMARKS)
    assert (moved[1] + moved[3]) / 2 == pytest.approx(200 + 200 * detect_fan.MP_BOX_CENTER_DROP)


# -- weights search ----------------------------------------------------------------
@pytest.fixture
def no_weights(tmp_path, monkeypatch) -> Path:
    """Nothing anywhere the backend looks; returns the (empty) cwd."""
    monkeypatch.delenv(detect_fan.ENV_VAR, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(detect_fan, "REPO_WEIGHTS", tmp_path / "repo_weights")
    return cwd


def test_missing_weights_is_one_clear_line(no_weights) -> None:
    with pytest.raises(FaceswapError) as err:
        FanBackend()
    msg = str(err.value)
    assert "weights" in msg and "\n" not in msg
    assert "2DFAN4-11f355bf06.pth.tar" in msg and detect_fan.ENV_VAR in msg
    assert str(detect_fan.REPO_WEIGHTS) in msg
    assert str(no_weights / "weights") not in msg  # the current directory is not searched


def test_search_order(no_weights, tmp_path, monkeypatch) -> None:
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "2DFAN4-11f355bf06.pth.tar").touch()
    assert detect_fan.find_weights() == hub / "2DFAN4-11f355bf06.pth.tar"
    planted = no_weights / "weights"  # weights/ in the current directory: never looked at
    planted.mkdir()
    (planted / "2DFAN4-x.safetensors").touch()
    assert detect_fan.find_weights() == hub / "2DFAN4-11f355bf06.pth.tar"
    local = detect_fan.REPO_WEIGHTS
    local.mkdir()
    (local / "2DFAN4-x.zip").touch()
    assert detect_fan.find_weights() == local / "2DFAN4-x.zip"
    (local / "2DFAN4-x.safetensors").touch()  # preferred over the archive beside it
    assert detect_fan.find_weights() == local / "2DFAN4-x.safetensors"
    env_file = tmp_path / "elsewhere.zip"
    env_file.touch()
    monkeypatch.setenv(detect_fan.ENV_VAR, str(env_file))
    assert detect_fan.find_weights() == env_file
    arg_file = tmp_path / "given.safetensors"
    arg_file.touch()
    assert detect_fan.find_weights(arg_file) == arg_file
    with pytest.raises(FaceswapError, match="weights argument"):
        detect_fan.find_weights(tmp_path / "missing.zip")
    monkeypatch.setenv(detect_fan.ENV_VAR, str(tmp_path / "missing.zip"))
    with pytest.raises(FaceswapError, match=detect_fan.ENV_VAR):
        detect_fan.find_weights()


def test_damaged_download_is_caught(tmp_path) -> None:
    for name in detect_fan.KNOWN_WEIGHTS:
        path = tmp_path / name
        path.write_bytes(b"truncated")
        with pytest.raises(FaceswapError, match="damaged"):
            FanBackend(weights=path, allow_torchscript=True)


def _sha256(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


def test_a_published_name_needs_its_full_digest_not_just_the_prefix(tmp_path, random_fan, monkeypatch) -> None:
    """A forged file whose sha256 shares the name's prefix (easy to grind for 10 hex digits) is refused."""
    data = random_fan["safetensors"].read_bytes()
    name = f"2DFAN4-{_sha256(data)[:10]}.safetensors"
    (tmp_path / name).write_bytes(data)
    assert FanBackend(weights=tmp_path / name).weights_path == tmp_path / name  # prefix matches: loads
    monkeypatch.setitem(detect_fan.KNOWN_WEIGHTS, name, "0" * 64)  # were it a published name
    with pytest.raises(FaceswapError, match="not the published file"):
        FanBackend(weights=tmp_path / name)


def test_pinned_digests_agree_with_their_names_and_the_readme() -> None:
    readme = (detect_fan.REPO_WEIGHTS / "README.md").read_text()
    assert detect_fan.KNOWN_WEIGHTS
    for name, digest in detect_fan.KNOWN_WEIGHTS.items():
        assert len(digest) == 64 and int(digest, 16) >= 0
        assert digest.startswith(detect_fan.HASH_IN_NAME.search(name).group(1)), name
        assert f"`{name}`" in readme and digest in readme, name


def test_torchscript_needs_the_opt_in(random_fan, tmp_path, monkeypatch) -> None:
    calls = []
    real_load = torch.jit.load
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: calls.append(a) or real_load(*a, **k))
    monkeypatch.delenv(detect_fan.ALLOW_TORCHSCRIPT_ENV, raising=False)
    # the archive is recognised by what it holds, not by its name
    renamed = tmp_path / "2DFAN4-renamed.pth"
    renamed.write_bytes(random_fan["zip"].read_bytes())
    for path in (random_fan["zip"], renamed):
        with pytest.raises(FaceswapError, match="TorchScript") as err:
            FanBackend(weights=path)
        msg = str(err.value)
        assert "\n" not in msg and detect_fan.ALLOW_TORCHSCRIPT_ENV in msg and "safetensors" in msg
    assert calls == []  # refused before torch.jit.load saw the file
    monkeypatch.setenv(detect_fan.ALLOW_TORCHSCRIPT_ENV, "1")
    assert isinstance(FanBackend(weights=random_fan["zip"]).net, torch.jit.ScriptModule)
    assert len(calls) == 1
    with pytest.raises(FaceswapError, match="TorchScript"):  # the argument wins over the environment
        FanBackend(weights=random_fan["zip"], allow_torchscript=False)


def test_wrong_tensors_are_refused(tmp_path) -> None:
    from safetensors.torch import save_file
    path = tmp_path / "2DFAN4-other.safetensors"
    save_file({"conv.weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(FaceswapError, match="2DFAN4"):
        FanBackend(weights=path)


def test_missing_face_alignment_is_a_faceswap_error(tmp_path, monkeypatch) -> None:
    from safetensors.torch import save_file
    path = tmp_path / "2DFAN4-x.safetensors"
    save_file({"conv.weight": torch.zeros(3, 3)}, str(path))
    monkeypatch.setitem(sys.modules, "face_alignment", None)
    monkeypatch.setitem(sys.modules, "face_alignment.models", None)
    with pytest.raises(FaceswapError, match="face-alignment"):
        FanBackend(weights=path)


def test_cli_flag_allows_torchscript(random_fan, data, tmp_path) -> None:
    """`faceswap --allow-torchscript` is the command line's opt-in; without it extract refuses the archive."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != detect_fan.ALLOW_TORCHSCRIPT_ENV}
    env[detect_fan.ENV_VAR] = str(random_fan["zip"])
    args = ["extract", str(data / "stills" / "d19.jpg"), "-o", str(tmp_path / "fs"), "--detector", "fan"]

    def run(*pre: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "faceswap.cli", *pre, *args], capture_output=True, text=True,
                              env=env, timeout=300)
    refused = run()
    assert refused.returncode == 1 and "--allow-torchscript" in refused.stderr, refused.stderr
    allowed = run("--allow-torchscript")
    assert "TorchScript" not in allowed.stderr, allowed.stderr
    assert allowed.returncode in (0, 3), allowed.stderr  # random weights may place no face: not a refusal
