"""An invisible watermark in every output frame: a payload (tool id and output id) that
survives re-encoding, scaling, cropping and frame-rate changes, so a converted clip can be
recognised as synthetic after its tags and sidecar are gone.

Scheme (spread spectrum on a periodic tile, after Kutter's self-referencing watermarks,
"Watermarking resisting to translation, rotation, and scaling", SPIE 1998, and Cox et al.,
"Secure spread spectrum watermarking for multimedia", IEEE TIP 1997):

- The payload (a tool byte and a 40-bit output id) and its CRC-16 are convolutionally encoded
  (constraint length 7, rate 1/2, scikit-commpy) and decoded by a soft-decision list Viterbi
  decoder (media/viterbi.py), which uses each bit's reliability instead of a hard guess and hands
  the 16 most likely messages to the CRC check.
- Each layer is a tile of k x k cells, each +1 or -1: a quarter of the cells carry a fixed
  synchronisation sequence, the rest the codeword's bits, each spread over several cells and
  scrambled by a key. The tile repeats over the whole frame; a cell spans a fixed fraction
  of the frame's shorter side. Two layers: fine cells in luma (invisible, robust to
  compression at full size) and cells four times as large in the blue-difference chroma
  (blue up, red and green down: no luma change; robust to downscaling and strong compression
  together, where the fine cells blur or are quantised away), whose tile is twice the luma
  tile; both start at the frame's corner. The chroma amplitude follows the picture: faint
  where it is flat (a wall, a cheek: a mottle there is what an eye sees), strong where its
  texture hides it, between the two where it is flat and dark (`square_levels`).
- Embedding adds the smoothed pattern to every frame (two saturating uint8 adds), its busy
  squares changed as the picture moves (`Embedder`).
- Detection averages a window of frames' high-passed planes (the picture changes, the mark
  does not), takes the tile period as written at that size or finds it from the whitened
  autocorrelation (any scale) and refines it by the synchronisation peak,
  weighs each place by its own noise (an approximate matched filter), folds the frame onto
  each layer's tile, finds the tiles' offset (any crop) by cross-correlation with the
  synchronisation cells of both layers at once (their periods are multiples of one another
  and they share the origin), reads each bit by correlation and decodes the codeword from
  the layers' soft bits combined by their strength. A window counts as marked only when the
  decoded message's CRC-16 and tool byte check; a random word passes with odds of 2**-24
  (6e-8) per message checked, 16 a decoding tried (1e-6), up to six decodings a window (each
  layer, their combination, over the frame and its faces).
"""

from __future__ import annotations

import binascii
import itertools
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .viterbi import list_viterbi

__all__ = ["BUSY", "DARK", "FLAT", "LAYERS", "TOOL_ID", "Embedder", "Layer", "Mark", "Pattern", "decode_window", "embed",
           "mark_pattern", "residuals", "square_levels"]

TOOL_ID = 0xF5            # the payload's first byte: "made by faceswap"
PAYLOAD_BYTES = 6         # tool byte + 40-bit output id
CHECK_BYTES = 2           # CRC-16 (CCITT) of the payload
MESSAGE_BITS = (PAYLOAD_BYTES + CHECK_BYTES) * 8
# the convolutional code: constraint length 7, rate 1/2 (generators 133, 171 octal, the
# NASA/CCSDS standard code), terminated with 6 zero bits: (64 + 6) x 2 coded bits
_MEMORY = 6
_GENERATORS = (0o133, 0o171)
CODE_BITS = (MESSAGE_BITS + _MEMORY) * 2
SYNC_SHARE = 4            # one cell in SYNC_SHARE carries the synchronisation sequence
SYNC_THRESHOLD = 4.5      # a synchronisation peak worth decoding, in standard deviations
# Messages the list Viterbi decoder hands to the CRC check, best first. 16 took d10 after CRF 28 +
# half size from 12 to 14 of 14 windows (docs/provenance.md) at 16 x 2**-24 false odds a decoding.
LIST_SIZE = 16
_PERIOD_STEPS = ((-0.01, -0.005, 0.005, 0.01), (-0.0025, 0.0025), (-0.00125, 0.00125))   # refining a found period
_KEY = 0x5F17             # fixed: the mark is a label anyone may read, not a secret

# RGB change per unit of the mark: luma (equal RGB), or blue-difference chroma alone (blue up, red and
# green down by 0.114 / 0.886 of it: BT.601 luma unchanged, Cb + 1). Blue alone (scheme tile-2) also
# moved luma by 0.114 a level, a coarse luma mottle on flat walls that carried no more of the mark.
_CB_RG = -0.114 / (0.299 + 0.587)
_DIRECTIONS = {"y": np.array([1.0, 1.0, 1.0], np.float32), "cb": np.array([_CB_RG, _CB_RG, 1.0], np.float32)}


@dataclass(frozen=True)
class Layer:
    """One tiled pattern: the `plane` it lives in, cells across the frame's shorter side,
    cells per tile side, its amplitude in 8-bit levels where the picture is flat, and the
    residual clip for reading; optionally other amplitudes where the picture is dark or busy."""

    plane: str
    cells_per_side: int
    k: int
    strength: float
    clip: float
    dark: float = 0.0   # amplitude where the picture is flat and dark (0: `strength` there too)
    busy: float = 0.0   # amplitude where the picture's texture hides the mark (0: `strength` there too)

    def amplitude(self, level: int) -> float:
        """The amplitude in a square of this `level` (FLAT, DARK or BUSY, see `square_levels`)."""
        return (self.strength, self.dark or self.strength, self.busy or self.strength)[level]

    def cell(self, height: int, width: int, least: int | None = None) -> int:
        """Pixels per cell in a frame of this size: the finest layer's cell (1/120 of the shorter
        side, at least `least` px, default _FINEST_MIN_PX) times how much coarser this layer is,
        a whole number, so that the layers' periods are whole multiples of one another and they
        synchronise together. The reader's filters take `least=_READ_MIN_PX`: a frame read at
        half size has cells of half the written ones, held at no floor."""
        fine = max(_FINEST_MIN_PX if least is None else least, round(min(height, width) / _FINEST_CELLS))
        return fine * max(1, round(_FINEST_CELLS / self.cells_per_side))


    def period(self, height: int, width: int) -> int:
        """The layer's tile period in pixels in a frame of this size: cells per tile times
        pixels per cell. Every layer's period is a whole multiple of the first layer's, and
        every tile starts at the frame's corner, so one offset places them all."""
        return self.k * self.cell(height, width)


_FINEST_CELLS = 120
# Below 480 px (a 360p proxy) cells keep 4 px, so that half size still leaves 2 px luma and 8 px
# chroma cells: 640x360 after CRF 28 + 50 % downscale decoded 5 of 9 windows with 3 px, 9 with 4.
_FINEST_MIN_PX = 4
_READ_MIN_PX = 2
# Chroma cells are 1/30 of the shorter side (4 luma cells), so its 16-cell tile is twice the luma
# tile. Scheme tile-4: at 1/60 (tile-3) H.264 CRF 28 after a 50 % downscale left a third of the
# chroma cells' amplitude; at 1/30 the chroma noise after that fell by 40 % at the same amplitude
# and d10, d12, d14 decoded 38 of 40 windows against 24 (docs/provenance.md).
# Scheme tile-5: the chroma amplitude follows the picture (perceptual masking, after Watson, "DCT
# quantization matrices visually optimized for individual images", SPIE 1993, and Kutter & Winkler,
# "A vision-based masking model for spread-spectrum image watermarking", IEEE TIP 2002): 2 levels
# where the picture is flat and bright (a wall, a cheek: on d18's wall a mottle of mean CIEDE2000
# 2.3 at tile-4's 6, 0.9 at 2), 5 where it is flat and dark (colour differences are harder to see
# at low luminance, Brown, JOSA 1951; hamilton_stage's dark stage needs them to decode: 4 of 9
# windows after CRF 28 + half size at 2, 9 at 5), 11 where its texture hides the mark. The
# textured squares carry what survives CRF 28 + half size: at 7 there, d10 (black hair) decoded 4
# of 15 windows, d12 3 of 7; at 11, 15 and 7. Luma 1.0 (was 1.75): PSNR 46 -> 49.6 dB.
LAYERS = (Layer("y", 120, 32, 1.0, 3.0), Layer("cb", 30, 16, 2.0, 9.0, dark=5.0, busy=11.0))
FLAT, DARK, BUSY = 0, 1, 2   # the levels of a square (`square_levels`)
# A square is busy where the texture of luma (8-bit levels, see `square_levels`) is above _BUSY_SD
# at every sample in it: d18's wall sits at 0.1-0.5, cheeks and forehead at 0.5-2, hair, brows, eyes,
# lips, the jumper and edges above. It is dark where its mean luma is under _DARK_LUMA. The levels
# depend on the frame alone (no hysteresis): a job written in segments is then the same as in one
# piece, whatever frame a segment starts at.
_BUSY_SD = 2.0
_DARK_LUMA = 40.0


@dataclass(frozen=True, eq=False)
class Pattern:
    """The mark for one frame size: per level (FLAT, DARK, BUSY) an (add, sub) pair of (H, W, 3)
    uint8 images (uint16 for deep video) whose difference is every layer at that level's
    amplitude; one pair when no layer's amplitude changes. `block`: the squares (px) in which
    `square_levels` decides, the coarsest layer's cell."""

    levels: tuple[tuple[np.ndarray, np.ndarray], ...]
    block: int

    @property
    def adaptive(self) -> bool:
        """Whether the amplitude follows the picture."""
        return len(self.levels) > 1

    def deep(self) -> Pattern:
        """The same mark in 16-bit levels (x257), for 10/12-bit video read as uint16."""
        return Pattern(tuple((a.astype(np.uint16) * 257, s.astype(np.uint16) * 257) for a, s in self.levels), self.block)

    def signed(self, levels: np.ndarray | None = None, rows: slice = slice(None),
               cols: slice = slice(None)) -> np.ndarray:
        """(h, w, 3) int16 (8-bit levels): the mark over the frame's region `rows` x `cols` (default
        the whole frame), each square at its level in `levels` (see `square_levels`; None: FLAT
        everywhere)."""
        signed = [a[rows, cols].astype(np.int16) - s[rows, cols].astype(np.int16) for a, s in self.levels]
        if levels is None or not self.adaptive:
            return signed[0]
        h, w = self.levels[0][0].shape[:2]
        y = np.arange(h)[rows] // self.block
        x = np.arange(w)[cols] // self.block
        return np.choose(levels[y[:, None], x[None, :]][..., None], signed)


@dataclass(frozen=True)
class _Layout:
    sync_values: np.ndarray  # (k, k) +-1 on sync cells, 0 elsewhere
    bit_of: np.ndarray       # (k, k) codeword bit a data cell carries, -1 on sync cells
    chips: np.ndarray        # (k, k) +-1 scrambling of data cells


@lru_cache(maxsize=4)
def _layout(k: int) -> _Layout:
    rng = np.random.default_rng([_KEY, k])
    order = rng.permutation(k * k)
    n_sync = k * k // SYNC_SHARE
    sync = np.zeros(k * k, bool)
    sync[order[:n_sync]] = True
    bit_of = np.full(k * k, -1)
    bit_of[order[n_sync:]] = np.arange(k * k - n_sync) % CODE_BITS
    sync_values = np.where(sync, rng.choice([-1.0, 1.0], k * k), 0.0)
    chips = rng.choice([-1.0, 1.0], k * k)
    return _Layout(sync_values.reshape(k, k), bit_of.reshape(k, k), chips.reshape(k, k))


@lru_cache(maxsize=1)
def _trellis():
    from commpy.channelcoding.convcode import Trellis

    return Trellis(np.array([_MEMORY]), np.array([list(_GENERATORS)]))


@lru_cache(maxsize=1)
def decoder_tables() -> tuple[np.ndarray, np.ndarray]:
    """The code's trellis as `viterbi.list_viterbi` takes it: next state (S, 2) and the branch's
    two code bits (S, 2, 2), MSB first as scikit-commpy's encoder emits them."""
    trellis = _trellis()
    table = np.asarray(trellis.output_table)
    return np.asarray(trellis.next_state_table), np.stack([(table >> 1) & 1, table & 1], axis=-1)


def _message(output_id: int) -> bytes:
    payload = bytes([TOOL_ID]) + output_id.to_bytes(5, "big")
    return payload + binascii.crc_hqx(payload, 0xFFFF).to_bytes(CHECK_BYTES, "big")


def codeword(output_id: int) -> np.ndarray:
    """(CODE_BITS,) float32 of +-1: the tool byte, `output_id` (0 <= id < 2**40) and their
    CRC-16, convolutionally encoded (scikit-commpy). Raises ValueError for an id out of range."""
    from commpy.channelcoding.convcode import conv_encode

    if not 0 <= output_id < 1 << 40:
        raise ValueError("output_id must fit in 40 bits")
    bits = np.unpackbits(np.frombuffer(_message(output_id), np.uint8))
    return conv_encode(bits, _trellis(), "term").astype(np.float32) * 2 - 1


def tile_cells(word: np.ndarray, k: int) -> np.ndarray:
    """(k, k) float32: one tile carrying `word` (see `codeword`), cells of +-1 less their mean,
    so the mark shifts no level on average (the reader's high-pass ignores the offset)."""
    lay = _layout(k)
    data = np.where(lay.bit_of >= 0, word[np.maximum(lay.bit_of, 0)] * lay.chips, 0.0)
    tile = lay.sync_values + data
    return (tile - tile.mean()).astype(np.float32)


def mark_pattern(output_id: int, height: int, width: int, layers: tuple[Layer, ...] = LAYERS,
                 seed: int = 0) -> Pattern:
    """The mark for a frame of that size (see `Pattern`): each layer's cells smoothed (bilinear
    from the cell centres: no block edges to see) and rounded to whole levels with random dither
    (the same at every level), so a fraction of a level still leaves its average."""
    word = codeword(output_id)
    ups = []
    for layer in layers:
        cell = layer.cell(height, width)
        tile = tile_cells(word, layer.k)
        grid = np.tile(tile, (height // (layer.k * cell) + 2, width // (layer.k * cell) + 2))
        up = cv2.resize(grid, (grid.shape[1] * cell, grid.shape[0] * cell), interpolation=cv2.INTER_LINEAR)
        ups.append(up[:height, :width, None])
    dither = np.random.default_rng(seed).random((height, width, 1), dtype=np.float32)
    pairs = []
    for level in (FLAT, DARK, BUSY) if any(layer.dark or layer.busy for layer in layers) else (FLAT,):
        total = dither.copy()
        for layer, up in zip(layers, ups, strict=True):
            total = total + up * (layer.amplitude(level) * _DIRECTIONS[layer.plane])
        levels = np.floor(total).astype(np.int16)
        pairs.append((np.clip(levels, 0, 255).astype(np.uint8), np.clip(-levels, 0, 255).astype(np.uint8)))
    return Pattern(tuple(pairs), max(layer.cell(height, width) for layer in layers))


def square_levels(frame: np.ndarray, block: int) -> np.ndarray:
    """(ceil(H / block), ceil(W / block)) uint8: the level (FLAT, DARK or BUSY) of each `block` x
    `block` px square of `frame` ((H, W, 3) uint8 or uint16 RGB), from the frame alone. Luma is
    sampled every block / 4 px (4 x 4 samples a square, about 120 across the shorter side
    whatever the frame's size). A square is BUSY when the texture around every sample in it (the
    root mean square of luma less its 3 x 3 mean, over 5 x 5 samples: shading cancels, hair,
    lashes, fabric do not) is above _BUSY_SD levels, so a square that holds a piece of flat wall
    beside the hair stays faint; else DARK when its samples' mean luma is under _DARK_LUMA; else
    FLAT. 0.4 ms at 1080p."""
    h, w = frame.shape[:2]
    hb, wb = -(-h // block), -(-w // block)
    # 4 x 4 samples a square at the centres of its quarters; the last, partial squares' fall past
    # the frame's edge and take its last row or column
    ys = np.minimum(((np.arange(hb * 4) + 0.5) * block / 4).astype(np.intp), h - 1)
    xs = np.minimum(((np.arange(wb * 4) + 0.5) * block / 4).astype(np.intp), w - 1)
    luma = cv2.cvtColor(np.ascontiguousarray(frame[ys[:, None], xs[None, :]]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    if frame.dtype == np.uint16:
        luma *= 1 / 257
    # texture, not shading: each sample less the mean of its 3 x 3 neighbours (a smooth gradient
    # across a cheek cancels), its root mean square over 5 x 5 samples
    detail = luma - cv2.blur(luma, (3, 3))
    texture = np.sqrt(cv2.blur(detail * detail, (5, 5)))
    least = texture.reshape(hb * 4, wb, 4).min(axis=2).reshape(hb, 4, wb).min(axis=1)
    bright = cv2.resize(luma, (wb, hb), interpolation=cv2.INTER_AREA)
    busy, dark = least > _BUSY_SD, bright < _DARK_LUMA
    return np.where(busy, BUSY, np.where(dark, DARK, FLAT)).astype(np.uint8)


# A pixel with a channel this close to black or white (8-bit levels) is left unmarked: a saturating
# add there keeps one side of the mark only, which turned black letterbox bars navy (blue +2 levels
# on average after H.264, up to 10). 3, not the mark's full reach (blue moves up to about 9 levels):
# dark stage footage keeps its mark in the red-brown shadows whose blue and green sit at 3-10
# (hamilton_stage, CRF 23 then CRF 28 + half size: 9 of 9 windows at 3 and unmarked, 7 of 9 at 5).
_CLEAR = 3
_PROBE = 4   # rows of the probe that finds the rows holding such pixels: one in _PROBE


class Embedder:
    """Marks the frames of one output at one size (`Pattern`), each square at the amplitude of
    its level (`square_levels`). It keeps the pattern the last frame's squares made and changes
    only the squares whose level changed since, so a frame costs two saturating adds, the
    squares' measure and the squares that moved (a cut: most of them, once). What it writes
    depends on the frame alone, not on the frames before."""

    def __init__(self, pattern: Pattern) -> None:
        self.pattern = pattern
        self.add, self.sub = (a.copy() for a in pattern.levels[FLAT])
        self.levels: np.ndarray | None = None

    def _update(self, frame: np.ndarray) -> None:
        p = self.pattern
        levels = square_levels(frame, p.block)
        before = np.full_like(levels, FLAT) if self.levels is None else self.levels
        # runs of changed squares along a row that take the same level: one copy each
        key = np.where(levels != before, levels.astype(np.int8), -1)
        for i in np.flatnonzero((key >= 0).any(axis=1)).tolist():
            rows, start = slice(i * p.block, (i + 1) * p.block), 0
            for level, run in itertools.groupby(key[i].tolist()):
                stop = start + sum(1 for _ in run)
                if level >= 0:
                    cols = slice(start * p.block, stop * p.block)
                    add, sub = p.levels[level]
                    self.add[rows, cols] = add[rows, cols]
                    self.sub[rows, cols] = sub[rows, cols]
                start = stop
        self.levels = levels

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """`frame` (H, W, 3) uint8 RGB, or uint16 with a `Pattern.deep` pattern, with the mark
        added in place; returns it. Pixels with a channel less than _CLEAR levels from black or
        white stay as they are (no one-sided, saturated mark): a probe of one pixel in _PROBE x
        _PROBE finds the rows that hold such pixels (and their neighbours), and there the two
        saturating adds are masked pixel by pixel (a lone such pixel the probe missed is marked:
        too small to see). On 2 cores 1.6-2.6 ms a 1080p frame of footage (the squares' levels
        0.3-1 of it), more where many rows hold such pixels."""
        if self.pattern.adaptive:
            self._update(frame)
        full = np.iinfo(frame.dtype).max
        clear = _CLEAR * (full // 255)
        low, high = (clear,) * 3, (full - clear,) * 3
        h, w = frame.shape[:2]
        probe = cv2.resize(frame, (-(-w // _PROBE), -(-h // _PROBE)), interpolation=cv2.INTER_NEAREST)
        rows = (cv2.inRange(probe, low, high) == 0).any(axis=1)
        rows = rows | np.r_[rows[1:], False] | np.r_[False, rows[:-1]]   # the rows between two probes
        edges = np.flatnonzero(np.diff(rows.astype(np.int8))) + 1
        for start, stop in zip(np.r_[0, edges], np.r_[edges, rows.size], strict=True):
            band = slice(start * _PROBE, stop * _PROBE)
            out = frame[band]
            mask = cv2.inRange(out, low, high) if rows[start] else None
            cv2.add(out, self.add[band], dst=out, mask=mask)
            cv2.subtract(out, self.sub[band], dst=out, mask=mask)
        return frame


def embed(frame: np.ndarray, pattern: Pattern) -> np.ndarray:
    """`frame` with the mark added in place (one frame on its own: see `Embedder`, which marks a
    clip's frames one after another for less); returns it."""
    return Embedder(pattern)(frame)


def _plane(frame: np.ndarray, plane: str) -> np.ndarray:
    if plane == "y":
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    f = frame.astype(np.float32)
    return 0.886 * f[..., 2] - 0.299 * f[..., 0] - 0.587 * f[..., 1]


def residuals(frame: np.ndarray, layers: tuple[Layer, ...] = LAYERS) -> list[np.ndarray]:
    """Per layer, (H, W) float32: the layer's plane minus its local mean (the picture's coarse
    content), clipped, so the picture's edges and texture, far stronger than the mark, each
    have a bounded say (a robust correlator) and flat areas, where the mark is clean, decide.
    Sum these over a window's frames for `decode_window`."""
    out = []
    for layer in layers:
        p = _plane(frame, layer.plane)
        r = p - _local_mean(p, 1.5 * layer.cell(*p.shape, least=_READ_MIN_PX))
        out.append(np.clip(r, -layer.clip, layer.clip, out=r))
    return out


def _local_mean(plane: np.ndarray, sigma: float) -> np.ndarray:
    """`plane` (H, W) float32 blurred by a Gaussian of `sigma` pixels. A wide one is computed at a
    quarter of sigma's resolution and enlarged back (the result is smooth at that scale): the
    chroma layer's 36 px sigma at 720p costs 4 ms instead of 60."""
    step = int(sigma // 4)
    if step < 2:
        return cv2.GaussianBlur(plane, (0, 0), sigma)
    h, w = plane.shape
    small = cv2.resize(plane, (max(w // step, 1), max(h // step, 1)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / step), (w, h), interpolation=cv2.INTER_LINEAR)


def _periods(acc: np.ndarray, count: int = 3, longest: float = 0.5) -> list[float]:
    """Candidate tile periods in pixels, best first: peaks of the autocorrelation of the
    whitened residual along both axes (the tile repeats; the picture does not), up to
    `longest` of the shorter side."""
    f = np.fft.rfft2(acc - acc.mean())
    mag = np.abs(f).astype(np.float32)
    f = f / (cv2.GaussianBlur(mag, (0, 0), 4) + 1e-6)   # the picture's broad spectrum divided out
    ac = np.fft.irfft2(np.abs(f) ** 2, s=acc.shape)
    ac /= ac[0, 0] + 1e-9
    h, w = acc.shape
    lo, hi = max(8, min(h, w) // 40), int(min(h, w) * longest)
    if hi <= lo + 2:
        return []
    score = ac[: hi + 1, 0] + ac[0, : hi + 1]
    peaks = [lag for lag in range(lo + 1, hi) if score[lag] >= score[lag - 1] and score[lag] >= score[lag + 1]]
    peaks.sort(key=lambda lag: -score[lag])
    out = []
    for best in peaks[:count]:
        a, b, c = score[best - 1], score[best], score[best + 1]
        denom = a - 2 * b + c
        out.append(best + 0.5 * (a - c) / denom if denom < 0 else float(best))
    return out


_FOLD = 128   # pixels per side of the folded tile (4 per cell of a 32-cell tile, 8 of a 16-cell one)


def _fold(acc: np.ndarray, period: float, weights: np.ndarray | None = None) -> np.ndarray:
    """`acc` rescaled so the tile is _FOLD pixels and summed onto one tile (every pixel,
    partial tiles included, each times its weight), normalised by the weight that fell on
    each tile position."""
    size = _FOLD
    scale = size / period
    h, w = acc.shape
    dsize = (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    weighted = acc if weights is None else acc * weights.astype(np.float32)
    scaled = cv2.resize(weighted, dsize, interpolation=interpolation)
    sh, sw = scaled.shape
    ph, pw = -(-sh // size) * size, -(-sw // size) * size
    padded = np.zeros((ph, pw), np.float32)
    padded[:sh, :sw] = scaled
    total = padded.reshape(ph // size, size, pw // size, size).sum(axis=(0, 2))
    if weights is None:   # every pixel weighs 1: the tiles that reach each tile position, counted
        place = np.arange(size)
        n = np.outer(-(-(sh - place) // size), -(-(sw - place) // size)).astype(np.float32)
    else:
        count = np.zeros((ph, pw), np.float32)
        count[:sh, :sw] = cv2.resize(weights.astype(np.float32) ** 2, dsize, interpolation=interpolation)
        n = count.reshape(ph // size, size, pw // size, size).sum(axis=(0, 2))
    return total / np.sqrt(np.maximum(n, 1))


def _sync_map(folded: np.ndarray, k: int) -> np.ndarray:
    """(_FOLD, _FOLD) cross-correlation of a folded tile with the layer's synchronisation cells
    at every offset, in standard deviations of itself: a peak where the tile starts."""
    lay = _layout(k)
    sync_up = cv2.resize(lay.sync_values.astype(np.float32), (_FOLD, _FOLD), interpolation=cv2.INTER_NEAREST)
    corr = np.fft.irfft2(np.fft.rfft2(folded) * np.conj(np.fft.rfft2(sync_up)), s=folded.shape)
    return (corr - corr.mean()) / (corr.std() + 1e-9)


def _bits(folded: np.ndarray, k: int, offset: tuple[int, int]) -> tuple[np.ndarray, float]:
    """(soft codeword bits in units of their noise, the cells' signal-to-noise ratio) of a folded
    tile whose tile starts at `offset`. The synchronisation cells, whose signs are known, give
    both the cells' amplitude and their noise."""
    lay = _layout(k)
    px = _FOLD // k
    aligned = np.roll(folded, (-offset[0], -offset[1]), axis=(0, 1))
    edge = px // 8   # the cell less its outer eighth, which blurs into the neighbours
    cells = aligned.reshape(k, px, k, px)[:, edge:px - edge, :, edge:px - edge].mean(axis=(1, 3))
    known = cells[lay.sync_values != 0] * lay.sync_values[lay.sync_values != 0]
    amplitude, noise = float(known.mean()), float(known.std() + 1e-9)
    used = lay.bit_of >= 0
    soft = np.bincount(lay.bit_of[used], weights=(cells * lay.chips)[used], minlength=CODE_BITS)
    per_bit = np.bincount(lay.bit_of[used], minlength=CODE_BITS)
    return soft / (noise * np.sqrt(np.maximum(per_bit, 1))), max(amplitude, 0.0) / noise


def _decode(soft: np.ndarray) -> tuple[int, int] | None:
    """(output id, coded bits the decoder corrected) from soft codeword bits, or None: the
    LIST_SIZE most likely messages (list Viterbi over the whole terminated codeword,
    media/viterbi.py), the first whose CRC-16 and tool byte check; a random word passes one
    check with odds of 2**-24, so a decoding passes with odds of LIST_SIZE * 2**-24 (1e-6)."""
    from commpy.channelcoding.convcode import conv_encode

    for bits in list_viterbi(soft, *decoder_tables(), LIST_SIZE):
        message = np.packbits(bits[:MESSAGE_BITS]).tobytes()
        output_id = int.from_bytes(message[1:PAYLOAD_BYTES], "big")
        if message == _message(output_id):   # the tool byte and the CRC-16, as the encoder made them
            corrected = int(np.sum((conv_encode(bits[:MESSAGE_BITS], _trellis(), "term") * 2 - 1) != np.sign(soft)))
            return output_id, corrected
    return None


@dataclass(frozen=True)
class Mark:
    """What a window of frames told: found, the payload's output id, and the evidence."""

    found: bool
    output_id: int | None
    sync_score: float              # the best layer's synchronisation peak, in standard deviations
    periods: tuple[float, ...]     # each layer's tile period as read, in pixels (0: none)
    corrected: int | None          # coded bits the decoder corrected


def decode_window(sums: list[np.ndarray], layers: tuple[Layer, ...] = LAYERS,
                  weights: np.ndarray | None = None) -> Mark:
    """Read the mark from `sums`, each layer's `residuals` summed over a window of frames;
    `weights` (H, W) in [0, 1] (e.g. where faces are, for a mark put on faces only) say
    where to look, None everywhere. The layers' periods are multiples of one another and
    they share the origin, so they are synchronised together: their correlation maps, each
    in its own standard deviations, are added (the peak grows by about sqrt(2) over one
    layer's, the noise does not). The soft
    bits are then combined in proportion to each layer's bit amplitude (maximal-ratio
    combining: a layer the transformation destroyed has no say), and each layer whose own
    synchronisation peak suffices is also decoded alone."""
    shape = sums[0].shape
    nominal = float(_period(layers, *shape))
    multiples = _multiples(layers, *shape)
    coarsest = max(multiples)
    # each layer's folded tile, indexed at the place the coarsest tile's offset (u, v) falls in it
    index = [(np.arange(_FOLD) * (coarsest // m)) % _FOLD for m in multiples]
    cleaned = [_whitened(acc, layer.cell(*shape, least=_READ_MIN_PX)) for acc, layer in zip(sums, layers, strict=True)]

    def synchronised(period: float) -> tuple[float, float, list[float], list[np.ndarray], tuple[int, int]]:
        folded = [_fold(acc, period * m, weights) for acc, m in zip(cleaned, multiples, strict=True)]
        maps = [_sync_map(f, layer.k)[np.ix_(i, i)] for f, layer, i in zip(folded, layers, index, strict=True)]
        joint = sum(maps) / np.sqrt(len(maps))
        dy, dx = np.unravel_index(int(np.argmax(joint)), joint.shape)
        return float(joint[dy, dx]), period, [float(m[dy, dx]) for m in maps], folded, (int(dy), int(dx))

    # the base period: as written at this size, or at twice it and halved (a 50 % downscale of a
    # frame whose cells were rounded, or held at _FINEST_MIN_PX, at its own size), or as the
    # autocorrelation of the finest layer (which a downscale may have erased) or of the coarsest
    # finds it (other sizes, crops)
    exact = list(dict.fromkeys([nominal, float(_period(layers, 2 * shape[0], 2 * shape[1])) / 2]))
    found = _periods(sums[0]) + [p / coarsest for p in _periods(sums[multiples.index(coarsest)], longest=0.75)]
    candidates = list(exact)
    for p in found:
        if all(abs(p - c) > 1.0 for c in candidates):
            candidates.append(p)
    best = max((synchronised(p) for p in candidates), key=lambda r: r[0])
    if best[1] not in exact:
        # an autocorrelation peak is good to about 1 %, and a tile read 1 % too long drifts by
        # a cell across a few tiles: the period is refined by the synchronisation peak itself
        for steps in _PERIOD_STEPS:
            best = max([best, *(synchronised(best[1] * (1 + step)) for step in steps)], key=lambda r: r[0])
    score, period, own, folded, (dy, dx) = best
    periods = tuple(round(float(period * m), 2) for m in multiples)
    if score < SYNC_THRESHOLD:
        return Mark(False, None, score, periods, None)
    # the bits are read at the winning period and offset only
    softs = [_bits(f, layer.k, (int(i[dy]), int(i[dx]))) for f, layer, i in zip(folded, layers, index, strict=True)]
    gains = [g for _, g in softs]          # each layer's cell signal-to-noise ratio
    softs = [s for s, _ in softs]
    candidates = [sum(g * s for g, s in zip(gains, softs, strict=True))] if sum(gains) > 0 else []
    candidates += [s for g, s in zip(own, softs, strict=True) if g >= SYNC_THRESHOLD]
    for soft in candidates:
        decoded = _decode(soft)
        if decoded is not None:
            return Mark(True, decoded[0], score, periods, decoded[1])
    return Mark(False, None, score, periods, None)


_SPECTRUM_POWER = 0.5   # how far the picture's spectrum is divided out (1: fully whitened)
_NOISE_SIGMA = 1.5      # cells: the neighbourhood whose residual power says how noisy a place is
_NOISE_FLOOR = 0.03     # of the median local power: flat places count fully, not infinitely


def _whitened(acc: np.ndarray, cell: int) -> np.ndarray:
    """A window's summed residual made fit for correlation: the picture's remaining spectrum
    partly divided out (what is left of edges and texture is coloured noise; the mark is spread
    evenly over its band), then each place scaled by its own noise, 1 / sqrt(local power): an
    approximation of the matched filter for noise whose power varies over the frame (a moving
    face against a still wall), which weighs the quiet places, where the mark stands out, most.
    Measured after H.264 CRF 28 + 50 % downscale: the luma layer's cell SNR 0.15 -> 0.35
    (docs/provenance.md)."""
    acc = acc - acc.mean()
    spectrum = np.fft.rfft2(acc)
    magnitude = cv2.GaussianBlur(np.abs(spectrum).astype(np.float32), (0, 0), 3)
    flat = np.fft.irfft2(spectrum / (magnitude + 1e-6) ** _SPECTRUM_POWER, s=acc.shape).astype(np.float32)
    power = cv2.GaussianBlur(flat * flat, (0, 0), _NOISE_SIGMA * cell)
    return flat / np.sqrt(power + _NOISE_FLOOR * float(np.median(power)) + 1e-12)


def _period(layers: tuple[Layer, ...], height: int, width: int) -> int:
    """The first layer's tile period in pixels in a frame of this size: the base every other
    layer's period is a whole multiple of."""
    return layers[0].period(height, width)


def _multiples(layers: tuple[Layer, ...], height: int, width: int) -> list[int]:
    """Each layer's period over the first layer's; raises ValueError where one is not a whole
    multiple of it, or the coarsest not of each (the offsets could not be shared)."""
    base = _period(layers, height, width)
    out = [layer.period(height, width) // base for layer in layers]
    if any(layer.period(height, width) != m * base or max(out) % m for layer, m in zip(layers, out, strict=True)):
        raise ValueError("every layer's tile period must be a whole multiple of the first layer's")
    return out
