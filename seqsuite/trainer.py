"""The one training loop: every task trains here.

:class:`TrainConfig` is the ``[train]`` section. :meth:`Trainer.fit` runs epochs of
``loss_fn(model(batch))`` with the chosen optimizer, schedule and gradient clipping,
validates after each epoch (and every ``eval_every`` steps), stops early on the
validation primary metric (an equal score moves ``best.pt`` to the later weights but does
not count as progress) or when the wall-clock budget is spent, and writes ``last.pt``
(everything needed to resume, mid-epoch too) and ``best.pt`` (the weights to evaluate)
atomically after each validation.

The hot loop avoids host synchronisation: losses are summed on the device and read
once per epoch (and when the progress bar redraws, a few times a second).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from . import checkpoint, distributed
from .batches import Split
from .errors import TrainingDiverged, UserError
from .progress import NullProgress

LossFn = Callable[[Any, dict[str, Any]], Tensor]


@dataclass
class TrainConfig:
    """The ``[train]`` section."""

    epochs: int = field(default=20, metadata={"min": 1})
    batch_size: int = field(default=32, metadata={"min": 1})
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = field(default=1e-3, metadata={"min": 0.0, "help": "learning rate"})
    weight_decay: float = field(default=0.0, metadata={"min": 0.0})
    momentum: float = field(default=0.9, metadata={"min": 0.0, "below": 1.0, "help": "sgd only"})
    schedule: Literal["constant", "cosine", "step", "plateau"] = "constant"
    warmup_steps: int = field(default=0, metadata={"min": 0, "help": "linear warm-up (steps)"})
    step_epochs: int = field(default=10, metadata={"min": 1, "help": "schedule=step: period"})
    gamma: float = field(
        default=0.5, metadata={"min": 0.0, "max": 1.0, "help": "step/plateau decay factor"}
    )
    clip_norm: float = field(default=1.0, metadata={"min": 0.0, "help": "0 = no clipping"})
    patience: int = field(default=10, metadata={"min": 0, "help": "early stopping; 0 = off"})
    min_delta: float = field(default=0.0, metadata={"min": 0.0})
    time_budget: float = field(default=0.0, metadata={"min": 0.0, "help": "seconds; 0 = none"})
    precision: Literal["fp32", "bf16", "fp16", "auto"] = field(
        default="fp32",
        metadata={"help": "autocast: bf16 on CPU or CUDA, fp16 on CUDA; auto = bf16 where fast"},
    )
    eval_every: int = field(
        default=0, metadata={"min": 0, "help": "validate every N steps too (0 = once per epoch)"}
    )
    shuffle: bool = True
    layer_lr_decay: float = field(
        default=1.0,
        metadata={
            "min": 1.0,
            "help": "each lower layer group learns this many times slower (ULMFiT: 2.6)",
        },
    )
    unfreeze_epochs: int = field(
        default=0,
        metadata={
            "min": 0,
            "help": "gradual unfreezing: one more layer group every N epochs (0 = all)",
        },
    )
    refit: bool = field(
        default=False,
        metadata={"help": "after early stopping, retrain on train+val for the best epoch count"},
    )

    def validate(self) -> None:
        if self.lr <= 0:
            raise UserError(f"lr: got {self.lr}, expected a positive learning rate")


@dataclass
class FitResult:
    """What a fit did: per-epoch history, which epoch was best, why it stopped."""

    history: list[dict[str, float]]
    best_epoch: int
    best_metric: float | None
    epochs: int
    stop_reason: str  # "epochs" | "early_stopping" | "time_budget"
    train_seconds: float
    clipped_steps: int
    precision: str = "fp32"

    @property
    def samples_per_second(self) -> float:
        return _median([h["samples_per_s"] for h in self.history])

    @property
    def timesteps_per_second(self) -> float:
        return _median([h["timesteps_per_s"] for h in self.history])

    @property
    def data_share(self) -> float:
        """Median share of training time spent getting batches rather than computing."""
        return _median([h.get("data_share", float("nan")) for h in self.history])


def _median(values: list[float]) -> float:
    values = sorted(v for v in values if v == v)
    return values[len(values) // 2] if values else float("nan")


class Trainer:
    """Fits a model on a :class:`~seqsuite.batches.Split`.

    checkpoint_dir: where ``last.pt`` / ``best.pt`` go (None: keep nothing on disk).
    checkpoint_extra: JSON-like metadata stored in both checkpoints (config, spec, ...),
    so a checkpoint describes itself.
    callbacks: objects with ``on_epoch_end(trainer, record)``; one may raise to stop.
    """

    def __init__(
        self,
        config: TrainConfig,
        device: torch.device | str = "cpu",
        *,
        seed: int = 0,
        checkpoint_dir: str | Path | None = None,
        checkpoint_extra: dict[str, Any] | None = None,
        progress: Any = None,
        callbacks: Iterable[Any] = (),
    ):
        self.config = config
        self.device = torch.device(device)
        self.seed = seed
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_extra = checkpoint_extra or {}
        self.progress = progress or NullProgress()
        self.callbacks = list(callbacks)
        self.history: list[dict[str, float]] = []

    # -- building blocks ---------------------------------------------------------------

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """One parameter group, or with ``layer_lr_decay`` one per layer group from the
        top down, each ``layer_lr_decay`` times slower than the one above."""
        c = self.config
        params: Any = [p for p in model.parameters() if p.requires_grad]
        if c.layer_lr_decay != 1.0 and hasattr(model, "layer_groups"):
            params = [
                {"params": group, "lr": c.lr / c.layer_lr_decay**depth}
                for depth, group in enumerate(model.layer_groups())
            ]
        if c.optimizer == "sgd":
            return torch.optim.SGD(
                params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
            )
        if c.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)

    def make_schedule(
        self,
        optimizer: torch.optim.Optimizer,
        steps_per_epoch: int,
        higher: bool,
        elapsed: Callable[[], float] = lambda: 0.0,
    ):
        """The learning-rate schedule. Cosine decay follows whichever ends first: the
        planned steps or, with ``time_budget``, the wall-clock budget (``elapsed()``)."""
        c = self.config
        total = max(1, c.epochs * steps_per_epoch)
        warm = c.warmup_steps
        if c.schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode="max" if higher else "min",
                factor=c.gamma,
                patience=max(1, c.patience // 2),
            )
        if c.schedule == "step":
            return torch.optim.lr_scheduler.StepLR(
                optimizer, step_size=c.step_epochs, gamma=c.gamma
            )

        def factor(step: int) -> float:
            if warm and step < warm:
                return (step + 1) / warm
            if c.schedule == "cosine":
                progress = (step - warm) / max(1, total - warm)
                if c.time_budget:
                    progress = max(progress, elapsed() / c.time_budget)
                return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
            return 1.0

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    @property
    def precision(self) -> str:
        """The precision that runs: ``auto`` becomes bf16 where the hardware has fast bf16
        (CUDA with bf16, or a CPU whose oneDNN has bf16 kernels), fp32 elsewhere; fp16
        stays fp32 on CPU."""
        wanted, device = self.config.precision, self.device.type
        if wanted == "auto":
            if device == "cuda":
                return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
            return "bf16" if _cpu_has_fast_bf16() else "fp32"
        if wanted == "fp16" and device != "cuda":
            return "fp32"
        return wanted

    def autocast(self):
        precision = self.precision
        if precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        if precision == "fp16":
            return torch.autocast("cuda", dtype=torch.float16)
        return nullcontext()

    # -- the loop ----------------------------------------------------------------------

    def fit(
        self,
        model: nn.Module,
        train: Split,
        loss_fn: LossFn,
        validate: Callable[[nn.Module], dict[str, float]] | None = None,
        *,
        primary: str = "loss",
        higher_is_better: bool = False,
        resume: bool = False,
        keep_last: bool = False,
    ) -> FitResult:
        """Train ``model``; return the history with the best weights loaded into ``model``.

        ``validate(model)`` returns validation metrics (it runs under ``no_grad`` in eval
        mode); early stopping and ``best.pt`` follow ``primary`` in them. Without it, the
        training loss is the criterion. ``keep_last`` leaves the final weights in ``model``
        instead of the best ones (used when refitting for a fixed number of epochs).

        Training proceeds in *rounds*: a round ends at the end of each epoch and, with
        ``eval_every`` set, every that many steps. Each round validates, records a history
        row, may stop early, and writes ``last.pt`` (from which a fit resumes mid-epoch).
        """
        c = self.config
        model.to(self.device)
        engine = (
            model  # what runs the forward pass: the model, or its DistributedDataParallel wrapper
        )
        if distributed.active():
            if c.unfreeze_epochs:
                raise UserError(
                    "train.unfreeze_epochs does not work with several processes (DDP); set it to 0"
                )
            rnn = getattr(getattr(model, "backbone", None), "rnn", None)
            if rnn is not None:
                rnn.flatten_parameters()
            ids = [self.device.index] if self.device.type == "cuda" else None
            engine = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        main = distributed.is_main()
        train = train.to(self.device)
        steps_per_epoch = _num_batches(train, c.batch_size)
        optimizer = self.make_optimizer(model)
        loop = LoopState()
        schedule = self.make_schedule(
            optimizer, steps_per_epoch, higher_is_better, lambda: loop.elapsed
        )
        per_step_schedule = isinstance(schedule, torch.optim.lr_scheduler.LambdaLR)
        scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        generator = torch.Generator().manual_seed(self.seed)
        key = f"val_{primary}" if validate else "train_loss"
        flops = getattr(getattr(model, "backbone", None), "flops_per_timestep", lambda: 0.0)()
        timesteps_per_example = train.timesteps / max(train.size, 1)

        best_state = None
        carried = None  # recurrent state carried across batches (stateful splits)
        epoch_rng = generator.get_state()
        self.history = []
        if resume:
            saved = checkpoint.load(self.checkpoint_dir / checkpoint.LAST, map_location=self.device)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            scaler.load_state_dict(saved["scaler"])
            torch.set_rng_state(saved["rng_torch"].cpu())
            generator.set_state(saved["rng_shuffle"].cpu())
            epoch_rng = saved["rng_epoch"].cpu()
            loop = LoopState(**saved["loop"])
            carried = _as_state(saved.get("carried"))
            self.history = list(saved["history"])
            best_path = self.checkpoint_dir / checkpoint.BEST
            if best_path.exists():
                best_state = checkpoint.load(best_path, map_location=self.device)["model"]

        def end_round(tally: _Tally, epoch_done: bool) -> None:
            """Validate, record, keep the best, decide whether to stop, checkpoint."""
            nonlocal best_state
            loss_sum, seen = distributed.all_sum(float(tally.loss_sum), tally.seen)
            train_loss = loss_sum / max(seen, 1)
            tally.seen = int(seen)
            if tally.bad_step() >= 0 or not math.isfinite(train_loss):
                kept = (
                    f"; the best checkpoint (epoch {loop.best_epoch:g}) is kept"
                    if loop.best_epoch
                    else ""
                )
                raise TrainingDiverged(
                    f"training loss became {train_loss} in epoch {loop.epoch + 1}, "
                    f"step {tally.bad_step() + 1}{kept}. "
                    f"Try a lower train.lr (now {c.lr:g}) or train.clip_norm=1.0"
                )
            if epoch_done:
                loop.epoch += 1
                loop.step_in_epoch = 0
            epoch = loop.epoch + loop.step_in_epoch / steps_per_epoch
            record: dict[str, Any] = {
                "epoch": int(epoch) if epoch == int(epoch) else round(epoch, 4),
                "step": loop.global_step,
                "train_loss": train_loss,
            }
            if validate:
                model.eval()
                with torch.no_grad(), self.autocast():
                    metrics = validate(model)
                model.train()
                record.update({f"val_{k}": float(v) for k, v in metrics.items()})
                if key not in record:
                    raise KeyError(f"validation metrics lack {primary!r}: {sorted(metrics)}")
            seconds = tally.seconds
            timesteps = tally.seen * timesteps_per_example
            record.update(
                lr=optimizer.param_groups[0]["lr"],
                seconds=round(seconds, 4),
                samples_per_s=tally.seen / seconds if seconds else float("nan"),
                timesteps_per_s=timesteps / seconds if seconds else float("nan"),
                gflops=3 * flops * timesteps / seconds / 1e9 if seconds else 0.0,
                clipped=loop.clipped + int(tally.clipped),
                data_share=round(tally.data_seconds / seconds, 4) if seconds else 0.0,
            )
            loop.clipped = record["clipped"]
            current = record[key]
            improved = loop.best is None or self._better(current, loop.best, higher_is_better)
            # A tie (a saturated accuracy) keeps the later weights, trained longer at a lower
            # rate, but is no improvement: patience still runs out.
            if improved or current == loop.best:
                loop.best, loop.best_epoch = current, record["epoch"]
                best_state = copy.deepcopy(model.state_dict())
                if main:
                    self._save_best(best_state, record["epoch"], current, key)
            loop.bad_rounds = 0 if improved else loop.bad_rounds + 1
            if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
                schedule.step(current)
            elif isinstance(schedule, torch.optim.lr_scheduler.StepLR) and epoch_done:
                schedule.step()
            if c.time_budget and loop.elapsed >= c.time_budget:
                loop.stop_reason, loop.done = "time_budget", True
            elif c.patience and loop.bad_rounds >= c.patience:
                loop.stop_reason, loop.done = "early_stopping", True
            elif loop.epoch >= c.epochs:
                loop.stop_reason, loop.done = "epochs", True
            record["elapsed"] = round(loop.elapsed, 3)
            record["stop_reason"] = loop.stop_reason if loop.done else ""
            self.history.append(record)
            self.progress.end_epoch(record, key)
            if main:
                self._save_last(
                    model, optimizer, schedule, scaler, generator, epoch_rng, loop, carried
                )
                for callback in self.callbacks:
                    callback.on_epoch_end(self, record)

        model.train()
        while not loop.done and loop.epoch < c.epochs:
            if loop.step_in_epoch == 0:
                epoch_rng = generator.get_state()
            else:  # resuming mid-epoch: replay this epoch's order, skip the batches done
                generator.set_state(epoch_rng)
            batches = train.batches(c.batch_size, c.shuffle, generator)
            batches = itertools.islice(batches, loop.step_in_epoch, None)
            self._unfreeze(model, loop.epoch)
            self.progress.start_epoch(loop.epoch + 1, c.epochs, steps_per_epoch)
            tally = _Tally(self.device)
            state = carried if train.stateful else None
            fetched = time.perf_counter()
            for batch in batches:
                batch, rows, global_rows = distributed.share(batch)
                tally.data_seconds += (
                    time.perf_counter() - fetched
                )  # getting the batch, not computing
                with self.autocast():
                    output, state = engine(batch, state)
                    loss = loss_fn(output, batch)
                optimizer.zero_grad(set_to_none=True)
                # DDP averages gradients over ranks; weighting by rows makes that the
                # gradient of the global batch's mean loss, also when shares differ
                share = rows * distributed.world() / global_rows
                scaler.scale(loss * share if share != 1 else loss).backward()
                if c.clip_norm > 0:
                    scaler.unscale_(optimizer)
                    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), c.clip_norm)
                    tally.clipped += norm > c.clip_norm  # stays a tensor: no sync
                scaler.step(optimizer)
                scaler.update()
                if per_step_schedule:
                    schedule.step()
                tally.add(loss, rows, loop.step_in_epoch)
                loop.step_in_epoch += 1
                loop.global_step += 1
                state = _detach(state) if train.stateful else None
                carried = state
                now = time.perf_counter()
                if now - tally.last_draw > 0.25:
                    tally.last_draw = now
                    self.progress.update(loop.step_in_epoch, {"loss": tally.loss()})
                loop.elapsed += now - tally.clock
                tally.seconds += now - tally.clock
                tally.clock = now
                out_of_time = bool(c.time_budget) and loop.elapsed >= c.time_budget
                if c.time_budget and distributed.active():
                    out_of_time = distributed.any_rank(out_of_time)  # all ranks stop together
                epoch_done = loop.step_in_epoch >= steps_per_epoch
                if (
                    out_of_time
                    or epoch_done
                    or (c.eval_every and loop.global_step % c.eval_every == 0)
                ):
                    if epoch_done:
                        carried = None
                    started = time.perf_counter()
                    end_round(tally, epoch_done)
                    loop.elapsed += time.perf_counter() - started  # validation counts as wall time
                    tally = _Tally(self.device)
                    if loop.done or epoch_done:
                        break
                fetched = time.perf_counter()
            else:  # the split yielded fewer batches than expected: close the epoch
                if tally.seen:
                    carried = None
                    end_round(tally, True)
                else:
                    loop.epoch += 1
                    loop.step_in_epoch = 0
        self.progress.close()
        for param in model.parameters():  # unfreezing is a training-time matter
            param.requires_grad_(True)
        if best_state is not None and not keep_last:
            model.load_state_dict(best_state)
        return FitResult(
            history=self.history,
            best_epoch=loop.best_epoch,
            best_metric=loop.best,
            epochs=len(self.history),
            stop_reason=loop.stop_reason,
            train_seconds=loop.elapsed,
            clipped_steps=loop.clipped,
            precision=self.precision,
        )

    def _unfreeze(self, model: nn.Module, epoch: int) -> None:
        """Gradual unfreezing: the top layer group trains from the first epoch, one more
        group joins every ``unfreeze_epochs`` epochs."""
        every = self.config.unfreeze_epochs
        if not every or not hasattr(model, "layer_groups"):
            return
        groups = model.layer_groups()
        active = min(len(groups), 1 + epoch // every)
        for depth, group in enumerate(groups):
            for param in group:
                param.requires_grad_(depth < active)

    def _better(self, a: float, b: float, higher: bool) -> bool:
        delta = self.config.min_delta
        return a > b + delta if higher else a < b - delta

    # -- checkpoints -------------------------------------------------------------------

    def _save_best(self, state: dict[str, Tensor], epoch: float, metric: float, key: str) -> None:
        if self.checkpoint_dir:
            checkpoint.save(
                self.checkpoint_dir / checkpoint.BEST,
                {"model": state, "epoch": epoch, "metric": {key: metric}, **self.checkpoint_extra},
            )

    def _save_last(
        self, model, optimizer, schedule, scaler, generator, epoch_rng, loop, carried
    ) -> None:
        if self.checkpoint_dir:
            checkpoint.save(
                self.checkpoint_dir / checkpoint.LAST,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "scaler": scaler.state_dict(),
                    "rng_shuffle": generator.get_state(),  # for the next epoch's order
                    "rng_epoch": epoch_rng,  # this epoch's order, to resume mid-epoch
                    "rng_torch": torch.get_rng_state(),
                    "loop": dataclasses.asdict(loop),
                    "carried": list(carried) if isinstance(carried, tuple) else carried,
                    "history": self.history,
                    **self.checkpoint_extra,
                },
            )


@dataclass
class LoopState:
    """Where a fit stands; saved in ``last.pt`` so that it resumes exactly."""

    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # batches done in the current epoch
    global_step: int = 0
    best: float | None = None
    best_epoch: float = 0
    bad_rounds: int = 0
    elapsed: float = 0.0  # wall-clock seconds spent in fit (for the time budget)
    clipped: int = 0
    done: bool = False
    stop_reason: str = "epochs"


class _Tally:
    """Loss and counts of one round, summed on the device (no sync per step)."""

    def __init__(self, device: torch.device):
        self.loss_sum = torch.zeros((), device=device)
        self.first_bad = torch.full((), -1, dtype=torch.long, device=device)
        self.clipped: Tensor | int = 0
        self.seen = 0
        self.seconds = 0.0
        self.data_seconds = 0.0  # of ``seconds``, spent getting batches rather than computing
        self.clock = self.last_draw = time.perf_counter()

    def add(self, loss: Tensor, n: int, step: int) -> None:
        loss = loss.detach().float()
        self.first_bad = torch.where(
            (self.first_bad < 0) & ~torch.isfinite(loss), step, self.first_bad
        )
        self.loss_sum += loss * n
        self.seen += n

    def loss(self) -> float:
        return float(self.loss_sum) / max(self.seen, 1)

    def bad_step(self) -> int:
        return int(self.first_bad)


def _cpu_has_fast_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _num_batches(split: Split, batch_size: int) -> int:
    count = getattr(split, "num_batches", None)
    return max(1, count(batch_size) if callable(count) else -(-split.size // batch_size))


def _detach(state: Any) -> Any:
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def _as_state(saved: Any) -> Any:
    return tuple(saved) if isinstance(saved, list) else saved
