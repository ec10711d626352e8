"""The one training loop: every task trains here.

:class:`TrainConfig` is the ``[train]`` section. :meth:`Trainer.fit` runs epochs of
``loss_fn(model(batch))`` with the chosen optimizer, schedule and gradient clipping,
validates after each epoch, stops early on the validation primary metric or when the
wall-clock budget is spent, and writes ``last.pt`` (everything needed to resume) and
``best.pt`` (the weights to evaluate) atomically after each epoch.

The hot loop avoids host synchronisation: losses are summed on the device and read
once per epoch (and when the progress bar redraws, a few times a second).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from . import checkpoint
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
    precision: Literal["fp32", "bf16", "fp16"] = field(
        default="fp32", metadata={"help": "autocast on CUDA; CPU always trains in fp32"}
    )
    shuffle: bool = True
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

    @property
    def samples_per_second(self) -> float:
        return _median([h["samples_per_s"] for h in self.history])

    @property
    def timesteps_per_second(self) -> float:
        return _median([h["timesteps_per_s"] for h in self.history])


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
        c = self.config
        params = [p for p in model.parameters() if p.requires_grad]
        if c.optimizer == "sgd":
            return torch.optim.SGD(
                params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
            )
        if c.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)

    def make_schedule(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int, higher: bool):
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
                progress = min(1.0, (step - warm) / max(1, total - warm))
                return 0.5 * (1.0 + math.cos(math.pi * progress))
            return 1.0

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def autocast(self):
        c = self.config
        if self.device.type == "cuda" and c.precision != "fp32":
            dtype = torch.bfloat16 if c.precision == "bf16" else torch.float16
            return torch.autocast("cuda", dtype=dtype)
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
        """
        c = self.config
        model.to(self.device)
        train = train.to(self.device)
        steps_per_epoch = max(1, -(-train.size // c.batch_size))
        optimizer = self.make_optimizer(model)
        schedule = self.make_schedule(optimizer, steps_per_epoch, higher_is_better)
        scaler = torch.amp.GradScaler(
            "cuda", enabled=self.device.type == "cuda" and c.precision == "fp16"
        )
        generator = torch.Generator().manual_seed(self.seed)
        key = f"val_{primary}" if validate else "train_loss"
        better = (
            (lambda a, b: a > b + c.min_delta)
            if higher_is_better
            else (lambda a, b: a < b - c.min_delta)
        )

        start_epoch, best, best_epoch, bad_epochs, elapsed, clipped = 0, None, 0, 0, 0.0, 0
        best_state = None
        self.history = []
        if resume:
            saved = checkpoint.load(self.checkpoint_dir / checkpoint.LAST)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            scaler.load_state_dict(saved["scaler"])
            generator.set_state(saved["rng_shuffle"])
            torch.set_rng_state(saved["rng_torch"])
            t = saved["trainer"]
            start_epoch, best, best_epoch = t["epoch"], t["best"], t["best_epoch"]
            bad_epochs, elapsed, clipped = t["bad_epochs"], t["elapsed"], t["clipped"]
            self.history = list(saved["history"])
            best_path = self.checkpoint_dir / checkpoint.BEST
            if best_path.exists():
                best_state = checkpoint.load(best_path)["model"]

        flops = getattr(getattr(model, "backbone", None), "flops_per_timestep", lambda: 0.0)()
        stop_reason = "epochs"
        if start_epoch >= c.epochs:
            stop_reason = (
                self.history[-1].get("stop_reason", "epochs") if self.history else "epochs"
            )
        for epoch in range(start_epoch, c.epochs):
            model.train()
            self.progress.start_epoch(epoch + 1, c.epochs, steps_per_epoch)
            loss_sum = torch.zeros((), device=self.device)
            seen = 0
            bad_step = torch.full((), -1, dtype=torch.long, device=self.device)
            state = None
            t0 = time.perf_counter()
            last_draw = t0
            out_of_time = False
            for step, batch in enumerate(train.batches(c.batch_size, c.shuffle, generator)):
                with self.autocast():
                    output, state = model(batch, state if train.stateful else None)
                    loss = loss_fn(output, batch)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if c.clip_norm > 0:
                    scaler.unscale_(optimizer)
                    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), c.clip_norm)
                    clipped += norm > c.clip_norm  # stays a tensor: no sync
                scaler.step(optimizer)
                scaler.update()
                if not isinstance(
                    schedule,
                    torch.optim.lr_scheduler.ReduceLROnPlateau | torch.optim.lr_scheduler.StepLR,
                ):
                    schedule.step()
                n = _batch_size(batch)
                loss = loss.detach().float()
                bad_step = torch.where((bad_step < 0) & ~torch.isfinite(loss), step, bad_step)
                loss_sum += loss * n
                seen += n
                if train.stateful and state is not None:
                    state = (
                        tuple(s.detach() for s in state)
                        if isinstance(state, tuple)
                        else state.detach()
                    )
                now = time.perf_counter()
                if now - last_draw > 0.25:
                    last_draw = now
                    self.progress.update(step + 1, {"loss": float(loss_sum) / max(seen, 1)})
                if c.time_budget and elapsed + (now - t0) >= c.time_budget:
                    out_of_time = True
                    break
            seconds = time.perf_counter() - t0
            elapsed += seconds
            train_loss = float(loss_sum) / max(seen, 1)
            if int(bad_step) >= 0 or not math.isfinite(train_loss):
                kept = f"; the best checkpoint (epoch {best_epoch}) is kept" if best_epoch else ""
                raise TrainingDiverged(
                    f"training loss became {train_loss} in epoch {epoch + 1}, step {int(bad_step) + 1}"
                    f"{kept}. Try a lower train.lr (now {c.lr:g}) or train.clip_norm=1.0"
                )
            record: dict[str, float] = {"epoch": epoch + 1, "train_loss": train_loss}
            if validate:
                model.eval()
                with torch.no_grad(), self.autocast():
                    metrics = validate(model)
                record.update({f"val_{k}": float(v) for k, v in metrics.items()})
                if key not in record:
                    raise KeyError(
                        f"validation metrics lack the primary metric {primary!r}: {sorted(metrics)}"
                    )
            record.update(
                lr=optimizer.param_groups[0]["lr"],
                seconds=seconds,
                samples_per_s=seen / seconds if seconds else float("nan"),
                timesteps_per_s=(train.timesteps * seen / max(train.size, 1)) / seconds
                if seconds
                else float("nan"),
                gflops=3 * flops * (train.timesteps * seen / max(train.size, 1)) / seconds / 1e9
                if seconds
                else 0.0,
                clipped=int(clipped),
            )
            current = record[key]
            if best is None or better(current, best):
                best, best_epoch, bad_epochs = current, epoch + 1, 0
                best_state = copy.deepcopy(model.state_dict())
                self._save_best(best_state, epoch + 1, current, key)
            else:
                bad_epochs += 1
            if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
                schedule.step(current)
            elif isinstance(schedule, torch.optim.lr_scheduler.StepLR):
                schedule.step()
            if out_of_time:
                stop_reason = "time_budget"
            elif c.patience and bad_epochs >= c.patience:
                stop_reason = "early_stopping"
            record["stop_reason"] = (
                stop_reason if stop_reason != "epochs" or epoch + 1 == c.epochs else ""
            )
            self.history.append(record)
            self.progress.end_epoch(record, key)
            self._save_last(
                model,
                optimizer,
                schedule,
                scaler,
                generator,
                {
                    "epoch": epoch + 1 if stop_reason == "epochs" else c.epochs,
                    "best": best,
                    "best_epoch": best_epoch,
                    "bad_epochs": bad_epochs,
                    "elapsed": elapsed,
                    "clipped": int(clipped),
                },
            )
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)
            if stop_reason != "epochs":
                break
        self.progress.close()
        if best_state is not None and not keep_last:
            model.load_state_dict(best_state)
        return FitResult(
            history=self.history,
            best_epoch=best_epoch,
            best_metric=best,
            epochs=len(self.history),
            stop_reason=stop_reason,
            train_seconds=elapsed,
            clipped_steps=int(clipped),
        )

    # -- checkpoints -------------------------------------------------------------------

    def _save_best(self, state: dict[str, Tensor], epoch: int, metric: float, key: str) -> None:
        if self.checkpoint_dir:
            checkpoint.save(
                self.checkpoint_dir / checkpoint.BEST,
                {"model": state, "epoch": epoch, "metric": {key: metric}, **self.checkpoint_extra},
            )

    def _save_last(self, model, optimizer, schedule, scaler, generator, trainer_state) -> None:
        if self.checkpoint_dir:
            checkpoint.save(
                self.checkpoint_dir / checkpoint.LAST,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "scaler": scaler.state_dict(),
                    "rng_shuffle": generator.get_state(),
                    "rng_torch": torch.get_rng_state(),
                    "trainer": trainer_state,
                    "history": self.history,
                    **self.checkpoint_extra,
                },
            )


def _batch_size(batch: dict[str, Any]) -> int:
    for value in batch.values():
        if isinstance(value, Tensor) and value.dim() > 0:
            return value.shape[0]
    return 1
