"""Finds task plugins through the ``seqsuite.tasks`` entry-point group, and nothing else.

The core has no list of task names: built-in tasks are registered by seqsuite's own
``pyproject.toml`` exactly as a third party registers theirs. A plugin cannot take the
command line down:

- a command imports only the plugin it needs (:func:`get_task`); only ``seqsuite tasks``
  and ``compare --all`` load them all (:func:`discover`);
- whatever a plugin raises while loading (``SystemExit`` and ``KeyboardInterrupt``
  included) makes it a row with ``ok: false`` and its error; one that takes longer than
  ``SEQSUITE_PLUGIN_TIMEOUT`` seconds (default 10) to load is listed as timed out;
- what a plugin prints while loading goes to stderr, so ``--json`` output stays clean;
- a name that is already taken (a built-in task's, above all) is never displaced: the
  later plugin is listed with the collision as its error.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import sys
import threading
from dataclasses import dataclass
from importlib import metadata

from .errors import UserError
from .task import TASK_API_VERSION, Task

GROUP = "seqsuite.tasks"
BUILT_IN = "seqsuite"  # the distribution whose tasks no plugin may displace


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
            " (docs/plugins.md says what changed)"
        )
    if task.name and task.name != entry.name:
        raise RuntimeError(f"entry point {entry.name!r} loads a task named {task.name!r}")
    if not task.name:
        task.name = entry.name
    return task


#: what an entry point's name must look like: it becomes part of run folders' names
#: (``runs/NAME-...``) and of the server's routes, so no ``/``, ``..`` or spaces
TASK_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]*"


def _distribution(entry: metadata.EntryPoint) -> str:
    return entry.dist.name if entry.dist is not None else ""


def _entries() -> list[metadata.EntryPoint]:
    """Every entry point of the group, built-in tasks first, then by name."""
    entries = metadata.entry_points(group=GROUP)
    return sorted(entries, key=lambda e: (_distribution(e) != BUILT_IN, e.name, _distribution(e)))


def _error_line(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text.splitlines()[0] if text else type(err).__name__


def _load_guarded(entry: metadata.EntryPoint, timeout: float | None) -> TaskInfo:
    """Load one plugin; anything it raises or prints, or a load that hangs, becomes its row."""
    dist = _distribution(entry)
    if not re.fullmatch(TASK_NAME, entry.name):
        return TaskInfo(
            entry.name,
            "",
            dist,
            False,
            "not a task name (letters, digits, '_' and '-', starting with a letter or digit):"
            " it names run folders and URLs",
        )
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["task"] = _load(entry)
        except BaseException as err:  # noqa: BLE001 - SystemExit, KeyboardInterrupt too
            outcome["error"] = _error_line(err)

    with contextlib.redirect_stdout(sys.stderr):  # a plugin's prints must not reach --json
        worker = threading.Thread(target=target, daemon=True, name=f"load-{entry.name}")
        worker.start()
        worker.join(timeout)
    if worker.is_alive():
        return TaskInfo(entry.name, "", dist, False, f"timed out after {timeout:g} s while loading")
    if "error" in outcome:
        return TaskInfo(entry.name, "", dist, False, str(outcome["error"]))
    task = outcome["task"]
    return TaskInfo(entry.name, task.summary, dist, True, "", task)


def load_timeout() -> float:
    try:
        return max(0.1, float(os.environ.get("SEQSUITE_PLUGIN_TIMEOUT", "10")))
    except ValueError:
        return 10.0


def discover(timeout: float | None = None) -> list[TaskInfo]:
    """Every task plugin installed, loaded or with the error that stopped it."""
    timeout = load_timeout() if timeout is None else timeout
    infos: list[TaskInfo] = []
    seen: dict[str, str] = {}
    for entry in _entries():
        dist = _distribution(entry)
        if entry.name in seen:
            taken = f"name already taken by {seen[entry.name]}; this plugin is not used"
            infos.append(TaskInfo(entry.name, "", dist, False, taken))
            continue
        seen[entry.name] = dist
        infos.append(_load_guarded(entry, timeout))
    return sorted(infos, key=lambda i: (i.name, not i.ok))


def task_names() -> list[str]:
    """The names of the installed tasks (their entry points; no plugin is imported)."""
    return sorted({e.name for e in _entries()})


def get_task(name: str) -> Task:
    """The installed task called ``name`` (only its plugin is imported), or a
    :class:`UserError` that says what is there."""
    entries = [e for e in _entries() if e.name == name]
    if entries:
        info = _load_guarded(entries[0], None)  # the task asked for: no time limit
        if not info.ok:
            raise UserError(
                f"task {name!r} (from {info.distribution}) failed to load: {info.error}"
            )
        return info.task
    names = task_names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UserError(f"unknown task {name!r}; {hint}installed: {', '.join(names) or 'none'}")
