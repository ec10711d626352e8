"""The end of a run: evaluate the chosen weights, run the baselines, write
``metrics.json`` (last: it marks the run finished), the loss plot and the task's report,
and print the table of the model against its baselines."""

from __future__ import annotations

import copy
import time
from types import MappingProxyType
from typing import Any

import torch
from rich.console import Console

from . import __version__, atomic, distributed, plots, portable, report_html, rundir, tracking
from .console_tables import metrics_table
from .model import SequenceModel
from .task import Context, Evaluation, Prepared, Results, Task, as_evaluation


def finish(
    task: Task,
    ctx: Context,
    model: SequenceModel,
    prepared: Prepared,
    result: Any,
    threads: dict[str, Any] | None = None,
    loggers: list[Any] = (),
) -> dict[str, Any]:
    """Evaluate the best weights, run baselines, write metrics, plots, report, the portable
    ``model/`` and ``report.html``; print the table; tell the trackers the run is done."""
    with torch.no_grad():
        test = as_evaluation(task.evaluate(ctx, model, prepared, "test"))
        val = as_evaluation(task.evaluate(ctx, model, prepared, "val"))
    started = time.perf_counter()
    baselines = {k: as_evaluation(v) for k, v in task.baselines(ctx, prepared).items()}
    seconds = time.perf_counter() - started
    metrics = metrics_record(task, ctx, model, prepared, result, test, val, baselines)
    metrics["baseline_seconds"] = round(seconds, 3)
    metrics.update(threads or {"threads": torch.get_num_threads()})
    rundir.write_history(ctx.run_dir, result.history)
    key = f"val_{task.primary_metric}"
    plots.loss_plot(result.history, key, ctx.path("plots/loss.png"), result.best_epoch)
    frozen = MappingProxyType(copy.deepcopy(metrics))  # the report shows, never changes
    task.report(ctx, model, prepared, Results(frozen, test, MappingProxyType(baselines)))
    portable.write_model_dir(ctx.run_dir, model, metrics, tuple(task.model_files))
    report_html.write_run_report(ctx.run_dir, metrics)
    atomic.write_json(ctx.run_dir / rundir.METRICS, rundir.clean_json(metrics))  # last
    tracking.finish_all(list(loggers), metrics, ctx.console)
    show_metrics(
        ctx.console, task, ctx, metrics, f"{task.name} on {prepared.dataset} {part(prepared)}"
    )
    ctx.console.print(f"run directory: {ctx.run_dir}")
    return metrics


def metrics_record(
    task: Task,
    ctx: Context,
    model: SequenceModel,
    prepared: Prepared,
    result: Any,
    test: Evaluation,
    val: Evaluation,
    baselines: dict[str, Evaluation],
) -> dict[str, Any]:
    """What ``metrics.json`` holds (the schema of docs/DESIGN's CLI contract, extended)."""
    counts = model.parameter_counts()
    return {
        "task": task.name,
        "dataset": prepared.dataset,
        "seed": ctx.seed,
        "primary_metric": task.primary_metric,
        "higher_is_better": task.higher_is_better,
        "model": test.name or model_label(ctx),
        "test": test.metrics,
        "val": val.metrics,
        "baselines": {name: b.metrics for name, b in baselines.items()},
        "data": prepared.info,
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
        "device": ctx.device.type,
        "precision": result.precision,
        "peak_memory_mb": peak_memory_mb(ctx.device),
        "processes": distributed.world(),
        "seqsuite_version": __version__,
    }


def model_label(ctx: Context) -> str:
    """What the model is called in tables: its cell (``lstm``, ``gru``; ``bilstm`` when
    bidirectional)."""
    backbone = ctx.config.backbone
    return ("bi" if backbone.bidirectional else "") + backbone.cell


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process: accelerator memory on CUDA, resident memory on CPU."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def show_metrics(
    console: Console, task: Task, ctx: Context, metrics: dict[str, Any], title: str
) -> None:
    """The model's test metrics above its baselines', the best primary value in bold."""
    baselines = metrics.get("baselines", {})
    label = metrics.get("model") or model_label(ctx)
    rows = {label if label not in baselines else f"{label} (model)": metrics["test"]}
    rows.update(baselines)
    table = metrics_table(title, rows, task.primary_metric, task.higher_is_better, console.width)
    console.print(table)


def part(prepared: Any) -> str:
    """What the reported figures were measured on: a task that holds out no test part
    (a language model for transfer scores its validation texts) says so."""
    return "(validation; no separate test part)" if prepared.test is prepared.val else "(test)"
