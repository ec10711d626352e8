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
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from . import __version__, atomic, checkpoint, distributed, plots, runs
from . import config as configs
from .config import RunConfig
from .devices import resolve_device, seed_everything
from .errors import UserError
from .model import SequenceModel
from .progress import make_progress
from .registry import get_task
from .tables import metrics_table
from .task import Context, Prepared, Task
from .trainer import Trainer
from .transfer import load_backbone, load_source

REFIT = "refit.pt"  # weights retrained on train+val (train.refit); evaluated instead of best.pt


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    model: SequenceModel | None = None
    prepared: Prepared | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _console(quiet: bool) -> Console:
    return Console(quiet=quiet, highlight=False)


def build_model(task: Task, ctx: Context, spec: dict[str, Any]) -> SequenceModel:
    """The task's adapter, the shared backbone from ``[backbone]``, the task's head."""
    from .backbone import Backbone

    adapter = task.input_adapter(ctx, spec)
    backbone = Backbone(adapter.output_size, ctx.config.backbone)
    head = task.head(ctx, spec, backbone.output_size)
    model = SequenceModel(adapter, backbone, head)
    task.finish_model(ctx, model)
    return model


class _HistoryWriter:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        runs.write_history(self.run_dir, trainer.history)


def run(
    task_name: str,
    *,
    config_files: list[str | Path] = (),
    sets: list[str] = (),
    epochs: int | None = None,
    time_budget: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    data: str | None = None,
    dataset: str | None = None,
    init_from: str | None = None,
    out: str | Path | None = None,
    runs_root: str | Path = "runs",
    quiet: bool = False,
    callbacks: list[Any] = (),
    quick: bool = False,
) -> RunResult:
    """Train and evaluate ``task_name``; returns its run directory and metrics.

    ``quick`` applies the task's ``quick`` preset (fewer epochs or less data) under any
    config files and ``--set`` pairs: a smoke run in minutes."""
    task = get_task(task_name)
    flags = {
        "run": {
            "seed": seed,
            "device": device,
            "data": str(Path(data).resolve()) if data else None,
            "dataset": dataset,
            "init_from": str(Path(init_from).resolve()) if init_from else None,
        },
        "train": {"epochs": epochs, "time_budget": time_budget},
    }
    if data and dataset is None:
        flags["run"]["dataset"] = ""
    source = load_source(init_from) if init_from else None
    # the source's backbone is the default here, so that its weights fit
    base = [({"backbone": source.backbone}, f"--init-from {init_from}")] if source else []
    if quick:
        base.append((getattr(task, "quick", {}) or {}, f"task {task.name!r} quick preset"))
    config = configs.resolve(task, config_files, sets, flags, base)
    device = distributed.local_device(resolve_device(config.run.device))
    distributed.init(device)
    quiet = quiet or not distributed.is_main()
    console = _console(quiet)
    ctx = Context(config=config, device=device, console=console, quiet=quiet, source=source)
    seed_everything(config.run.seed)
    prepared = task.prepare(ctx)

    config_dict = config.to_dict()
    status, run_dir = "new", None
    if distributed.is_main():  # only rank 0 creates and writes the run directory
        if out is not None:
            status = runs.claim_out_dir(out, config_dict)
            run_dir = Path(out)
        else:
            run_dir = runs.new_run_dir(task.name, runs_root)
    status, run_dir = distributed.broadcast((status, str(run_dir)))
    run_dir = Path(run_dir)
    if status == "finished":
        console.print(f"{run_dir} already holds this finished run")
        return RunResult(run_dir, runs.read_json(run_dir / runs.METRICS, "metrics"))
    if status == "resume":
        return resume(run_dir, quiet=quiet, callbacks=callbacks)

    ctx.run_dir = run_dir
    ctx.state = prepared.state  # from here on, hooks read the fitted state from the context
    with contextlib.ExitStack() as held:
        if distributed.is_main():
            held.enter_context(runs.RunLock(run_dir))  # refuses a second process on this run
        model = _start(task, ctx, prepared, config, source, console)
        return _train_and_finish(
            task, ctx, model, prepared, resume_training=False, callbacks=callbacks
        )


def _start(
    task: Task, ctx: Context, prepared: Prepared, config: RunConfig, source: Any, console: Console
) -> SequenceModel:
    """Write the run's config and state, build the model (from --init-from's backbone)."""
    run_dir = ctx.run_dir
    try:
        if distributed.is_main():
            atomic.write_text(run_dir / runs.CONFIG, config.to_toml())
            atomic.write_json(
                run_dir / runs.STATE,
                {"spec": prepared.spec, "state": prepared.state, "dataset": prepared.dataset},
            )
        model = build_model(task, ctx, prepared.spec)
        if source:
            load_backbone(model, source)
            carried = task.transfer(ctx, model, prepared, source)
            console.print(f"backbone from {source.path}" + (f"; {carried}" if carried else ""))
    except BaseException:
        if distributed.is_main():
            shutil.rmtree(
                run_dir, ignore_errors=True
            )  # nothing worth keeping yet (lock file included)
        raise
    return model


def _load_context(run_dir: str | Path, quiet: bool) -> tuple[Task, Context, dict[str, Any]]:
    run_dir = Path(run_dir)
    raw = runs.read_config(run_dir)
    task = get_task(raw.get("run", {}).get("task", ""))
    try:
        config: RunConfig = configs.from_dict(task, raw)
    except UserError as err:
        raise UserError(f"{run_dir / runs.CONFIG}: {err}") from None
    saved = runs.read_json(run_dir / runs.STATE, "task state")
    ctx = Context(
        config=config,
        device=resolve_device(config.run.device),
        console=_console(quiet),
        run_dir=run_dir,
        state=saved.get("state", {}),
        quiet=quiet,
    )
    return task, ctx, saved


def resume(run_dir: str | Path, *, quiet: bool = False, callbacks: list[Any] = ()) -> RunResult:
    """Continue an interrupted run from its ``last.pt``; a finished run is left as it is."""
    task, ctx, saved = _load_context(run_dir, quiet)
    ctx.device = distributed.local_device(ctx.device)
    distributed.init(ctx.device)
    if not distributed.is_main():
        ctx.quiet, ctx.console = True, _console(True)
    with contextlib.ExitStack() as held:
        if distributed.is_main():
            held.enter_context(runs.RunLock(ctx.run_dir))  # a second resume of this run is refused
        return _resume_locked(task, ctx, saved, callbacks)


def _resume_locked(
    task: Task, ctx: Context, saved: dict[str, Any], callbacks: list[Any]
) -> RunResult:
    if runs.is_finished(ctx.run_dir):
        ctx.console.print(f"{ctx.run_dir} is already finished")
        return RunResult(ctx.run_dir, runs.read_json(ctx.run_dir / runs.METRICS, "metrics"))
    seed_everything(ctx.seed)
    if ctx.config.run.init_from and ctx.config.train.refit:
        ctx.source = load_source(ctx.config.run.init_from)  # the refit starts from it again
    prepared = task.prepare(ctx)
    model = build_model(task, ctx, saved["spec"])
    has_checkpoint = (ctx.run_dir / checkpoint.LAST).exists()
    return _train_and_finish(
        task, ctx, model, prepared, resume_training=has_checkpoint, callbacks=callbacks
    )


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
    extra = {
        "seqsuite_version": __version__,
        "task": task.name,
        "config": config.to_dict(),
        "spec": prepared.spec,
    }
    trainer = Trainer(
        config.train,
        ctx.device,
        seed=ctx.seed,
        checkpoint_dir=run_dir,
        checkpoint_extra=extra,
        progress=make_progress(ctx.quiet),
        callbacks=[_HistoryWriter(run_dir), *callbacks],
    )
    sizes = prepared.summary or (
        f"{prepared.train.size} train / {prepared.val.size} val / {prepared.test.size} test examples"
    )
    ctx.console.print(
        f"[bold]{task.name}[/] on {prepared.dataset or 'data'}: {sizes}, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters, {ctx.device.type} -> {run_dir}"
    )
    try:
        result = trainer.fit(
            model,
            prepared.train,
            task.loss,
            lambda m: task.evaluate(ctx, m, prepared, "val"),
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
    metrics = finish(task, ctx, model, prepared, result)
    return RunResult(run_dir, metrics, model, prepared)


def refit(task: Task, ctx: Context, prepared: Prepared, result: Any) -> SequenceModel:
    """Retrain from scratch on train+val for the epoch count early stopping chose.

    Deterministic (same seed), so ``resume`` simply does it again. The weights go to
    ``refit.pt``, which ``eval`` and ``predict`` then use instead of ``best.pt``.
    """
    if prepared.refit_train is None:
        raise UserError(f"train.refit: task {task.name!r} provides no train+val split to refit on")
    seed_everything(ctx.seed)
    model = build_model(task, ctx, prepared.spec)
    if ctx.source:
        load_backbone(model, ctx.source)
        task.transfer(ctx, model, prepared, ctx.source)
    settings = dataclasses.replace(
        ctx.config.train, epochs=max(1, result.best_epoch), patience=0, time_budget=0.0
    )
    ctx.console.print(f"refit on train+val for {settings.epochs} epochs")
    Trainer(settings, ctx.device, seed=ctx.seed, progress=make_progress(ctx.quiet)).fit(
        model, prepared.refit_train, task.loss, keep_last=True
    )
    checkpoint.save(ctx.run_dir / REFIT, {"model": model.state_dict(), "epoch": settings.epochs})
    return model


def finish(
    task: Task, ctx: Context, model: SequenceModel, prepared: Prepared, result: Any
) -> dict[str, Any]:
    """Evaluate the best weights, run baselines, write metrics, plots, report; print the table."""
    run_dir = ctx.run_dir
    with torch.no_grad():
        test = task.evaluate(ctx, model, prepared, "test")
        val = task.evaluate(ctx, model, prepared, "val")
    started = time.perf_counter()
    baselines = task.baselines(ctx, prepared)
    baseline_seconds = time.perf_counter() - started
    counts = model.parameter_counts()
    metrics = {
        "task": task.name,
        "dataset": prepared.dataset,
        "seed": ctx.seed,
        "primary_metric": task.primary_metric,
        "higher_is_better": task.higher_is_better,
        "test": test,
        "val": val,
        "baselines": baselines,
        "params": counts["total"],
        "params_by_part": counts,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stop_reason": result.stop_reason,
        "train_seconds": round(result.train_seconds, 3),
        "samples_per_second": result.samples_per_second,
        "timesteps_per_second": result.timesteps_per_second,
        "data_share": result.data_share,
        "clipped_steps": result.clipped_steps,
        "baseline_seconds": round(baseline_seconds, 3),
        "device": ctx.device.type,
        "precision": result.precision,
        "peak_memory_mb": peak_memory_mb(ctx.device),
        "processes": distributed.world(),
        "seqsuite_version": __version__,
    }
    runs.write_history(run_dir, result.history)
    key = f"val_{task.primary_metric}"
    plots.loss_plot(result.history, key, ctx.path("plots/loss.png"), result.best_epoch)
    task.report(ctx, model, prepared, metrics)
    atomic.write_json(
        run_dir / runs.METRICS, runs.clean_json(metrics)
    )  # last: marks the run finished
    show_metrics(ctx.console, task, metrics, f"{task.name} on {prepared.dataset} (test)")
    ctx.console.print(f"run directory: {run_dir}")
    return metrics


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process: accelerator memory on CUDA, resident memory on CPU."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def show_metrics(console: Console, task: Task, metrics: dict[str, Any], title: str) -> None:
    rows = {"lstm" if "lstm" not in metrics.get("baselines", {}) else "model": metrics["test"]}
    rows.update(metrics.get("baselines", {}))
    console.print(metrics_table(title, rows, task.primary_metric, task.higher_is_better))


def load(
    run_dir: str | Path, *, quiet: bool = False, data: str | None = None
) -> tuple[Task, Context, SequenceModel, dict[str, Any]]:
    """A finished (or interrupted) run's task, context and best model, ready for inference."""
    task, ctx, saved = _load_context(run_dir, quiet)
    if data is not None:
        ctx.config.run.data = str(Path(data).resolve())
        ctx.config.run.dataset = ""
    model = build_model(task, ctx, saved["spec"])
    chosen = REFIT if ctx.config.train.refit and (ctx.run_dir / REFIT).exists() else checkpoint.BEST
    weights = checkpoint.load(ctx.run_dir / chosen, map_location=ctx.device)
    model.load_state_dict(weights["model"])
    model.to(ctx.device).eval()
    return task, ctx, model, saved


def evaluate(
    run_dir: str | Path, *, data: str | None = None, quiet: bool = False
) -> dict[str, Any]:
    """Re-evaluate a run's best weights on its test split (or on the test split of ``data``)."""
    task, ctx, model, _ = load(run_dir, quiet=quiet, data=data)
    seed_everything(ctx.seed)
    prepared = task.prepare(ctx)
    with torch.no_grad():
        test = task.evaluate(ctx, model, prepared, "test")
    metrics = {
        "task": task.name,
        "dataset": prepared.dataset,
        "data": ctx.config.run.data,
        "primary_metric": task.primary_metric,
        "higher_is_better": task.higher_is_better,
        "test": test,
        "baselines": task.baselines(ctx, prepared),
    }
    atomic.write_json(ctx.run_dir / "eval.json", runs.clean_json(metrics))
    show_metrics(
        ctx.console,
        task,
        metrics,
        f"{task.name} on {prepared.dataset or ctx.config.run.data} (test)",
    )
    return metrics


def predict(
    run_dir: str | Path, inputs: list[str], options: dict[str, Any], *, quiet: bool = False
) -> list[dict[str, Any]]:
    task, ctx, model, _ = load(run_dir, quiet=quiet)
    with torch.no_grad():
        return task.predict(ctx, model, list(inputs), options)


def generate(
    run_dir: str | Path, options: dict[str, Any], *, quiet: bool = False
) -> dict[str, Any]:
    task, ctx, model, _ = load(run_dir, quiet=quiet)
    seed_everything(int(options.get("seed", ctx.seed)))
    with torch.no_grad():
        return task.generate(ctx, model, options)


def export(
    run_dir: str | Path, fmt: str, out: str | Path | None = None, *, quiet: bool = False
) -> dict[str, Any]:
    """Write a run's best model as ONNX or TorchScript (see :mod:`seqsuite.export`)."""
    from .export import export as write

    task, ctx, model, saved = load(run_dir, quiet=quiet)
    suffix = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}.get(fmt)
    if suffix is None:
        raise UserError(f"--format {fmt!r}: expected onnx or torchscript")
    target = Path(out) if out else ctx.run_dir / "export" / suffix
    description = write(model, task, ctx, saved["spec"], fmt, target)
    ctx.console.print(
        f"wrote {target} and {target.name}.json ({', '.join(description['inputs'])} + state in; "
        f"{', '.join(description['outputs'])} out)"
    )
    return {"path": str(target), **description}
