"""The geometry layer: Umeyama, crops, inverses, re-crops."""

import numpy as np
import pytest

from faceswap.faces import geometry as G


def _similarity(scale, angle, tx, ty):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(-1, 1, (51, 2))
    mat = _similarity(3.7, 0.4, 120.0, -35.0)
    dst = G.transform_points(src, mat)
    est = G.umeyama(src, dst)[:2]
    np.testing.assert_allclose(est, mat, atol=1e-9)


def test_umeyama_never_reflects():
    src = np.array([[0, 0], [1, 0], [0, 1], [1, 1.5]], float)
    dst = src * [-1, 1]  # a mirror image: best similarity must still be a rotation
    est = G.umeyama(src, dst)
    assert np.linalg.det(est[:2, :2]) > 0


def test_align_matrix_maps_a_moved_mean_face_home():
    mat = _similarity(180.0, -0.3, 250.0, 260.0)
    frame_lm = G.transform_points(G.MEAN_FACE, mat)
    back = G.transform_points(frame_lm, G.align_matrix(frame_lm))
    np.testing.assert_allclose(back, G.MEAN_FACE, atol=1e-9)


def test_invert_and_compose():
    a = _similarity(2.0, 0.7, 10, 20)
    b = _similarity(0.5, -0.2, -3, 4)
    pts = np.random.default_rng(1).uniform(0, 100, (10, 2))
    np.testing.assert_allclose(G.transform_points(pts, G.compose(G.invert(a), a)), pts, atol=1e-9)
    np.testing.assert_allclose(G.transform_points(pts, G.compose(b, a)),
                               G.transform_points(G.transform_points(pts, a), b), atol=1e-9)


def _dot_centre(img):
    ys, xs = np.nonzero(img > 0.05 * img.max())
    w = img[ys, xs].astype(np.float64)
    return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])


@pytest.mark.parametrize("centering", ["face", "head"])
def test_crop_and_uncrop_round_trip_within_half_a_pixel(centering):
    """A blob drawn in the frame lands where the matrix says in the crop, and
    warping the crop back with the inverse puts it where it was."""
    import cv2
    mat_face = _similarity(160.0, 0.25, 300.0, 240.0)
    lm = G.transform_points(G.MEAN_FACE, mat_face)
    frame = np.zeros((480, 640), np.float32)
    spot = lm[30]  # nose tip
    cv2.circle(frame, (int(round(spot[0] * 16)), int(round(spot[1] * 16))), 5 * 16, 1.0, -1, cv2.LINE_AA, 4)
    frame = cv2.GaussianBlur(frame, (0, 0), 2.0)
    mat = G.crop_matrix(lm, 256, centering, 1.0)
    crop = G.warp(frame, mat, 256, border=cv2.BORDER_CONSTANT)
    expected = G.transform_points(spot[None], mat)[0]
    assert np.linalg.norm(_dot_centre(crop) - expected) < 0.5
    back = G.warp(crop, G.invert(mat), (640, 480), border=cv2.BORDER_CONSTANT)
    assert np.linalg.norm(_dot_centre(back) - _dot_centre(frame)) < 0.5


def test_recrop_matches_cropping_from_the_frame():
    lm = G.transform_points(G.MEAN_FACE, _similarity(140.0, 0.1, 320, 200))
    head = G.crop_matrix(lm, 256, "head", 1.0)
    face = G.crop_matrix(lm, 128, "face", 0.8)
    via = G.compose(G.recrop_matrix(256, "head", 1.0, 128, "face", 0.8), head)
    np.testing.assert_allclose(via, face, atol=1e-9)


def test_head_crop_contains_face_crop():
    lm = G.transform_points(G.MEAN_FACE, _similarity(100.0, 0.0, 200, 200))
    face_box = G.transform_points([[0, 0], [127, 127]], G.invert(G.crop_matrix(lm, 128, "face")))
    head_box = G.transform_points([[0, 0], [127, 127]], G.invert(G.crop_matrix(lm, 128, "head")))
    assert head_box[0, 0] < face_box[0, 0] and head_box[0, 1] < face_box[0, 1]
    assert head_box[1, 0] > face_box[1, 0] and head_box[1, 1] > face_box[1, 1]


def test_bad_crop_settings_are_rejected():
    with pytest.raises(ValueError):
        G.face_to_crop(256, "torso")
    with pytest.raises(ValueError):
        G.face_to_crop(256, "face", 5.0)
