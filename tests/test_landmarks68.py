"""The 478 -> 68 mapping puts every iBUG point where the iBUG order says."""

import numpy as np

from faceswap.faces import landmarks68 as L
from faceswap.faces.geometry import MEAN_FACE


def test_mapping_indices_are_valid_and_distinct():
    assert L.MESH_TO_68.shape == (68,)
    assert len(set(L.MESH_TO_68.tolist())) == 68
    assert L.MESH_TO_68.max() < 468  # inside the base mesh, so refined or not both work


def test_flip_is_an_involution_that_mirrors_the_mean_face():
    assert sorted(L.FLIP_68.tolist()) == list(range(68))
    np.testing.assert_array_equal(L.FLIP_68[L.FLIP_68], np.arange(68))
    mirrored = (MEAN_FACE * [-1, 1])[L.FLIP_68]
    np.testing.assert_allclose(mirrored, MEAN_FACE, atol=1e-6)


def test_point_order_on_a_real_frontal_face(d18_frames, backend):
    faces = backend.detect(d18_frames[0])
    assert len(faces) == 1
    lm = faces[0].landmarks
    assert lm.shape == (68, 2)
    x, y = lm[:, 0], lm[:, 1]
    # jaw runs from image left to image right with the chin (8) lowest
    assert x[0] < x[8] < x[16]
    assert np.argmax(y[L.JAW]) in (7, 8, 9)
    assert np.all(np.diff(x[L.RIGHT_BROW]) > 0) and np.all(np.diff(x[L.LEFT_BROW]) > 0)
    # eyes: outer-right, inner-right, inner-left, outer-left corners left to right
    assert x[36] < x[39] < x[42] < x[45]
    # upper lids above lower lids
    assert y[37] < y[41] and y[38] < y[40] and y[43] < y[47] and y[44] < y[46]
    # brows above eyes above nose tip above mouth above chin
    assert y[L.RIGHT_BROW].mean() < y[L.RIGHT_EYE].mean() < y[30] < y[L.MOUTH].mean() < y[8]
    # nose bridge goes down, nostrils left to right, tip between the eyes
    assert np.all(np.diff(y[L.NOSE_BRIDGE]) > 0)
    assert np.all(np.diff(x[L.NOSE_BASE]) > 0)
    assert x[39] < x[30] < x[42]
    # mouth corners and lip centres
    assert x[48] < x[51] < x[54] and y[51] < y[62] <= y[66] < y[57]
    assert x[60] < x[64]
