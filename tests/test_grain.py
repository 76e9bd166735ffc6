"""Grain: the footage's finest band laid over the swapped face (faceswap.convert.grain), clipped so
that the footage's sharp facial edges do not come back with it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.convert.composite import CompositeSettings, composite, crop_mask
from faceswap.convert.grain import footage_grain, regrain
from faceswap.faces.geometry import MEAN_FACE, compose, face_to_crop, invert, similarity, transform_points
from faceswap.faces.masks import landmark_mask
from faceswap.media.video_reader import VideoReader
from faceswap.qc.appearance import sharpness
from faceswap.qc.measures import largest


def test_grain_passes_noise_and_clips_edges():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 4.0, (200, 200, 3)).astype(np.float32)
    flat = np.full((200, 200, 3), 120, np.float32)
    region = np.clip(flat + noise + 0.5, 0, 255).astype(np.uint8)
    inside = np.ones((200, 200), bool)
    band = region.astype(np.float32) - cv2.GaussianBlur(region.astype(np.float32), (0, 0), 1.0)
    grain = footage_grain(region, inside, sigma=1.0, clip=2.5)
    # grain passes nearly whole: a clip at 2.5 spreads takes little of a normal band
    assert 0.97 < grain.std() / band.std() <= 1.0, (grain.std(), band.std())
    # an 80-level edge (an eyelid, a brow) comes through as no more than the clip
    edged = region.copy()
    edged[:, 100:] = np.clip(edged[:, 100:].astype(np.int16) + 80, 0, 255).astype(np.uint8)
    g = footage_grain(edged, inside, sigma=1.0, clip=2.5)
    edge_band = edged.astype(np.float32) - cv2.GaussianBlur(edged.astype(np.float32), (0, 0), 1.0)
    assert np.abs(edge_band[:, 99:101]).max() > 25
    assert np.abs(g).max() <= 2.5 * 4.0 * 1.1, np.abs(g).max()
    # no grain, nothing added; strength 0 returns the face itself
    clean = np.full((50, 50, 3), 90, np.uint8)
    assert not footage_grain(clean, np.ones((50, 50), bool)).any()
    face = np.full((50, 50, 3), 30, np.uint8)
    assert regrain(face, region[:50, :50], np.ones((50, 50), np.float32), 0.0) is face


def test_composite_grains_the_face_only():
    """The swapped face carries the footage's grain; the background outside the blend is untouched."""
    size, frame_shape = 64, (360, 400)
    face_to_frame = similarity(0.0, 150.0, 0.0, shift=(200, 180))
    matrix = compose(face_to_crop(size, "face", 0.9), invert(face_to_frame))
    lm = transform_points(transform_points(MEAN_FACE.astype(np.float64), face_to_frame), matrix)
    rng = np.random.default_rng(1)
    frame = np.clip(128 + rng.normal(0, 5, (*frame_shape, 3)) + 0.5, 0, 255).astype(np.uint8)
    rgb = np.full((size, size, 3), 0.6, np.float32)   # a clean render
    mask = crop_mask(None, [lm], size, CompositeSettings(mask="landmarks"))
    out = {}
    for grain in (0.0, 1.0):
        f = frame.copy()
        placed = composite(f, matrix, frame[:size, :size], rgb, mask, 150.0,
                           CompositeSettings(mask="landmarks", color="none", grain=grain, edge_match=0.0))
        out[grain] = (f, placed)
    f0, p = out[0.0]
    f1, _ = out[1.0]
    core = p.alpha > 0.99
    y, x = p.y, p.x
    h, w = p.alpha.shape
    assert f0[y:y + h, x:x + w][core].std() < 1.0         # clean render: no grain
    assert f1[y:y + h, x:x + w][core].std() > 3.0         # the footage's grain on top of it
    outside = np.ones(frame_shape, bool)
    outside[y:y + h, x:x + w] = p.alpha <= 0
    np.testing.assert_array_equal(f1[outside], frame[outside])


@pytest.mark.slow
def test_grain_sharpens_a_soft_face_without_bringing_back_the_footage_edges(data, backend):
    """On d19 (glasses): a face blurred as a 64 px swap enlarged 4x is, regrained, measurably
    sharper (qc's sharpness), yet far from the footage's own detail, which the band neither
    clipped nor gated would give back; and the glasses' rims do not come back as a ghost."""
    frame = next(f.copy() for i, f in VideoReader(data / "video" / "d19.mp4") if i == 30)
    lm = largest(backend.detect(frame)).landmarks
    alpha = cv2.GaussianBlur(landmark_mask(lm, frame.shape[:2], "extended").astype(np.float32) / 255, (0, 0), 2)
    soft = cv2.GaussianBlur(frame, (0, 0), 2.0)
    base = sharpness(soft, frame, lm)
    grained = sharpness(regrain(soft, frame, alpha, 1.0), frame, lm)
    whole = sharpness(regrain(soft, frame, alpha, 1.0, clip=1e6, gate=1e6), frame, lm)
    assert grained > 1.3 * base, (base, grained)
    assert whole > 0.7 and grained < 0.4 * whole, (grained, whole)
    # the rims: the band's level on a ring round each eye where d19's glasses' rims lie, with and
    # without the gate
    eyes = lm[36:48]
    ring = np.zeros(frame.shape[:2], np.uint8)
    for side in (eyes[:6], eyes[6:]):
        c = side.mean(axis=0)
        r = 0.5 * np.linalg.norm(lm[45] - lm[36]) * 0.62
        cv2.circle(ring, (round(c[0]), round(c[1])), round(r), 1, 3)
    on_rims = ring.astype(bool) & (alpha > 0.5)
    gated = footage_grain(frame, alpha > 0.5)
    ungated = footage_grain(frame, alpha > 0.5, gate=1e6)
    assert np.abs(gated[on_rims]).mean() < 0.5 * np.abs(ungated[on_rims]).mean()
