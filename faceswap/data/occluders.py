"""Synthetic occluders with an exact alpha matte: what crosses a face in front of the camera.

Two uses. Training an occlusion mask (issue 16) pastes `random_occluder` into face crops:
random polygons and blobs with skin-like or random textures, hand-like shapes, thin bars and
rims (microphones, glasses frames), cut-outs of non-face regions of a frame, some of them
partly blurred (defocus, motion), so the target mask is the face mask times (1 - alpha).
Measuring a mask draws `moving_occluder` into real footage: a skin-coloured hand with
fingers, a dark microphone, the issue's filled box (colour 0xC08A6A, 0.3 of the frame) and
a cup-sized ellipse, each crossing the face.

Everything is drawn with OpenCV and NumPy and is deterministic: the same seed (or
`numpy.random.Generator` state) gives the same pixels. Shapes are drawn at SUPERSAMPLE
times the size and area-averaged down, so the alpha matte (uint8, 0 = footage, 255 =
occluder) holds the exact coverage of each pixel, and `composite` is the one formula that
puts an occluder into a frame: out = round((frame * (255 - a) + rgb * a) / 255).
Images are RGB uint8, (H, W, 3); mattes (H, W) uint8; boxes (x0, y0, x1, y1) in pixels.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

SUPERSAMPLE = 4
# The drawbox: `drawbox=...:color=0xC08A6A@1:t=fill`, a skin-coloured box 0.3 of the frame.
DRAWBOX_RGB = (0xC0, 0x8A, 0x6A)
DRAWBOX_SIZE = 0.3
MOVING_KINDS = ("hand", "microphone", "box", "cup")
RANDOM_KINDS = ("polygon", "blob", "hand", "bar", "rim", "ellipse", "cutout")
# Frames a moving occluder takes to cross the face once (3 s at 30 fps).
MOVE_FRAMES = 90
# Skin tones the skin-like textures mix between (light to dark), RGB.
SKIN_TONES = np.array([(236, 198, 172), (224, 172, 138), DRAWBOX_RGB, (170, 116, 84), (120, 78, 52), (82, 54, 38)],
                      np.float32)


def composite(frame: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`frame` with the occluder laid over it: round((frame * (255 - a) + rgb * a) / 255), uint8."""
    a = alpha.astype(np.uint32)[..., None]
    out = (frame.astype(np.uint32) * (255 - a) + rgb.astype(np.uint32) * a + 127) // 255
    return out.astype(np.uint8)


def _coverage(shape: tuple[int, int], draw) -> np.ndarray:
    """Alpha (uint8) of what `draw(canvas, scale)` fills with 255 on a SUPERSAMPLE-times canvas:
    each pixel's exact covered share, area-averaged."""
    h, w = shape
    s = SUPERSAMPLE
    hi = np.zeros((h * s, w * s), np.uint8)
    draw(hi, float(s))
    return cv2.resize(hi, (w, h), interpolation=cv2.INTER_AREA)


def _pts(points: np.ndarray, scale: float) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * scale).astype(np.int32).reshape(-1, 1, 2)


def _rotate(points: np.ndarray, centre: tuple[float, float], degrees: float) -> np.ndarray:
    t = np.deg2rad(degrees)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return (np.asarray(points, np.float64) - centre) @ rot.T + centre


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean noise of unit amplitude with features about `scale` pixels wide, float32."""
    h, w = shape
    small = rng.standard_normal((max(int(h / scale), 2), max(int(w / scale), 2))).astype(np.float32)
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return field / max(float(np.abs(field).max()), 1e-6)


def skin_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A skin-like RGB texture: a tone between two neighbouring SKIN_TONES, low-frequency
    shading (+-12 %) and fine grain (+-3 levels)."""
    h, w = shape
    i = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(i)
    base = SKIN_TONES[lo] + (SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] - SKIN_TONES[lo]) * (i - lo)
    shade = 1.0 + 0.12 * _smooth_noise(rng, shape, max(min(h, w) / 3, 2))
    grain = rng.normal(0, 1.5, (h, w, 1)).astype(np.float32)
    return np.clip(base * shade[..., None] + grain, 0, 255).astype(np.uint8)


def random_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Two random colours mixed by a gradient, blotches or stripes, plus grain: clothing,
    props, objects."""
    h, w = shape
    c0, c1 = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    style = rng.integers(3)
    if style == 0:  # gradient
        t = np.deg2rad(rng.uniform(0, 360))
        mix = (xx * np.cos(t) + yy * np.sin(t))
        mix = (mix - mix.min()) / max(float(np.ptp(mix)), 1e-6)
    elif style == 1:  # blotches
        mix = 0.5 + 0.5 * _smooth_noise(rng, shape, max(min(h, w) / rng.uniform(2, 8), 2))
    else:  # stripes
        t, period = np.deg2rad(rng.uniform(0, 180)), rng.uniform(3, max(min(h, w) / 3, 4))
        mix = 0.5 + 0.5 * np.sin((xx * np.cos(t) + yy * np.sin(t)) * 2 * np.pi / period)
    grain = rng.normal(0, 3, (h, w, 1)).astype(np.float32)
    return np.clip(c0 + (c1 - c0) * mix[..., None] + grain, 0, 255).astype(np.uint8)


def _edge_shade(rgb: np.ndarray, alpha: np.ndarray, depth: float, amount: float = 0.25) -> np.ndarray:
    """Darken towards the outline (up to `amount`) over `depth` pixels: a rounded object's shading."""
    inside = cv2.distanceTransform((alpha > 0).astype(np.uint8), cv2.DIST_L2, 5)
    shade = 1.0 - amount * (1.0 - np.clip(inside / max(depth, 1.0), 0, 1))
    return np.clip(rgb.astype(np.float32) * shade[..., None], 0, 255).astype(np.uint8)


# Sprites: an occluder of its own size, (rgb, alpha); sizes are (h, w) in pixels.

def hand(rng: np.random.Generator, size: tuple[int, int], skin: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """An open hand, fingers up: a palm, four fingers fanned out, a thumb to one side and the
    wrist down to the sprite's bottom edge."""
    h, w = size
    palm_c = (w * 0.5, h * 0.62)
    palm_r = (w * 0.3, h * 0.2)
    spread = rng.uniform(4, 12)
    lengths = np.array([0.36, 0.42, 0.4, 0.3]) * h * rng.uniform(0.9, 1.05)
    finger_w = w * rng.uniform(0.1, 0.13)
    thumb_left = bool(rng.integers(2))

    def draw(c: np.ndarray, s: float) -> None:
        cv2.ellipse(c, _pts([palm_c], s)[0, 0], (round(palm_r[0] * s), round(palm_r[1] * s)), 0, 0, 360, 255, -1)
        wrist = np.array([(w * 0.3, h * 0.7), (w * 0.7, h * 0.7), (w * 0.66, h), (w * 0.34, h)])
        cv2.fillPoly(c, [_pts(wrist, s)], 255)
        for k, length in enumerate(lengths):
            base = np.array([w * (0.27 + 0.153 * k), h * 0.5])
            angle = np.deg2rad(-90 + (k - 1.5) * spread)
            tip = base + length * np.array([np.cos(angle), np.sin(angle)])
            cv2.line(c, tuple(_pts([base], s)[0, 0]), tuple(_pts([tip], s)[0, 0]), 255,
                     max(int(finger_w * s), 1), cv2.LINE_8)
            cv2.circle(c, tuple(_pts([tip], s)[0, 0]), max(int(finger_w * s / 2), 1), 255, -1)
        side = -1 if thumb_left else 1
        base = np.array([w * 0.5 + side * w * 0.22, h * 0.66])
        tip = base + np.array([side * w * 0.28, -h * 0.2])
        cv2.line(c, tuple(_pts([base], s)[0, 0]), tuple(_pts([tip], s)[0, 0]), 255,
                 max(int(finger_w * 1.15 * s), 1), cv2.LINE_8)
        cv2.circle(c, tuple(_pts([tip], s)[0, 0]), max(int(finger_w * 1.15 * s / 2), 1), 255, -1)

    alpha = _coverage(size, draw)
    rgb = skin_texture(rng, size) if skin else random_texture(rng, size)
    return _edge_shade(rgb, alpha, w * 0.08), alpha


def microphone(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A handheld microphone, upright: a dark grille ball on top of a dark handle that runs
    to the sprite's bottom edge."""
    h, w = size
    r = w * 0.5 * 0.96
    handle = np.array([(w * 0.32, h * 0.12), (w * 0.68, h * 0.12), (w * 0.6, h), (w * 0.4, h)])

    def draw(c: np.ndarray, s: float) -> None:
        cv2.fillPoly(c, [_pts(handle, s)], 255)
        cv2.circle(c, tuple(_pts([(w / 2, r + w * 0.02)], s)[0, 0]), int(r * s), 255, -1)

    alpha = _coverage(size, draw)
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    level = 42 + 26 * np.exp(-((xx + 0.35) ** 2) / 0.05)  # a cylinder's highlight left of centre
    rgb = np.repeat(np.broadcast_to(level, (h, w))[..., None], 3, axis=2).copy()
    ball = (np.arange(h)[:, None] < 2 * r + w * 0.02)
    grille = ((np.arange(h)[:, None] // 3 + np.arange(w)[None, :] // 3) % 2 == 0) & ball
    rgb[grille] *= 0.7
    rgb += rng.normal(0, 1.5, rgb.shape).astype(np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8), alpha


def box(size: tuple[int, int], colour: tuple[int, int, int] = DRAWBOX_RGB) -> tuple[np.ndarray, np.ndarray]:
    """The issue's filled box: one flat colour, every pixel fully covered."""
    h, w = size
    return np.full((h, w, 3), colour, np.uint8), np.full((h, w), 255, np.uint8)


def cup(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A cup seen from the side, as an ellipse of glazed ceramic with a cylinder's shading."""
    h, w = size
    alpha = _coverage(size, lambda c, s: cv2.ellipse(c, (round(w * s / 2), round(h * s / 2)),
                                                         (round(w * s / 2 * 0.98), round(h * s / 2 * 0.98)),
                                                         0, 0, 360, 255, -1))
    tone = np.array(rng.choice([(228, 222, 210), (186, 40, 44), (40, 84, 160)]), np.float32)
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    shade = 0.7 + 0.3 * np.cos(xx * 1.3) + 0.12 * np.exp(-((xx + 0.4) ** 2) / 0.02)
    rgb = np.broadcast_to(tone * shade, (h, w, 3)) + rng.normal(0, 1.5, (h, w, 3)).astype(np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8), alpha


def _outline(rng: np.random.Generator, kind: str, n: int = 64) -> np.ndarray:
    """A closed outline in the unit square: a random polygon (3-8 corners) or a smooth blob."""
    if kind == "polygon":
        k = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radii = rng.uniform(0.45, 1.0, k)
    else:
        angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
        radii = np.ones(n)
        for harmonic in range(2, 6):
            radii += rng.uniform(0, 0.25 / harmonic * 2) * np.cos(harmonic * angles + rng.uniform(0, 2 * np.pi))
        radii /= radii.max()
    return 0.5 + 0.5 * np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _shape_alpha(rng: np.random.Generator, kind: str, size: tuple[int, int]) -> np.ndarray:
    """The matte of a random shape of `kind` filling a sprite of `size`."""
    h, w = size
    if kind in ("polygon", "blob"):
        outline = _outline(rng, kind) * (w, h)
        return _coverage(size, lambda c, s: cv2.fillPoly(c, [_pts(outline, s)], 255))
    if kind == "ellipse":
        return _coverage(size, lambda c, s: cv2.ellipse(c, (round(w * s / 2), round(h * s / 2)),
                                                            (round(w * s / 2), round(h * s / 2)), 0, 0, 360, 255, -1))
    if kind == "bar":  # a thin straight bar across the sprite, any angle: a glasses arm, a mic stand
        thick = max(min(h, w) * rng.uniform(0.03, 0.12), 1.0)
        t = rng.uniform(0, np.pi)
        half = 0.5 * np.hypot(h, w)
        ends = np.array([(w / 2 - half * np.cos(t), h / 2 - half * np.sin(t)),
                         (w / 2 + half * np.cos(t), h / 2 + half * np.sin(t))])
        return _coverage(size, lambda c, s: cv2.line(c, tuple(_pts(ends[:1], s)[0, 0]), tuple(_pts(ends[1:], s)[0, 0]),
                                                     255, max(int(thick * s), 1), cv2.LINE_8))
    if kind == "rim":  # a glasses frame: two rings and a bridge
        thick = max(min(h, w) * rng.uniform(0.02, 0.06), 1.0)

        def draw(c: np.ndarray, s: float) -> None:
            for cx in (0.25, 0.75):
                cv2.ellipse(c, (round(w * cx * s), round(h * 0.5 * s)), (round(w * 0.22 * s), round(h * 0.35 * s)),
                            0, 0, 360, 255, max(int(thick * s), 1))
            cv2.line(c, (round(w * 0.47 * s), round(h * 0.45 * s)), (round(w * 0.53 * s), round(h * 0.45 * s)),
                     255, max(int(thick * s), 1))
        return _coverage(size, draw)
    raise ValueError(f"unknown occluder shape {kind!r}")


def _partial_blur(rng: np.random.Generator, rgb: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Defocus or motion blur over part of the occluder: the blurred and the sharp versions
    (colour and matte together) mixed along a random linear ramp."""
    h, w = alpha.shape
    sigma = rng.uniform(1.0, max(min(h, w) * 0.04, 1.5))
    soft_rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
    soft_a = cv2.GaussianBlur(alpha, (0, 0), sigma)
    t = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (xx - w / 2) * np.cos(t) + (yy - h / 2) * np.sin(t)
    ramp = np.clip(ramp / max(float(np.abs(ramp).max()), 1e-6) + rng.uniform(-0.3, 0.3), 0, 1)
    mix = ramp[..., None]
    out_rgb = rgb.astype(np.float32) * (1 - mix) + soft_rgb.astype(np.float32) * mix
    out_a = alpha.astype(np.float32) * (1 - ramp) + soft_a.astype(np.float32) * ramp
    return np.round(out_rgb).astype(np.uint8), np.round(out_a).astype(np.uint8)


def _cutout_texture(rng: np.random.Generator, source: np.ndarray, face_box: tuple[float, float, float, float] | None,
                    size: tuple[int, int]) -> np.ndarray:
    """A patch of `source` away from `face_box` (the whole frame when no patch fits), resized to `size`."""
    fh, fw = source.shape[:2]
    side = int(min(fh, fw) * rng.uniform(0.15, 0.4))
    side = max(min(side, fh, fw), 2)
    for _ in range(20):
        x, y = int(rng.integers(0, fw - side + 1)), int(rng.integers(0, fh - side + 1))
        if face_box is None:
            break
        x0, y0, x1, y1 = face_box
        if x + side <= x0 or x >= x1 or y + side <= y0 or y >= y1:
            break
    patch = source[y:y + side, x:x + side]
    return cv2.resize(np.ascontiguousarray(patch), (size[1], size[0]), interpolation=cv2.INTER_AREA)


def random_occluder(rng: np.random.Generator, size: tuple[int, int] | int, source: np.ndarray | None = None,
                    face_box: tuple[float, float, float, float] | None = None,
                    kinds: tuple[str, ...] = RANDOM_KINDS) -> tuple[np.ndarray, np.ndarray]:
    """One random occluder on a canvas of `size` ((h, w) or a side): (rgb (h, w, 3) uint8,
    alpha (h, w) uint8, 0 where nothing covers the canvas). The shape is one of `kinds`
    ("cutout" only when `source`, a frame to cut from, is given: its texture is a patch of
    `source` away from `face_box`); it spans 15-70 % of the canvas side, rotated, anywhere
    on it (partly off it too); skin-like texture on 40 % of them (all hands), partial blur on
    30 %. Deterministic for a given generator state."""
    h, w = (size, size) if isinstance(size, int) else size
    allowed = [k for k in kinds if k != "cutout" or source is not None]
    if not allowed:
        raise ValueError("no occluder kind to draw: 'cutout' needs a source frame")
    kind = str(rng.choice(allowed))
    side = max(int(min(h, w) * rng.uniform(0.15, 0.7)), 4)
    sh, sw = side, max(int(side * rng.uniform(0.5, 1.5)), 4)
    if kind == "hand":
        rgb, alpha = hand(rng, (sh, sw), skin=True)
    else:
        alpha = _shape_alpha(rng, "blob" if kind == "cutout" else kind, (sh, sw))
        if kind == "cutout":
            rgb = _cutout_texture(rng, source, face_box, (sh, sw))
        elif rng.uniform() < 0.4:
            rgb = skin_texture(rng, (sh, sw))
        else:
            rgb = random_texture(rng, (sh, sw))
    # rotate the sprite on a square canvas that holds it at any angle
    d = int(np.ceil(np.hypot(sh, sw)))
    pad = ((d - sh) // 2, (d - sw) // 2)
    big_rgb = np.zeros((d, d, 3), np.uint8)
    big_a = np.zeros((d, d), np.uint8)
    big_rgb[pad[0]:pad[0] + sh, pad[1]:pad[1] + sw] = rgb
    big_a[pad[0]:pad[0] + sh, pad[1]:pad[1] + sw] = alpha
    turns = int(rng.integers(4))
    big_rgb, big_a = np.rot90(big_rgb, turns), np.rot90(big_a, turns)
    if rng.uniform() < 0.3:
        big_rgb, big_a = _partial_blur(rng, np.ascontiguousarray(big_rgb), np.ascontiguousarray(big_a))
    x = int(rng.integers(-d // 3, w - 2 * d // 3 + 1)) if w > d // 3 else 0
    y = int(rng.integers(-d // 3, h - 2 * d // 3 + 1)) if h > d // 3 else 0
    return place(big_rgb, big_a, (h, w), x, y)


def place(rgb: np.ndarray, alpha: np.ndarray, shape: tuple[int, int], x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """A sprite laid on an empty canvas of `shape` (h, w) with its top-left corner at (x, y),
    clipped to the canvas: (rgb (h, w, 3), alpha (h, w))."""
    h, w = shape[:2]
    out_rgb = np.zeros((h, w, 3), np.uint8)
    out_a = np.zeros((h, w), np.uint8)
    sh, sw = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + sw, w), min(y + sh, h)
    if x1 > x0 and y1 > y0:
        out_rgb[y0:y1, x0:x1] = rgb[y0 - y:y1 - y, x0 - x:x1 - x]
        out_a[y0:y1, x0:x1] = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    return out_rgb, out_a


@lru_cache(maxsize=16)
def _moving_sprite(kind: str, sh: int, sw: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "hand":
        return hand(rng, (sh, sw))
    if kind == "microphone":
        return microphone(rng, (sh, sw))
    if kind == "box":
        return box((sh, sw))
    return cup(rng, (sh, sw))


def moving_occluder(kind: str, frame_index: int, frame_shape: tuple[int, ...],
                    face_box: tuple[float, float, float, float], period: int = MOVE_FRAMES,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The test occluder `kind` (one of MOVING_KINDS) in frame `frame_index`: (rgb (H, W, 3)
    uint8, alpha (H, W) uint8) for a frame of `frame_shape`. It crosses `face_box` (x0, y0,
    x1, y1, the face's box in the footage) from left to right in `period` frames, starting
    clear of the face and ending clear of it, then starts again. Sizes follow the face: a
    hand 0.75 x 1.1 of the face's width x height over the mouth and chin; a microphone 0.3 x
    1.6 with its head at the mouth; the box DRAWBOX_SIZE of the frame at half its height (the
    issue's drawbox); a cup 0.5 x 0.6 over the mouth. ValueError for an unknown kind."""
    if kind not in MOVING_KINDS:
        raise ValueError(f"unknown moving occluder {kind!r}; choose from {', '.join(MOVING_KINDS)}")
    fh, fw = frame_shape[:2]
    x0, y0, x1, y1 = (float(v) for v in face_box)
    fwid, fhei = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if kind == "hand":
        sw, sh, top = fwid * 0.75, fhei * 1.1, y0 + 0.45 * fhei
    elif kind == "microphone":
        sw, sh, top = fwid * 0.3, fhei * 1.6, y0 + 0.62 * fhei
    elif kind == "box":
        sw, sh, top = fw * DRAWBOX_SIZE, fh * DRAWBOX_SIZE, fh * 0.5
    else:
        sw, sh, top = fwid * 0.5, fhei * 0.6, y0 + 0.55 * fhei
    sw, sh = max(int(round(sw)), 2), max(int(round(sh)), 2)
    rgb, alpha = _moving_sprite(kind, sh, sw, seed)
    t = (frame_index % period) / max(period - 1, 1)
    start, end = x0 - sw - 0.05 * fwid, x1 + 0.05 * fwid
    x = int(round(start + (end - start) * t))
    return place(rgb, alpha, (fh, fw), x, int(round(top)))


GLASSES_RGB = (46, 40, 38)   # dark metal frames


def glasses(landmarks: np.ndarray, frame_shape: tuple[int, ...], rgb: tuple[int, int, int] = GLASSES_RGB
            ) -> tuple[np.ndarray, np.ndarray]:
    """A pair of glasses worn by the face of `landmarks` (68, 2) in frame px: (rgb (H, W, 3) uint8,
    alpha (H, W) uint8) for a frame of `frame_shape`, exact to the pixel's covered share. Round rims
    0.40 x 0.34 of the eye-to-eye distance (IOD) round each eye (tilted with the eyes), 0.03 IOD
    thick, a bridge between their inner tops, and arms from their outer sides to 0.3 IOD past the
    face's outline: a frame that reaches past any landmark mask, as real ones do."""
    fh, fw = frame_shape[:2]
    lm = np.asarray(landmarks, np.float64)
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    d = right - left
    iod = float(np.hypot(*d))
    ux = d / max(iod, 1e-6)
    uy = np.array([-ux[1], ux[0]])      # down the face
    angle = float(np.degrees(np.arctan2(ux[1], ux[0])))
    thick = 0.03 * iod
    rx, ry = 0.40 * iod, 0.34 * iod
    centres = [left - 0.03 * iod * ux + 0.04 * iod * uy, right + 0.03 * iod * ux + 0.04 * iod * uy]

    def draw(canvas: np.ndarray, s: float) -> None:
        t = max(1, int(round(thick * s)))
        for c in centres:
            cv2.ellipse(canvas, (int(round(c[0] * s)), int(round(c[1] * s))), (int(round(rx * s)), int(round(ry * s))),
                        angle, 0, 360, 255, t, cv2.LINE_8)
        top = -0.55 * ry * uy
        a, b = centres[0] + 0.8 * rx * ux + top, centres[1] - 0.8 * rx * ux + top
        cv2.line(canvas, tuple(_pts(a, s)[0, 0]), tuple(_pts(b, s)[0, 0]), 255, t, cv2.LINE_8)
        for c, side, edge in ((centres[0], -1.0, lm[0]), (centres[1], 1.0, lm[16])):
            start = c + side * rx * ux - 0.3 * ry * uy
            reach = abs(float(np.dot(edge - start, ux))) + 0.3 * iod
            end = start + side * reach * ux
            cv2.line(canvas, tuple(_pts(start, s)[0, 0]), tuple(_pts(end, s)[0, 0]), 255, t, cv2.LINE_8)

    alpha = _coverage((fh, fw), draw)
    colour = np.empty((fh, fw, 3), np.uint8)
    colour[:] = rgb
    return colour, alpha
