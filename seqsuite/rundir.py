"""Run directories: naming, claiming ``--out DIR``, and the files a run holds.

A run directory is self-describing::

    config.toml       the fully resolved configuration that ran
    task_state.json   what the task fitted on the training data (scalers, vocabulary) + model spec
    history.csv       one row per epoch
    best.pt, last.pt  checkpoints (weights to evaluate; full state to resume)
    metrics.json      written last: a run is finished exactly when this file exists
    plots/*.png       loss curve and the task's figures
"""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from . import atomic
from .errors import UserError

CONFIG = "config.toml"
STATE = "task_state.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
DATA = "data"  # in-memory data written in the task's format (seqsuite.fit)


def new_run_dir(task: str, root: str | Path = "runs") -> Path:
    """``runs/<task>-<YYYYmmdd-HHMMSS>[-N]``, created here and never reused."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = root / (f"{task}-{stamp}" + (f"-{n}" if n else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"cannot create a new run directory under {root}")


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')} ({a!r} there, {b!r} now)"


def claim_out_dir(out: str | Path, config: dict[str, Any]) -> str:
    """Make ``out`` this run's directory. Returns ``"new"``, ``"resume"`` (the same run,
    unfinished, with a checkpoint) or ``"finished"`` (the same run, done). A folder
    holding a different run, or other files, is refused."""
    out = Path(out)
    if out.is_symlink():
        raise UserError(f"--out {out}: is a symbolic link; give the run directory's own path")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    # data/ alone is in-memory data that seqsuite.fit wrote for this run
    contents = [p for p in out.iterdir() if not p.name.startswith(".") and p.name != DATA]
    if not contents:
        return "new"
    if not (out / CONFIG).exists():
        raise UserError(f"--out {out}: folder is not empty and holds no seqsuite run")
    existing = read_config(out)
    if existing != config:
        raise UserError(
            f"--out {out}: holds a different run (differs at {_first_difference(existing, config)})"
        )
    if is_finished(out):
        return "finished"
    if (out / "last.pt").exists():
        return "resume"
    return "new"


class RunLock:
    """An exclusive lock on a run directory while a process trains in it, so that a second
    ``resume`` (or ``run --out``) of the same run is refused. The operating system drops
    the lock when the process ends, however it ends (even SIGKILL): no stale locks."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / ".lock"
        self.handle = None

    def __enter__(self) -> RunLock:
        import fcntl
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "?"
            self.handle.close()
            raise UserError(
                f"{self.path.parent}: another seqsuite process (pid {holder}) is training this run"
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle:
            self.handle.close()  # closing releases the lock


def is_finished(run_dir: str | Path) -> bool:
    return (Path(run_dir) / METRICS).exists()


def read_config(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG
    if not Path(run_dir).is_dir():
        raise UserError(f"{run_dir}: run directory not found")
    if not path.exists():
        raise UserError(f"{run_dir}: not a seqsuite run directory ({CONFIG} missing)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: invalid TOML: {err}") from None


def read_json(path: str | Path, what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: {what} missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: invalid JSON: {err}") from None


def write_state(
    run_dir: str | Path, spec: dict[str, Any], state: dict[str, Any], dataset: str
) -> None:
    """``task_state.json``: the model's spec, the task's fitted state and the data set name."""
    atomic.write_json(Path(run_dir) / STATE, {"spec": spec, "state": state, "dataset": dataset})


def read_state(run_dir: str | Path) -> dict[str, Any]:
    """``task_state.json`` checked for its three keys and their kinds (an edited file is
    refused with one line, not a traceback later)."""
    path = Path(run_dir) / STATE
    saved = read_json(path, "task state")
    kinds = {"spec": dict, "state": dict, "dataset": str}
    for key, kind in kinds.items():
        if not isinstance(saved, dict) or not isinstance(saved.get(key), kind):
            raise UserError(
                f"{path}: expected a JSON object with {key!r} as a {kind.__name__}; "
                "the file was edited or is not a seqsuite run's"
            )
    return saved


def write_history(run_dir: str | Path, history: list[dict[str, Any]]) -> None:
    atomic.write_csv(Path(run_dir) / HISTORY, history)


def clean_json(value: Any) -> Any:
    """NaN and infinity are not JSON: they become null."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value
