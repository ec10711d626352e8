"""The runs a server answers for: each loaded once, named by its folder, with its routes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..assembly import load
from ..errors import UserError
from ..model import SequenceModel
from ..rundir import METRICS, clean_json, read_json
from ..task import Context, Task, serves


@dataclass
class ServedRun:
    """One run directory, loaded: its task, context (saved config and state) and model in
    eval mode. ``routes`` are what the task serves ("predict", "generate")."""

    name: str
    run_dir: Path
    task: Task
    ctx: Context
    model: SequenceModel
    routes: tuple[str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """A row of ``GET /v1/models``."""
        primary = self.metrics.get("primary_metric")
        test = self.metrics.get("test")
        shown = isinstance(primary, str) and isinstance(test, dict)
        return {
            "name": self.name,
            "task": self.task.name,
            "routes": [f"/v1/{self.name}/{route}" for route in self.routes],
            "dataset": self.metrics.get("dataset"),
            "test": clean_json({primary: test.get(primary)}) if shown else {},
        }


def route_name(run_dir: Path, taken: set[str]) -> str:
    """A URL-safe name from the folder's name, unique among ``taken`` (``-2``, ``-3`` ...)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", run_dir.resolve().name).strip("-.") or "run"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def load_runs(run_dirs: list[str]) -> list[ServedRun]:
    """Each run directory loaded for inference; one that serves nothing is refused."""
    if not run_dirs:
        raise UserError("give at least one RUN_DIR to serve")
    served: list[ServedRun] = []
    for given in run_dirs:
        loaded = load(given, quiet=True)
        loaded.task.ready(loaded.ctx)
        routes = tuple(r for r in ("predict", "generate") if serves(loaded.task, r))
        if not routes:
            raise UserError(f"{given}: task {loaded.task.name!r} neither predicts nor generates")
        name = route_name(Path(given), {s.name for s in served})
        metrics_file = Path(given) / METRICS
        metrics = read_json(metrics_file, "metrics") if metrics_file.exists() else {}
        metrics = metrics if isinstance(metrics, dict) else {}  # shown in /v1/models only
        served.append(
            ServedRun(name, Path(given), loaded.task, loaded.ctx, loaded.model, routes, metrics)
        )
    return served
