"""Training data: facesets loaded into the model's margin space, augmented samples, the loader."""

from __future__ import annotations

import logging
import shutil

import cv2
import numpy as np
import pytest
import torch

from faceswap.data import augment
from faceswap.data.dataset import FaceDataset, load_faceset, make_loader, region_maps
from faceswap.data.faceset import iter_faceset, read_crop
from faceswap.errors import FaceswapError
from faceswap.faces import geometry
from faceswap.faces import landmarks68 as L
from faceswap.faces.masks import landmark_mask
from faceswap.model.config import ModelConfig

R = 64
CFG = ModelConfig(resolution=R, centering="face", coverage=0.9)
STILL = dict(rotation=0.0, scale=0.0, shift=0.0, flip=0.0, warp=False, colour=False)


@pytest.fixture(scope="session")
def small_facesets(data, backend, tmp_path_factory):
    """d18 and d19, every 8th frame, 128 px crops (head centering, the extract default)."""
    from faceswap.extract.options import ExtractOptions
    from faceswap.extract.pipeline import extract_source
    root = tmp_path_factory.mktemp("dataset_facesets")
    for clip in ("d18", "d19"):
        extract_source(data / "video" / f"{clip}.mp4", root / clip, ExtractOptions(every=8, size=128),
                       backend=backend, progress=False)
    return root / "d18", root / "d19"


@pytest.fixture(scope="session")
def faces(small_facesets):
    return load_faceset(small_facesets[0], CFG)


def crops_in(folder):
    return sorted(folder.glob("*.png"))


# -- loading ------------------------------------------------------------------------

def test_load_shapes(small_facesets, faces):
    n = len(crops_in(small_facesets[0]))
    assert n > 10
    side = round(R * 1.25)
    assert faces.images.shape == (n, side, side, 3) and faces.images.dtype == np.uint8
    assert faces.landmarks.shape == (n, 68, 2) and faces.landmarks.dtype == np.float32
    assert len(faces) == n
    # the model's crop sits in the middle of the margin space
    centre = faces.landmarks[:, L.STABLE].mean(axis=(0, 1))
    assert np.abs(centre - side / 2).max() < side * 0.1


def test_deleted_crops_are_left_out(small_facesets, tmp_path):
    folder = tmp_path / "set"
    shutil.copytree(small_facesets[1], folder)
    crops = crops_in(folder)
    for path in crops[:3]:
        path.unlink()
    assert len(load_faceset(folder, CFG)) == len(crops) - 3
    for path in crops[3:]:
        path.unlink()
    with pytest.raises(FaceswapError, match="no face crops") as err:
        load_faceset(folder, CFG)
    assert "\n" not in str(err.value)


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(FaceswapError, match="no face crops") as err:
        load_faceset(tmp_path, CFG)
    assert "\n" not in str(err.value)
    with pytest.raises(FaceswapError, match="no such faceset"):
        load_faceset(tmp_path / "nope", CFG)


def test_small_stored_crops_warn(small_facesets):
    # 128 px head crops hold the face at about 75 px: a 128 px face model enlarges them
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("faceswap.data.dataset")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)  # whatever another test set the package logger to
    try:
        arrays = load_faceset(small_facesets[0], ModelConfig(resolution=128, centering="face", coverage=0.9))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert arrays.images.shape[1] == 160
    assert any("enlarged" in r.getMessage() for r in records)
    # a 256 px model would enlarge them 3.5x: refused, on one line
    with pytest.raises(FaceswapError, match="too small for the 256 px model") as err:
        load_faceset(small_facesets[0], ModelConfig(resolution=256, centering="face", coverage=0.9))
    assert "\n" not in str(err.value)


# -- samples ------------------------------------------------------------------------

def test_still_sample_is_the_geometry_layers_crop(small_facesets, faces):
    """No augmentation: the target is the model's crop of the stored crop, and the
    landmarks are the stored ones carried through the same matrices."""
    ds = FaceDataset(faces, **STILL)
    records = list(iter_faceset(small_facesets[0]))
    to_model = geometry.recrop_matrix(128, "head", 1.0, R, CFG.centering, CFG.coverage)
    for i in (0, len(records) // 2, len(records) - 1):
        s = ds.sample(i)
        stored, meta = read_crop(records[i].path)
        assert meta["crop"] == {**meta["crop"], "size": 128, "centering": "head", "coverage": 1.0}
        expected = geometry.warp(stored, to_model, R)
        # two resamplings (load + sample) against one: small differences only
        diff = np.abs(s["target"].astype(np.int16) - expected.astype(np.int16))
        assert diff.mean() < 3.0 and np.percentile(diff, 99) < 25, (diff.mean(), np.percentile(diff, 99))
        assert np.array_equal(s["input"], s["target"])
        lm = geometry.transform_points(records[i].landmarks, geometry.compose(to_model, records[i].matrix))
        assert np.abs(s["landmarks"] - lm).max() < 0.01
        # 'face' centering: the face mask is centred
        ys, xs = np.nonzero(s["mask"][..., 0] > 0.5)
        assert abs(xs.mean() - R / 2) < R * 0.08 and abs(ys.mean() - R / 2) < R * 0.12


def test_preview_batch_is_the_still_target(faces):
    batch = faces.preview_batch(4)
    assert batch.shape == (4, 3, R, R) and batch.dtype == torch.float32
    assert 0 <= batch.min() and batch.max() <= 1
    first = FaceDataset(faces, **STILL).sample(0)["target"]
    assert np.abs(batch[0].permute(1, 2, 0).numpy() * 255 - first).max() < 1


def test_flip_mirrors_image_and_relabels_landmarks(faces):
    plain = FaceDataset(faces, **STILL).sample(5)
    flipped = FaceDataset(faces, **{**STILL, "flip": 1.0}).sample(5)
    assert np.abs(flipped["target"].astype(int) - plain["target"][:, ::-1].astype(int)).max() <= 1
    lm, lm_plain = flipped["landmarks"], plain["landmarks"]
    # subject's right eye still on the image left, and each point is its mirror partner's mirror
    assert lm[L.RIGHT_EYE, 0].mean() < lm[L.LEFT_EYE, 0].mean()
    assert lm[L.RIGHT_BROW, 0].mean() < lm[L.LEFT_BROW, 0].mean()
    mirrored = lm_plain[L.FLIP_68].copy()
    mirrored[:, 0] = R - 1 - mirrored[:, 0]
    assert np.abs(lm - mirrored).max() < 1e-3
    assert np.abs(flipped["mask"] - plain["mask"][:, ::-1]).max() < 0.02


def test_random_moves_keep_landmarks_on_the_face(faces):
    ds = FaceDataset(faces, warp=False, colour=False, seed=3)
    for i in range(len(faces)):
        s = ds.sample(i)
        lm = s["landmarks"]
        assert lm[L.RIGHT_EYE, 0].mean() < lm[L.LEFT_EYE, 0].mean()
        assert np.abs(lm[L.STABLE].mean(axis=0) - R / 2).max() < R * 0.15


def test_warp_and_colour_change_input_not_target(faces):
    base = FaceDataset(faces, **STILL)
    warped = FaceDataset(faces, **{**STILL, "warp": True}, seed=1)
    coloured = FaceDataset(faces, **{**STILL, "colour": True}, seed=1)
    colour_changed = 0
    for i in range(10):
        ref = base.sample(i)["target"].astype(np.int16)
        w = warped.sample(i)
        assert np.array_equal(w["target"], ref)
        assert np.abs(w["input"] - ref).mean() > 1.0
        c = coloured.sample(i)
        assert np.array_equal(c["target"], ref)
        colour_changed += np.abs(c["input"] - ref).mean() > 1.0
    assert colour_changed >= 3


def test_mask_and_weights(faces):
    ds = FaceDataset(faces, eyes_weight=3.0, mouth_weight=2.0, seed=2)
    for i in range(8):
        s = ds.sample(i)
        mask, weight, lm = s["mask"][..., 0], s["weight"][..., 0], s["landmarks"]
        assert mask.dtype == weight.dtype == np.float32
        assert 0 <= mask.min() and mask.max() <= 1 and mask.max() > 0.99
        assert weight.min() == 1.0 and weight.max() <= 3.0
        for eye in (L.RIGHT_EYE, L.LEFT_EYE):
            x, y = np.round(lm[eye].mean(axis=0)).astype(int)
            assert weight[y, x] == pytest.approx(3.0)
        x, y = np.round(lm[L.OUTER_MOUTH].mean(axis=0)).astype(int)
        assert weight[y, x] == pytest.approx(2.0)
        for y, x in ((0, 0), (0, R - 1), (R - 1, 0), (R - 1, R - 1)):
            assert weight[y, x] == 1.0
        # mask edges are soft, not a hard 0/1 cut-out
        assert ((mask > 0.05) & (mask < 0.95)).any()


def test_augment_functions_are_seeded():
    a = augment.random_similarities(np.random.default_rng(7), 1, R)
    b = augment.random_similarities(np.random.default_rng(7), 1, R)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    ident, mirrored = augment.random_similarities(np.random.default_rng(0), 1, R, 0, 0, 0, 0)
    assert not mirrored[0] and np.allclose(ident[0], np.eye(3)[:2])
    d1 = augment.grid_displacements(np.random.default_rng(1), 1, R)[0]
    assert d1.shape == (R, R, 2) and np.abs(d1).max() <= R / 32 * 1.2
    assert np.array_equal(d1, augment.grid_displacements(np.random.default_rng(1), 1, R)[0])
    mats, flips = augment.random_similarities(np.random.default_rng(7), 5, R)
    assert mats.shape == (5, 2, 3) and flips.shape == (5,)
    d = augment.grid_displacements(np.random.default_rng(1), 3, R)
    assert d.shape == (3, R, R, 2) and not np.array_equal(d[0], d[1]) and np.abs(d).max() <= R / 32 * 1.3
    img = np.random.default_rng(0).integers(40, 220, (R, R, 3), dtype=np.uint8)
    outs = [augment.colour(augment.colour_pipeline(np.random.default_rng(5)), img) for _ in range(2)]
    assert np.array_equal(outs[0], outs[1])


def test_colour_is_mild_and_sometimes_off():
    """The colour augmentation changes a face-like image a little, never a lot,
    and leaves some images as they are."""
    rng = np.random.default_rng(0)
    img = cv2.cvtColor(np.full((R, R, 3), (10, 120, 170), np.uint8), cv2.COLOR_HSV2RGB)  # skin-ish
    img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    pipeline = augment.colour_pipeline(rng)
    diffs = np.array([np.abs(augment.colour(pipeline, img).astype(int) - img).mean() for _ in range(200)])
    assert diffs.max() < 60, diffs.max()              # brightness +-0.12 * 255 and contrast +-12%
    assert 0.05 < (diffs == 0).mean() < 0.3, (diffs == 0).mean()   # (1-.6)(1-.4)(1-.3)(1-.15) = 0.14


def test_regions_follow_the_warped_landmarks(faces):
    """Mask and weights are warped from maps drawn once per face: they match
    what drawing the sample's own (moved, mirrored) landmarks gives."""
    ds = FaceDataset(faces, eyes_weight=3.0, mouth_weight=2.0, seed=4)
    for i in range(0, len(faces), max(1, len(faces) // 12)):
        s = ds.sample(i)
        lm = s["landmarks"]
        drawn = cv2.GaussianBlur(landmark_mask(lm, (R, R), "extended"), (0, 0), R / 64) / 255
        assert np.abs(s["mask"][..., 0] - drawn).mean() < 0.02
        maps = region_maps(lm, R, R).astype(np.float32) / 255
        weight = 1 + 2.0 * maps[..., 1] + 1.0 * maps[..., 2]     # eyes x3, mouth x2
        assert (np.abs(s["weight"][..., 0] - weight) < 0.5).mean() > 0.97


def test_batches(faces):
    """A batch is drawn at once (uint8, what a worker hands over) and made float in
    the training process: reproducible, channels-last, the right ranges."""
    idx = [3, 1, 4, 1, 5]
    ds = FaceDataset(faces, seed=9)
    raw = ds.__getitems__(idx)
    assert raw.input.shape == raw.target.shape == raw.regions.shape == (5, R, R, 3)
    batch = ds.tensors(raw)
    check_batch(batch, R, batch_size=5)
    assert batch["input"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch["input"], torch.from_numpy(raw.input).permute(0, 3, 1, 2) * np.float32(1 / 255))
    again = FaceDataset(faces, seed=9)
    assert np.array_equal(again.__getitems__(idx).input, raw.input)
    # face 1 twice in the batch: two different draws
    assert not np.array_equal(raw.target[1], raw.target[3])


# -- the loader ---------------------------------------------------------------------

def check_batch(batch, size, batch_size=16):
    assert set(batch) == {"input", "target", "mask", "weight"}
    for key, channels in (("input", 3), ("target", 3), ("mask", 1), ("weight", 1)):
        t = batch[key]
        assert t.shape == (batch_size, channels, size, size) and t.dtype == torch.float32, key
    for key in ("input", "target", "mask"):
        assert 0 <= batch[key].min() and batch[key].max() <= 1
    assert batch["weight"].min() >= 1


def test_loader_is_endless_and_reproducible(faces):
    train = dict(workers=0, seed=11)
    loader = make_loader(faces, CFG, 16, **train)
    n_batches = 2 * len(faces) // 16 + 3   # more than the faceset holds, twice over
    for _ in range(n_batches):
        check_batch(next(loader), R)
    first = next(make_loader(faces, CFG, 16, **train))
    again = next(make_loader(faces, CFG, 16, **train))
    for key in first:
        assert torch.equal(first[key], again[key]), key
    other = next(make_loader(faces, CFG, 16, seed_offset=1, **train))
    assert not torch.equal(first["input"], other["input"])
    assert first["input"].is_contiguous(memory_format=torch.channels_last)


def test_loader_from_folder_with_a_worker(small_facesets):
    """A path works as well as arrays, and a worker process produces the same kind of batches."""
    loader = make_loader(small_facesets[1], CFG, 8, workers=1, warp=False)
    for _ in range(3):
        check_batch(next(loader), R, batch_size=8)
    del loader


def test_loader_with_fewer_faces_than_a_batch(small_facesets, tmp_path):
    folder = tmp_path / "few"
    shutil.copytree(small_facesets[0], folder)
    for path in crops_in(folder)[3:]:
        path.unlink()
    loader = make_loader(folder, CFG, 16, workers=0)
    check_batch(next(loader), R)
