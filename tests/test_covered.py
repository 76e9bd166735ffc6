"""Faces a faceset holds mostly covered: extract records each crop's covered share (covered.json),
train draws the mostly covered ones less often (issue 16: "extract and train record/use it")."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from faceswap import api, defaults
from faceswap.data import covered
from faceswap.data.dataset import EndlessShuffle, load_faceset, make_loader
from faceswap.data.faceset import iter_faceset, read_crop, write_crop
from faceswap.data.occluders import composite, moving_occluder
from faceswap.errors import FaceswapError
from faceswap.extract.contact_sheet import COVERED_COLOUR, contact_sheet
from faceswap.extract.options import ExtractOptions
from faceswap.faces.geometry import transform_points
from faceswap.media.ffmpeg_bin import ffmpeg_exe
from faceswap.media.images import read_image
from faceswap.media.video_reader import VideoReader
from faceswap.model.config import ModelConfig

pytestmark = pytest.mark.slow

D18_FACE_BOX = (140, 120, 340, 380)   # d18's face in its 480x480 frames: what the occluder crosses


@pytest.fixture(scope="module")
def microphone_faceset(data, tmp_path_factory) -> tuple[Path, dict[int, int]]:
    """The first 90 frames of d18 with the issue's microphone crossing the face, extracted every
    3rd frame: (faceset, {frame: microphone pixels over the face box})."""
    root = tmp_path_factory.mktemp("covered")
    clip = root / "d18_microphone.mkv"
    over: dict[int, int] = {}
    proc = subprocess.Popen([ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                             "480x480", "-r", "30", "-i", "-", "-c:v", "ffv1", str(clip)], stdin=subprocess.PIPE)
    for i, frame in VideoReader(data / "video" / "d18.mp4"):
        if i >= 90:
            break
        rgb, alpha = moving_occluder("microphone", i, frame.shape, D18_FACE_BOX)
        x0, y0, x1, y1 = D18_FACE_BOX
        over[i] = int((alpha[y0:y1, x0:x1] > 128).sum())
        proc.stdin.write(composite(frame, rgb, alpha).tobytes())
    proc.stdin.close()
    assert proc.wait() == 0
    faceset = root / "faceset"
    result = api.extract(clip, faceset, ExtractOptions(every=3), progress=False)
    assert result.covered is not None and len(result.covered) == result.faces == 30
    return faceset, over


def _frame(name: str) -> int:
    return int(name.rsplit("_", 2)[1])


def test_extract_records_the_microphone_over_the_face_and_nothing_on_a_clear_face(microphone_faceset):
    """Measured: clear frames 0.00-0.03 of the bare skin (d10 and d12 unoccluded: at most 0.026),
    the microphone over the mouth and chin 0.07-0.19."""
    faceset, over = microphone_faceset
    doc = json.loads((faceset / covered.COVERED_FILE).read_text())
    assert doc["format"] == covered.FORMAT and doc["mostly"] == covered.MOSTLY
    shares = {_frame(name): share for name, share in doc["faces"].items()}
    assert set(shares) == {i for i in range(0, 90, 3)}
    clear = [s for i, s in shares.items() if over[i] == 0]
    crossing = [s for i, s in shares.items() if over[i] > 0.1 * max(over.values())]
    assert clear and crossing
    assert max(clear) < 0.04, clear
    assert np.median(crossing) > 3 * max(max(clear), 0.01), (crossing, clear)
    assert max(shares.values()) < covered.MOSTLY        # a microphone covers part of a face, not most


def test_a_face_mostly_covered_is_found_against_its_own_track_and_drawn_less_often(microphone_faceset, tmp_path):
    """Three crops painted over most of their bare skin with a dark grey sleeve: their shares pass
    MOSTLY while the others' stay as they were (the track's skin colour is its faces' median, which
    three faces do not move); train's sampler then draws them about COVERED_WEIGHT as often."""
    faceset = tmp_path / "faceset"
    shutil.copytree(microphone_faceset[0], faceset)
    before = json.loads((faceset / covered.COVERED_FILE).read_text())["faces"]
    painted = []
    for rec in list(iter_faceset(faceset))[10:13]:
        crop, meta = read_crop(rec.path)
        lm = transform_points(rec.landmarks, rec.matrix)
        centre = lm[27:36].mean(axis=0)      # the nose
        width = lm[:, 0].max() - lm[:, 0].min()
        cv2.ellipse(crop, (int(centre[0]), int(centre[1] + 0.1 * width)), (int(0.5 * width), int(0.45 * width)),
                    0, 0, 360, (60, 60, 64), -1)
        write_crop(rec.path, crop, meta)
        painted.append(rec.path.name)
    shares = covered.record_faceset(faceset)
    assert all(shares[name] > covered.MOSTLY for name in painted), {n: shares[n] for n in painted}
    others = {n: s for n, s in shares.items() if n not in painted}
    assert all(abs(s - before[n]) < 0.02 for n, s in others.items())
    assert max(others.values()) < covered.MOSTLY

    # the contact sheet frames those three tiles in red, and only those
    records = list(iter_faceset(faceset))
    sheet = read_image(contact_sheet(records, tmp_path / "sheet.png", tiles=len(records), covered=shares))
    tile = defaults.PREVIEW_TILE_SIZE
    framed = [divmod(n, 8) for n in range(len(records))
              if tuple(sheet[divmod(n, 8)[0] * tile + tile // 2, divmod(n, 8)[1] * tile + 1]) == COVERED_COLOUR]
    assert framed == [divmod(n, 8) for n, rec in enumerate(records) if rec.path.name in painted]

    faces = load_faceset(faceset, ModelConfig(resolution=64))
    assert faces.covered is not None and (faces.covered > covered.MOSTLY).sum() == 3
    weights = covered.sample_weights(faces.covered, 0.1)
    sampler = iter(EndlessShuffle(len(faces), torch.Generator().manual_seed(0), weights))
    draws = np.bincount([next(sampler) for _ in range(60000)], minlength=len(faces))
    mostly = faces.covered > covered.MOSTLY
    ratio = draws[mostly].mean() / draws[~mostly].mean()
    assert 0.07 < ratio < 0.13, ratio
    assert covered.sample_weights(faces.covered, 1.0) is None      # --covered-weight 1: as before


def test_a_faceset_without_the_record_and_a_foreign_record_load_as_before(microphone_faceset, tmp_path, caplog):
    faceset = tmp_path / "faceset"
    shutil.copytree(microphone_faceset[0], faceset)
    (faceset / covered.COVERED_FILE).unlink()
    assert load_faceset(faceset, ModelConfig(resolution=64)).covered is None
    for text in ('{"format": "something else", "faces": {}}', "[1, 2]", "{not json",
                 f'{{"format": "{covered.FORMAT}", "faces": {{"a.png": 5}}}}',
                 f'{{"format": "{covered.FORMAT}", "faces": {{"a.png": "0.9"}}}}', "[" * 100000):
        caplog.clear()
        (faceset / covered.COVERED_FILE).write_text(text)
        assert covered.read_shares(faceset) == {}, text[:40]
        assert "ignored" in caplog.text, text[:40]
    (faceset / covered.COVERED_FILE).unlink()
    (faceset / covered.COVERED_FILE).mkdir()
    with pytest.raises(FaceswapError, match="is a folder"):     # before any frame is read
        api.extract(Path("/nonexistent/clip.mp4"), faceset, ExtractOptions())


def test_when_every_face_is_mostly_covered_the_weight_changes_nothing_and_says_so(microphone_faceset, tmp_path,
                                                                                   caplog):
    faceset = tmp_path / "faceset"
    shutil.copytree(microphone_faceset[0], faceset)
    doc = json.loads((faceset / covered.COVERED_FILE).read_text())
    doc["faces"] = {name: 0.9 for name in doc["faces"]}
    (faceset / covered.COVERED_FILE).write_text(json.dumps(doc))
    faces = load_faceset(faceset, ModelConfig(resolution=64))
    assert covered.sample_weights(faces.covered, 0.1) is None
    caplog.set_level(logging.INFO)
    batches = make_loader(faces, ModelConfig(resolution=64), 4, workers=0, covered_weight=0.1)
    next(batches)
    assert "changes nothing" in caplog.text


def test_a_face_in_shadow_is_not_read_as_covered(microphone_faceset, tmp_path):
    """A whole track darkened to a stage's shadow (skin luma about 30, as hamilton_stage's face in
    shadow, which read 0.80 covered when every pixel under luma 30 counted as covered): its own
    darkness is not an occluder."""
    faceset = tmp_path / "faceset"
    shutil.copytree(microphone_faceset[0], faceset)
    for rec in iter_faceset(faceset):
        crop, meta = read_crop(rec.path)
        write_crop(rec.path, (crop.astype(np.float32) * 0.22).round().astype(np.uint8), meta)
    shares = covered.record_faceset(faceset)
    assert max(shares.values()) < covered.MOSTLY, sorted(shares.values())[-5:]
