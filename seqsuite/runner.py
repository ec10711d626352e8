"""Whole runs for any task: ``run``, ``resume``, ``evaluate``, ``predict``, ``generate``.

This is the Python API behind the CLI (which only parses, calls these and prints).
The flow of :func:`run`::

    config  ->  task.prepare  ->  run directory  ->  adapter + backbone + head
            ->  Trainer.fit (checkpoints, history)  ->  evaluate best weights on val/test
            ->  baselines  ->  metrics.json (last)  ->  loss plot + task report + table
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from . import __version__, atomic, checkpoint, distributed, hub, rundir, threads, tracking
from . import config as configs
from .assembly import REFIT, build_model, load_context
from .assembly import console as console_for
from .config import RunConfig
from .devices import resolve_device, seed_everything
from .errors import UserError
from .input_files import resolved
from .model import SequenceModel
from .progress import make_progress
from .registry import get_task
from .reporting import finish
from .task import Context, DataFiles, Prepared, Task, as_evaluation
from .trainer import Trainer
from .transfer import load_backbone, load_source


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    model: SequenceModel | None = None
    prepared: Prepared | None = None


class _HistoryWriter:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        rundir.write_history(self.run_dir, trainer.history)


def run(
    task_name: str,
    *,
    config_files: list[str | Path] = (),
    sets: list[str] = (),
    epochs: int | None = None,
    time_budget: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    threads: int | None = None,
    data: str | None = None,
    dataset: str | None = None,
    init_from: str | None = None,
    out: str | Path | None = None,
    runs_root: str | Path = "runs",
    quiet: bool = False,
    callbacks: list[Any] = (),
    quick: bool = False,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> RunResult:
    """Train and evaluate ``task_name``; returns its run directory and metrics.

    ``quick`` applies the task's ``quick`` preset (fewer epochs or less data) under any
    config files and ``--set`` pairs: a smoke run in minutes. ``overrides`` are settings
    by section (``{"train": {"epochs": 5}}``, as ``seqsuite.fit`` passes them), above the
    presets and below config files and ``--set``. A Hugging Face data set in ``dataset``
    (``owner/name``, or a folder saved with ``save_to_disk``) is written once in the
    task's own format (:mod:`seqsuite.memory`) and read from there."""
    task = get_task(task_name)
    source = load_source(init_from) if init_from else None
    flags = {
        "run": {
            "seed": seed,
            "device": device,
            "threads": threads,
            "data": str(resolved(data)) if data else None,
            "dataset": dataset if dataset is not None or not data else "",
            "init_from": str(resolved(source.path)) if source else None,
        },
        "train": {"epochs": epochs, "time_budget": time_budget},
    }
    # the source's backbone is the default here, so that its weights fit
    base = [({"backbone": source.backbone}, f"--init-from {init_from}")] if source else []
    if quick:
        base.append((getattr(task, "quick", {}) or {}, f"task {task.name!r} quick preset"))
    base.append((overrides or {}, "keyword arguments"))
    config, hub_files = _resolve(task, config_files, sets, flags, base)
    tracking.check_available(config.run.log)  # before the data is read and a folder made
    device = distributed.local_device(resolve_device(config.run.device))
    with contextlib.ExitStack() as held:
        held.enter_context(distributed.group(device))
        quiet = quiet or not distributed.is_main()
        ctx = Context(
            config=config, device=device, console=console_for(quiet), quiet=quiet, source=source
        )
        seed_everything(config.run.seed)
        prepared = task.prepare(ctx)
        if hub_files is not None:  # named as the user named it, not by its cache folder
            prepared.dataset = config.run.dataset
            prepared.info = {**prepared.info, "hub": hub_files.info}
        status, run_dir = _claim_run_dir(task, config, out, runs_root)
        if status == "finished":
            ctx.console.print(f"{run_dir} already holds this finished run")
            return RunResult(run_dir, rundir.read_metrics(run_dir))
        if status == "resume":
            return resume(run_dir, quiet=quiet, callbacks=callbacks)
        ctx.run_dir = run_dir
        ctx.state = prepared.state  # from here on, hooks read the fitted state from the context
        if distributed.is_main():
            held.enter_context(rundir.RunLock(run_dir))  # refuses a second process on this run
        model = _start(task, ctx, prepared, config, source, ctx.console)
        return _train_and_finish(
            task, ctx, model, prepared, resume_training=False, callbacks=callbacks
        )


def _resolve(task: Task, config_files, sets, flags: dict, layers: list) -> tuple[RunConfig, Any]:
    """The run's configuration; with a Hugging Face data set in ``run.dataset``, that data
    set written in the task's format, its files as ``run.data`` and its settings (the data
    set's own splits) under the user's (returned too: None otherwise)."""
    config = configs.resolve(task, config_files, sets, flags, layers)
    if config.run.data or not hub.is_dataset_ref(config.run.dataset):
        return config, None
    hub_files = hub_data(task, config)
    flags["run"]["data"] = hub_files.path
    data_layer = (hub_files.settings, f"--dataset {config.run.dataset}")
    config = configs.resolve(
        task, config_files, sets, flags, [*layers[:-1], data_layer, layers[-1]]
    )
    return config, hub_files


def hub_data(task: Task, config: RunConfig) -> Any:
    """The Hugging Face data set ``config.run.dataset`` in the task's own format, written
    once into the cache (keyed by the data set, its revision or saved files, the reading
    settings and the task's options) so that later runs, ``eval`` and ``resume`` read the
    same files. Returns :class:`~seqsuite.task.DataFiles` with ``info`` added."""
    import os

    from .cache import cache_dir, key_hash
    from .memory import materialise

    ref, settings = config.run.dataset, config.data
    stamp = None
    if hub.is_saved_dataset(ref):
        files = sorted(Path(ref).rglob("*"))
        stamp = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.is_file()]
        ref = str(resolved(ref))
    key = {
        "dataset": ref,
        "saved": stamp,
        "streaming": settings.streaming,
        "max_rows": settings.max_rows,
        "task": task.name,
        "options": config.to_dict()["task"],
        "format": 1,
    }
    folder = cache_dir() / "hub-data" / f"{task.name}-{key_hash(key)}"
    done = folder / "done.json"
    if not done.exists():
        table = hub.load_table(ref, settings.max_rows, settings.streaming)
        ctx = Context(config=config, device=resolve_device("cpu"), console=console_for(True))
        staging = folder.with_name(folder.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        written = materialise(task, ctx, table, staging, table.name)
        relative = Path(written.path).resolve().relative_to(staging.resolve())
        atomic.write_json(
            staging / "done.json",
            {"path": str(relative), "settings": written.settings, "info": table.info},
        )
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    record = json.loads(done.read_text(encoding="utf-8"))
    return DataFiles(str(folder / record["path"]), record["settings"], record["info"])


def default_config(task: Task) -> dict[str, Any] | None:
    """The task's configuration with nothing set (None if the task's config cannot be
    built without settings): what a run made by an earlier version, which lacks a
    later version's settings, is compared with."""
    try:
        return configs.from_dict(task, {"run": {"task": task.name}}).to_dict()
    except UserError:
        return None


def _claim_run_dir(
    task: Task, config: RunConfig, out: str | Path | None, runs_root: str | Path
) -> tuple[str, Path]:
    """The run directory (``--out`` or a new one under ``runs_root``) and whether it is
    ``new``, to ``resume`` or already ``finished``; decided by rank 0, told to all."""
    status, run_dir = "new", None
    if distributed.is_main():  # only rank 0 creates and writes the run directory
        if out is not None:
            status = rundir.claim_out_dir(out, config.to_dict(), default_config(task))
            run_dir = Path(out)
        else:
            run_dir = rundir.new_run_dir(task.name, runs_root)
    status, run_dir = distributed.broadcast((status, str(run_dir)))
    return status, Path(run_dir)


def _start(
    task: Task, ctx: Context, prepared: Prepared, config: RunConfig, source: Any, console: Console
) -> SequenceModel:
    """Write the run's config and state, build the model (from --init-from's backbone)."""
    run_dir = ctx.run_dir
    try:
        if distributed.is_main():
            atomic.write_text(run_dir / rundir.CONFIG, config.to_toml())
            rundir.write_data_stamp(run_dir, str(config.run.data or ""))
            rundir.write_state(run_dir, prepared.spec, prepared.state, prepared.dataset)
        model = build_model(task, ctx, prepared.spec)
        for note in _initialise(task, ctx, model, prepared, source):
            console.print(note)
    except BaseException:
        if distributed.is_main():
            rundir.discard_new(run_dir)  # what it wrote; never the user's files
        raise
    return model


def _initialise(
    task: Task, ctx: Context, model: SequenceModel, prepared: Prepared, source: Any
) -> list[str]:
    """A new model's starting weights: the task's own (word vectors, naive-Bayes ratios),
    then ``--init-from``'s backbone and what the task carries over from it; the notes."""
    notes = [task.initialise(ctx, model, prepared)]
    if source:
        load_backbone(model, source)
        carried = task.transfer(ctx, model, prepared, source)
        notes.append(f"backbone from {source.path}" + (f"; {carried}" if carried else ""))
    return [note for note in notes if note]


def resume(run_dir: str | Path, *, quiet: bool = False, callbacks: list[Any] = ()) -> RunResult:
    """Continue an interrupted run from its ``last.pt``; a finished run is left as it is."""
    task, ctx, saved = load_context(run_dir, quiet)
    ctx.device = distributed.local_device(ctx.device)
    with contextlib.ExitStack() as held:
        held.enter_context(distributed.group(ctx.device))
        if distributed.is_main():  # a second resume of this run is refused
            held.enter_context(rundir.RunLock(ctx.run_dir))
        else:
            ctx.quiet, ctx.console = True, console_for(True)
        return _resume_locked(task, ctx, saved, callbacks)


def _resume_locked(
    task: Task, ctx: Context, saved: dict[str, Any], callbacks: list[Any]
) -> RunResult:
    if rundir.is_finished(ctx.run_dir):
        ctx.console.print(f"{ctx.run_dir} is already finished")
        return RunResult(ctx.run_dir, rundir.read_metrics(ctx.run_dir))
    data = str(ctx.config.run.data or "")
    if data and rundir.data_changed(ctx.run_dir, Path(data)):
        raise UserError(
            f"{ctx.run_dir}: its data {data} changed after the run started; resuming would "
            "go on training on other data (and split it anew); start a new run"
        )
    seed_everything(ctx.seed)
    has_checkpoint = (ctx.run_dir / checkpoint.LAST).exists()
    if ctx.config.run.init_from and (ctx.config.train.refit or not has_checkpoint):
        ctx.source = load_source(ctx.config.run.init_from)  # the model (or refit) starts from it
    if not has_checkpoint:
        return _restart(task, ctx, saved, callbacks)
    prepared = task.prepare(ctx)
    model = build_model(task, ctx, saved["spec"])
    return _train_and_finish(task, ctx, model, prepared, resume_training=True, callbacks=callbacks)


def _restart(task: Task, ctx: Context, saved: dict[str, Any], callbacks: list[Any]) -> RunResult:
    """A run stopped before its first checkpoint starts again as ``run`` started it: the
    data prepared as for a new run (word vectors matched, ...), the model initialised the
    same way; if the data no longer gives the model the run began with, it is refused."""
    ctx.state = None
    prepared = task.prepare(ctx)
    if json.loads(json.dumps(prepared.spec)) != saved["spec"]:
        raise UserError(
            f"{ctx.run_dir}: its data changed since the run started (the model it gives "
            "differs) and no checkpoint was written yet; start a new run"
        )
    ctx.state = prepared.state
    model = build_model(task, ctx, prepared.spec)
    for note in _initialise(task, ctx, model, prepared, ctx.source):
        ctx.console.print(note)
    return _train_and_finish(task, ctx, model, prepared, resume_training=False, callbacks=callbacks)


def _train_and_finish(
    task: Task,
    ctx: Context,
    model: SequenceModel,
    prepared: Prepared,
    *,
    resume_training: bool,
    callbacks: list[Any],
) -> RunResult:
    config, run_dir = ctx.config, ctx.run_dir
    if resume_training and distributed.is_main():
        if dropped := rundir.drop_stale_results(run_dir):
            ctx.console.print(
                f"[dim]removed {' and '.join(dropped)}: made from an earlier checkpoint[/]"
            )
    step_flops = model.flops_per_timestep() * config.train.batch_size
    requested = config.run.threads
    if not requested and distributed.world() > 1:  # ranks share the CPUs
        requested = max(1, threads.available_cpus() // distributed.world())
    loggers = (
        tracking.make_loggers(config.run.log, run_dir, config.to_dict(), task.name)
        if distributed.is_main()
        else []
    )
    with threads.threads_for(requested, step_flops) as (plan, rebalance):
        trainer = Trainer(
            config.train,
            ctx.device,
            seed=ctx.seed,
            checkpoint_dir=run_dir,
            checkpoint_extra={
                "seqsuite_version": __version__,
                "task": task.name,
                "config": config.to_dict(),
                "spec": prepared.spec,
            },
            config_defaults=default_config(task),
            progress=make_progress(ctx.quiet),
            callbacks=[
                _HistoryWriter(run_dir),
                *loggers,
                *([rebalance] if rebalance else []),
                *callbacks,
            ],
        )
        _announce(task, ctx, model, prepared, plan)
        try:
            result = trainer.fit(
                model,
                prepared.train,
                task.loss,
                lambda m: as_evaluation(task.evaluate(ctx, m, prepared, "val")).metrics,
                primary=task.primary_metric,
                higher_is_better=task.higher_is_better,
                resume=resume_training,
            )
            if config.train.refit:
                model = refit(task, ctx, prepared, result)
        except KeyboardInterrupt:
            ctx.console.print(f"interrupted; continue with: seqsuite resume {run_dir}")
            raise
        model.eval()
        if not distributed.is_main():
            return RunResult(run_dir, {}, model, prepared)  # rank 0 evaluates and reports
        metrics = finish(task, ctx, model, prepared, result, plan.as_json(), loggers)
    return RunResult(run_dir, metrics, model, prepared)


def _announce(
    task: Task, ctx: Context, model: SequenceModel, prepared: Prepared, plan: threads.ThreadPlan
) -> None:
    """One line before training: the data, the model's size, where it runs."""
    sizes = prepared.summary or (
        f"{prepared.train.size} train / {prepared.val.size} val / {prepared.test.size} test examples"
    )
    params = sum(p.numel() for p in model.parameters())
    ctx.console.print(
        f"[bold]{task.name}[/] on {prepared.dataset or 'data'}: {sizes}, {params:,} parameters, "
        f"{ctx.device.type} ({plan.threads} thread{'s' if plan.threads > 1 else ''}) -> {ctx.run_dir}"
    )


def refit(task: Task, ctx: Context, prepared: Prepared, result: Any) -> SequenceModel:
    """Retrain from scratch on train+val for the epoch count early stopping chose.

    Deterministic (same seed), so ``resume`` simply does it again. The weights go to
    ``refit.pt``, which ``eval`` and ``predict`` then use instead of ``best.pt``.
    """
    if prepared.refit_train is None:
        raise UserError(f"train.refit: task {task.name!r} provides no train+val split to refit on")
    seed_everything(ctx.seed)
    model = build_model(task, ctx, prepared.spec)
    _initialise(task, ctx, model, prepared, ctx.source)
    settings = dataclasses.replace(
        ctx.config.train, epochs=max(1, result.best_epoch), patience=0, time_budget=0.0
    )
    ctx.console.print(f"refit on train+val for {settings.epochs} epochs")
    Trainer(settings, ctx.device, seed=ctx.seed, progress=make_progress(ctx.quiet)).fit(
        model, prepared.refit_train, task.loss, keep_last=True
    )
    checkpoint.save(ctx.run_dir / REFIT, {"model": model.state_dict(), "epoch": settings.epochs})
    return model
