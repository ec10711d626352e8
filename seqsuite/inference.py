"""Using a trained run: ``eval``, ``predict``, ``generate`` and ``export``.

Each loads the run's task, saved state and evaluated weights (:func:`assembly.load`)
and hands them to the task's hook; nothing here is specific to a task.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Any

import torch

from . import atomic, rundir
from .assembly import LoadedRun, load
from .devices import seed_everything
from .errors import UserError
from .input_files import resolved
from .reporting import model_label, part, show_metrics
from .task import as_evaluation
from .threads import threads_for


@contextlib.contextmanager
def cpu_share(loaded: LoadedRun, requested: int = 0):
    """Run inference on the threads a training run of this model would get, and hold a
    claim on them as training does, so that a run training beside it makes room (and this
    does not run two threads per core against it). ``requested`` (``--threads``) or
    ``OMP_NUM_THREADS`` decide when given."""
    step_flops = loaded.model.flops_per_timestep() * loaded.ctx.config.train.batch_size
    with threads_for(requested, step_flops) as (plan, _rebalance):
        yield plan


def evaluate(
    run_dir: str | Path, *, data: str | None = None, quiet: bool = False, threads: int = 0
) -> dict[str, Any]:
    """Re-evaluate a run's weights on its own test split, or on the whole of ``data`` read
    with the run's saved state (``Task.prepare_eval``: no new split, nothing refitted;
    baselines need training data, so they are not run there, and the output says so)."""
    loaded = load(run_dir, quiet=quiet)
    with cpu_share(loaded, threads):
        return _evaluate(loaded, data)


def _evaluate(loaded: LoadedRun, data: str | None) -> dict[str, Any]:
    task, ctx, model = loaded.task, loaded.ctx, loaded.model
    seed_everything(ctx.seed)
    if data is not None:
        ctx.config.run.data = str(resolved(data))
        ctx.config.run.dataset = ""
        prepared = task.prepare_eval(ctx)
    else:
        prepared = task.prepare(ctx)
    with torch.no_grad():
        test = as_evaluation(task.evaluate(ctx, model, prepared, "test"))
    metrics: dict[str, Any] = {
        "task": task.name,
        "dataset": prepared.dataset,
        "data_path": ctx.config.run.data,
        "primary_metric": task.primary_metric,
        "higher_is_better": task.higher_is_better,
        "model": test.name or model_label(ctx),
        "test": test.metrics,
        "data": prepared.info,
    }
    if data is None:
        baselines = {k: as_evaluation(v).metrics for k, v in task.baselines(ctx, prepared).items()}
        metrics["baselines"] = baselines
    else:
        metrics["baselines"] = {}
        metrics["baselines_note"] = "baselines are fitted on a run's training split; none on --data"
    saved = _save_beside(ctx.run_dir / rundir.EVAL_FILE, rundir.clean_json(metrics))
    where = prepared.dataset or ctx.config.run.data
    show_metrics(ctx.console, task, ctx, metrics, f"{task.name} on {where} {part(prepared)}")
    if saved:
        ctx.console.print(f"[dim]{saved}[/]")
    if data is not None:
        ctx.console.print(f"[dim]{metrics['baselines_note']}[/]")
    return metrics


def check_predict_options(task: Any, options: dict[str, Any]) -> None:
    """Every ``--option`` must be one the task declares (``Task.predict_options``);
    ``data`` (``predict --data FILE``) is every task's."""
    import difflib

    known = getattr(task, "predict_options", {}) or {}
    for key in options:
        if key == "data":
            continue
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            accepted = ", ".join(sorted(known)) or "none"
            raise UserError(
                f"--option {key}: unknown for task {task.name!r}; {hint}accepted: {accepted}"
            )


def predict(
    run_dir: str | Path,
    inputs: list[Any],
    options: dict[str, Any],
    *,
    quiet: bool = False,
    threads: int = 0,
) -> list[dict[str, Any]]:
    """The task's predictions for ``inputs`` (texts, files, ...), as rows."""
    loaded = load(run_dir, quiet=quiet)
    check_predict_options(loaded.task, options)
    with cpu_share(loaded, threads), torch.no_grad():
        return loaded.task.predict(loaded.ctx, loaded.model, list(inputs), options)


def backtest(
    run_dir: str | Path, windows: int, stride: int = 0, *, quiet: bool = False, threads: int = 0
) -> dict[str, Any]:
    """Rolling-origin evaluation of a run (``Task.backtest``): per-window and mean metrics,
    written by the task into the run directory."""
    loaded = load(run_dir, quiet=quiet)
    task, ctx = loaded.task, loaded.ctx
    writable(ctx.run_dir, "backtest writes backtest.json, backtest.csv and its plot there")
    seed_everything(ctx.seed)
    with cpu_share(loaded, threads):
        prepared = task.prepare(ctx)
        with torch.no_grad():
            return task.backtest(ctx, loaded.model, prepared, windows, stride)


def generate(
    run_dir: str | Path, options: dict[str, Any], *, quiet: bool = False, threads: int = 0
) -> dict[str, Any]:
    """A sample from a generative run (``length``, ``temperature``, ``top_k``, ``prompt``,
    ``seed``, ``out``)."""
    loaded = load(run_dir, quiet=quiet)
    if not options.get("out"):
        writable(loaded.ctx.run_dir, "the sample goes to its samples/ folder; give --out FILE")
    seed_everything(int(options.get("seed", loaded.ctx.seed)))
    with cpu_share(loaded, threads), torch.no_grad():
        return loaded.task.generate(loaded.ctx, loaded.model, options)


def writable(run_dir: Path, why: str) -> None:
    """Refuse, before the work, a run directory this user cannot write into (a run shared
    read-only, a read-only disk): the work would be done, then lost at its last step."""
    if not os.access(run_dir, os.W_OK):
        raise UserError(f"{run_dir}: not writable by this user; {why}")


def _save_beside(path: Path, value: Any) -> str:
    """Keep a copy of ``value`` in the run (``eval.json``); a run on a read-only disk or
    shared by someone else is still evaluated, with a note instead of the copy; nor is a
    run deleted while it was evaluated made again to hold the copy alone."""
    if not path.parent.is_dir():
        return f"not saved to {path}: {path.parent} was removed during the evaluation"
    try:
        atomic.write_json(path, value)
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        return f"not saved to {path}: {path.parent} is not writable (--json prints the metrics)"
    return ""


#: what an exported file is called, by format (``--out`` with another suffix is refused)
EXPORT_SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pts", ".ts", ".torchscript")}


def check_export_target(out: Path, fmt: str) -> None:
    """``--out`` names a file of the format's kind and overwrites only an earlier export
    (the file with its ``.json`` description beside it), never a file of the user's."""
    suffixes = EXPORT_SUFFIXES[fmt]
    if out.suffix.lower() not in suffixes:
        raise UserError(
            f"--out {out}: a {fmt} file is named *{' or *'.join(suffixes)}; "
            f"got {out.suffix or 'no suffix'}"
        )
    described = out.with_name(out.name + ".json")
    if (out.exists() or out.is_symlink()) and not (described.is_file() and out.is_file()):
        raise UserError(f"--out {out}: exists and is not an earlier export; choose another name")


def export(
    run_dir: str | Path, fmt: str, out: str | Path | None = None, *, quiet: bool = False
) -> dict[str, Any]:
    """Write a run's model as ONNX or TorchScript (see :mod:`seqsuite.export`)."""
    from .export import export as write

    suffix = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}.get(fmt)
    if suffix is None:
        raise UserError(f"--format {fmt!r}: expected onnx or torchscript")
    if out:
        check_export_target(Path(out), fmt)
    loaded = load(run_dir, quiet=quiet)
    ctx = loaded.ctx
    target = Path(out) if out else atomic.folder_inside(ctx.run_dir, rundir.EXPORT_FOLDER) / suffix
    description = write(loaded.model, loaded.task, ctx, loaded.saved["spec"], fmt, target)
    ctx.console.print(
        f"wrote {target} and {target.name}.json ({', '.join(description['inputs'])} + state in; "
        f"{', '.join(description['outputs'])} out)"
    )
    return {"path": str(target), **description}
