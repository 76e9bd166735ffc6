"""Convert's colour transfer (crop space) and blending (frame region): faceswap.convert.color / .blend."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.convert.blend import BLEND_METHODS, SPILL, blend, refine_mask
from faceswap.convert.color import COLOR_METHODS, match_color


def _still(data, name: str, size: int) -> np.ndarray:
    img = cv2.imread(str(data / "stills" / name))
    assert img is not None, f"cannot read {data / 'stills' / name}"
    return cv2.cvtColor(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def _ellipse(size: int, axes: tuple[int, int], center: tuple[int, int] | None = None) -> np.ndarray:
    m = np.zeros((size, size), np.float32)
    cv2.ellipse(m, center or (size // 2, size // 2), axes, 0, 0, 360, 1.0, -1)
    return m


# -- colour -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crops(data):
    """(src, target, mask): the render and the footage crop, 128 px, float RGB in [0, 1]."""
    src = _still(data, "d8.jpg", 128).astype(np.float32) / 255
    target = _still(data, "s0.jpg", 128).astype(np.float32) / 255
    return src, target, _ellipse(128, (40, 50))


def _masked_stats(img, mask):
    sel = mask > 0.5
    return img[sel].mean(axis=0), img[sel].std(axis=0)


@pytest.mark.parametrize("method", list(COLOR_METHODS))
def test_color_output_is_a_float_image_in_range(crops, method):
    src, target, mask = crops
    out = match_color(src, target, mask, method)
    assert out.shape == src.shape and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("method", [m for m in COLOR_METHODS if m != "none"])
def test_color_moves_the_masked_statistics_toward_the_target(crops, method):
    src, target, mask = crops
    out = match_color(src, target, mask, method)
    (mu_s, sd_s), (mu_t, sd_t), (mu_o, sd_o) = (_masked_stats(x, mask) for x in (src, target, out))
    assert np.abs(mu_o - mu_t).sum() < 0.2 * np.abs(mu_s - mu_t).sum()
    assert np.abs(sd_o - sd_t).sum() < 0.5 * np.abs(sd_s - sd_t).sum()


def test_color_none_returns_the_render(crops):
    src, target, mask = crops
    np.testing.assert_array_equal(match_color(src, target, mask, "none"), src)


@pytest.mark.parametrize("method", list(COLOR_METHODS))
def test_color_is_the_identity_when_render_and_footage_agree(crops, method):
    _, target, mask = crops
    out = match_color(target, target, mask, method)
    inside = mask > 0.5
    assert np.abs(out - target)[inside].max() < 0.01  # rct: the LAB round trip's rounding


@pytest.mark.parametrize("method", list(COLOR_METHODS))
def test_color_transforms_the_whole_render(crops, method):
    src, target, mask = crops
    out = match_color(src, target, mask, method)
    outside = mask == 0
    if method == "none":
        np.testing.assert_array_equal(out[outside], src[outside])
    else:
        assert np.abs(out - src)[outside].mean() > 0.05


@pytest.mark.parametrize("method", list(COLOR_METHODS))
@pytest.mark.parametrize("case", ["empty", "three pixels"])
def test_color_leaves_the_render_alone_under_an_almost_empty_mask(crops, method, case):
    src, target, _ = crops
    mask = np.zeros(src.shape[:2], np.float32)
    if case == "three pixels":
        mask[60, 60:63] = 1
    np.testing.assert_array_equal(match_color(src, target, mask, method), src)


@pytest.mark.parametrize("method", list(COLOR_METHODS))
def test_color_survives_flat_images(crops, method):
    _, _, mask = crops
    flat_src = np.full((128, 128, 3), 0.4, np.float32)
    flat_target = np.full((128, 128, 3), [0.7, 0.5, 0.3], np.float32)
    for src, target in ((flat_src, flat_target), (flat_src, crops[1]), (crops[0], flat_target)):
        out = match_color(src, target, mask, method)
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    if method != "none":  # flat to flat: the render takes the footage's colour
        np.testing.assert_allclose(match_color(flat_src, flat_target, mask, method)[64, 64], [0.7, 0.5, 0.3],
                                   atol=0.01)


def test_color_rejects_an_unknown_method(crops):
    with pytest.raises(ValueError, match="rct"):
        match_color(*crops, "reinhard")


# -- refine_mask ----------------------------------------------------------------------------------

def _radius(mask: np.ndarray, level: float = 0.5) -> float:
    """Radius of the disc with the area where mask > level."""
    return float(np.sqrt((mask > level).sum() / np.pi))


def test_refine_mask_without_erode_or_blur_is_the_mask():
    m = _ellipse(256, (80, 80))
    out = refine_mask(m, 200, 0, 0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, m)


def test_refine_mask_erode_shrinks_and_negative_grows():
    m = _ellipse(256, (80, 80))
    shrunk, grown = refine_mask(m, 100, 10, 0), refine_mask(m, 100, -10, 0)
    assert shrunk.sum() < m.sum() < grown.sum()
    assert _radius(shrunk) == pytest.approx(_radius(m) - 10, abs=1.0)
    assert _radius(grown) == pytest.approx(_radius(m) + 10, abs=1.0)
    assert (shrunk <= m).all() and (grown >= m).all()


def test_refine_mask_sizes_scale_with_the_face():
    m = _ellipse(256, (80, 80))
    for face in (50, 100, 200):
        assert _radius(refine_mask(m, face, 10, 0)) == pytest.approx(80 - face / 10, abs=1.0)
        # the feather lies inside the outline: its middle is half its width in
        assert _radius(refine_mask(m, face, 0, 10)) == pytest.approx(80 - face / 20, abs=1.5)


def test_refine_mask_blur_feathers_inside_the_outline():
    m = _ellipse(256, (80, 80))
    out = refine_mask(m, 200, 0, 10)  # a 20 px feather
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    soft = (out > 0.02) & (out < 0.98)
    assert soft.sum() > 2 * np.pi * 80 * 10  # a band of ~15 px all round
    assert (out[m == 0] == 0).all()  # nothing past the outline: no hard step at the region's edge
    assert (out[128, 128] == 1) and _radius(out, 0.98) < _radius(out, 0.02) - 10
    # the profile rises smoothly: no jump of more than ~1/4 between neighbouring pixels
    assert np.abs(np.diff(out[128])).max() < 0.25


def test_refine_mask_keeps_the_soft_values_of_a_soft_mask():
    m = cv2.GaussianBlur(_ellipse(128, (40, 40)), (0, 0), 4)
    out = refine_mask(m, 100, 5, 0)
    assert ((out > 0.1) & (out < 0.9)).any() and out.max() == pytest.approx(1, abs=1e-3)


# -- blend ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def region(data):
    """(background, face, refined mask): a 300 px region, a face 200 px wide."""
    background = _still(data, "s0.jpg", 300)
    face = _still(data, "d8.jpg", 300)
    mask = refine_mask(_ellipse(300, (100, 120)), 200, 0, 5)
    return background, face, mask


def _far_outside(mask: np.ndarray, distance: float) -> np.ndarray:
    return cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 5) > distance


@pytest.mark.parametrize("method", list(BLEND_METHODS))
def test_blend_leaves_the_background_outside_the_mask_bit_identical(region, method):
    background, face, mask = region
    kept = background.copy()
    out = blend(background, face, mask, method)
    assert out.shape == background.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(background, kept)  # the input is not written to
    far = _far_outside(mask, SPILL)
    assert far.sum() > 10000
    np.testing.assert_array_equal(out[far], background[far])


@pytest.mark.parametrize("method", list(BLEND_METHODS))
def test_blend_with_an_empty_mask_is_the_background(region, method):
    background, face, _ = region
    np.testing.assert_array_equal(blend(background, face, np.zeros((300, 300), np.float32), method), background)


@pytest.mark.parametrize(("method", "tolerance"), [("feather", 0.01), ("laplacian", 1.0)])
def test_blend_puts_the_face_inside_the_mask(region, method, tolerance):
    background, face, mask = region
    out = blend(background, face, mask, method)
    deep = refine_mask(mask, 200, 15, 0) > 0.5  # 30 px in from the feather's inner edge
    assert np.abs(out.astype(np.float32) - face)[deep].mean() < tolerance


def _grad_error(out: np.ndarray, face: np.ndarray, shift: int, axis: int) -> float:
    """Mean |gradient of out moved by `shift` px - gradient of face| over the centre 100 x 100."""
    centre = (slice(100, 200), slice(100, 200))
    g_out = np.diff(np.roll(out.astype(np.float32), shift, axis=axis), axis=axis)[centre]
    g_face = np.diff(face.astype(np.float32), axis=axis)[centre]
    return float(np.abs(g_out - g_face).mean())


def test_poisson_keeps_the_face_gradients(region):
    background, face, mask = region
    out = blend(background, face, mask, "poisson")
    for axis in (0, 1):
        assert _grad_error(out, face, 0, axis) < 0.5
    # and not the background's: the face content is really there
    assert np.abs(out.astype(np.float32) - background)[100:200, 100:200].mean() > 10


@pytest.mark.parametrize("change", ["shift right", "shift down", "erode", "dilate"])
def test_poisson_does_not_move_the_face_when_the_mask_outline_changes(region, change):
    """The face must land pixel for pixel where it was rendered, whatever the mask's outline:
    an off-centre mask with an odd-sized bounding box catches a centre taken from the region,
    or a rounded centre of the mask's bounding box (both move the face by a pixel or more)."""
    background, face, _ = region
    base = _ellipse(300, (100, 120), (147, 152))
    raw = base
    if change.startswith("shift"):
        raw = np.roll(raw, 1, axis=1 if change.endswith("right") else 0)
    else:
        op = cv2.erode if change == "erode" else cv2.dilate
        raw = op(raw, np.ones((3, 3), np.uint8))
    out = blend(background, face, refine_mask(raw, 200, 0, 5), "poisson")
    for axis in (0, 1):
        aligned = _grad_error(out, face, 0, axis)
        assert aligned < 0.5
        assert aligned < 0.2 * min(_grad_error(out, face, -1, axis), _grad_error(out, face, 1, axis))
    # against the unchanged mask the centre differs by a smooth offset at most, not by moved detail
    ref = blend(background, face, refine_mask(base, 200, 0, 5), "poisson").astype(np.float32)
    out = out.astype(np.float32)
    for axis in (0, 1):
        assert np.abs(np.diff(out, axis=axis) - np.diff(ref, axis=axis))[100:200, 100:200].mean() < 0.5


@pytest.mark.parametrize("method", list(BLEND_METHODS))
def test_blend_copes_with_a_mask_that_touches_the_region_edge(region, method):
    background, face, _ = region
    for mask in (np.ones((300, 300), np.float32), refine_mask(_ellipse(300, (100, 120), (20, 150)), 200, 0, 5)):
        out = blend(background, face, mask, method)
        assert out.shape == background.shape and out.dtype == np.uint8
        far = _far_outside(mask, SPILL)
        np.testing.assert_array_equal(out[far], background[far])


@pytest.mark.parametrize("method", list(BLEND_METHODS))
def test_blend_falls_back_to_feather_on_a_tiny_region(region, method):
    background, face, _ = region
    bg, fc = background[:6, :6], face[:6, :6]
    mask = np.zeros((6, 6), np.float32)
    mask[2:4, 2:4] = 0.7
    np.testing.assert_array_equal(blend(bg, fc, mask, method), blend(bg, fc, mask, "feather"))


def test_blend_rejects_bad_input(region):
    background, face, mask = region
    with pytest.raises(ValueError, match="feather"):
        blend(background, face, mask, "alpha")
    with pytest.raises(ValueError, match="shapes"):
        blend(background, face[:-1], mask, "feather")
