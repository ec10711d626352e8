"""Model assembly: a task's adapter + the shared backbone + the task's head, and the
same model rebuilt from a run directory (for ``eval``, ``predict``, ``generate``, ...)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from . import checkpoint, rundir
from . import config as configs
from .backbone import Backbone
from .config import RunConfig
from .devices import resolve_device
from .errors import UserError
from .model import SequenceModel
from .registry import get_task
from .task import Context, InputAdapter, Task

REFIT = "refit.pt"  # weights retrained on train+val (train.refit); evaluated instead of best.pt


class PluginError(RuntimeError):
    """A task plugin broke its contract (a bug in the plugin, not the user's input)."""


def build_model(task: Task, ctx: Context, spec: dict[str, Any]) -> SequenceModel:
    """The task's adapter, the shared backbone from ``[backbone]``, the task's head."""
    adapter = task.input_adapter(ctx, spec)
    size = getattr(adapter, "output_size", None)
    if not isinstance(adapter, InputAdapter) or not isinstance(size, int) or size < 1:
        raise PluginError(
            f"task {task.name!r}: input_adapter() must return a module with an integer "
            f"output_size >= 1 (the features per step), got {type(adapter).__name__} "
            f"with output_size={size!r}"
        )
    backbone = Backbone(size, ctx.config.backbone)
    head = task.head(ctx, spec, backbone.output_size)
    model = SequenceModel(adapter, backbone, head)
    task.finish_model(ctx, model)
    return model


def console(quiet: bool) -> Console:
    return Console(quiet=quiet, highlight=False)


def load_context(run_dir: str | Path, quiet: bool) -> tuple[Task, Context, dict[str, Any]]:
    """A run directory's task, a context holding its saved config and state, and the
    saved ``task_state.json`` (spec, state, dataset)."""
    from .errors import UserError
    from .portable import resolve

    run_dir = resolve(run_dir)
    raw = rundir.read_config(run_dir)
    rundir.check_sections(raw, run_dir / rundir.CONFIG)
    saved = rundir.read_state(run_dir)  # first: a newer run format says so, not a key's name
    task = get_task(raw["run"]["task"])
    try:
        config: RunConfig = configs.from_dict(task, raw)
    except UserError as err:
        raise UserError(f"{run_dir / rundir.CONFIG}: {err}") from None
    ctx = Context(
        config=config,
        device=resolve_device(config.run.device),
        console=console(quiet),
        run_dir=run_dir,
        state=saved["state"],
        quiet=quiet,
    )
    return task, ctx, saved


@dataclass
class LoadedRun:
    """A finished (or interrupted) run, ready for inference."""

    task: Task
    ctx: Context
    model: SequenceModel
    saved: dict[str, Any]


def load(run_dir: str | Path, *, quiet: bool = False) -> LoadedRun:
    """A run's task, context and evaluated weights (``refit.pt`` if the run refitted,
    else ``best.pt``; in a portable ``model/`` folder, ``model.safetensors``) in eval mode.
    ``run_dir`` may also be a Hub model id (see :func:`seqsuite.portable.resolve`)."""
    task, ctx, saved = load_context(run_dir, quiet)
    _check_not_training(ctx)
    try:
        model = saved_model(task, ctx, saved["spec"])
        weights, path = evaluated_weights(ctx)
        checkpoint.put_weights(model, weights, path)
    except UserError as err:
        if not rundir.older_run(saved):
            raise
        what = str(err).split("; the file comes from", 1)[0]  # not its guess at an edit
        raise UserError(
            f"{ctx.run_dir}: made by {rundir.made_by(saved)}, whose {task.name} model this "
            f"seqsuite (run format {rundir.RUN_FORMAT}) cannot load; train it again with this "
            f"version, or use the one that made it ({what})"
        ) from None
    model.to(ctx.device).eval()
    return LoadedRun(task, ctx, model, saved)


def _check_not_training(ctx: Context) -> None:
    """A run being trained is refused: its checkpoint changes under the reader, and what
    ``eval`` or ``export`` would write beside it would disagree with the run's own
    results for good. An interrupted run is used as it is, with a note."""
    pid = rundir.training_pid(ctx.run_dir)
    if pid is not None:
        raise UserError(
            f"{ctx.run_dir}: still being trained (pid {pid}); wait until it finishes, or "
            "stop it and `seqsuite resume` it later"
        )
    if (ctx.run_dir / "best.pt").exists() and not rundir.is_finished(ctx.run_dir):
        # on standard error even when quiet (--json, serve): the answers are a partial model's
        print(
            f"note: {ctx.run_dir} has no {rundir.METRICS}: an interrupted run, used as its "
            f"last best checkpoint left it (`seqsuite resume {ctx.run_dir}` finishes it)",
            file=sys.stderr,
        )


def saved_model(task: Task, ctx: Context, spec: dict[str, Any]) -> SequenceModel:
    """The model a run's saved spec describes. The spec and state come from a file: one
    edited to a negative size, a text where a number was, or without a key the task reads
    is refused naming ``task_state.json``, not a traceback from deep in the task."""
    from .boundary import describe
    from .errors import UserError

    try:
        return build_model(task, ctx, spec)
    except UserError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
        raise UserError(
            f"{ctx.run_dir / rundir.STATE}: the saved spec and state do not build a "
            f"{task.name} model ({describe(err)}); the file was edited or is not a seqsuite run's"
        ) from None


def evaluated_weights(ctx: Context) -> tuple[dict[str, Any], Path]:
    """The weights a run is evaluated with and their file: ``refit.pt``, ``best.pt`` or,
    in a portable model folder without checkpoints, ``model.safetensors``."""
    from .errors import UserError
    from .portable import WEIGHTS, load_weights

    run_dir = ctx.run_dir
    if not (run_dir / checkpoint.BEST).exists():
        if (run_dir / WEIGHTS).exists():
            weights = load_weights(run_dir / WEIGHTS)
            return {k: v.to(ctx.device) for k, v in weights.items()}, run_dir / WEIGHTS
        if (run_dir / rundir.METRICS).exists() and not (run_dir / rundir.HISTORY).exists():
            raise UserError(f"{run_dir / WEIGHTS}: missing (a model folder's weights)")
    chosen = REFIT if ctx.config.train.refit and (run_dir / REFIT).exists() else checkpoint.BEST
    path = run_dir / chosen
    return checkpoint.load(path, ctx.device, keys=checkpoint.WEIGHTS_KEYS)["model"], path
