"""A face's expression read from its 68 landmarks, apart from the person's build.

Where a mouth's corners or an eye's lids sit is partly who the person is (mouth width, eye size,
lip fullness) and partly what the face is doing. The measures here are each taken relative to the
face's own parts, so two people making the same face read alike: convert's expression fit moves a
render's points by them (convert/expression_fit.py) and qc compares an output's with the footage's
(qc/measures.py).

- mouth opening: the gap between each inner-lip pair (61-67, 62-66, 63-65) across the mouth;
- mouth corners: the height of each corner (48, 54) against the middle of the lips (51, 57), up
  the face (square to the eyes' line): a smile raises them, a frown or a smirk's other side lowers
  them;
- eye openness: each eye's mean lid gap (37-41, 38-40; 43-47, 44-46) across the line of its
  corners, as a share of its width (the eye aspect ratio of Soukupova & Cech, "Real-time eye blink
  detection using facial landmarks", CVWW 2016).
"""

from __future__ import annotations

import numpy as np

# Inner lip pairs across the opening (upper, lower); the outer lips that move with each side.
INNER_UPPER, INNER_LOWER = [61, 62, 63], [67, 66, 65]
OUTER_UPPER, OUTER_LOWER = [49, 50, 51, 52, 53], [59, 58, 57, 56, 55]
MOUTH_CORNERS = [48, 54]
# Both corners' points, outer and inner lip.
CORNERS = [48, 54, 60, 64]
LIPS_MIDDLE = [51, 57]
# Each eye: (outer/inner corners), upper lid, lower lid, the lids paired across the eye; right then left.
EYES = (((36, 39), [37, 38], [41, 40]), ((42, 45), [43, 44], [47, 46]))
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 36, 45


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners, in pixels (at least 1)."""
    lm = np.asarray(landmarks, np.float64)
    return max(float(np.linalg.norm(lm[LEFT_EYE_OUTER] - lm[RIGHT_EYE_OUTER])), 1.0)


def eye_frame(landmarks: np.ndarray, corners: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(midpoint, unit axis from corner to corner, unit normal pointing down the face, width in
    pixels) of the eye whose corners are `corners` (68-point indices)."""
    lm = np.asarray(landmarks, np.float64)
    a, b = lm[corners[0]], lm[corners[1]]
    width = float(np.linalg.norm(b - a)) or 1.0
    axis = (b - a) / width
    return (a + b) / 2, axis, np.array([-axis[1], axis[0]]), width


def down(landmarks: np.ndarray) -> np.ndarray:
    """(2,) the unit vector down the face: square to the line of the outer eye corners (a rolled
    head's smile still reads as a smile)."""
    lm = np.asarray(landmarks, np.float64)
    across = lm[LEFT_EYE_OUTER] - lm[RIGHT_EYE_OUTER]
    across = across / (np.linalg.norm(across) or 1.0)
    return np.array([-across[1], across[0]])


def corner_heights(landmarks: np.ndarray) -> np.ndarray:
    """(2,) how far the right and left mouth corners sit above the lips' middle along `down`,
    pixels (up is positive)."""
    lm = np.asarray(landmarks, np.float64)
    middle = lm[LIPS_MIDDLE].mean(axis=0)
    return np.array([(middle - lm[c]) @ down(lm) for c in MOUTH_CORNERS])


def eye_openness(landmarks: np.ndarray) -> np.ndarray:
    """(2,) each eye's lid gap across its corners' line as a share of its width (right, left);
    about 0.3 open, under 0.1 shut."""
    lm = np.asarray(landmarks, np.float64)
    out = []
    for corners, upper, lower in EYES:
        _, _, normal, width = eye_frame(lm, corners)
        out.append(float(np.mean((lm[lower] - lm[upper]) @ normal)) / width)
    return np.array(out)


def features(landmarks: np.ndarray) -> np.ndarray:
    """(5,) the expression of 68 landmarks (pixels), in inter-ocular distances: the mouth's mean
    inner-lip gap, the right and left mouth corners' height above the lips' middle (up is
    positive), the right and left eyes' openness times their width."""
    lm = np.asarray(landmarks, np.float64)
    iod = inter_ocular(lm)
    gap = float(np.linalg.norm(lm[INNER_LOWER] - lm[INNER_UPPER], axis=1).mean())
    eyes = [eye_openness(lm)[i] * eye_frame(lm, EYES[i][0])[3] for i in range(2)]
    return np.array([gap, *corner_heights(lm), *eyes]) / iod


def expression_error(output: np.ndarray, original: np.ndarray) -> float:
    """Mean absolute difference of `features` between two faces' 68 landmarks, in inter-ocular
    distances: 0 for the same expression whatever either person's build."""
    return float(np.abs(features(output) - features(original)).mean())


__all__ = ["CORNERS", "EYES", "INNER_LOWER", "INNER_UPPER", "LIPS_MIDDLE", "MOUTH_CORNERS", "OUTER_LOWER",
           "OUTER_UPPER", "corner_heights", "down", "expression_error", "eye_frame", "eye_openness", "features",
           "inter_ocular"]
