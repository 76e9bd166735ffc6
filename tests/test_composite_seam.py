"""No visible seam: the blend stays inside what the model rendered, and the colour transfer reads
skin only (faceswap.convert.composite, faceswap.faces.masks.skin_mask)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.convert.color import COLOR_METHODS
from faceswap.convert.composite import TAPER_GAP, CompositeSettings, color_weights, composite, crop_mask, crop_taper
from faceswap.faces.geometry import MEAN_FACE, compose, face_to_crop, invert, similarity, transform_points
from faceswap.faces.masks import landmark_mask

FRAME = (360, 400)  # (h, w)


@pytest.mark.parametrize("size", [64, 128, 257])
def test_crop_taper_is_zero_at_the_edge_and_one_in_the_middle(size):
    t = crop_taper(size)
    gap = int(TAPER_GAP * size)  # whole pixels within the gap
    for band in (t[:gap], t[-gap:], t[:, :gap], t[:, -gap:]):
        assert band.max() == 0.0
    assert t[size // 2, size // 2] == 1.0
    assert t[size // 2, gap + 1] < 0.05 and t[size // 2, size // 4] == 1.0
    np.testing.assert_array_equal(t, t.T)
    np.testing.assert_array_equal(t, t[::-1, ::-1])


def _face(shape: str) -> np.ndarray:
    """68 points in face space: the mean face, or one with a high forehead (brows raised), a long
    or a wide face."""
    lm = MEAN_FACE.astype(np.float64).copy()
    if shape == "high_forehead":
        lm[17:27, 1] -= 0.12
    elif shape == "long":
        lm[:, 1] *= 1.35
    elif shape == "wide":
        lm[:, 0] *= 1.3
    return lm


def _frame_case(size, centering, coverage, shape, angle):
    """(frame, frame -> crop matrix, landmarks in the crop): a face of about 150 px in the frame,
    turned by `angle` degrees, cropped the way a model with this crop definition crops it."""
    face_to_frame = similarity(np.radians(angle), 150.0, 0.0, shift=(FRAME[1] / 2, FRAME[0] / 2))
    lm_frame = transform_points(_face(shape), face_to_frame)
    matrix = compose(face_to_crop(size, centering, coverage), invert(face_to_frame))
    rng = np.random.default_rng(size)
    frame = rng.integers(0, 256, (*FRAME, 3), dtype=np.uint8)  # texture: any change shows
    return frame, matrix, transform_points(lm_frame, matrix)


def _crop_coords(matrix, shape):
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    return transform_points(pts, matrix).reshape(shape[0], shape[1], 2)


CASES = [(64, "face", 0.9, "mean", 0), (64, "face", 0.9, "high_forehead", 15), (128, "face", 0.6, "long", -20),
         (96, "head", 0.7, "wide", 30), (64, "face", 1.2, "high_forehead", 0)]


@pytest.mark.parametrize("size,centering,coverage,shape,angle", CASES)
@pytest.mark.parametrize("erode", [0.0, -12.0])
@pytest.mark.parametrize("blend", ["feather", "laplacian"])
def test_blend_never_reaches_past_the_rendered_crop(size, centering, coverage, shape, angle, erode, blend):
    frame, matrix, lm = _frame_case(size, centering, coverage, shape, angle)
    drawn = landmark_mask(lm, (size, size), "extended")
    edge = np.concatenate([drawn[0], drawn[-1], drawn[:, 0], drawn[:, -1]])
    if coverage < 1.0:  # the case this guards: a landmark mask that the crop cuts off
        assert edge.max() > 127
    # no edge match or grain: the face must come out as rendered, black, wherever the alpha is 1
    settings = CompositeSettings(mask="landmarks", landmark_mask="extended", erode=erode, blur=5.0,
                                 color="none", blend=blend, edge_match=0.0, grain=0.0)
    mask = crop_mask(None, [lm], size, settings)
    rgb = np.zeros((size, size, 3), np.float32)  # black, like a render's dark crop border
    crop = np.full((size, size, 3), 128, np.uint8)
    out = frame.copy()
    placed = composite(out, matrix, crop, rgb, mask, 150.0, settings)
    assert placed is not None
    # The frame pixels that see the outer gap of the crop, or lie outside it (a pixel short of the
    # gap's inner edge: the warp interpolates over one pixel).
    xy = _crop_coords(matrix, FRAME)
    depth = np.minimum(np.minimum(xy[..., 0], size - xy[..., 0]), np.minimum(xy[..., 1], size - xy[..., 1]))
    untouched = depth < TAPER_GAP * size - 1
    np.testing.assert_array_equal(out[untouched], frame[untouched])
    alpha = np.zeros(FRAME, np.float32)
    h, w = placed.alpha.shape
    alpha[placed.y:placed.y + h, placed.x:placed.x + w] = placed.alpha
    assert alpha[untouched].max() == 0.0
    # and the face did go in, all of it, around the nose
    nose = transform_points(lm[30:31], invert(matrix))[0]
    ys, xs = np.mgrid[:FRAME[0], :FRAME[1]]
    inner = np.hypot(xs - nose[0], ys - nose[1]) < 30
    assert alpha[inner].min() == 1.0
    # laplacian mixes its coarse bands over a wider seam than the alpha's: a few levels of the noise
    # (which averages 127) come through
    if blend == "feather":
        assert out[inner].max() == 0
    else:
        assert out[inner].mean() < 1.0 and out[inner].max() <= 8


def test_grown_mask_without_the_taper_would_cross_the_crop():
    """The footprint cap is what holds a grown mask: the same case with a crop mask that is not
    tapered (as convert built it before) writes past the crop's edge."""
    size = 64
    frame, matrix, lm = _frame_case(size, "face", 0.9, "high_forehead", 0)
    settings = CompositeSettings(mask="landmarks", erode=-12.0, color="none")
    untapered = landmark_mask(lm, (size, size), "extended").astype(np.float32) / 255
    xy = _crop_coords(matrix, FRAME)
    outside = (xy < -2).any(axis=2) | (xy > size + 2).any(axis=2)
    out = frame.copy()
    composite(out, matrix, np.zeros((size, size, 3), np.uint8), np.zeros((size, size, 3), np.float32),
              untapered, 150.0, settings)
    np.testing.assert_array_equal(out[outside], frame[outside])
    # refine_mask alone (no cap) grows the alpha out of the crop: what the cap removes
    from faceswap.convert.blend import refine_mask
    from faceswap.faces.geometry import warp_back
    alpha = refine_mask(warp_back(untapered, matrix, (0, 0, FRAME[1], FRAME[0]), border=cv2.BORDER_CONSTANT,
                                  interpolation=cv2.INTER_LINEAR), 150.0, -12.0, 5.0)
    assert alpha[outside].max() > 0.5


# -- colour statistics from skin -------------------------------------------------------------------

SKIN_FOOTAGE = (0.85, 0.65, 0.55)
SKIN_RENDER = (0.60, 0.48, 0.42)


def _painted(lm, size, skin, eyes, lips, hair):
    """A crop painted by region: skin inside the face outline, hair above the brows' band and
    outside the face, eyes, brows and lips in their own colours."""
    img = np.empty((size, size, 3), np.float32)
    img[:] = hair
    face = landmark_mask(lm, (size, size), "components") > 127
    img[face] = skin
    for part, colour in ((slice(36, 42), eyes), (slice(42, 48), eyes), (slice(48, 60), lips)):
        cv2.fillConvexPoly(img, cv2.convexHull(np.round(lm[part]).astype(np.int32)), colour)
    for brow in (slice(17, 22), slice(22, 27)):
        cv2.polylines(img, [np.round(lm[brow]).astype(np.int32)], False, hair, 2)
    return img


@pytest.mark.parametrize("method", [m for m in COLOR_METHODS if m != "none"])
def test_colour_statistics_come_from_skin_only(method):
    size = 128
    lm = transform_points(_face("mean"), face_to_crop(size, "face", 0.9))
    # The footage's eyes are closed (skin), its hair and lips dark; the render's eyes open and white,
    # its hair light: a transfer reading those regions pulls the render's skin off the footage's.
    footage = _painted(lm, size, SKIN_FOOTAGE, SKIN_FOOTAGE, (0.5, 0.1, 0.1), (0.1, 0.06, 0.04))
    render = _painted(lm, size, SKIN_RENDER, (0.95, 0.95, 0.95), (0.8, 0.4, 0.4), (0.5, 0.4, 0.2))
    settings = CompositeSettings(mask="landmarks", color=method)
    mask = crop_mask(None, [lm], size, settings)
    weights = color_weights(mask, lm)
    assert weights.max() > 0.99 and weights.sum() > 0.05 * size * size
    from faceswap.convert.color import match_color
    cheek = np.round(0.5 * lm[3] + 0.5 * lm[31]).astype(int)  # a point inside the right cheek
    skin_only = match_color(render, footage, weights, method)[cheek[1], cheek[0]]
    np.testing.assert_allclose(skin_only, SKIN_FOOTAGE, atol=3 / 255)
    whole_mask = match_color(render, footage, mask, method)[cheek[1], cheek[0]]
    assert np.abs(whole_mask - SKIN_FOOTAGE).max() > 8 / 255  # what reading the whole mask gave


def test_skin_mask_leaves_out_eyes_brows_lips_and_the_outside():
    size = 256
    lm = transform_points(_face("mean"), face_to_crop(size, "face", 0.9))
    skin = landmark_mask(lm, (size, size), "skin") > 0
    near = np.zeros((size, size), np.uint8)
    for part in (slice(36, 42), slice(42, 48), slice(48, 60)):
        cv2.fillConvexPoly(near, cv2.convexHull(np.round(lm[part]).astype(np.int32)), 1)
    for brow in (slice(17, 22), slice(22, 27)):
        cv2.polylines(near, [np.round(lm[brow]).astype(np.int32)], False, 1, 3)
    assert not skin[near > 0].any()
    outline = landmark_mask(lm, (size, size), "extended") > 0
    assert not skin[~outline].any()
    for point in (0.5 * lm[3] + 0.5 * lm[31], 0.5 * lm[13] + 0.5 * lm[35], lm[29]):  # cheeks, nose
        x, y = np.round(point).astype(int)
        assert skin[y, x]


def test_colour_weights_fall_back_to_the_mask_when_little_skin_shows():
    size = 64
    lm = transform_points(_face("mean"), face_to_crop(size, "face", 0.9))
    mask = crop_mask(None, [lm], size, CompositeSettings(mask="landmarks"))
    tiny = (lm - lm.mean(axis=0)) * 0.1 + lm.mean(axis=0)  # a face a few pixels wide: no skin left
    np.testing.assert_array_equal(color_weights(mask, tiny), mask)
    assert not np.array_equal(color_weights(mask, lm), mask)
