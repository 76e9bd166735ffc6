"""Training data: a faceset in memory at the model's crop, and augmented samples of it.

Crops are resampled once at load time from the stored PNGs (any stored size,
centering or coverage) into the model's centering, `margin` times wider than
the model's crop at the model's pixel scale, so the random transforms of
augmentation find real pixels at the borders instead of padding. A sample is
then ONE resampling from that array: the random similarity composed with the
margin -> model crop matrix (target), and the same matrix bent by a grid warp
(input). The input never goes through a second resampling. The landmark mask
and the eyes/mouth weight regions are drawn once per face in the same margin
space and warped with the target's matrix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from .. import defaults
from ..errors import FaceswapError
from ..faces import landmarks68 as L
from ..faces.geometry import box_matrix, compose, invert, recrop_matrix, transform_points, translation, warp, zoom
from ..faces.masks import landmark_mask
from ..log import get_logger
from ..media.images import read_image
from ..model.config import ModelConfig
from . import augment
from . import covered as covered_faces
from .faceset import FaceRecord, iter_faceset
from .occlusion_samples import occluded_samples

log = get_logger(__name__)

MARGIN = 1.25
DETAIL_PATCH = 24       # side of the detail stage's training patches, in model pixels (its cost grows as the square)
UPSCALE_WARNING = 1.5   # stored crops enlarged more than this give soft training faces
UPSCALE_LIMIT = 2.0     # a faceset whose every crop needs more is refused: it was extracted for a smaller model
LOAD_THREADS = 4        # PNG decode and cv2 release the GIL


@dataclass
class FacesetArrays:
    """One identity's faces in memory, in a "margin space": the model's centering
    and pixel scale, `margin` times wider than the model's crop."""

    folder: Path
    images: np.ndarray          # (N, S, S, 3) uint8 RGB, S = round(resolution * margin)
    landmarks: np.ndarray       # (N, 68, 2) float32, in margin-space pixels
    resolution: int
    centering: str
    coverage: float
    margin: float
    paths: list[Path] = field(default_factory=list)
    covered: np.ndarray | None = None   # (N,) float32 share of each face's bare skin covered (data/covered.py)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return self.images.shape[1]

    @cached_property
    def to_model(self) -> np.ndarray:
        """2x3 margin-space pixels -> the model's crop pixels."""
        return recrop_matrix(self.size, self.centering, self.coverage * self.margin,
                             self.resolution, self.centering, self.coverage)

    @cached_property
    def regions(self) -> np.ndarray:
        """(N, S, S, 3) uint8: each face's landmark mask, eyes and mouth in margin
        space (`region_maps`), drawn on first use."""
        out = np.empty((*self.images.shape[:3], 3), np.uint8)

        def draw(i: int) -> None:
            out[i] = region_maps(self.landmarks[i], self.size, self.resolution)

        with ThreadPoolExecutor(min(LOAD_THREADS, os.cpu_count() or 1)) as pool:
            list(pool.map(draw, range(len(self))))
        return out

    def model_crop(self, index: int) -> np.ndarray:
        """Face `index` at the model's crop, unaugmented: (R, R, 3) uint8."""
        return warp(self.images[index], self.to_model, self.resolution, interpolation=cv2.INTER_CUBIC)

    def preview_batch(self, n: int) -> torch.Tensor:
        """Up to `n` faces spread evenly over the set, unaugmented (input == target,
        centred, not mirrored), as an (n, 3, R, R) float tensor in [0, 1]: for preview grids."""
        idx = np.unique(np.linspace(0, len(self) - 1, min(n, len(self))).round().astype(int))
        crops = np.stack([self.model_crop(i) for i in idx])
        return torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255).contiguous()


def _margin_space(cfg: ModelConfig, margin: float) -> tuple[int, float]:
    """(pixels, margin) of the margin space; the margin shrinks if the geometry
    layer's widest coverage would be exceeded."""
    margin = min(margin, 2.0 / cfg.coverage)
    return int(round(cfg.resolution * margin)), margin


def _load_one(rec: FaceRecord, out: np.ndarray, size: int, centering: str, coverage: float,
              model: tuple[int, str, float]) -> tuple[np.ndarray, float, bool] | None:
    """Resample one stored crop into `out`; (landmarks, zoom, model crop inside the
    stored one), or None when the file cannot be used."""
    img = read_image(rec.path)
    spec = rec.meta.get("crop", {})
    if img is None or img.shape[0] != img.shape[1] or img.shape[0] != spec.get("size"):
        log.warning("skipping %s: unreadable, or not the %s px crop its metadata describes",
                    rec.path.name, spec.get("size"))
        return None
    stored = (img.shape[0], spec["centering"], float(spec["coverage"]))
    mat = recrop_matrix(*stored, size, centering, coverage)
    enlarge = zoom(mat)
    if enlarge < 0.8:
        # warpAffine has no area filter: blur first so a big stored crop does not alias
        img = cv2.GaussianBlur(img, (0, 0), (1 / enlarge - 1) / 2)
    warp(img, mat, size, out=out)
    crop_lm = transform_points(rec.landmarks, rec.matrix)
    # Is the model's own crop (not the margin) inside what was stored? If not, its
    # border is mirrored padding and the model learns that.
    corners = transform_points(np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float64) * model[0],
                               recrop_matrix(*model, *stored))
    inside = bool((corners >= -0.02 * stored[0]).all() and (corners <= 1.02 * stored[0]).all())
    return transform_points(crop_lm, mat).astype(np.float32), enlarge, inside


def load_faceset(folder: str | Path, cfg: ModelConfig, margin: float = MARGIN) -> FacesetArrays:
    """Every face crop left in `folder`, resampled into the model's margin space.

    Any stored crop size, centering and coverage works (each crop is resampled
    once); crops much smaller than the model's resolution are used, with a
    warning, since they give soft training faces.
    """
    folder = Path(folder)
    records = list(iter_faceset(folder))
    if not records:
        raise FaceswapError(f"{folder} has no face crops (were they all deleted? `faceswap extract` makes them)")
    size, margin = _margin_space(cfg, margin)
    try:
        recrop_matrix(size, cfg.centering, cfg.coverage * margin, cfg.resolution, cfg.centering, cfg.coverage)
    except ValueError as err:
        raise FaceswapError(f"model crop: {err}") from err
    images = np.empty((len(records), size, size, 3), np.uint8)
    model = (cfg.resolution, cfg.centering, cfg.coverage)

    def load(i: int):
        return _load_one(records[i], images[i], size, cfg.centering, cfg.coverage * margin, model)

    with ThreadPoolExecutor(min(LOAD_THREADS, os.cpu_count() or 1)) as pool:
        results = list(pool.map(load, range(len(records))))
    keep = [i for i, r in enumerate(results) if r is not None]
    if not keep:
        raise FaceswapError(f"{folder} has no usable face crops")
    if len(keep) < len(records):
        images = images[keep]
    landmarks = np.stack([results[i][0] for i in keep])
    zooms = np.array([results[i][1] for i in keep])
    outside = sum(not results[i][2] for i in keep)
    if (zooms > UPSCALE_LIMIT).all():
        raise FaceswapError(f"{folder} holds crops too small for the {cfg.resolution} px model (enlarged "
                            f"{zooms.min():.1f}x or more): extract again with a larger --size")
    if (zooms > UPSCALE_WARNING).any():
        log.warning("%s: %d of %d crops are enlarged up to %.1fx for the %d px model (soft training faces); "
                    "extract with a larger --size", folder, int((zooms > UPSCALE_WARNING).sum()), len(zooms),
                    zooms.max(), cfg.resolution)
    if outside:
        log.warning("%s: the model's crop (%s, coverage %g) reaches past %d stored crops; their borders are "
                    "mirrored padding. Extract with centering head or a larger coverage",
                    folder, cfg.centering, cfg.coverage, outside)
    log.debug("%s: %d faces loaded at %d px (margin %.2f)", folder, len(keep), size, margin)
    shares = covered_faces.read_shares(folder)
    covered = np.array([shares.get(records[i].path.name, 0.0) for i in keep], np.float32) if shares else None
    return FacesetArrays(folder, images, landmarks, cfg.resolution, cfg.centering, cfg.coverage, margin,
                         [records[i].path for i in keep], covered)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _hull_mask(points: list[np.ndarray], size: int, grow: int, value: int) -> np.ndarray:
    """Filled convex hulls of each point set, grown by `grow` px: 0/`value` uint8."""
    mask = np.zeros((size, size), np.uint8)
    for pts in points:
        hull = cv2.convexHull(np.round(pts * 4).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, value, lineType=cv2.LINE_8, shift=2)
    return cv2.dilate(mask, _disc(grow)) if grow > 0 else mask


def region_maps(lm: np.ndarray, size: int, resolution: int) -> np.ndarray:
    """A face's landmark regions drawn once in its `size` px margin space (the
    model's pixel scale at `resolution`): (size, size, 3) uint8 channels
    0..255 of the extended landmark mask with soft edges, the eyes and the
    mouth (hulls grown a little to take in lids and lip edges).

    Augmentation warps these with the same matrix as the face: they are
    symmetric in the landmark labels, so a mirrored warp of them is what
    drawing the mirrored landmarks would give."""
    out = np.empty((size, size, 3), np.uint8)
    out[..., 0] = cv2.GaussianBlur(landmark_mask(lm, (size, size), "extended"), (0, 0), resolution / 64)
    out[..., 1] = _hull_mask([lm[L.RIGHT_EYE], lm[L.LEFT_EYE]], size, max(1, round(resolution / 24)), 255)
    out[..., 2] = _hull_mask([lm[L.OUTER_MOUTH]], size, max(1, round(resolution / 32)), 255)
    return out


class FaceDataset(Dataset):
    """Augmented training samples of ONE identity.

    Each item is a dict of float32 CHW tensors in [0, 1] (strided channels-last,
    which the model wants): ``input`` (3,R,R) randomly moved, mirrored, grid-warped
    and colour-augmented; ``target`` (3,R,R) the same move and mirror only;
    ``mask`` (1,R,R) the target's extended landmark mask with soft edges;
    ``weight`` (1,R,R) the loss weight map (eyes and mouth up).

    A loader asks for whole batches: `__getitems__` draws a batch's random
    numbers at once and returns it as uint8 arrays (`RawBatch`), which cross
    from a worker process a quarter the size of floats and by pipe (a shared
    memory segment per batch costs more than the copy at these sizes);
    `tensors` makes the float batch in the training process.
    Randomness comes from the dataset's own Generator (`reseed` gives each
    loader worker its own stream).
    """

    def __init__(self, faces: FacesetArrays, eyes_weight: float = defaults.EYES_WEIGHT,
                 mouth_weight: float = defaults.MOUTH_WEIGHT, warp: bool = True, colour: bool = True,
                 rotation: float = 10.0, scale: float = 0.05, shift: float = 0.05, flip: float = 0.5,
                 seed: int | tuple[int, ...] = 0, detail: FacesetArrays | None = None,
                 detail_patch: int = DETAIL_PATCH, occlusion: bool = False) -> None:
        self.faces = faces
        self.occlusion = occlusion
        self.detail, self.detail_patch = detail, min(detail_patch, faces.resolution)
        if detail is not None and (detail.paths != faces.paths or detail.resolution % faces.resolution):
            raise ValueError("detail arrays must hold the same faces at a whole multiple of the resolution")
        self.eyes_weight, self.mouth_weight = eyes_weight, mouth_weight
        self.warp, self.use_colour = warp, colour
        self.rotation, self.scale, self.shift, self.flip = rotation, scale, shift, flip
        self.seed = (seed,) if isinstance(seed, int) else tuple(seed)
        self.regions = faces.regions      # drawn here, before a loader forks its workers
        r = faces.resolution
        self._pixels = np.stack(np.meshgrid(np.arange(r, dtype=np.float32), np.arange(r, dtype=np.float32)), -1)
        self.reseed(0)

    def reseed(self, stream: int) -> None:
        """Restart the random stream: `stream` 0 in the training process, one
        per loader worker, all derived from the dataset's seed."""
        self.rng = np.random.default_rng([*self.seed, stream])
        self.colour = augment.colour_pipeline(self.rng)

    def __len__(self) -> int:
        return len(self.faces)

    def augment_batch(self, indices: list[int]) -> tuple[RawBatch, np.ndarray, np.ndarray]:
        """A batch of the faces at `indices` as uint8 arrays, the (B,2,3) matrices
        margin space -> sample, and which samples are mirrored, (B,) bool."""
        faces, r, n = self.faces, self.faces.resolution, len(indices)
        move, mirrored = augment.random_similarities(self.rng, n, r, self.rotation, self.scale, self.shift,
                                                     self.flip)
        mats = compose(move, faces.to_model)
        target = np.empty((n, r, r, 3), np.uint8)
        regions = np.empty((n, r, r, 3), np.uint8)
        for k, i in enumerate(indices):
            # Cubic: the target is what the decoder learns to draw, keep it sharp.
            warp(faces.images[i], mats[k], r, out=target[k], interpolation=cv2.INTER_CUBIC)
            # The mask and weights move with the target. Replicated borders: a
            # mask that reaches the margin's edge goes on.
            warp(self.regions[i], mats[k], r, border=cv2.BORDER_REPLICATE, out=regions[k],
                 interpolation=cv2.INTER_LINEAR)
        if self.warp:
            # Bend the output grid, then look every bent point up in the margin
            # space: the warp and the move are one resampling.
            bent = augment.grid_displacements(self.rng, n, r)
            inverse = invert(mats)
            inp = np.empty_like(target)
            for k, i in enumerate(indices):
                bent[k] += self._pixels
                transform_points(bent[k], inverse[k], out=bent[k])
                # Linear: the input is the degraded side anyway, and 5x cheaper than cubic.
                cv2.remap(faces.images[i], bent[k], None, cv2.INTER_LINEAR, dst=inp[k],
                          borderMode=cv2.BORDER_REFLECT_101)
        else:
            inp = target.copy()
        if self.use_colour:
            for img in inp:
                img[...] = augment.colour(self.colour, img)
        detail = self._detail_patches(indices, mats) if self.detail is not None else (None, None)
        occlusion = self._occluded(target, regions) if self.occlusion else (None, None)
        return RawBatch(inp, target, regions, *detail, *occlusion), mats, mirrored

    def _occluded(self, target: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The occlusion net's samples (data/occlusion_samples.py) for the first half of the batch
        (half its cost; it learns fast): cut-outs come from other faces' margin-space images."""
        m = (len(target) + 1) // 2
        faces = self.faces
        others = self.rng.integers(0, len(faces), m)
        boxes = [(*faces.landmarks[j].min(0), *faces.landmarks[j].max(0)) for j in others]
        return occluded_samples(self.rng, target[:m], regions[:m, ..., 0], [faces.images[j] for j in others],
                                boxes, (lambda img: augment.colour(self.colour, img)) if self.use_colour else None)

    def _detail_patches(self, indices: list[int], mats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The detail stage's targets: for each sample a random `detail_patch` px square of the
        target (its corner, (B, 2) int64 x, y) and the same square of the same face from the
        `detail` arrays at `scale` times the size, (B, s*p, s*p, 3) uint8, moved and mirrored
        with the sample (edges convention: box_matrix), so it lies exactly under the target's patch."""
        faces, detail, p = self.faces, self.detail, self.detail_patch
        r = faces.resolution
        s = detail.resolution // r
        corners = self.rng.integers(0, r - p + 1, size=(len(indices), 2))
        # detail margin space -> this dataset's margin space -> sample -> sample at s times the size
        to_margin = recrop_matrix(detail.size, detail.centering, detail.coverage * detail.margin,
                                  faces.size, faces.centering, faces.coverage * faces.margin)
        enlarge = box_matrix((0, 0, r, r), s * r)
        out = np.empty((len(indices), s * p, s * p, 3), np.uint8)
        for k, i in enumerate(indices):
            mat = compose(translation(*(-s * corners[k])), compose(enlarge, compose(mats[k], to_margin)))
            warp(detail.images[i], mat, s * p, out=out[k], interpolation=cv2.INTER_CUBIC)
        return out, corners

    def tensors(self, raw: RawBatch, pin: bool = False) -> dict[str, torch.Tensor]:
        """The float32 batch of a RawBatch: ``input``/``target`` (B,3,R,R),
        ``mask``/``weight`` (B,1,R,R), channels-last. numpy does the work: a
        torch op would wake the training process's intra-op thread pool for a
        few hundred microseconds of copying."""
        n, r = raw.input.shape[:2]
        out = {key: torch.empty((n, r, r, c), dtype=torch.float32, pin_memory=pin)
               for key, c in (("input", 3), ("target", 3), ("mask", 1), ("weight", 1))}
        scale = np.float32(1 / 255)
        np.multiply(raw.input, scale, out=out["input"].numpy())
        np.multiply(raw.target, scale, out=out["target"].numpy())
        np.multiply(raw.regions[..., 0:1], scale, out=out["mask"].numpy())
        weight = out["weight"].numpy()
        # exactly w at 255: (255 * (w - 1)) / 255 rounds to w - 1
        np.multiply(raw.regions[..., 1:2], np.float32(self.eyes_weight - 1), out=weight)
        weight += raw.regions[..., 2:3] * np.float32(self.mouth_weight - 1)
        weight /= 255
        weight += 1
        if raw.detail is not None:
            out["detail"] = torch.empty(raw.detail.shape, dtype=torch.float32, pin_memory=pin)
            np.multiply(raw.detail, scale, out=out["detail"].numpy())
        if raw.occluded is not None:
            out["occluded"] = torch.empty(raw.occluded.shape, dtype=torch.float32, pin_memory=pin)
            np.multiply(raw.occluded, scale, out=out["occluded"].numpy())
            out["visible"] = torch.empty((*raw.visible.shape, 1), dtype=torch.float32, pin_memory=pin)
            np.multiply(raw.visible[..., None], scale, out=out["visible"].numpy())
        batch = {k: v.permute(0, 3, 1, 2) for k, v in out.items()}
        if raw.corners is not None:
            batch["corner"] = torch.from_numpy(raw.corners)
        return batch

    def sample(self, index: int) -> dict[str, np.ndarray]:
        """One training sample as HWC numpy arrays (uint8 images, float32 mask and
        weight), plus its 68 ``landmarks`` in the sample's pixels."""
        raw, mats, mirrored = self.augment_batch([index])
        batch = self.tensors(raw)
        lm = transform_points(self.faces.landmarks[index], mats[0]).astype(np.float32)
        if mirrored[0]:
            lm = lm[L.FLIP_68]  # the subject's right eye is on the image left again
        return {"input": raw.input[0], "target": raw.target[0],
                "mask": batch["mask"][0].permute(1, 2, 0).numpy(),
                "weight": batch["weight"][0].permute(1, 2, 0).numpy(), "landmarks": lm}

    def __getitems__(self, indices: list[int]) -> RawBatch:
        """A whole batch (what a loader worker hands over): see `tensors`."""
        return self.augment_batch(list(indices))[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.tensors(self.augment_batch([index])[0]).items()}


class RawBatch(NamedTuple):
    """A batch as it leaves augmentation: (B,R,R,3) uint8 each; ``regions`` are
    the warped mask, eyes and mouth channels of `region_maps`; with a detail
    stage, ``detail`` (B,s*p,s*p,3) uint8 patches at s times the size and their
    ``corners`` (B,2) in the target (`FaceDataset._detail_patches`); with an occlusion
    net, ``occluded`` (M,R,R,3) and ``visible`` (M,R,R) uint8 for the first M = ceil(B/2)."""

    input: np.ndarray
    target: np.ndarray
    regions: np.ndarray
    detail: np.ndarray | None = None
    corners: np.ndarray | None = None
    occluded: np.ndarray | None = None
    visible: np.ndarray | None = None



def keep_batch(batch: RawBatch) -> RawBatch:
    """The loader's collate: FaceDataset.__getitems__ already made the batch (the
    default collate would turn its arrays into tensors in the worker)."""
    return batch


class EndlessShuffle(Sampler[int]):
    """Indices forever, a fresh permutation each pass: the loader never ends an
    epoch, so the workers never drain and refill (a small faceset would make
    the training step wait at every pass), and a faceset smaller than a batch works.
    With `weights` (N,) each pass is N draws in proportion to them, with replacement."""

    def __init__(self, n: int, generator: torch.Generator, weights: np.ndarray | None = None) -> None:
        self.n, self.generator = n, generator
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.float64)

    def __iter__(self) -> Iterator[int]:
        while True:
            if self.weights is None:
                yield from torch.randperm(self.n, generator=self.generator).tolist()
            else:
                yield from torch.multinomial(self.weights, self.n, True, generator=self.generator).tolist()


def _worker_init(worker_id: int) -> None:
    # Each worker its own random stream. (DataLoader already makes a worker one
    # torch thread. cv2.setNumThreads must NOT be called here: after fork it
    # can deadlock on the thread pool inherited from the parent.)
    get_worker_info().dataset.reseed(worker_id + 1)


def default_workers() -> int:
    """Loader processes per identity when `make_loader` is given no `workers`.

    One per identity on small machines: a 64 px sample costs about 0.25 ms of
    one core (40% of it the cubic resampling of the target), some 4% of a CPU
    training step, and a worker overlaps that with the step instead of adding
    it to the training process (on 2 cores, doing it there instead costs more
    than the worker's share of the cores). More on big machines, where a GPU
    eats samples faster than one process makes them at 128 px and up."""
    cores = os.cpu_count() or 1
    if cores == 1:
        return 0
    return 1 if cores <= 4 else min(4, (cores - 2) // 2)


def make_loader(faces: FacesetArrays | str | Path, model_cfg: ModelConfig, batch_size: int, *,
                device: torch.device | str | None = None, seed: int = 0, seed_offset: int = 0,
                eyes_weight: float = defaults.EYES_WEIGHT, mouth_weight: float = defaults.MOUTH_WEIGHT,
                warp: bool = True, workers: int | None = None, detail: FacesetArrays | None = None,
                occlusion: bool = False, covered_weight: float = 1.0) -> Iterator[dict[str, torch.Tensor]]:
    """An endless iterator of training batches of one identity: dicts of
    ``input``/``target`` (B,3,R,R), ``mask``/``weight`` (B,1,R,R), float32.

    Reproducible given `seed` (and `seed_offset`, which keeps the two
    identities' streams apart) for a given number of `workers` (None:
    `default_workers()`). `warp` turns the random grid warp of the inputs
    on; `eyes_weight`/`mouth_weight` multiply the loss weight map there.
    With `detail` (the same faceset loaded at a multiple of the resolution)
    batches also hold ``detail`` patches and their ``corner``; with `occlusion`, the occlusion
    net's ``occluded`` (M,3,R,R) crops and ``visible`` (M,1,R,R) labels, M = ceil(B/2) (see RawBatch).
    Faces extract found mostly covered (`faces.covered`, data/covered.py) are drawn `covered_weight`
    times as often as the others (1: as often).
    """
    if not isinstance(faces, FacesetArrays):
        faces = load_faceset(faces, model_cfg)
    workers = default_workers() if workers is None else workers
    dataset = FaceDataset(faces, eyes_weight=eyes_weight, mouth_weight=mouth_weight, warp=warp,
                          seed=(seed, seed_offset), detail=detail, occlusion=occlusion)
    order_seed = np.random.SeedSequence([seed, seed_offset]).generate_state(1, np.uint64)[0]
    generator = torch.Generator().manual_seed(int(order_seed) >> 1)
    device = torch.device(device) if isinstance(device, str) else device
    extra = dict(persistent_workers=True, prefetch_factor=4, worker_init_fn=_worker_init) if workers else {}
    # The arrays reach the workers by fork (shared pages, no copy); a spawn
    # platform pickles them to each worker once.
    weights = None if faces.covered is None else covered_faces.sample_weights(faces.covered, covered_weight)
    mostly = 0 if faces.covered is None else int((faces.covered > covered_faces.MOSTLY).sum())
    if weights is not None:
        how = "never drawn" if covered_weight == 0 else f"drawn {covered_weight:g} times as often as the others"
        log.info("%s: %d of %d faces mostly covered, %s", faces.folder, mostly, len(faces), how)
    elif mostly and covered_weight != 1:
        log.warning("%s: all %d faces are mostly covered (covered.json): they are drawn alike, --covered-weight "
                    "changes nothing", faces.folder, mostly)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=EndlessShuffle(len(dataset), generator, weights),
                        num_workers=workers, collate_fn=keep_batch, **extra)
    return _float_batches(iter(loader), dataset, pin=device is not None and device.type == "cuda")


def _float_batches(raw: Iterator[RawBatch], dataset: FaceDataset, pin: bool) -> Iterator[dict[str, torch.Tensor]]:
    for batch in raw:
        yield dataset.tensors(batch, pin)
