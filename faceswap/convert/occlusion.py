"""Occlusion at convert: what covers each footage face, from the model's occlusion net, steadied over time.

The net (model/occlusion.py) runs on the footage's own crop of each face: the footage decides what
is in front of it, never the render. Its per-frame mask would flicker at an occluder's edge, so
each face's mask is steadied over a few frames of its track, within its shot (never across a
cut, like the landmarks): first eroded in time (a pixel is visible only if it was in the frames
either side too), then averaged over the same reach. The result is never more visible than the
frame's own mask, so an occluder is kept whole in every frame it covers, while a pixel that
toggles from frame to frame holds still. The face moves little between neighbouring frames in
its stabilised crop, so the masks are compared in crop space; an occluder moves across it, so
each neighbour's mask is first moved along the optical flow between the two crops (DIS, Kroeger
et al. 2016, "Fast Optical Flow using Dense Inverse Search", OpenCV's implementation): without it
the erosion widened the cut by the occluder's motion on both sides of it (a box crossing d18's
face: 3 points of the face's swap lost).

`blend_occlusion` turns the steadied mask into the factor the blend mask is multiplied by: a
firm edge, and the covered region grown a little, so the occluder's anti-aliased edge and the
net's uncertainty there keep the footage's pixels too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import NamedTuple

import cv2
import numpy as np

from .. import defaults
from ..faces.masks import landmark_mask
from ..log import get_logger
from .blend import smoothstep
from .stabilize import FrameItem

log = get_logger(__name__)

# Frames either side of the time erosion and of the average: each frame's mask waits for 2 x REACH
# frames after it.
REACH = 1
KEY = "occlusion"


def face_key(index: int, track: int) -> int:
    """A face's key in a frame's masks: its track, or its place in the frame when untracked."""
    return track if track >= 0 else -1 - index


class CropView(NamedTuple):
    """One face's raw occlusion mask, `visible` (R, R) float32 in [0, 1], and the grey footage crop
    it was seen in, `grey` (R, R) uint8 (None: the masks are compared without motion)."""

    visible: np.ndarray
    grey: np.ndarray | None = None


def crop_view(visible: np.ndarray, crop: np.ndarray) -> CropView:
    """A face's CropView from the net's `visible` (R, R) and its footage crop (R, R, 3) uint8 RGB."""
    return CropView(visible, cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY))


def _flow_field(to: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The remap maps (R, R, 2) float32 that carry the grey crop `source` onto `to` (DIS optical flow
    from `to` to `source`, OpenCV's FAST preset; about 1 ms for a 64 px crop here)."""
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(to, source, None)
    h, w = to.shape
    grid = np.mgrid[0:h, 0:w][::-1].transpose(1, 2, 0).astype(np.float32)
    return grid + flow


class OcclusionSmoother:
    """Frames in, the same frames out 2 x REACH later, each with ``extra["occlusion"]``: {face_key:
    (R, R) float32 visible share in [0, 1]} for its faces.

    `masks(item)` gives a frame's raw masks by face_key (the net's output for its faces), each a
    CropView (moved along the optical flow between neighbouring crops) or a bare (R, R) mask
    (compared where it lies)."""

    def __init__(self, masks: Callable[[FrameItem], dict[int, CropView | np.ndarray]]) -> None:
        self.masks = masks
        self.ahead = 2 * REACH
        self._frames: deque[tuple[FrameItem, dict[int, CropView]]] = deque()
        self._next = 0  # position in _frames of the next frame to hand on
        # remap maps by (to frame, source frame, face_key): each neighbouring pair's flow is used 3 times
        self._flows: dict[tuple[int, int, int], np.ndarray] = {}

    def push(self, item: FrameItem) -> Iterator[FrameItem]:
        raw = self.masks(item) if item.faces else {}
        views = {key: v if isinstance(v, CropView) else CropView(v) for key, v in raw.items()}
        self._frames.append((item, views))
        yield from self._ready(final=False)

    def flush(self) -> Iterator[FrameItem]:
        yield from self._ready(final=True)

    def _ready(self, final: bool) -> Iterator[FrameItem]:
        while self._next < len(self._frames) and (final or len(self._frames) - 1 - self._next >= self.ahead):
            item, raw = self._frames[self._next]
            item.extra[KEY] = {key: self._steadied(self._next, key) for key in raw}
            yield item
            self._next += 1
            while self._next > self.ahead:  # frames no later mask looks back to
                gone = self._frames.popleft()[0].index
                self._flows = {k: f for k, f in self._flows.items() if gone not in k[:2]}
                self._next -= 1

    def _raw(self, pos: int, key: int, shot: int) -> CropView | None:
        if 0 <= pos < len(self._frames) and self._frames[pos][0].shot == shot:
            return self._frames[pos][1].get(key)
        return None

    def _moved(self, mask: np.ndarray, source: int, to: int, key: int) -> np.ndarray:
        """`mask`, seen in frame position `source`'s crop of face `key`, moved onto position `to`'s
        crop along the flow between them."""
        a, b = self._frames[to][1][key], self._frames[source][1][key]
        if source == to or a.grey is None or b.grey is None:
            return mask
        pair = (self._frames[to][0].index, self._frames[source][0].index, key)
        if pair not in self._flows:
            self._flows[pair] = _flow_field(a.grey, b.grey)
        return cv2.remap(mask, self._flows[pair], None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _eroded(self, pos: int, key: int, shot: int) -> np.ndarray:
        seen = [self._moved(v.visible, p, pos, key) for p in range(pos - REACH, pos + REACH + 1)
                if (v := self._raw(p, key, shot)) is not None]
        return np.minimum.reduce(seen)

    def _steadied(self, pos: int, key: int) -> np.ndarray:
        shot = self._frames[pos][0].shot
        here = self._raw(pos, key, shot)
        # a neighbour's eroded mask counts only when the face is in that frame too (pos itself always is)
        near = [self._moved(self._eroded(p, key, shot), p, pos, key) for p in range(pos - REACH, pos + REACH + 1)
                if self._raw(p, key, shot) is not None]
        # moved masks are resampled: never more visible than the frame's own mask all the same
        return np.minimum(np.mean(near, axis=0, dtype=np.float32), here.visible)


def smooth_occlusion(items: Iterator[FrameItem], masks: Callable[[FrameItem], dict[int, CropView | np.ndarray]]
                     ) -> Iterator[FrameItem]:
    """`items` with their steadied occlusion masks (OcclusionSmoother)."""
    smoother = OcclusionSmoother(masks)
    for item in items:
        yield from smoother.push(item)
    yield from smoother.flush()


class CoveredFaces:
    """How many faces the occlusion net cut the blend mask of by more than half: a few are a hand
    over a face; most of a run's faces, a net that does not know the face (it learnt the model's own
    people), which `warn` says."""

    def __init__(self) -> None:
        self.seen = self.mostly = 0

    def add(self, mask: np.ndarray, uncovered: np.ndarray) -> None:
        """One face's blend mask with the net's cut, and without it (same shape)."""
        self.seen += 1
        self.mostly += int(mask.sum() < 0.5 * uncovered.sum())

    def warn(self, footage_side: str | None, model: str) -> None:
        if self.seen and self.mostly > 0.5 * self.seen:
            log.warning("the occlusion net called more than half of the face covered in %d of %d faces: it knows "
                        "the model's own people; is this footage's face identity %s of %s? (--mask both ignores "
                        "the net)", self.mostly, self.seen, footage_side or "a", model)


# Swap: the model's input crop has what covers the face filled in from the face around it first.
FILL_COVERED = True


def fill_covered(crop: np.ndarray, visible: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The model's input crop (R, R, 3) uint8 with the face pixels the net calls covered (`visible`
    (R, R) < 0.5 inside the face's landmark mask; `landmarks` (68, 2) in crop pixels) filled in from
    the face around them (OpenCV's inpainting, Telea 2004, "An Image Inpainting Technique Based on
    the Fast Marching Method"). The encoder never saw a hand in training: given one, the decoder
    draws what it can of it and the rest of the face shifts with it; given the filled face, it
    renders the face it knows. Returns `crop` itself when nothing is covered."""
    holes = (visible < 0.5) & (landmark_mask(landmarks, visible.shape, "extended") > 127)
    if not holes.any():
        return crop
    holes = cv2.dilate(holes.astype(np.uint8), np.ones((3, 3), np.uint8))
    return cv2.inpaint(np.ascontiguousarray(crop), holes, 3, cv2.INPAINT_TELEA)


def blend_occlusion(visible: np.ndarray, size: int) -> np.ndarray:
    """The net's cut in crop space, (size, size) float32 in [0, 1], from a steadied visible mask
    (R, R) in [0, 1]: a firm edge (a smoothstep from 0.3 to 0.7, the net's uncertain middle),
    resized to the blended crop's `size`. For the colour statistics and the covered count; the
    blend's own cut is made at the frame's resolution (frame_occlusion)."""
    firm = smoothstep(visible.astype(np.float32), 0.3, 0.7)
    if firm.shape[0] != size:
        firm = cv2.resize(firm, (size, size), interpolation=cv2.INTER_LINEAR)
    return firm


# The frame-space edge (frame_occlusion): the guided filter's window, in % of the face width, and its
# regularisation, in the guide's 8-bit levels (squared by the filter): smaller follows the footage's
# edges more closely.
GUIDE_RADIUS = 3.0
GUIDE_EPS = 12.0


# The colour check of the net's cut (`colour_refine`): how far from the face's visible part it reaches,
# in % of the face width (the gaps between a hand's fingers run a fifth of the face below their tips),
# and the squared Mahalanobis distances (CIELAB, 3 degrees of freedom) under which a pixel is the
# skin's colour (16: 1 pixel of skin in 1,000 is farther) and over which it is not the occluder's (25:
# 1 in 60,000).
COLOUR_REACH = 25.0
SKIN_LIKE = 16.0
NOT_OCCLUDER = 25.0
# An occluder of the skin's own colour is told apart from the skin only when at least this share of the
# skin the net sees lies beyond NOT_OCCLUDER from it (a flat skin-toned box: 0.99 on d18; a skin of
# the occluder's own colour and shading: none).
APART = 0.9
# ... and when at most this share of the cut itself lies beyond NOT_OCCLUDER from it (a Gaussian's
# share is 1 in 60,000; a logo printed on the box, or a finger's shaded side, is more)
OUTLIERS = 0.001
# Covariance floor of either colour model (CIELAB units squared): a flat occluder (the drawbox)
# has almost none, and the face pixels' codec noise should not read as "not the occluder".
_COLOUR_FLOOR = 4.0


def colour_model(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (3,) and inverse covariance (3, 3), floored by _COLOUR_FLOOR, of (N, 3) colours (CIELAB)."""
    return pixels.mean(axis=0), np.linalg.inv(np.cov(pixels.T) + np.eye(3) * _COLOUR_FLOOR)


def colour_distance(pixels: np.ndarray, model: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Squared Mahalanobis distance (...,) of (..., 3) colours from a `colour_model`."""
    d = pixels - model[0]
    return ((d @ model[1]) * d).sum(axis=-1)


def colour_refine(visible: np.ndarray, guide: np.ndarray, inside: np.ndarray, face_width: float) -> np.ndarray:
    """The net's visible share (H, W) float32 in [0, 1] at the frame's resolution, with the face
    pixels it calls covered but whose colour says face given back (set to 1).

    `guide`: the footage there, (H, W, 3) uint8 RGB; `inside`: (H, W) bool, the face's landmark
    mask (the only place a cut matters); `face_width`: pixels. The net sees a 64 px crop: the gaps
    between a hand's fingers, a few crop pixels wide, come out covered, and the lips and chin seen
    between the fingers kept the footage's (d19: 4.7 % of the face's swap lost under a hand against
    the landmark mask's). Two Gaussian colour models in CIELAB, one of the face's skin the net sees
    (within 15 % of the face width of the cut), one of the occluder (the cut less its rim, less its
    skin-like pixels: the face between the fingers; at least half of it must be left), decide
    each covered pixel within COLOUR_REACH of the seen face: it goes back to the face only when it
    is likely skin (SKIN_LIKE) and unlikely occluder (NOT_OCCLUDER). This is GrabCut's data term
    (Rother, Kolmogorov & Blake, "GrabCut: interactive foreground extraction using iterated graph
    cuts", SIGGRAPH 2004) with one Gaussian a side and two thresholds instead of the graph cut.
    When most of the cut is skin-like (an occluder of the skin's colour: the issue's skin-coloured
    box, a hand), the occluder's model is the whole cut, and it decides only when at least APART of
    the seen skin lies beyond NOT_OCCLUDER from it and at most OUTLIERS of the cut does: a flat box
    is told from the shaded skin beside it (d18: 1 point of the face's swap given back); a hand as
    varied as the face, or a box with a print on it, is not, and the net's cut stands. Returns
    `visible` itself when there is not enough of either side to model, or the two cannot be told
    apart."""
    unit = face_width / 100
    seen = (visible > 0.9) & inside
    covered = (visible < 0.1) & inside
    rim = max(1, int(round(2 * unit)))
    core = cv2.erode(covered.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rim + 1,) * 2)) > 0
    if np.count_nonzero(seen) < 200 or np.count_nonzero(core) < 50:
        return visible
    to_seen = cv2.distanceTransform((~seen).astype(np.uint8), cv2.DIST_L2, 5)
    to_covered = cv2.distanceTransform((~covered).astype(np.uint8), cv2.DIST_L2, 5)
    ask = (visible <= 0.9) & inside & (to_seen <= COLOUR_REACH * unit)
    if not ask.any():
        return visible
    lab = cv2.cvtColor(np.ascontiguousarray(guide), cv2.COLOR_RGB2LAB).astype(np.float32)
    skin = seen & (to_covered <= 15 * unit)
    skin_px = lab[skin if np.count_nonzero(skin) >= 100 else seen]
    skin_model = colour_model(skin_px)
    # the occluder's colour from the cut's pixels that are not skin-like: the cut also holds the face
    # between the fingers; when most of it is skin-like, the occluder is of the skin's colour
    held = lab[core]
    other = colour_distance(held, skin_model) >= SKIN_LIKE
    if np.count_nonzero(other) >= max(50, 0.5 * len(held)):
        occluder_model = colour_model(held[other])
    else:
        # most of the cut is skin-like: an occluder of the skin's colour (a skin-toned box or hand).
        # A flat one is still told apart from the shaded skin around it; one as varied as the skin
        # is not, nor one with a print or a shadow of its own (pixels its one Gaussian does not
        # hold, which would be given back as "not occluder"), and then the net's cut stands
        occluder_model = colour_model(held)
        if np.mean(colour_distance(held, occluder_model) > NOT_OCCLUDER) > OUTLIERS \
                or np.mean(colour_distance(skin_px, occluder_model) > NOT_OCCLUDER) < APART:
            return visible
    x = lab[ask]
    face = (colour_distance(x, skin_model) < SKIN_LIKE) & (colour_distance(x, occluder_model) > NOT_OCCLUDER)
    out = visible.copy()
    out[ask] = np.where(face, 1.0, visible[ask])
    return out


# The outline where an occluder made the mesh guess (`net_outline`): how far beyond the landmark mask
# the blend mask may reach out to the face the net sees, as a share of the crop's side, and the share
# of the landmark mask the net must call covered before it does (fully from twice that share: a hard
# threshold would let the jaw line jump between frames as an occluder comes and goes).
OUTLINE_REACH = 0.06
OUTLINE_FROM = 0.01


def net_outline(mask: np.ndarray, visible: np.ndarray, landmarks: np.ndarray, taper: np.ndarray,
                crop: np.ndarray) -> np.ndarray:
    """The crop-space blend mask (R, R) float32 in [0, 1], reached out to the face the occlusion net
    sees beside it, below the eyes, when the net calls at least OUTLINE_FROM of the mask covered.

    `visible`: the net's steadied view (R, R) in [0, 1] (1 = face seen); `landmarks`: the footage
    face's (68, 2) in crop pixels; `taper`: (R, R), the crop's taper (composite.crop_taper), which
    the reach is kept inside; `crop`: the footage crop (R, R, 3) uint8 RGB. An occluder over the
    mouth leaves the mesh (MediaPipe) guessing the jaw and mouth, and the guess moves the whole lower
    outline, the visible jaw sides too (d18 behind the issue's box: 3.2 % of the face the clean clip
    swaps left unswapped, the chin pulled up by 0.05 of the eyes' distance on average). The net,
    trained on the landmark mask minus synthetic occluders (model/occlusion.py), reads the visible
    outline from the pixels, not from a face model, so within OUTLINE_REACH of the landmark mask the
    mask takes the net's value where that is larger, weighted by how skin-like the crop's colour is
    there (1 under SKIN_LIKE, 0 from NOT_OCCLUDER, squared Mahalanobis distance in CIELAB from the
    Gaussian of the skin the net sees, as `colour_refine`): a weak net took the end of a microphone
    at d14's jaw for face, and without this check it was painted over (kept frames 0.99 -> 0.96).
    The weight ramps in from OUTLINE_FROM to twice it of the mask covered. Above the eyes nothing
    changes: there the outline meets hair. Nothing reaches past the taper: where the guessed
    landmarks placed the crop too high, the chin below it was never rendered. Returns `mask` itself
    when the face is not covered enough, nothing lies within reach, or too little skin is seen to
    model. The cut that follows (`frame_occlusion`) still keeps what the net calls covered."""
    inside = mask > 0.5
    if not inside.any():
        return mask
    ramp = np.clip(np.mean(visible[inside] < 0.5) / OUTLINE_FROM - 1.0, 0.0, 1.0)
    if ramp <= 0.0:
        return mask
    k = max(1, int(round(OUTLINE_REACH * mask.shape[0])))
    reach = cv2.dilate(inside.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2)) > 0
    reach[:max(0, int(np.ceil(landmarks[36:48, 1].mean())))] = False
    reach &= mask < 1.0     # the landmark mask's soft rim too, or a faint line stays where it was
    skin = (landmark_mask(landmarks, mask.shape, "skin") > 127) & (visible > 0.9)
    if not reach.any() or np.count_nonzero(skin) < _MIN_SKIN * mask.size:
        return mask
    lab = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2LAB).astype(np.float32)
    distance = colour_distance(lab[reach], colour_model(lab[skin]))
    like = 1.0 - smoothstep(distance, SKIN_LIKE, NOT_OCCLUDER)
    out = mask.copy()
    out[reach] = np.maximum(mask[reach], smoothstep(visible[reach].astype(np.float32), 0.3, 0.7)
                            * like * taper[reach] * ramp)
    return out


# the least share of the crop the skin seen by the net must cover for its colour model (a 64 px crop:
# 100 pixels)
_MIN_SKIN = 0.025


def frame_occlusion(visible: np.ndarray, guide: np.ndarray, face_width: float,
                    grow: float = defaults.OCCLUSION_GROW, inside: np.ndarray | None = None) -> np.ndarray:
    """The occlusion net's cut at the frame's resolution: (H, W) float32 in [0, 1] to multiply the
    blend alpha by, from the steadied visible share warped into a frame region (H, W) and that
    region of the footage, `guide` (H, W, 3) uint8.

    The net sees a 64 px crop, so its edge is 4-5 frame pixels wide and off by as much; the guided
    filter (He, Sun & Tang 2010, "Guided Image Filtering", as in OpenCV's ximgproc) moves it onto
    the footage's own edges (an occluder's outline is one), then a smoothstep from 0.3 to 0.7 firms
    it and the covered region is grown by `grow` % of `face_width` (pixels), so the occluder's
    anti-aliased rim keeps the footage's pixels too. `inside` ((H, W) bool, the face's landmark mask):
    the covered face pixels whose colour says face are given back first (`colour_refine`)."""
    radius = max(1, int(round(GUIDE_RADIUS * face_width / 100)))
    v = cv2.ximgproc.guidedFilter(guide, visible.astype(np.float32), radius, GUIDE_EPS ** 2)
    if inside is not None:
        v = colour_refine(v, guide, inside, face_width)
    firm = smoothstep(v, 0.3, 0.7)
    px = int(round(grow * face_width / 100))
    if px > 0:
        firm = cv2.erode(firm, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1)),
                         borderType=cv2.BORDER_REPLICATE)
    return firm


__all__ = ["APART", "COLOUR_REACH", "OUTLIERS", "OUTLINE_FROM", "OUTLINE_REACH", "net_outline", "CropView", "colour_distance", "colour_model", "CoveredFaces", "NOT_OCCLUDER", "SKIN_LIKE", "colour_refine", "crop_view", "FILL_COVERED", "fill_covered", "frame_occlusion", "GUIDE_EPS", "GUIDE_RADIUS", "KEY", "OcclusionSmoother", "REACH", "blend_occlusion", "face_key", "smooth_occlusion"]
