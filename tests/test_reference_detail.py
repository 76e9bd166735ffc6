"""B's own detail on an enlarged render (convert/reference_detail.py, data/references.py), on real faces."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from faceswap.convert.reference_detail import ReferenceDetail, scale_for
from faceswap.data.faceset import iter_faceset, read_crop, write_crop
from faceswap.data.references import (
    FILE,
    References,
    build_references,
    farthest_points,
    load_references,
    reference_side,
    save_references,
)
from faceswap.errors import FaceswapError
from faceswap.faces.geometry import compose, crop_matrix, invert, transform_points, warp
from faceswap.model.config import ModelConfig

CFG = ModelConfig(resolution=64)        # the quick preset's crop: face centering, coverage 0.9


def _detail(luma: np.ndarray) -> np.ndarray:
    """qc's high-pass (appearance.sharpness): luma minus its blur at 1.5 px, twice."""
    high = luma.astype(np.float32)
    for _ in range(2):
        high = high - cv2.GaussianBlur(high, (0, 0), 1.5)
    return high


def _inner(landmarks: np.ndarray, side: int) -> np.ndarray:
    """The hull of brows, eyes, nose and mouth (68-point indices 17-67) as a boolean mask."""
    inside = np.zeros((side, side), np.uint8)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.round(landmarks[17:]).astype(np.int32)), 1)
    return inside.astype(bool)


@pytest.fixture(scope="module")
def split_faceset(d18_faceset, tmp_path_factory):
    """d18's crops of even frames as a faceset of their own (the references), and the odd frames'
    records held out (faces the references do not hold)."""
    folder, _ = d18_faceset
    even = tmp_path_factory.mktemp("d18_even")
    held_out = []
    for rec in iter_faceset(folder):
        frame = int(rec.path.stem.split("_")[1])
        if frame % 2 == 0:
            shutil.copy(rec.path, even / rec.path.name)
        else:
            held_out.append(rec)
    return even, held_out


def _truth_and_render(rec, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A held-out face as the model's crop at `side` (the truth), as a perfect 64 px render of it,
    and its landmarks in the 64 px crop."""
    image, _ = read_crop(rec.path)
    to_crop = compose(crop_matrix(rec.landmarks, side, CFG.centering, CFG.coverage), invert(rec.matrix))
    truth = warp(image, to_crop, side)
    render = cv2.resize(truth, (CFG.resolution, CFG.resolution), interpolation=cv2.INTER_AREA)
    lm = transform_points(rec.landmarks, crop_matrix(rec.landmarks, CFG.resolution, CFG.centering, CFG.coverage))
    return truth, render.astype(np.float32) / 255.0, lm


def test_farthest_points_spread():
    # points on a line: the first is the one nearest the mean, then the two ends
    points = np.arange(11, dtype=np.float64)[:, None]
    assert farthest_points(points, 3) == [0, 5, 10]
    assert farthest_points(points, 20) == list(range(11))


def test_references_are_the_model_crop_of_the_faceset(split_faceset, tmp_path):
    even, _ = split_faceset
    refs = build_references(even, CFG, count=12)
    assert refs.crops.shape == (12, reference_side(CFG), reference_side(CFG), 3) and refs.side == 256
    # the landmarks sit where the model's crop puts a face: eyes in the upper half, mouth in the lower
    assert np.all(refs.landmarks[:, 36:48, 1].mean(1) < 0.5 * refs.side)
    assert np.all(refs.landmarks[:, 48:68, 1].mean(1) > 0.6 * refs.side)
    # different expressions/poses, not twelve copies of one frame
    assert np.ptp(refs.landmarks[:, 48:68, 1].mean(1)) > 2.0
    save_references(tmp_path, refs, even, CFG)
    back = load_references(tmp_path)
    assert np.array_equal(back.crops, refs.crops) and np.allclose(back.landmarks, refs.landmarks)
    damaged = refs.landmarks.copy()
    damaged[0, 3] = np.nan                                  # bit-rot in the values, shapes intact
    save_references(tmp_path, References(refs.crops, damaged), even, CFG)
    with pytest.raises(FaceswapError, match="damaged.*--detail off"):
        load_references(tmp_path)
    (tmp_path / FILE).write_bytes(b"not safetensors")
    with pytest.raises(FaceswapError, match="corrupt or unreadable"):
        load_references(tmp_path)
    assert load_references(tmp_path / "missing") is None


def test_enlarged_render_gets_the_detail_back(split_faceset):
    """A held-out face of B rendered perfectly at 64 px and enlarged 4x: with B's other crops as
    references it regains most of the detail bicubic enlargement lacks, without moving away from
    the true face (no ghost edges)."""
    even, held_out = split_faceset
    detail = ReferenceDetail(build_references(even, CFG), CFG.resolution)
    ratios, errors = [], []
    for rec in held_out[::12]:
        truth, render, lm = _truth_and_render(rec, detail.refs.side)
        inside = _inner(lm * 4, detail.refs.side)
        truth_y = cv2.cvtColor(truth, cv2.COLOR_RGB2GRAY)
        outs = {"bicubic": cv2.resize(render, (256, 256), interpolation=cv2.INTER_CUBIC),
                "reference": detail.enlarge(render, lm, 4)}
        energy = {}
        for name, out in outs.items():
            y = cv2.cvtColor(np.clip(out * 255, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
            energy[name] = np.sqrt(np.mean(_detail(y)[inside] ** 2) / np.mean(_detail(truth_y)[inside] ** 2))
            errors.append((name, np.abs(y.astype(np.float32) - truth_y)[inside].mean()))
        ratios.append((energy["bicubic"], energy["reference"]))
    ratios = np.array(ratios)
    print("detail vs truth (bicubic, reference):", ratios.mean(0).round(3))
    assert ratios[:, 0].mean() < 0.45                       # what the enlargement alone keeps
    assert ratios[:, 1].mean() > ratios[:, 0].mean() + 0.25  # B's own detail brought back
    err = {name: np.mean([e for n, e in errors if n == name]) for name in ("bicubic", "reference")}
    print("mean abs error to the truth:", err)
    assert err["reference"] < err["bicubic"] * 0.8          # nearer the true face: aligned, not a ghost


def test_face_at_the_model_size_is_left_alone(split_faceset):
    even, held_out = split_faceset
    detail = ReferenceDetail(build_references(even, CFG, count=4), CFG.resolution)
    _, render, lm = _truth_and_render(held_out[0], 256)
    assert detail.enlarge(render, lm, 1) is render
    # the crop's scale decides: a crop the size of the face in the frame (zoom 1) -> 1, a 64 px crop of a
    # 230 px face -> 4 (the references' limit), never more
    assert scale_for(np.eye(2, 3), detail.max_scale) == 1
    assert scale_for(np.eye(2, 3) * 64 / 230, detail.max_scale) == 4
    assert scale_for(np.eye(2, 3) * 64 / 600, detail.max_scale) == 4


def _resourced(faceset, folder, source) -> None:
    """`faceset`'s crops copied to `folder` with their metadata's source replaced by `source`."""
    for rec in iter_faceset(faceset):
        image, meta = read_crop(rec.path)
        write_crop(folder / rec.path.name, image, {**meta, "source": str(source)})


def test_references_cut_from_the_footage_when_it_is_there(split_faceset, data, tmp_path):
    """With d18.mp4 where extract read it, the references are cut from its frames (the camera's
    detail, not the 256 px head crop's); moved away or replaced by another clip, from the crops."""
    even, _ = split_faceset
    (tmp_path / "moved").mkdir()
    (tmp_path / "replaced").mkdir()
    _resourced(even, tmp_path / "moved", tmp_path / "gone.mp4")
    _resourced(even, tmp_path / "replaced", data / "video" / "d19.mp4")
    footage, moved, replaced = (build_references(f, CFG, count=8) for f in (even, tmp_path / "moved",
                                                                              tmp_path / "replaced"))
    assert np.array_equal(moved.crops, replaced.crops)       # another clip's frames are never used
    assert np.array_equal(footage.landmarks, moved.landmarks)  # the same faces chosen
    low = [np.stack([cv2.resize(c, (64, 64), interpolation=cv2.INTER_AREA) for c in r.crops]).astype(np.float32)
           for r in (footage, moved)]
    assert np.abs(low[0] - low[1]).mean() < 3.0               # the same faces, aligned alike

    def fine(crops):
        y = np.stack([cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in crops])
        return float(np.mean([np.abs(_detail(v)).mean() for v in y]))
    print("fine detail, footage vs crops:", fine(footage.crops), fine(moved.crops))
    assert fine(footage.crops) > 1.05 * fine(moved.crops)   # 1.0 if they came from the crops
