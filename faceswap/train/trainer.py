"""The training loop: two facesets in, a swap model out.

One iteration trains both identities: A faces through the shared encoder and
decoder A, B faces through decoder B, each scored against its unwarped crop
(masked DSSIM + pixel loss, eyes and mouth weighted up) plus a mask loss; an
optional patch discriminator joins from `gan_start`. Beside the swap, with losses of their own and
gradients clipped apart: B's detail stage, and the occlusion net on both sides' crops with
synthetic occluders laid in. Checkpoints are saved
every `save_every` iterations and when the run stops for any reason.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..data.dataset import load_faceset, make_loader
from ..data.faceset import working_spaces
from ..data.identity import faceset_identity
from ..data.references import FILE as REFERENCES_FILE
from ..data.references import build_references, save_references
from ..errors import FaceswapError
from ..interrupts import handling
from ..log import get_logger
from ..media.images import write_png
from ..model import losses
from ..model.autoencoder import FaceSwapModel
from ..model.config import ModelConfig, to_dict
from ..model.discriminator import PatchDiscriminator
from ..model.occlusion import LEARNING_RATE as OCCLUSION_LR
from ..model.occlusion import TRUSTED_FROM, covered_weight, occlusion_loss
from ..model.prior import apply_prior, resolve_init
from ..model.store import (
    WEIGHTS,
    checkpoint_dir,
    fit_weights,
    load_identity,
    load_model_config,
    pick_device,
    save_identity,
    save_model_config,
)
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .history import LossHistory
from .previews import preview_grid
from .schedule import lr_factor, run_progress

log = get_logger(__name__)
MAX_ROLLBACKS = 5
PREVIEW_FACES = 4


@dataclass
class TrainSummary:
    """What one training run did, for the console and for scripts."""

    model_dir: str
    start_iteration: int
    iteration: int
    seconds: float
    samples_per_second: float
    last_losses: dict[str, float] = field(default_factory=dict)
    rollbacks: int = 0
    stopped_by: str = ""     # iterations | minutes | interrupt (Ctrl-C) | terminated (SIGTERM)
    rank: int = 0            # the process of a distributed run that made it (only rank 0 reports)

    @property
    def status(self) -> str:
        """"interrupted" when Ctrl-C or SIGTERM stopped the run (its checkpoint is saved), else "done"."""
        return "interrupted" if self.stopped_by in ("interrupt", "terminated") else "done"


def _check_working_spaces(facesets: dict[str, str | Path], force: bool) -> None:
    """FaceswapError (one line) when the facesets' crops come from different working spaces (a
    plate seen as sRGB and one seen as Rec.1886 differ in every face's colour), unless `force`."""
    spaces = {side: working_spaces(folder) for side, folder in facesets.items()}
    every = set().union(*spaces.values())
    if len(every) > 1 and not force:
        said = "; ".join(f"{side}: {', '.join(sorted(found))}" for side, found in spaces.items())
        raise FaceswapError(f"the facesets were extracted in different working spaces ({said}): extract again "
                            "with one --working-space, or pass --force to train on them as they are")


class Trainer:
    # A distributed run (train/distributed.py) has `world` processes, and only one of them writes the folder.
    world = 1
    writes = True

    def __init__(self, faceset_a: str | Path, faceset_b: str | Path, model_dir: str | Path,
                 model_cfg: ModelConfig | None, train_cfg: TrainConfig, from_backup: bool = False,
                 progress: bool = True) -> None:
        train_cfg.validate()
        self.cfg = train_cfg
        self.model_dir = Path(model_dir)
        self.progress = progress
        self.model_cfg = self._resolve_model_config(model_cfg)
        self.device = pick_device(train_cfg.device)
        torch.manual_seed(train_cfg.seed)
        self.faces = {"a": load_faceset(faceset_a, self.model_cfg), "b": load_faceset(faceset_b, self.model_cfg)}
        _check_working_spaces({"A": faceset_a, "B": faceset_b}, train_cfg.force)
        # a new model's start is read before its folder exists, so a bad --init leaves nothing behind
        fresh = checkpoint_dir(self.model_dir) is None and not from_backup
        self.prior = resolve_init(train_cfg.init, self.model_cfg) if fresh else None
        # only now, with both facesets read: a mistyped faceset must not leave a new, empty model behind
        # that a later run would take for one to resume
        facesets = {"a": Path(faceset_a), "b": Path(faceset_b)}
        self._create_model_folder(facesets)
        self._record_identity(facesets)
        self._record_references(facesets["b"])
        # B's faces again at the detail stage's size: its targets come from the stored crops, not enlarged 64s
        self.detail_faces = load_faceset(faceset_b, replace(
            self.model_cfg, resolution=self.model_cfg.resolution * self.model_cfg.detail_scale)) \
            if self.model_cfg.detail_scale else None
        self.model = FaceSwapModel(self.model_cfg)
        if self.prior is not None:
            apply_prior(self.model, self.prior, train_cfg.init_parts)
            log.info("starting from the face prior in %s (%s)%s", self.prior.path, self.prior.sha256[:12],
                     "" if train_cfg.init_parts == "all" else ": its encoder only, decoders from random weights")
        self.model = self.model.to(self.device).to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self._param_groups(), lr=train_cfg.lr, betas=(0.5, 0.999))
        # clipped apart: the detail stage's gradients must not shrink the swap's steps
        self._clip_groups = [self.model.swap_parameters()]
        if self.model_cfg.detail_scale:
            self._clip_groups.append(list(self.model.detail.parameters()))
        if self.model_cfg.occlusion:
            self._clip_groups.append(list(self.model.occlusion.parameters()))
        self.disc = self.disc_optimizer = None
        if train_cfg.gan_weight > 0:
            self.disc = PatchDiscriminator(self.model_cfg).to(self.device).to(memory_format=torch.channels_last)
            self.disc_optimizer = torch.optim.Adam(self.disc.parameters(), lr=train_cfg.lr, betas=(0.5, 0.999))
        self.iteration = 0
        self.rollbacks = 0
        self.history = LossHistory(self.model_dir / "loss.csv" if self.writes else None)
        self._resume(from_backup)
        # the schedule scales these each step (train/schedule.py); checkpoints keep them unscaled
        # (load_state_dict replaces the group dicts: they are kept by position)
        self._base_lr = [[group["lr"] for group in opt.param_groups] for opt in self._optimizers()]
        self.forward = torch.compile(self.model) if train_cfg.compile else self.model
        self._amp_dtype = None
        if train_cfg.amp and self.device.type == "cuda":
            self._amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self._scaler = torch.amp.GradScaler("cuda", enabled=self._amp_dtype == torch.float16)
        self._good = self._snapshot()
        self._stop_reason = ""
        self.preview_faces = {k: v.preview_batch(PREVIEW_FACES) for k, v in self.faces.items()}
        self._board = _tensorboard(self.model_dir) if self.writes else None

    # -- set-up ---------------------------------------------------------------------
    def _param_groups(self) -> list[dict[str, Any]]:
        """The optimiser's groups: everything at --lr, the occlusion net (if any) at its own rate."""
        if not self.model_cfg.occlusion:
            return [{"params": list(self.model.parameters())}]
        others = [p for name, p in self.model.named_parameters() if not name.startswith("occlusion.")]
        return [{"params": others}, {"params": list(self.model.occlusion.parameters()), "lr": OCCLUSION_LR}]

    def _resolve_model_config(self, requested: ModelConfig | None) -> ModelConfig:
        """The saved config of an existing model folder (FaceswapError when `requested` differs),
        else `requested` (or the default), validated; a new folder is written by _create_model_folder."""
        if (self.model_dir / "config.json").is_file():
            saved, _ = load_model_config(self.model_dir)
            if requested is not None and requested != saved:
                diff = ", ".join(f"{k} {v} (asked {getattr(requested, k)})" for k, v in to_dict(saved).items()
                                 if getattr(requested, k) != v)
                raise FaceswapError(f"{self.model_dir} holds another model: {diff}; train it without "
                                    f"model options or use a new folder")
            return saved
        cfg = requested or ModelConfig()
        cfg.validate()
        return cfg

    def _create_model_folder(self, facesets: dict[str, Path]) -> None:
        if (self.model_dir / "config.json").is_file() or not self.writes:
            return
        try:
            self.model_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise FaceswapError(f"cannot create model folder {self.model_dir}: {err.strerror or err}") from err
        init = {"prior": str(self.prior.path), "sha256": self.prior.sha256,
                "parts": self.cfg.init_parts} if self.prior is not None else None
        save_model_config(self.model_dir, self.model_cfg,
                          {"init": init, "facesets": {side: str(path.resolve()) for side, path in facesets.items()}})

    def _record_identity(self, facesets: dict[str, Path]) -> None:
        """identity.json: who each side is, so convert changes only the person the model was
        trained to replace (kept when the folder already has one)."""
        if not self.writes or load_identity(self.model_dir) is not None:
            return
        try:
            save_identity(self.model_dir, {side: faceset_identity(path) for side, path in facesets.items()})
        except FaceswapError as err:  # dlib missing: convert falls back to reconstruction error
            log.warning("no identity.json written (convert will pick faces by reconstruction error): %s", err)

    def _record_references(self, faceset_b: Path) -> None:
        """references_b.safetensors: B's crops that convert takes its detail from (data/references.py);
        kept when the folder has them, written for a model trained before they existed."""
        if not self.writes or (self.model_dir / REFERENCES_FILE).is_file() or self.model_cfg.detail_scale:
            return
        save_references(self.model_dir, build_references(faceset_b, self.model_cfg), faceset_b, self.model_cfg)

    def _resume(self, from_backup: bool) -> None:
        folder = checkpoint_dir(self.model_dir, from_backup)
        if folder is None:
            return
        ckpt = load_checkpoint(folder)
        fit_weights(self.model, ckpt.model, folder / WEIGHTS, self.model_dir)
        if ckpt.optimizer is not None:
            self.optimizer.load_state_dict(ckpt.optimizer)
        if self.disc is not None and ckpt.discriminator is not None:
            self.disc.load_state_dict(ckpt.discriminator)
            if ckpt.disc_optimizer is not None:
                self.disc_optimizer.load_state_dict(ckpt.disc_optimizer)
        self.iteration = int(ckpt.state["iteration"])
        self.rollbacks = int(ckpt.state.get("rollbacks", 0))
        self.history.truncate(self.iteration)
        log.info("resuming %s from iteration %d", self.model_dir, self.iteration)

    # -- state --------------------------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        """An in-memory copy of everything a NaN roll-back restores."""
        snap = {"model": copy.deepcopy(self.model.state_dict()), "opt": copy.deepcopy(self.optimizer.state_dict()),
                "iteration": self.iteration}
        if self.disc is not None:
            snap["disc"] = copy.deepcopy(self.disc.state_dict())
            snap["disc_opt"] = copy.deepcopy(self.disc_optimizer.state_dict())
        return snap

    def _rollback(self, what: str) -> None:
        self.rollbacks += 1
        if self.rollbacks > MAX_ROLLBACKS:
            raise FaceswapError(f"training diverged ({what}) {self.rollbacks} times even after lowering the "
                                f"learning rate; the last good checkpoint is kept in {self.model_dir}")
        good = self._good
        self.model.load_state_dict(good["model"])
        self.optimizer.load_state_dict(good["opt"])
        if self.disc is not None and "disc" in good:
            self.disc.load_state_dict(good["disc"])
            self.disc_optimizer.load_state_dict(good["disc_opt"])
        for opt, bases in zip(self._optimizers(), self._base_lr, strict=True):
            for k, group in enumerate(opt.param_groups):
                group["lr"] *= 0.5
                bases[k] *= 0.5
        log.warning("%s at iteration %d: rolled back to iteration %d and halved the learning rate to %.3g",
                    what, self.iteration, good["iteration"], self.optimizer.param_groups[0]["lr"])
        self.iteration = good["iteration"]
        self.history.truncate(self.iteration)

    def save(self) -> None:
        """Checkpoint now (never a model with NaN weights)."""
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            log.warning("not saving: the weights hold NaN/inf; rolling back instead")
            self._rollback("non-finite weights")
            return
        state = {"iteration": self.iteration, "lr": self.optimizer.param_groups[0]["lr"],
                 "rollbacks": self.rollbacks, "train": to_dict(self.cfg), "time": time.time()}
        if self.writes:
            save_checkpoint(self.model_dir, Checkpoint(
                self.model.state_dict(), self._unscaled_state(self.optimizer), state,
                self.disc.state_dict() if self.disc is not None else None,
                self._unscaled_state(self.disc_optimizer) if self.disc is not None else None))
        self._good = self._snapshot()
        if self.writes:
            self.history.plot(self.model_dir / "loss.png")

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [opt for opt in (self.optimizer, self.disc_optimizer) if opt is not None]

    def _unscaled_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimiser's state dict with each group's rate before the schedule's scaling, so a
        resumed run starts from the rate it was given, not from the end of the last decay."""
        state = optimizer.state_dict()
        bases = self._base_lr[self._optimizers().index(optimizer)]
        for packed, base in zip(state["param_groups"], bases, strict=True):
            packed["lr"] = base
        return state

    def _progress(self, start: float, start_iteration: int) -> float:
        """The share of this run's budget spent once the next step is done (train/schedule.run_progress):
        the last step of an --iterations run is taken at the schedule's floor."""
        left = self.cfg.iterations - start_iteration if self.cfg.iterations is not None else None
        return run_progress(time.monotonic() - start, self.cfg.minutes, self.iteration - start_iteration + 1, left)

    def _schedule(self, progress: float) -> None:
        """Every group's rate: its base times the schedule's factor at `progress`."""
        factor = lr_factor(progress, self.cfg.lr_decay, self.cfg.lr_floor)
        for opt, bases in zip(self._optimizers(), self._base_lr, strict=True):
            for group, base in zip(opt.param_groups, bases, strict=True):
                group["lr"] = base * factor

    def write_preview(self) -> Path | None:
        if not self.writes:
            return None
        grid = preview_grid(self.model, self.preview_faces["a"], self.preview_faces["b"],
                            title=f"iteration {self.iteration}")
        folder = self.model_dir / "previews"
        folder.mkdir(exist_ok=True)
        path = folder / f"preview_{self.iteration:07d}.png"
        write_png(path, grid)
        write_png(self.model_dir / "preview.png", grid)
        return path

    # -- one iteration ------------------------------------------------------------------------
    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        nb = self.device.type == "cuda"
        return {k: v.to(self.device, non_blocking=nb).contiguous(
                    memory_format=torch.channels_last if v.dim() == 4 else torch.contiguous_format)
                for k, v in batch.items()}

    def _render(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor | None], ...]:
        """Each side's (rgb, mask) of its own inputs (one module call per side here; one in all under DDP)."""
        return self.forward(x_a, "a"), self.forward(x_b, "b")

    def _finite(self, loss: torch.Tensor) -> bool:
        """Whether this step's loss is finite (on every process of a distributed run)."""
        return bool(torch.isfinite(loss))

    def _side_loss(self, batch: dict[str, torch.Tensor], side: str,
                   out: tuple[torch.Tensor, torch.Tensor | None]) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        cfg = self.cfg
        rgb, mask = out
        # Loss where the face is (with a little background so it is not garbage), eyes and mouth up-weighted.
        weight = batch["weight"] * (0.1 + 0.9 * batch["mask"])
        if self.model_cfg.occlusion and self.iteration >= TRUSTED_FROM:
            # what covers a training face (a hand in the faceset) is not learnt as the face
            with torch.no_grad():
                visible = self.model.occlusion.visible(batch["target"]).float()
            weight = weight * covered_weight(batch["mask"], visible)
        rec = cfg.ssim_weight * losses.dssim_loss(rgb.float(), batch["target"], weight) + \
            cfg.pixel_weight * losses.pixel_loss(rgb.float(), batch["target"], cfg.pixel_loss, weight)
        total = rec
        stats = {f"loss_{side}": float(rec.detach())}
        if mask is not None and cfg.mask_weight > 0:
            m = losses.mask_loss(mask.float(), batch["mask"])
            total = total + cfg.mask_weight * m
            stats[f"mask_{side}"] = float(m.detach())
        return total, stats, rgb

    def step(self, batch_a: dict[str, torch.Tensor], batch_b: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step on a batch of each identity; returns the losses."""
        cfg = self.cfg
        batch_a, batch_b = self._to_device(batch_a), self._to_device(batch_b)
        autocast = torch.autocast(self.device.type, dtype=self._amp_dtype) if self._amp_dtype \
            else contextlib.nullcontext()
        use_gan = self.disc is not None and self.iteration >= cfg.gan_start
        stats: dict[str, float] = {}
        with autocast:
            out_a, out_b = self._render(batch_a["input"], batch_b["input"])
            loss_a, stats_a, fake_a = self._side_loss(batch_a, "a", out_a)
            loss_b, stats_b, fake_b = self._side_loss(batch_b, "b", out_b)
            loss = loss_a + loss_b
            stats.update(stats_a, **stats_b)
            if "detail" in batch_b:
                detail = self._detail_loss(fake_b.detach(), batch_b)
                loss = loss + detail
                stats["detail"] = float(detail.detach())
            if "occluded" in batch_a:
                occlusion = self._occlusion_loss(batch_a, batch_b)
                loss = loss + occlusion
                stats["occlusion"] = float(occlusion.detach())
            if use_gan:
                fake = torch.cat([fake_a, fake_b])
                adv = losses.generator_adv_loss(cfg.gan_loss, self.disc(fake))
                loss = loss + cfg.gan_weight * adv
                stats["gen_adv"] = float(adv.detach())
        if not self._finite(loss):
            self._rollback("NaN/inf loss")
            return {}
        self.optimizer.zero_grad(set_to_none=True)
        self._scaler.scale(loss).backward()
        self._scaler.unscale_(self.optimizer)
        for group in self._clip_groups:
            torch.nn.utils.clip_grad_norm_(group, cfg.grad_clip)
        self._scaler.step(self.optimizer)
        self._scaler.update()
        if use_gan:
            stats["disc"] = self._disc_step(torch.cat([batch_a["target"], batch_b["target"]]),
                                            torch.cat([fake_a, fake_b]).detach(), autocast)
        self.iteration += 1
        return stats

    def _detail_loss(self, rendered: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The detail stage's loss on this step's B renders (detached: it learns to enlarge what the
        decoder draws, and does not pull the decoder): each render's patch at ``corner``, enlarged,
        against B's own crop of that patch at the detail size (``detail``)."""
        p = batch["detail"].shape[-1] // self.model_cfg.detail_scale
        corners = batch["corner"].tolist()
        patches = torch.stack([rendered[k, :, y:y + p, x:x + p] for k, (x, y) in enumerate(corners)])
        return losses.detail_loss(self.model.detail(patches.contiguous(memory_format=torch.channels_last)),
                                  batch["detail"], self.cfg.detail_highpass,
                                  self.cfg.detail_energy)

    def _occlusion_loss(self, batch_a: dict[str, torch.Tensor], batch_b: dict[str, torch.Tensor]) -> torch.Tensor:
        """The occlusion net's loss on both sides' occluded crops (data/occlusion_samples.py)."""
        x = torch.cat([batch_a["occluded"], batch_b["occluded"]]).contiguous(memory_format=torch.channels_last)
        m_a, m_b = len(batch_a["occluded"]), len(batch_b["occluded"])  # its samples are each batch's first
        return occlusion_loss(self.model.occlusion(x), torch.cat([batch_a["visible"], batch_b["visible"]]),
                              torch.cat([batch_a["mask"][:m_a], batch_b["mask"][:m_b]]))

    def _disc_step(self, real: torch.Tensor, fake: torch.Tensor, autocast) -> float:
        with autocast:
            loss = losses.discriminator_loss(self.cfg.gan_loss, self.disc(real), self.disc(fake))
        if self.cfg.gan_loss == "wgan-gp":
            loss = loss + 10.0 * losses.gradient_penalty(self.disc, real.float(), fake.float())
        self.disc_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.disc.parameters(), self.cfg.grad_clip)
        self.disc_optimizer.step()
        return float(loss.detach())

    # -- the loop ----------------------------------------------------------------------------
    def loaders(self) -> tuple[Iterator, Iterator]:
        cfg = self.cfg
        settings = dict(device=self.device, seed=cfg.seed, eyes_weight=cfg.eyes_weight, mouth_weight=cfg.mouth_weight,
                        warp=cfg.warp, workers=cfg.workers, occlusion=self.model_cfg.occlusion,
                        covered_weight=cfg.covered_weight)
        return (make_loader(self.faces["a"], self.model_cfg, cfg.batch_size, **settings),
                make_loader(self.faces["b"], self.model_cfg, cfg.batch_size, seed_offset=1,
                            detail=self.detail_faces, **settings))

    def _should_stop(self, start: float) -> str:
        if self._stop_reason:
            return self._stop_reason
        if self.cfg.iterations is not None and self.iteration >= self.cfg.iterations:
            return "iterations"
        if self.cfg.minutes is not None and time.monotonic() - start >= self.cfg.minutes * 60:
            return "minutes"
        return ""

    def run(self) -> TrainSummary:
        """Train until --iterations, --minutes, Ctrl-C or SIGTERM; always leaves a checkpoint."""
        start, start_iteration = time.monotonic(), self.iteration
        samples = 0
        loader_a, loader_b = self.loaders()
        bar = tqdm(total=self.cfg.iterations, initial=self.iteration, unit="it", disable=not self.progress,
                   dynamic_ncols=True, desc="train")
        stats: dict[str, float] = {}
        with self._signals():
            try:
                while not (stopped := self._should_stop(start)):
                    self._schedule(self._progress(start, start_iteration))
                    t0 = time.perf_counter()
                    stats = self.step(next(loader_a), next(loader_b)) or stats
                    dt = time.perf_counter() - t0
                    samples += 2 * self.cfg.batch_size * self.world
                    rate = samples / max(time.monotonic() - start, 1e-9)
                    bar.n = self.iteration
                    bar.set_postfix({k: f"{v:.4f}" for k, v in stats.items() if k.startswith("loss")} |
                                    {"samples/s": f"{rate:.0f}"}, refresh=False)
                    bar.update(0)
                    if stats:
                        self.history.append({"iteration": self.iteration, "seconds": round(dt, 4), **stats,
                                             "lr": self.optimizer.param_groups[0]["lr"], "samples_s": rate})
                        if self._board is not None:
                            for key, value in stats.items():
                                self._board.add_scalar(key, value, self.iteration)
                    if self.iteration % self.cfg.preview_every == 0:
                        self.write_preview()
                    if self.iteration % self.cfg.save_every == 0:
                        self.save()
            except KeyboardInterrupt:
                stopped = "interrupt"
            except torch.OutOfMemoryError as err:
                raise FaceswapError(f"out of {self.device.type.upper()} memory at batch size {self.cfg.batch_size}: "
                                    f"try a smaller --batch-size (the last checkpoint is kept)") from err
            finally:
                bar.close()
                if self._board is not None:
                    self._board.close()
        if stopped == "interrupt":
            log.warning("interrupted at iteration %d: saving", self.iteration)
        self.save()
        self.write_preview()
        seconds = time.monotonic() - start
        return TrainSummary(str(self.model_dir), start_iteration, self.iteration, seconds,
                            samples / seconds if seconds > 0 else 0.0, stats, self.rollbacks, stopped)

    @contextlib.contextmanager
    def _signals(self):
        """Ctrl-C and SIGTERM finish the current step, then the run saves and returns."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, _frame):
            self._stop_reason = "interrupt" if signum == signal.SIGINT else "terminated"

        with handling((signal.SIGINT, signal.SIGTERM), handler):
            yield



def _tensorboard(model_dir: Path):
    """A TensorBoard writer in MODEL_DIR/tensorboard when the tensorboard package is installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(model_dir / "tensorboard"))
