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


# -- batched forms ------------------------------------------------------------
def _random_affines(n, seed):
    rng = np.random.default_rng(seed)
    mats = rng.uniform(-2, 2, (n, 2, 3))
    mats[:, :, :2] += 3 * np.eye(2)   # well away from singular
    mats[:, :, 2] *= 50
    return mats


def test_batched_invert_agrees_with_numpy_and_the_single_form():
    mats = _random_affines(7, 2)
    inv = G.invert(mats)
    assert inv.shape == (7, 2, 3)
    for k in range(7):
        full = np.eye(3)
        full[:2] = mats[k]
        np.testing.assert_allclose(inv[k], np.linalg.inv(full)[:2], atol=1e-12)
        np.testing.assert_allclose(inv[k], G.invert(mats[k]), atol=1e-12)
    np.testing.assert_allclose(G.invert(G.to3x3(mats)), inv, atol=1e-12)   # 3x3 forms too
    np.testing.assert_allclose(G.invert(mats.reshape(7, 1, 2, 3))[:, 0], inv, atol=1e-12)


def test_batched_compose_agrees_with_matrix_products_and_broadcasts():
    a, b = _random_affines(5, 3), _random_affines(5, 4)
    both = G.compose(a, b)
    one = G.compose(a, b[2])          # a stack after one matrix
    for k in range(5):
        np.testing.assert_allclose(both[k], (G.to3x3(a[k]) @ G.to3x3(b[k]))[:2], atol=1e-9)
        np.testing.assert_allclose(one[k], (G.to3x3(a[k]) @ G.to3x3(b[2]))[:2], atol=1e-9)
    pts = np.random.default_rng(5).uniform(0, 100, (9, 2))
    for k in range(5):   # compose(second, first) applies first, then second
        np.testing.assert_allclose(G.transform_points(pts, both[k]),
                                   G.transform_points(G.transform_points(pts, b[k]), a[k]), atol=1e-9)
        np.testing.assert_allclose(G.transform_points(pts, G.compose(G.invert(a), a)[k]), pts, atol=1e-9)


def test_zoom_is_the_linear_scale():
    assert G.zoom(_similarity(2.5, 0.7, 3, 4)) == pytest.approx(2.5)
    np.testing.assert_allclose(G.zoom(np.stack([_similarity(s, 0.3, 0, 0) for s in (0.5, 1.0, 4.0)])),
                               [0.5, 1.0, 4.0])


def test_similarity_matches_opencv_and_mirrors_exactly():
    import cv2
    # cv2's angle is counter-clockwise degrees; ours is clockwise radians
    ref = cv2.getRotationMatrix2D((40.0, 25.0), 17.0, 1.3)
    ref[:, 2] += (3.0, -2.0)
    np.testing.assert_allclose(G.similarity(-np.deg2rad(17.0), 1.3, (40.0, 25.0), (3.0, -2.0)), ref, atol=1e-12)
    size = 33
    img = np.random.default_rng(6).integers(0, 255, (size, size, 3), dtype=np.uint8)
    flip = G.similarity(0.0, 1.0, (size - 1) / 2, mirror=True)
    np.testing.assert_array_equal(G.warp(img, flip, size, interpolation=cv2.INTER_LINEAR), img[:, ::-1])
    angles, scales = np.array([0.1, -0.4, 0.0]), np.array([1.0, 0.9, 1.2])
    shifts, mirrors = np.array([[1.0, 2.0], [0.0, -3.0], [5.0, 0.0]]), np.array([False, True, True])
    stack = G.similarity(angles, scales, 16.0, shifts, mirrors)
    for k in range(3):
        np.testing.assert_allclose(stack[k], G.similarity(angles[k], scales[k], (16.0, 16.0), shifts[k], mirrors[k]))
    # the centre moves by the shift only
    np.testing.assert_allclose(G.transform_points([[16.0, 16.0]], stack[1]), [[16.0, 13.0]], atol=1e-12)


def test_transform_points_into_a_float32_grid_matches_the_float64_form():
    grid = np.random.default_rng(8).uniform(0, 64, (16, 16, 2)).astype(np.float32)
    mat = _similarity(0.8, 0.3, 5.0, -7.0)
    want = G.transform_points(grid, mat)
    got = G.transform_points(grid, mat, out=grid)   # in place, as the dataset does
    assert got.dtype == np.float32 and np.shares_memory(got, grid)
    np.testing.assert_allclose(got, want, atol=1e-4)


# -- boxes, under the pixel-centre convention ----------------------------------
def test_box_matrix_maps_box_edges_onto_crop_edges():
    box = (10.0, 20.0, 74.0, 52.0)          # 64 x 32 pixels onto 16 x 8: a quarter
    mat = G.box_matrix(box, (16, 8))
    edges = np.array([[box[0] - 0.5, box[1] - 0.5], [box[2] - 0.5, box[3] - 0.5]])
    np.testing.assert_allclose(G.transform_points(edges, mat), [[-0.5, -0.5], [15.5, 7.5]], atol=1e-12)
    # crop pixel (0, 0) averages frame pixels 10..13 x 20..23: its centre is frame point (11.5, 21.5)
    np.testing.assert_allclose(G.transform_points([[0.0, 0.0]], G.invert(mat)), [[11.5, 21.5]], atol=1e-12)
    # the older placement (MediaPipe's mesh crops): the corner point lands on pixel (0, 0)'s centre
    np.testing.assert_allclose(G.transform_points([[10.0, 20.0]], G.box_matrix(box, (16, 8), edges=False)),
                               [[0.0, 0.0]], atol=1e-12)


def test_box_crop_puts_a_known_pixel_where_expected():
    frame = np.zeros((120, 130), np.uint8)
    box = (6, 9, 6 + 96, 9 + 96)                 # 3 frame pixels per crop pixel
    frame[9 + 3 * 5:9 + 3 * 6, 6 + 3 * 7:6 + 3 * 8] = 255
    crop = G.box_crop(frame, box, 32)
    want = np.zeros((32, 32), np.uint8)
    want[5, 7] = 255
    np.testing.assert_array_equal(crop, want)
    # a box not a whole multiple of the crop: a smooth dot lands where the matrix
    # says (a half-pixel slip of the convention would put it 0.1 crop px off)
    import cv2
    dot = np.zeros((120, 130), np.float32)
    dot[44, 37] = 1.0
    dot = cv2.GaussianBlur(dot, (0, 0), 4.0)
    box = (6, 9, 6 + 80, 9 + 80)
    # 0.8 crop px per frame px, edges on edges: x = 0.8 * (37 + 0.5 - 6) - 0.5
    assert np.linalg.norm(_dot_centre(G.box_crop(dot, box, 64)) - [24.7, 27.9]) < 0.03


def test_box_crop_averages_area_where_a_bilinear_warp_aliases():
    import cv2
    noise = np.random.default_rng(10).integers(0, 256, (256, 256), dtype=np.uint8)
    crop = G.box_crop(noise, (0, 0, 256, 256), 32)
    area = cv2.resize(noise, (32, 32), interpolation=cv2.INTER_AREA)   # the exact 8 x 8 means
    assert np.abs(crop.astype(int) - area).max() <= 1
    yy, xx = np.mgrid[0:256, 0:256]
    stripes = ((xx + yy) % 2 * 255).astype(np.uint8)      # finest checkerboard: mean grey
    assert np.abs(G.box_crop(stripes, (0, 0, 256, 256), 32).astype(float) - 127.5).max() <= 1
    # what the old thumbnails did: a bilinear warp, which samples one phase of the pattern
    plain = G.warp(stripes, G.box_matrix((0, 0, 256, 256), 32, edges=False), 32, interpolation=cv2.INTER_LINEAR)
    assert np.abs(plain.astype(float) - 127.5).min() > 100


def test_box_crop_then_warp_back_is_the_identity():
    import cv2
    rng = np.random.default_rng(9)
    frame = cv2.GaussianBlur(rng.uniform(0, 1, (200, 220)).astype(np.float32), (0, 0), 3.0)
    box = (50, 60, 114, 124)
    mat = G.box_matrix(box, 128)                  # enlarged 2x
    crop = G.warp(frame, mat, 128, interpolation=cv2.INTER_CUBIC)
    back = G.warp_back(crop, mat, box, interpolation=cv2.INTER_CUBIC)
    err = np.abs(back - frame[60:124, 50:114])[2:-2, 2:-2]
    assert err.max() < 2e-3 * np.ptp(frame)       # half a pixel off would be ~20x this


def test_square_box_and_covering_box():
    np.testing.assert_allclose(G.square_box((10, 20, 30, 60), 1.5), [-10, 10, 50, 70])
    np.testing.assert_allclose(G.square_box((10, 20, 12, 21), 2.0, 8.0), [3, 12.5, 19, 28.5])
    pts = np.array([[0.0, 0.0], [10.0, 4.0]])
    assert G.covering_box(pts, G.translation(5.5, 3.2), 2, (100, 100)) == (3, 1, 18, 10)
    assert G.covering_box(pts, G.translation(95.5, -3.2), 2, (90, 100, 3)) == (93, 0, 100, 3)   # clipped
    assert G.covering_box(pts, G.translation(95.5, -3.2), 2, (100, 90)) == (93, 0, 90, 3)      # empty: x1 < x0


def test_warp_back_is_the_full_inverse_warp_cut_to_the_region():
    """The placement round trip: a crop put back into a region of the frame is
    exactly that region of the whole inverse warp, and a dot in the crop lands
    where the inverse matrix puts it."""
    import cv2
    lm = G.transform_points(G.MEAN_FACE, _similarity(150.0, -0.2, 330.0, 210.0))
    mat = G.crop_matrix(lm, 128, "face", 1.0)
    crop = np.zeros((128, 128), np.float32)
    cv2.circle(crop, (40 * 16, 70 * 16), 4 * 16, 1.0, -1, cv2.LINE_AA, 4)
    region = (250, 120, 420, 300)
    part = G.warp_back(crop, mat, region, border=cv2.BORDER_CONSTANT)
    whole = G.warp(crop, G.invert(mat), (640, 480), border=cv2.BORDER_CONSTANT)
    assert part.shape == (180, 170)
    # equal but where a last-bit difference of the two matrices tips cv2's 1/32 px grid
    np.testing.assert_allclose(part, whole[120:300, 250:420], atol=0.01)
    expected = G.transform_points([[40.0, 70.0]], G.invert(mat))[0] - region[:2]
    assert np.linalg.norm(_dot_centre(part) - expected) < 0.25


@pytest.mark.parametrize("turns", [0, 1, 2, 3, -1, 5])
def test_quarter_turn_moves_pixels_where_its_matrix_says(turns):
    image = np.random.default_rng(3).integers(0, 255, (7, 11, 3), np.uint8)
    turned, mat = G.quarter_turn(image, turns)
    assert turned.flags["C_CONTIGUOUS"]
    assert turned.shape == ((7, 11, 3) if turns % 2 == 0 else (11, 7, 3))
    for x, y in [(0, 0), (10, 0), (3, 6), (10, 6)]:
        tx, ty = np.rint(G.transform_points(np.array([[x, y]], float), mat)[0]).astype(int)
        assert (turned[ty, tx] == image[y, x]).all()
    # clockwise, as `similarity` turns: the top-left pixel of one clockwise turn ends top-right
    if turns % 4 == 1:
        assert (turned[0, -1] == image[0, 0]).all()


@pytest.mark.parametrize("degrees", [0, 35, 90, 179, -120])
def test_face_roll_and_upright_matrix_undo_each_other(degrees):
    roll = np.radians(degrees)
    lm = G.transform_points(G.MEAN_FACE, _similarity(150.0, roll, 300.0, 200.0))
    assert np.isclose(G.face_roll(lm), roll, atol=1e-9) or np.isclose(abs(G.face_roll(lm)), np.pi)
    mat = G.upright_matrix(lm.mean(axis=0), roll, 400.0, 200)
    upright = G.transform_points(lm, mat)
    # upright, half the size, centred on the view's middle pixel
    np.testing.assert_allclose(upright, G.MEAN_FACE * 75.0 + (99.5 - G.MEAN_FACE.mean(axis=0) * 75.0), atol=1e-6)
    assert abs(G.face_roll(upright)) < 1e-9
