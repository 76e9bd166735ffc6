"""The edge match's field steadied over a track's frames (faceswap.convert.edge_steady)."""

from __future__ import annotations

import cv2
import numpy as np

from faceswap.convert.composite import CompositeSettings, lay_out
from faceswap.convert.edge_steady import EdgeSteadier, Rendered
from faceswap.convert.stabilize import FrameItem
from faceswap.faces.types import Face

SIZE = 64           # crop side, px
FRAME = 240         # frame side, px
MATRIX = np.array([[0.5, 0.0, -28.0], [0.0, 0.5, -28.0]])   # frame -> crop: the face's 128 px at (56, 56)


def _frame(level: int) -> np.ndarray:
    return np.full((FRAME, FRAME, 3), level, np.uint8)


def _rendered(index: int, shot: int, level: int, settings: CompositeSettings) -> Rendered:
    """A frame whose footage is `level` grey and whose face renders 100 grey (a flat disc mask)."""
    image = _frame(level)
    mask = np.zeros((SIZE, SIZE), np.float32)
    cv2.circle(mask, (SIZE // 2, SIZE // 2), 24, 1.0, -1)
    rgb = np.full((SIZE, SIZE, 3), 100 / 255, np.float32)
    crop = np.full((SIZE, SIZE, 3), 100, np.uint8)   # the colour match leaves the face at 100
    lay = lay_out(image, MATRIX, crop, rgb, mask, 100.0, settings)
    face = Face(landmarks=np.zeros((68, 2), np.float32), score=1.0, track=0)
    return Rendered(FrameItem(index, image, str(index), [face], shot=shot), [(face, lay)], [0], [SIZE])


def _edge_level(rendered: Rendered) -> float:
    """The output's grey just inside the face's edge (left side, middle row)."""
    return float(rendered.item.image[120, 80:84, 0].mean())


def test_a_flickering_edge_holds_still_and_a_cut_is_not_crossed():
    settings = CompositeSettings(edge_match=12.0, grain=0.0, color="none")
    # footage around the face alternates 120 / 80 from frame to frame (e.g. a brow moving at the edge)
    levels = [120 if i % 2 else 80 for i in range(12)]
    outputs = {}
    for sigma in (0.0, 2.0, 1e-300):
        steadier = EdgeSteadier(settings, sigma)
        done = []
        for i, level in enumerate(levels):
            done += steadier.push(_rendered(i, 0, level, settings))
        done += steadier.flush()
        assert [r.item.index for r in done] == list(range(12))
        outputs[sigma] = [_edge_level(r) for r in done]
    alone, steady = np.array(outputs[0.0]), np.array(outputs[2.0])
    assert np.abs(np.array(outputs[1e-300]) - alone).max() <= 1   # a tiny window: each frame (nearly) alone
    # each frame alone: the edge follows its footage (80 or 120); steadied: near their mean, 100
    assert np.abs(np.diff(alone[2:-2])).min() > 25, alone
    assert np.abs(np.diff(steady[2:-2])).max() < 8, steady
    assert np.abs(steady[2:-2] - 100).max() < 6, steady

    # a cut after frame 5: shot 0 at 80, shot 1 at 120; the frames beside the cut keep their own shot's edge
    steadier = EdgeSteadier(settings, 2.0)
    done = []
    for i in range(10):
        done += steadier.push(_rendered(i, int(i >= 5), 80 if i < 5 else 120, settings))
    done += steadier.flush()
    edges = [_edge_level(r) for r in done]
    assert abs(edges[4] - edges[0]) < 2 and abs(edges[5] - edges[9]) < 2, edges
    assert edges[5] - edges[4] > 25, edges
