"""Edge match: the swapped face takes the footage's colour along the blend's edge and keeps its own
inside (faceswap.convert.edge_match)."""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.convert.edge_match import match_edge

SIZE = 240          # region side, px
FACE_WIDTH = 160.0  # px


def _case():
    """A disc-shaped alpha (feathered), footage lit from the left (a 40-level ramp) and a face a
    flat 20 levels darker and 10 bluer than the footage's mean: a seam everywhere on its edge."""
    alpha = np.zeros((SIZE, SIZE), np.float32)
    cv2.circle(alpha, (SIZE // 2, SIZE // 2), 80, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 3)
    alpha[alpha < 1e-3] = 0.0
    ramp = np.linspace(-20, 20, SIZE, dtype=np.float32)[None, :, None]
    footage = np.clip(np.full((SIZE, SIZE, 3), (170, 120, 100), np.float32) + ramp, 0, 255).astype(np.uint8)
    face = np.full((SIZE, SIZE, 3), (150, 100, 110), np.uint8)
    return face, footage, alpha


def _ring(alpha, lo, hi):
    inside = cv2.distanceTransform((alpha > 0).astype(np.uint8), cv2.DIST_L2, 5)
    return (inside > lo * FACE_WIDTH / 100) & (inside <= hi * FACE_WIDTH / 100) & (alpha > 0.5)


def test_edge_takes_the_footage_colour_and_the_middle_keeps_the_face():
    face, footage, alpha = _case()
    out = match_edge(face, footage, alpha, FACE_WIDTH, depth=12)
    edge = _ring(alpha, 3, 8)
    before = np.abs(face[edge].astype(float) - footage[edge]).mean()
    after = np.abs(out[edge].astype(float) - footage[edge]).mean()
    assert before > 15 and after < 3, (before, after)
    # the left and right sides match their own side of the footage's ramp, not one mean
    left, right = edge.copy(), edge.copy()
    left[:, SIZE // 2:] = False
    right[:, :SIZE // 2] = False
    assert out[right, 0].mean() - out[left, 0].mean() > 15
    # deeper than twice the depth the face is untouched
    middle = _ring(alpha, 25, 100)
    assert middle.any()
    np.testing.assert_array_equal(out[middle], face[middle])
    assert match_edge(face, footage, alpha, FACE_WIDTH, depth=0) is face


def test_covered_pixels_do_not_lend_their_colour():
    """A dark hand over the left edge of the footage: with `visible` saying so, the edge beside it
    is matched to the skin around it, not pulled towards the hand."""
    face, footage, alpha = _case()
    covered = np.zeros((SIZE, SIZE), bool)
    covered[:, :SIZE // 2 - 30] = True
    dark = footage.copy()
    dark[covered] = (20, 20, 20)
    ignored = match_edge(face, dark, alpha, FACE_WIDTH, depth=12, visible=(~covered).astype(np.float32))
    misled = match_edge(face, dark, alpha, FACE_WIDTH, depth=12)
    edge = _ring(alpha, 3, 8) & covered
    assert ignored[edge].mean() > misled[edge].mean() + 40




def _browed():
    """_case with a dark brow (60 levels under the face) drawn just inside the top of the edge, where
    the footage has none; its features mask (the brow grown by 4 px, as features_mask grows it)
    and the skin beside it."""
    face, footage, alpha = _case()
    face = face.copy()
    cv2.ellipse(face, (SIZE // 2, SIZE // 2 - 66), (30, 7), 0, 0, 360, (90, 40, 50), -1)
    brow = np.all(face == (90, 40, 50), axis=2)
    features = cv2.dilate(brow.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(np.float32)
    near = cv2.dilate(brow.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool) & ~cv2.dilate(
        brow.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & (alpha > 0.5)
    return face, footage, alpha, brow, features, near


def test_a_brow_the_footage_lacks_keeps_its_contrast():
    """A brow drawn where the footage's forehead is, inside the matched ring, is a feature, not a
    difference of tone: with its features mask it stays as much darker than the skin beside it
    as it was drawn, and that skin takes the footage's colour. Read as tone (no mask), its own
    difference is averaged into the field and lifts it towards the skin (d10's brows on d14)."""
    face, footage, alpha, brow, features, near = _browed()
    out = match_edge(face, footage, alpha, FACE_WIDTH, depth=12, features=features).astype(float)
    naive = match_edge(face, footage, alpha, FACE_WIDTH, depth=12).astype(float)
    drawn = face[near].mean() - face[brow].mean()
    kept = out[near].mean() - out[brow].mean()
    assert drawn > 55 and kept > 0.9 * drawn, (drawn, kept)
    assert naive[near].mean() - naive[brow].mean() < kept - 8
    # and the skin beside the brow is matched to the footage's better without the brow in its field
    assert np.abs(out[near] - footage[near]).mean() < np.abs(naive[near] - footage[near]).mean() - 5
