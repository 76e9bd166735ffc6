"""Training samples for the occlusion net (model/occlusion.py): face crops with an occluder laid in.

Each sample is a training target (the unwarped crop the decoder learns to draw, so the occluder and
the face mask share one geometry) with one random occluder of data/occluders.py composited over it,
then colour-augmented like the swap's inputs. Its label is the face's landmark mask minus the
occluder: `visible = mask * (255 - alpha) / 255`. A share of the samples is left clear, so the net
also learns that an uncovered face is all face.
"""

from __future__ import annotations

import numpy as np

from .occluders import composite, random_occluder

# Samples left without an occluder: the net must not learn that every face has a hole.
CLEAR_SHARE = 0.2


def occluded_samples(rng: np.random.Generator, targets: np.ndarray, face_masks: np.ndarray,
                     sources: list[np.ndarray], source_boxes: list[tuple[float, float, float, float]],
                     colour=None) -> tuple[np.ndarray, np.ndarray]:
    """Occluded copies of `targets` (N, R, R, 3) uint8 and their labels.

    face_masks: (N, R, R) uint8, each target's landmark mask (0..255); sources/source_boxes: per
    sample a frame (H, W, 3) uint8 to cut "cutout" occluders from and the face's box in it (x0, y0,
    x1, y1), which cut-outs keep away from; colour: a callable image -> image applied to each
    occluded copy (augment.colour's pipeline), or None.
    Returns (occluded (N, R, R, 3) uint8, visible (N, R, R) uint8 = mask * (1 - alpha)).
    """
    n, r = targets.shape[:2]
    occluded = targets.copy()
    visible = face_masks.copy()
    for k in range(n):
        if rng.uniform() >= CLEAR_SHARE:
            rgb, alpha = random_occluder(rng, r, source=sources[k], face_box=source_boxes[k])
            occluded[k] = composite(targets[k], rgb, alpha)
            visible[k] = (face_masks[k].astype(np.uint16) * (255 - alpha) + 127) // 255
        if colour is not None:
            occluded[k] = colour(occluded[k])
    return occluded, visible


__all__ = ["CLEAR_SHARE", "occluded_samples"]
