"""Finds task plugins through the ``seqsuite.tasks`` entry-point group, and nothing else.

The core has no list of task names: built-in tasks are registered by seqsuite's own
``pyproject.toml`` exactly as a third party registers theirs. A plugin that fails to
import or load is listed with ``ok: false`` and its error; every other task still works.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import metadata

from .errors import UserError
from .task import TASK_API_VERSION, Task

GROUP = "seqsuite.tasks"


@dataclass
class TaskInfo:
    name: str
    summary: str
    distribution: str
    ok: bool
    error: str
    task: Task | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "summary": self.summary,
            "distribution": self.distribution,
            "ok": self.ok,
            "error": self.error,
        }


def _load(entry: metadata.EntryPoint) -> Task:
    obj = entry.load()
    task = obj() if isinstance(obj, type) else obj
    if not isinstance(task, Task):
        raise TypeError(f"{entry.value} is not a seqsuite.Task (got {type(task).__name__})")
    version = getattr(task, "api_version", None)
    if version != TASK_API_VERSION:
        raise RuntimeError(
            f"built for task API version {version}; this seqsuite supports version {TASK_API_VERSION}"
        )
    if task.name and task.name != entry.name:
        raise RuntimeError(f"entry point {entry.name!r} loads a task named {task.name!r}")
    if not task.name:
        task.name = entry.name
    return task


def discover() -> list[TaskInfo]:
    """Every task plugin installed, loaded or with the error that stopped it."""
    infos: list[TaskInfo] = []
    seen: dict[str, str] = {}
    for entry in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        dist = entry.dist.name if entry.dist is not None else ""
        if entry.name in seen:
            infos.append(
                TaskInfo(entry.name, "", dist, False, f"name already taken by {seen[entry.name]}")
            )
            continue
        seen[entry.name] = dist
        try:
            task = _load(entry)
        except Exception as err:  # noqa: BLE001 - a broken plugin must not break the CLI
            message = f"{type(err).__name__}: {err}".strip().splitlines()[0]
            infos.append(TaskInfo(entry.name, "", dist, False, message))
        else:
            infos.append(TaskInfo(entry.name, task.summary, dist, True, "", task))
    return infos


def get_task(name: str) -> Task:
    """The installed task called ``name``, or a :class:`UserError` that says what is there."""
    infos = discover()
    for info in infos:
        if info.name == name:
            if not info.ok:
                raise UserError(
                    f"task {name!r} (from {info.distribution}) failed to load: {info.error}"
                )
            return info.task
    names = [i.name for i in infos]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UserError(f"unknown task {name!r}; {hint}installed: {', '.join(names) or 'none'}")
