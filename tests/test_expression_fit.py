"""The footage's expression on the render (convert/expression_fit.py), on real d18 faces and the real detector."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from faceswap.convert.expression_fit import (
    ExpressionFit,
    Fit,
    FitWindow,
    displacement,
    expression_targets,
    irises,
    steady_shift,
    warp_by,
)
from faceswap.data.faceset import iter_faceset, read_crop
from faceswap.faces import expression as X
from faceswap.faces import landmarks68 as L
from faceswap.faces.expression import expression_error
from faceswap.faces.geometry import crop_matrix, transform_points, warp

SIDE = 256


def _faces(folder, count: int, closed: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` d18 faces spread over the clip (with the mouth closed: inner lips within 0.05 IOD),
    cut as convert cuts a quick model's render (face centering, coverage 0.9) at SIDE px, with their
    landmarks in that crop's pixels."""
    out = []
    for rec in iter_faceset(folder):
        crop, meta = read_crop(rec.path)
        lm = transform_points(np.asarray(meta["landmarks"]), np.asarray(meta["crop"]["matrix"]))
        if closed and np.linalg.norm(lm[[65, 66, 67]] - lm[[63, 62, 61]], axis=1).max() > 0.05 * X.inter_ocular(lm):
            continue
        to_render = crop_matrix(lm, SIDE, "face", 0.9)
        out.append((warp(crop, to_render, SIDE), transform_points(lm, to_render)))
    return out[:: max(len(out) // count, 1)][:count]


def _other_expression(crop: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The crop with another expression, as a model might draw it: the mouth opened (lower lip
    down 0.12 IOD), the eyes half shut (upper lids down 0.04 IOD), by a smooth warp. Returns the new
    image and where its landmarks now are."""
    iod = X.inter_ocular(lm)
    moved = lm.copy()
    moved[[55, 56, 57, 58, 59, 64, 65, 66, 67]] += (0, 0.12 * iod)
    moved[[37, 38, 43, 44]] += (0, 0.04 * iod)
    # backward map: the new image at `moved` samples the crop at `lm`
    offsets = displacement(lm, moved, SIDE)
    return warp_by(crop, offsets), moved


def _error(found: np.ndarray, wanted: np.ndarray) -> float:
    """Mean landmark distance of the eyes and mouth, in inter-ocular distances."""
    return float(np.linalg.norm(found[36:] - wanted[36:], axis=1).mean() / X.inter_ocular(wanted))


def test_fit_closes_the_renders_mouth_and_opens_its_eyes_as_the_footage_has_them(d18_faceset, backend):
    """A d18 face drawn with the mouth open and the eyes half shut is warped back onto d18's expression:
    the detector then finds its landmarks near the footage's, and its pixels near the footage's face."""
    fit = ExpressionFit(backend)
    before, after, pixels_before, pixels_after, folds = [], [], [], [], []
    faces = _faces(d18_faceset[0], 6, closed=True)
    assert len(faces) == 6
    for crop, stored in faces:
        box = np.concatenate([stored.min(0), stored.max(0)]).astype(np.float32)
        lm = backend.faces_in_boxes(crop, [(box, 1.0)])[0].landmarks   # the footage face, as the detector reads it
        render, _ = _other_expression(crop, lm)
        measured = fit.measure(render.astype(np.float32) / 255.0, lm)
        assert measured is not None
        warped, _ = ExpressionFit.apply(render.astype(np.float32) / 255.0, None, measured)
        warped = (np.clip(warped, 0, 1) * 255 + 0.5).astype(np.uint8)
        # the map never folds (a shut mouth's lip pairs meet): its Jacobian stays positive
        field = ExpressionFit.offsets(measured, SIDE)
        dxx, dxy = np.gradient(field[..., 0], axis=1), np.gradient(field[..., 0], axis=0)
        dyx, dyy = np.gradient(field[..., 1], axis=1), np.gradient(field[..., 1], axis=0)
        folds.append(float(((1 + dxx) * (1 + dyy) - dxy * dyx).min()))
        seen_render = backend.faces_in_boxes(render, [(box, 1.0)])[0].landmarks
        seen_warped = backend.faces_in_boxes(warped, [(box, 1.0)])[0].landmarks
        before.append(_error(seen_render, lm))
        after.append(_error(seen_warped, lm))
        mouth = np.zeros((SIDE, SIDE), np.uint8)
        cv2.fillConvexPoly(mouth, cv2.convexHull(np.round(lm[L.MOUTH]).astype(np.int32)), 1)
        mouth = cv2.dilate(mouth, np.ones((15, 15), np.uint8)).astype(bool)
        pixels_before.append(np.abs(render.astype(float) - crop)[mouth].mean())
        pixels_after.append(np.abs(warped.astype(float) - crop)[mouth].mean())
    print(f"\nlandmark error (IOD) drawn {np.mean(before):.4f} -> fitted {np.mean(after):.4f}; mouth pixels "
          f"{np.mean(pixels_before):.2f} -> {np.mean(pixels_after):.2f} levels; least Jacobian {min(folds):.3f}")
    assert np.mean(after) < 0.7 * np.mean(before)
    assert min(folds) > 0.1, folds
    assert np.mean(pixels_after) < 0.8 * np.mean(pixels_before)


def test_targets_take_the_footages_expression_and_keep_the_renders_build():
    """Another build with the same expression moves nothing; another expression moves the mouth and lids."""
    rng = np.random.default_rng(5)
    render = np.zeros((68, 2))
    render[:, 0] = rng.uniform(60, 200, 68)
    render[:, 1] = rng.uniform(60, 200, 68)
    render[L.RIGHT_EYE] = [(80, 100), (90, 95), (100, 95), (110, 100), (100, 105), (90, 105)]
    render[L.LEFT_EYE] = render[L.RIGHT_EYE] + (70, 0)
    render[L.MOUTH] = np.stack([np.linspace(95, 160, 20), np.full(20, 180.0)], 1)
    render[[61, 62, 63]] = [(115, 178), (128, 177), (141, 178)]
    render[[67, 66, 65]] = [(115, 182), (128, 183), (141, 182)]
    # another person's build: mouth 20 % wider, eyes 10 % larger, brows elsewhere; same expression
    footage = render.copy()
    footage[L.MOUTH, 0] = 128 + (render[L.MOUTH, 0] - 128) * 1.2
    for eye in (L.RIGHT_EYE, L.LEFT_EYE):
        centre = render[eye].mean(axis=0)
        footage[eye] = centre + (render[eye] - centre) * 1.1
    footage[17:27] -= (0, 9)
    np.testing.assert_allclose(expression_targets(render, footage), render, atol=1e-9)
    # the footage's mouth opens by 10 px and its right eye shuts: the render's do too, its build stays
    footage[[67, 66, 65]] += (0, 10)
    footage[[37, 38]] = footage[[41, 40]] = (footage[[37, 38]] + footage[[41, 40]]) / 2   # its centre stays
    target = expression_targets(render, footage)
    gap = target[[67, 66, 65]] - target[[61, 62, 63]]
    np.testing.assert_allclose(gap, footage[[67, 66, 65]] - footage[[61, 62, 63]], atol=1e-9)
    np.testing.assert_allclose(target[[37, 38], 1], target[[41, 40], 1], atol=1e-9)   # shut by its upper lid
    np.testing.assert_allclose(target[[41, 40]], render[[41, 40]], atol=1e-9)
    np.testing.assert_allclose(target[[61, 62, 63]], render[[61, 62, 63]], atol=1e-9)   # opened by the lower lip
    np.testing.assert_allclose(target[L.LEFT_EYE], render[L.LEFT_EYE], atol=1e-9)
    np.testing.assert_allclose(target[:36], render[:36], atol=1e-9)   # jaw, brows, nose


def test_a_render_already_on_the_footage_is_left_almost_as_it_is(d18_faceset, backend):
    """No expression to fix: what moves is the detector's noise, held under the dead zone's fade."""
    fit = ExpressionFit(backend)
    for crop, lm in _faces(d18_faceset[0], 3):
        box = np.concatenate([lm.min(0), lm.max(0)]).astype(np.float32)
        own = backend.faces_in_boxes(crop, [(box, 1.0)])[0].landmarks   # the detector's own reading
        measured = fit.measure(crop, own)
        assert measured is not None
        warped, _ = ExpressionFit.apply(crop.astype(np.float32), None, measured)
        assert np.abs(warped - crop).mean() < 1.0


def test_no_face_in_the_render_leaves_it_alone(data, d18_faceset, backend):
    """A render the detector finds no face in (an animal photo) gives no fit, so it is blended as drawn."""
    crop, lm = _faces(d18_faceset[0], 1)[0]
    cat = cv2.cvtColor(cv2.imread(str(sorted((data / "negatives").glob("*.jpg"))[0])), cv2.COLOR_BGR2RGB)
    cat = cv2.resize(cat, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    fit = ExpressionFit(backend)
    assert fit.measure(cat, lm) is None
    assert fit.skipped == 1 and fit.fitted == 0


def test_irises_keep_the_meshs_gaze_on_the_smoothed_eyes():
    """The iris centre sits where the mesh has it relative to its eye, carried onto other landmarks."""
    mesh = np.zeros((478, 3), np.float32)
    lm68 = np.zeros((68, 2))
    lm68[L.RIGHT_EYE] = (100, 100)
    lm68[L.LEFT_EYE] = (160, 100)
    from faceswap.faces.landmarks68 import MESH_TO_68
    mesh[MESH_TO_68, :2] = lm68
    mesh[468, :2] = (163, 98)    # MediaPipe's order: one iris by the left eye
    mesh[473, :2] = (103, 98)
    placed = irises(mesh, lm68 + (5, 0))
    np.testing.assert_allclose(placed, [[108, 98], [168, 98]], atol=1e-6)
    assert irises(None, lm68) is None and irises(mesh[:468], lm68) is None


def test_steady_shift_averages_a_tracks_neighbours_and_not_another_shot():
    """Shifts that tremble between frames are averaged; a face of another shot or track is not used."""
    def frame(index: int, shot: int, key: int, value: float):
        fit = Fit(np.zeros((68, 2)), np.full((68, 2), value), 0.3)
        drawn = SimpleNamespace(fit=fit)
        return SimpleNamespace(item=SimpleNamespace(index=index, shot=shot), faces=[(None, drawn)], keys=[key])

    trembling = [frame(i, 0, 7, 0.01 if i % 2 else -0.01) for i in range(20)]
    window = FitWindow(6)
    out, shifts = [], {}
    for fr in trembling:
        for ready in window.push(fr):              # as the pipeline asks: on release
            out.append(ready.item.index)
            shifts[ready.item.index] = window.shift(ready, 0)
        assert out == list(range(fr.item.index - 5))   # each held until the 6 frames after it are in
    for ready in window.flush():
        out.append(ready.item.index)
        shifts[ready.item.index] = window.shift(ready, 0)
    assert out == list(range(20))
    # a frame with its whole window: the trembling averages out (a Gaussian of 3 frames over +-6)
    for i in range(6, 14):
        assert np.abs(shifts[i]).max() < 0.05 * 0.01, (i, shifts[i][0])

    # frames of another shot or another track leave a face's own shift as it is
    window = FitWindow(6)
    mixed = [frame(0, 0, 7, 0.02), frame(1, 1, 7, -0.02), frame(2, 0, 8, -0.02)]
    for fr in mixed:
        list(window.push(fr))
    np.testing.assert_allclose(window.shift(mixed[0], 0), 0.02)
    np.testing.assert_allclose(steady_shift([(0, mixed[0].faces[0][1].fit)], 0), 0.02)


def test_expression_error_reads_expression_not_build_or_placement(d18_faceset):
    """qc's measure: 0 for the same face moved, turned in the image plane or rescaled, and for
    another build with the same expression; the mouth opened by 0.1 IOD reads 0.1 / 5 features."""
    lm = _faces(d18_faceset[0], 1, closed=True)[0][1]
    angle = np.deg2rad(12)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (lm - lm.mean(0)) @ turn.T * 1.7 + (40, -25)
    assert expression_error(moved, lm) < 1e-9
    wider = lm.copy()
    middle = lm[L.MOUTH].mean(axis=0)
    across = -np.array([-X.down(lm)[1], X.down(lm)[0]])             # along the eyes' line
    along = (lm[L.MOUTH] - middle) @ across
    wider[L.MOUTH] = lm[L.MOUTH] + 0.2 * along[:, None] * across     # another mouth's width
    assert expression_error(wider, lm) < 1e-3   # (the lips' pairs are not quite square to the mouth)
    opened = lm.copy()
    iod = X.inter_ocular(lm)
    opened[[65, 66, 67]] += 0.1 * iod * X.down(lm)     # the inner lower lip: the gap alone
    assert abs(expression_error(opened, lm) - 0.1 / 5) < 0.004


@pytest.mark.parametrize("size", [64, 256])
def test_displacement_carries_points_and_holds_the_border(size):
    """The field moves each point where asked (within the spline's smoothing) and the crop's border not at all."""
    rng = np.random.default_rng(3)
    target = rng.uniform(0.3, 0.7, (68, 2)) * size
    # a smooth motion, as an expression's is (a mouth opening, brows rising)
    source = target + 0.03 * size * np.stack([np.sin(2 * np.pi * target[:, 1] / size),
                                              np.cos(2 * np.pi * target[:, 0] / size)], 1)
    field = displacement(source, target, size)
    at = np.clip(np.round(target).astype(int), 0, size - 1)
    np.testing.assert_allclose(field[at[:, 1], at[:, 0]], (source - target), atol=0.02 * size)
    assert np.abs(field[0]).max() < 0.25 and np.abs(field[:, -1]).max() < 0.25   # px, against shifts of 0.03 side
