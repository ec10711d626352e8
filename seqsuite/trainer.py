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

Read :meth:`Trainer.fit` first: set up, maybe resume, then epochs of ``_train_step`` with
``_end_of_round`` (validate, record, keep the best, decide whether to stop, checkpoint)
after each round. Where a fit stands lives in :class:`LoopState` (saved in ``last.pt``);
what it works with lives in :class:`_Run`.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from . import checkpoint, distributed, rundir
from .averaging import WeightAverage
from .batches import Batch, Split
from .errors import TrainingDiverged, UserError
from .model import CountsFlops, HasLayerGroups, PreparesForDDP
from .progress import NullProgress, Progress

LossFn = Callable[[Any, Batch], Tensor]
Validate = Callable[[nn.Module], dict[str, float]]


@runtime_checkable
class Callback(Protocol):
    """Called on the main process after each round, once ``last.pt`` is written; raising
    stops the fit (which then resumes from that ``last.pt``)."""

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None: ...


@runtime_checkable
class StepCallback(Protocol):
    """A callback that also wants a word after every training step (on every process): it
    must be cheap, since it runs thousands of times a round."""

    def on_step(self, trainer: Trainer) -> None: ...


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
    max_steps: int = field(
        default=0,
        metadata={
            "min": 0,
            "help": "stop after this many optimizer steps (0 = none); unlike a time budget, "
            "the same on any machine",
        },
    )
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
    ema: float = field(
        default=0.0,
        metadata={
            "min": 0.0,
            "below": 1.0,
            "help": "judge, keep and return a moving average of the weights with this decay "
            "per step (0 = the weights as trained; e.g. 0.999)",
        },
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
    stop_reason: str  # "epochs" | "early_stopping" | "time_budget" | "max_steps"
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


@dataclass
class _Run:
    """What one fit works with: built by ``Trainer._setup``, restored by ``_resume``,
    written to ``last.pt`` piece by piece."""

    model: nn.Module
    engine: nn.Module  # runs the forward pass: the model or its DistributedDataParallel wrapper
    train: Split  # on the device
    loss_fn: LossFn
    validate: Validate | None
    primary: str
    higher_is_better: bool
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    generator: torch.Generator  # draws each epoch's order
    epoch_rng: Tensor  # ``generator``'s state as this epoch began, to replay its order
    steps_per_epoch: int
    flops: float  # forward FLOPs per sample and time step; 0 when the model does not say
    timesteps_per_example: float
    schedule: Any = None  # made once the run exists: cosine follows its elapsed time
    loop: LoopState = field(default_factory=LoopState)
    best_state: dict[str, Tensor] | None = None  # the best round's weights
    carried: Any = None  # recurrent state carried across batches (stateful splits)
    average: WeightAverage | None = None  # train.ema: the averaged weights

    @property
    def judged(self) -> nn.Module:
        """The weights that are validated, kept as the best and returned: the moving
        average where ``train.ema`` keeps one, else the model as trained."""
        return self.average.module if self.average else self.model

    @property
    def key(self) -> str:
        """The history column that early stopping and ``best.pt`` follow."""
        return f"val_{self.primary}" if self.validate else "train_loss"

    def elapsed(self) -> float:
        return self.loop.elapsed


class Trainer:
    """Fits a model on a :class:`~seqsuite.batches.Split`.

    checkpoint_dir: where ``last.pt`` / ``best.pt`` go (None: keep nothing on disk).
    checkpoint_extra: JSON-like metadata stored in both checkpoints (config, spec, ...),
    so a checkpoint describes itself.
    config_defaults: the task's default configuration: what a checkpoint written by an
    earlier version lacks is taken from it when a resume compares configurations.
    progress: a :class:`~seqsuite.progress.Progress` (default: silent).
    callbacks: :class:`Callback` objects; one may raise to stop. Those that are also
    :class:`StepCallback` objects are told after every step.

    The model may offer :class:`~seqsuite.model.HasLayerGroups`,
    :class:`~seqsuite.model.CountsFlops` and :class:`~seqsuite.model.PreparesForDDP`;
    a plain ``nn.Module`` trains without them.
    """

    def __init__(
        self,
        config: TrainConfig,
        device: torch.device | str = "cpu",
        *,
        seed: int = 0,
        checkpoint_dir: str | Path | None = None,
        checkpoint_extra: dict[str, Any] | None = None,
        config_defaults: dict[str, Any] | None = None,
        progress: Progress | None = None,
        callbacks: Iterable[Callback] = (),
    ):
        self.config = config
        self.device = torch.device(device)
        self.seed = seed
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_extra = checkpoint_extra or {}
        self.config_defaults = config_defaults
        self.progress: Progress = progress or NullProgress()
        self.callbacks: list[Callback] = list(callbacks)
        self.step_callbacks = [c for c in self.callbacks if isinstance(c, StepCallback)]
        self.history: list[dict[str, float]] = []

    # -- building blocks ---------------------------------------------------------------

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """One parameter group, or with ``layer_lr_decay`` one per layer group from the
        top down, each ``layer_lr_decay`` times slower than the one above."""
        c = self.config
        params: Any = [p for p in model.parameters() if p.requires_grad]
        if c.layer_lr_decay != 1.0 and isinstance(model, HasLayerGroups):
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
        if c.max_steps:
            total = min(total, c.max_steps)
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
        validate: Validate | None = None,
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
        run = self._setup(model, train, loss_fn, validate, primary, higher_is_better)
        if resume:
            self._resume(run)
        loop = run.loop
        model.train()
        while not loop.done and loop.epoch < self.config.epochs:
            batches = self._start_epoch(run)
            tally = _Tally(self.device)
            fetched = time.perf_counter()
            for batch in batches:
                batch, rows, global_rows = distributed.share(batch)
                tally.data_seconds += time.perf_counter() - fetched  # getting it, not computing
                self._train_step(run, batch, rows, global_rows, tally)
                self._after_step(run, tally)
                out_of_time = self._out_of_time(loop) or self._out_of_steps(loop)
                epoch_done = loop.step_in_epoch >= run.steps_per_epoch
                if out_of_time or epoch_done or self._eval_due(loop):
                    self._close_round(run, tally, epoch_done)
                    tally = _Tally(self.device)
                    if loop.done or epoch_done:
                        break
                fetched = time.perf_counter()
            else:  # the split yielded fewer batches than expected: close the epoch
                self._close_short_epoch(run, tally)
        return self._finish(run, keep_last)

    # -- setting up --------------------------------------------------------------------

    def _setup(
        self,
        model: nn.Module,
        train: Split,
        loss_fn: LossFn,
        validate: Validate | None,
        primary: str,
        higher_is_better: bool,
    ) -> _Run:
        """A fresh run: model and split on the device, optimizer, schedule, scaler and
        the shuffle generator seeded; the history emptied."""
        model.to(self.device)
        engine = self._setup_engine(model)
        train = train.to(self.device)
        generator = torch.Generator().manual_seed(self.seed)
        run = _Run(
            model=model,
            engine=engine,
            train=train,
            loss_fn=loss_fn,
            validate=validate,
            primary=primary,
            higher_is_better=higher_is_better,
            optimizer=self.make_optimizer(model),
            scaler=torch.amp.GradScaler("cuda", enabled=self.precision == "fp16"),
            generator=generator,
            epoch_rng=generator.get_state(),
            steps_per_epoch=_num_batches(train, self.config.batch_size),
            flops=model.flops_per_timestep() if isinstance(model, CountsFlops) else 0.0,
            timesteps_per_example=train.timesteps / max(train.size, 1),
            average=WeightAverage(model, self.config.ema) if self.config.ema else None,
        )
        run.schedule = self.make_schedule(
            run.optimizer, run.steps_per_epoch, higher_is_better, run.elapsed
        )
        self.history = []
        return run

    def _setup_engine(self, model: nn.Module) -> nn.Module:
        """What runs the forward pass: the model, or with several processes its
        DistributedDataParallel wrapper (which averages the gradients over ranks)."""
        if not distributed.active():
            return model
        if self.config.unfreeze_epochs:
            raise UserError(
                "train.unfreeze_epochs does not work with several processes (DDP); set it to 0"
            )
        if isinstance(model, PreparesForDDP):
            model.prepare_for_ddp()
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def _resume(self, run: _Run) -> None:
        """Restore the run from ``last.pt`` (and the best weights from ``best.pt``)."""
        path = self.checkpoint_dir / checkpoint.LAST
        saved = checkpoint.load(path, map_location=self.device, keys=checkpoint.RESUME_KEYS)
        written = rundir.with_defaults(saved.get("config"), self.config_defaults)
        _check_same_config(written, self.checkpoint_extra.get("config"), path)
        checkpoint.put_weights(run.model, saved["model"], path)
        run.optimizer.load_state_dict(saved["optimizer"])
        run.schedule.load_state_dict(saved["schedule"])
        run.scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng_torch"].cpu())
        run.generator.set_state(saved["rng_shuffle"].cpu())
        run.epoch_rng = saved["rng_epoch"].cpu()
        run.loop = LoopState(**saved["loop"])
        run.carried = _as_state(saved.get("carried"))
        if run.average and saved.get("average"):
            run.average.load_state_dict(saved["average"])
        self.history = list(saved["history"])
        best_path = self.checkpoint_dir / checkpoint.BEST
        if best_path.exists():
            best = checkpoint.load(best_path, self.device, keys=checkpoint.WEIGHTS_KEYS)
            run.best_state = best["model"]

    # -- an epoch ----------------------------------------------------------------------

    def _start_epoch(self, run: _Run) -> Iterator[Batch]:
        """The epoch's batches from where it stands (a resumed epoch replays its order
        and skips the batches done); unfreezes layer groups and starts the progress bar."""
        c, loop = self.config, run.loop
        if loop.step_in_epoch == 0:
            run.epoch_rng = run.generator.get_state()
        else:  # resuming mid-epoch
            run.generator.set_state(run.epoch_rng)
        batches = run.train.batches(c.batch_size, c.shuffle, run.generator)
        batches = itertools.islice(batches, loop.step_in_epoch, None)
        self._unfreeze(run.model, loop.epoch)
        self.progress.start_epoch(loop.epoch + 1, c.epochs, run.steps_per_epoch)
        return batches

    def _train_step(
        self, run: _Run, batch: Batch, rows: int, global_rows: int, tally: _Tally
    ) -> None:
        """One optimizer step on this rank's ``rows`` of a batch of ``global_rows``; the
        loss and the clipping count join ``tally`` on the device."""
        c, loop = self.config, run.loop
        with self.autocast():
            output, state = run.engine(batch, run.carried)
            loss = run.loss_fn(output, batch)
        if loss.ndim:
            raise UserError(
                f"the task's loss() returned a tensor of shape {tuple(loss.shape)}; expected "
                "one number (reduce it, e.g. .mean())"
            )
        run.optimizer.zero_grad(set_to_none=True)
        # DDP averages gradients over ranks; weighting by rows makes that the
        # gradient of the global batch's mean loss, also when shares differ
        share = rows * distributed.world() / global_rows
        run.scaler.scale(loss * share if share != 1 else loss).backward()
        if c.clip_norm > 0:
            run.scaler.unscale_(run.optimizer)
            norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), c.clip_norm)
            tally.clipped += norm > c.clip_norm  # stays a tensor: no sync
        run.scaler.step(run.optimizer)
        run.scaler.update()
        if isinstance(run.schedule, torch.optim.lr_scheduler.LambdaLR):  # a per-step schedule
            run.schedule.step()
        if run.average:
            run.average.update()
        tally.add(loss, rows, loop.step_in_epoch)
        loop.step_in_epoch += 1
        loop.global_step += 1
        run.carried = _detach(state) if run.train.stateful else None

    def _after_step(self, run: _Run, tally: _Tally) -> None:
        """After a step: redraw the progress bar (a few times a second, since reading the
        loss waits for the device), advance the clocks and tell the step callbacks."""
        now = time.perf_counter()
        if now - tally.last_draw > 0.25:
            tally.last_draw = now
            self.progress.update(run.loop.step_in_epoch, {"loss": tally.loss()})
        run.loop.elapsed += now - tally.clock
        tally.seconds += now - tally.clock
        tally.clock = now
        for callback in self.step_callbacks:
            callback.on_step(self)

    def _out_of_time(self, loop: LoopState) -> bool:
        """Whether the time budget is spent; with DDP on every rank once on any, so that
        all ranks stop together."""
        budget = self.config.time_budget
        out_of_time = bool(budget) and loop.elapsed >= budget
        if budget and distributed.active():
            out_of_time = distributed.any_rank(out_of_time)
        return out_of_time

    def _out_of_steps(self, loop: LoopState) -> bool:
        """Whether ``max_steps`` optimizer steps are done (the same count on every rank)."""
        return bool(self.config.max_steps) and loop.global_step >= self.config.max_steps

    def _eval_due(self, loop: LoopState) -> bool:
        every = self.config.eval_every
        return bool(every) and loop.global_step % every == 0

    def _close_round(self, run: _Run, tally: _Tally, epoch_done: bool) -> None:
        """End a round; its validation counts as wall time toward the budget."""
        if epoch_done:
            run.carried = None
        started = time.perf_counter()
        self._end_of_round(run, tally, epoch_done)
        run.loop.elapsed += time.perf_counter() - started

    def _close_short_epoch(self, run: _Run, tally: _Tally) -> None:
        """The split ran out before ``steps_per_epoch``: end the epoch with a round if
        it trained on anything since the last one."""
        if tally.seen:
            run.carried = None
            self._end_of_round(run, tally, True)
        else:
            run.loop.epoch += 1
            run.loop.step_in_epoch = 0

    def _unfreeze(self, model: nn.Module, epoch: int) -> None:
        """Gradual unfreezing: the top layer group trains from the first epoch, one more
        group joins every ``unfreeze_epochs`` epochs."""
        every = self.config.unfreeze_epochs
        if not every or not isinstance(model, HasLayerGroups):
            return
        groups = model.layer_groups()
        active = min(len(groups), 1 + epoch // every)
        for depth, group in enumerate(groups):
            for param in group:
                param.requires_grad_(depth < active)

    # -- the end of a round ------------------------------------------------------------

    def _end_of_round(self, run: _Run, tally: _Tally, epoch_done: bool) -> None:
        """Validate, record, keep the best, decide whether to stop, checkpoint."""
        loop = run.loop
        train_loss = self._round_loss(run, tally)
        if epoch_done:
            loop.epoch += 1
            loop.step_in_epoch = 0
        record = self._record(run, tally, train_loss)
        score = record[run.key]
        if self._note_score(loop, score, record["epoch"], run.higher_is_better):
            self._keep_best(run, record["epoch"], score)
        self._step_schedule_per_round(run, score, epoch_done)
        reason = self._stop_reason(loop)
        if reason:
            loop.stop_reason, loop.done = reason, True
        record["elapsed"] = round(loop.elapsed, 3)
        record["stop_reason"] = loop.stop_reason if loop.done else ""
        self.history.append(record)
        self.progress.end_epoch(record, run.key)
        if distributed.is_main():
            self._save_last(run)
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)

    def _round_loss(self, run: _Run, tally: _Tally) -> float:
        """The round's mean training loss over all ranks (``tally.seen`` becomes the
        global count); a non-finite loss at any step raises :class:`TrainingDiverged`."""
        loss_sum, seen = distributed.all_sum(float(tally.loss_sum), tally.seen)
        train_loss = loss_sum / max(seen, 1)
        tally.seen = int(seen)
        if tally.bad_step() >= 0 or not math.isfinite(train_loss):
            loop = run.loop
            kept = (
                f"; the best checkpoint (epoch {loop.best_epoch:g}) is kept"
                if loop.best_epoch
                else ""
            )
            raise TrainingDiverged(
                f"training loss became {train_loss} in epoch {loop.epoch + 1}, "
                f"step {tally.bad_step() + 1}{kept}. "
                f"Try a lower train.lr (now {self.config.lr:g}) or train.clip_norm=1.0"
            )
        return train_loss

    def _record(self, run: _Run, tally: _Tally, train_loss: float) -> dict[str, Any]:
        """The round's history row, so far: where it ended, its training loss, the
        validation metrics (``val_*``), then learning rate, speed and clipping."""
        loop = run.loop
        epoch = loop.epoch + loop.step_in_epoch / run.steps_per_epoch
        record: dict[str, Any] = {
            "epoch": int(epoch) if epoch == int(epoch) else round(epoch, 4),
            "step": loop.global_step,
            "train_loss": train_loss,
        }
        if run.validate:
            record.update(self._validate(run))
        seconds = tally.seconds
        timesteps = tally.seen * run.timesteps_per_example
        record.update(
            lr=run.optimizer.param_groups[0]["lr"],
            seconds=round(seconds, 4),
            samples_per_s=tally.seen / seconds if seconds else float("nan"),
            timesteps_per_s=timesteps / seconds if seconds else float("nan"),
            gflops=3 * run.flops * timesteps / seconds / 1e9 if seconds else 0.0,
            clipped=loop.clipped + int(tally.clipped),
            data_share=round(tally.data_seconds / seconds, 4) if seconds else 0.0,
        )
        loop.clipped = record["clipped"]
        return record

    def _validate(self, run: _Run) -> dict[str, float]:
        """``validate(model)`` in eval mode without gradients, as ``val_*`` columns
        (of the averaged weights where ``train.ema`` keeps them)."""
        judged = run.judged
        judged.eval()
        with torch.no_grad(), self.autocast():
            metrics = run.validate(judged)
        run.model.train()
        columns = {f"val_{k}": float(v) for k, v in metrics.items()}
        if run.key not in columns:
            raise KeyError(f"validation metrics lack {run.primary!r}: {sorted(metrics)}")
        return columns

    def _note_score(self, loop: LoopState, score: float, epoch: float, higher: bool) -> bool:
        """Count a round's score toward early stopping; True when its weights become the
        best. A tie (a saturated accuracy) keeps the later weights, trained longer at a
        lower rate, but is no improvement: patience still runs out."""
        improved = loop.best is None or self._better(score, loop.best, higher)
        best = improved or score == loop.best
        if best:
            loop.best, loop.best_epoch = score, epoch
        loop.bad_rounds = 0 if improved else loop.bad_rounds + 1
        return best

    def _better(self, a: float, b: float, higher: bool) -> bool:
        delta = self.config.min_delta
        return a > b + delta if higher else a < b - delta

    def _keep_best(self, run: _Run, epoch: float, score: float) -> None:
        """The current weights (or their average) become the best: kept in memory and
        written to ``best.pt``."""
        run.best_state = copy.deepcopy(run.judged.state_dict())
        if distributed.is_main():
            self._save_best(run.best_state, epoch, score, run.key)

    def _step_schedule_per_round(self, run: _Run, score: float, epoch_done: bool) -> None:
        """Plateau follows every round's score; step decays at the end of an epoch."""
        if isinstance(run.schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            run.schedule.step(score)
        elif isinstance(run.schedule, torch.optim.lr_scheduler.StepLR) and epoch_done:
            run.schedule.step()

    def _stop_reason(self, loop: LoopState) -> str:
        """Why the fit stops after this round, "" to go on: the time budget comes first,
        then patience (rounds without improvement), then the planned epochs."""
        c = self.config
        if c.time_budget and loop.elapsed >= c.time_budget:
            return "time_budget"
        if c.max_steps and loop.global_step >= c.max_steps:
            return "max_steps"
        if c.patience and loop.bad_rounds >= c.patience:
            return "early_stopping"
        if loop.epoch >= c.epochs:
            return "epochs"
        return ""

    def _finish(self, run: _Run, keep_last: bool) -> FitResult:
        """Close the bar, unfreeze everything, load the best weights (unless
        ``keep_last``: the last ones, averaged where ``train.ema`` averages) and sum the
        fit up."""
        self.progress.close()
        for param in run.model.parameters():  # unfreezing is a training-time matter
            param.requires_grad_(True)
        if run.best_state is not None and not keep_last:
            run.model.load_state_dict(run.best_state)
        elif run.average:
            run.model.load_state_dict(run.average.module.state_dict())
        loop = run.loop
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

    # -- checkpoints -------------------------------------------------------------------

    def _save_best(self, state: dict[str, Tensor], epoch: float, metric: float, key: str) -> None:
        if self.checkpoint_dir:
            checkpoint.save(
                self.checkpoint_dir / checkpoint.BEST,
                {"model": state, "epoch": epoch, "metric": {key: metric}, **self.checkpoint_extra},
            )

    def _save_last(self, run: _Run) -> None:
        """Everything needed to resume, mid-epoch too."""
        if self.checkpoint_dir:
            carried = run.carried
            checkpoint.save(
                self.checkpoint_dir / checkpoint.LAST,
                {
                    "model": run.model.state_dict(),
                    "optimizer": run.optimizer.state_dict(),
                    "schedule": run.schedule.state_dict(),
                    "scaler": run.scaler.state_dict(),
                    "rng_shuffle": run.generator.get_state(),  # for the next epoch's order
                    "rng_epoch": run.epoch_rng,  # this epoch's order, to resume mid-epoch
                    "rng_torch": torch.get_rng_state(),
                    "loop": dataclasses.asdict(run.loop),
                    "carried": list(carried) if isinstance(carried, tuple) else carried,
                    "average": run.average.state_dict() if run.average else None,
                    "history": self.history,
                    **self.checkpoint_extra,
                },
            )


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


@runtime_checkable
class _CountsBatches(Protocol):
    """A split that knows how many batches an epoch has (the Split protocol does not ask)."""

    def num_batches(self, batch_size: int) -> int: ...


def _num_batches(split: Split, batch_size: int) -> int:
    if isinstance(split, _CountsBatches):
        return max(1, split.num_batches(batch_size))
    return max(1, -(-split.size // batch_size))


def _detach(state: Any) -> Any:
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def _as_state(saved: Any) -> Any:
    return tuple(saved) if isinstance(saved, list) else saved


def _check_same_config(saved: Any, now: Any, path: Path) -> None:
    """A run resumes with the configuration its checkpoint was written with: one edited or
    cut short in ``config.toml`` since would train another model on the saved weights."""
    if saved is None or now is None or saved == now:
        return
    from .rundir import CONFIG, first_difference

    raise UserError(
        f"{path.parent / CONFIG}: differs from the configuration {path.name} was written with "
        f"(at {first_difference(saved, now)}); restore it, or start a new run"
    )
