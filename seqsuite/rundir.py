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

import errno
import json
import os
import stat
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from . import atomic
from .errors import UserError
from .input_files import regular_file

CONFIG = "config.toml"
STATE = "task_state.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
DATA = "data"  # in-memory data written in the task's format (seqsuite.fit)
LOCK = ".lock"
#: the size and modification time of ``--data`` when the run started (see :func:`data_stamp`)
DATA_STAMP = ".data_stamp.json"


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


def first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')} ({a!r} there, {b!r} now)"


def with_defaults(saved: Any, defaults: dict[str, Any] | None) -> Any:
    """``saved`` (a run's configuration as written) with the keys it lacks taken from
    ``defaults``: a setting added by a later version is not a difference from a run
    made before it, unless this command sets it to something else."""
    if not isinstance(saved, dict) or not defaults:
        return saved
    filled = dict(saved)
    for key, value in defaults.items():
        if key not in filled:
            filled[key] = value
        elif isinstance(value, dict):
            filled[key] = with_defaults(filled[key], value)
    return filled


def claim_out_dir(
    out: str | Path, config: dict[str, Any], defaults: dict[str, Any] | None = None
) -> str:
    """Make ``out`` this run's directory. Returns ``"new"``, ``"resume"`` (the same run,
    unfinished, with a checkpoint) or ``"finished"`` (the same run, done). A folder
    holding a different run, or other files, is refused. ``defaults`` (the task's
    default configuration) fill what an earlier version's ``config.toml`` lacks."""
    out = Path(out)
    if out.is_symlink():
        raise UserError(f"--out {out}: is a symbolic link; give the run directory's own path")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    contents = [p for p in out.iterdir() if not ours_alone(p)]
    if not contents:
        return "new"
    if not (out / CONFIG).exists():
        raise UserError(f"--out {out}: folder is not empty and holds no seqsuite run")
    existing = with_defaults(read_config(out), defaults)
    if existing != config:
        raise UserError(
            f"--out {out}: holds a different run (differs at {first_difference(existing, config)})"
        )
    finished, resumable = is_finished(out), (out / "last.pt").exists()
    data = str(config.get("run", {}).get("data") or "")
    if (finished or resumable) and data and data_changed(out, Path(data)):
        raise UserError(
            f"--out {out}: holds a run of {data} as it was; the data changed after that run "
            "started; give another --out (or remove the folder) to train on it again"
        )
    if finished:
        return "finished"
    if resumable:
        return "resume"
    return "new"


#: a data folder with more entries than this is not walked to see whether it changed
CHANGE_WALK_LIMIT = 100_000


def data_stamp(data: Path) -> dict[str, Any] | None:
    """What ``data`` (a file, or a folder's files) looks like now: sizes, count and the
    latest modification time; None if it cannot be read or holds too many entries."""
    try:
        if not data.is_dir():
            info = data.stat()
            return {"size": info.st_size, "mtime_ns": info.st_mtime_ns}
        count, size, latest = 0, 0, 0
        for folder, _, files in os.walk(data):
            for name in [".", *files]:
                count += 1
                if count > CHANGE_WALK_LIMIT:
                    return None
                info = (Path(folder) / name).stat()
                size, latest = size + info.st_size, max(latest, info.st_mtime_ns)
        return {"size": size, "entries": count, "mtime_ns": latest}
    except OSError:
        return None


def write_data_stamp(run_dir: Path, data: str) -> None:
    """Record ``--data`` as the run found it, so that a file swapped for another later
    (``mv``, ``cp -p``, an archive: an older modification time than the run's) is told."""
    stamp = data_stamp(Path(data)) if data else None
    if stamp is not None:
        atomic.write_json(run_dir / DATA_STAMP, {"data": data, **stamp})


def data_changed(run_dir: Path, data: Path) -> bool:
    """Whether the run's ``--data`` is no longer what the run started on: its size or
    modification time differ from the stamp the run recorded (either way: a file copied
    in with an older time counts). Runs from before stamps: modified after ``config.toml``."""
    saved_file = run_dir / DATA_STAMP
    if not saved_file.is_file() or saved_file.is_symlink():
        return changed_since(data, run_dir / CONFIG)
    try:
        saved = json.loads(saved_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return changed_since(data, run_dir / CONFIG)
    now = data_stamp(data)
    if now is None or not isinstance(saved, dict):
        return False  # unreadable now: eval and resume say so when they read it
    return any(saved.get(key) != value for key, value in now.items())


def changed_since(data: Path, marker: Path) -> bool:
    """Whether ``data`` (a file, or a folder's files) was modified after ``marker`` was
    written: the same ``--out`` and configuration then name another run's data (runs
    from before :data:`DATA_STAMP`)."""
    stamp = data_stamp(data)  # None: unreadable now, eval and resume say so when they read it
    return stamp is not None and stamp["mtime_ns"] > marker.stat().st_mtime_ns


def ours_alone(path: Path) -> bool:
    """Whether ``path`` in a run directory is something seqsuite writes before the run's
    config: the lock, an atomic write's temporary file, or ``data/`` (in-memory data that
    ``seqsuite.fit`` wrote for this run). Anything else (``.git``, ``.env``, a note) is the
    user's, and makes the folder not a new run's."""
    return path.name in (LOCK, DATA) or _temporary(path)


def _temporary(path: Path) -> bool:
    """An atomic write's temporary file (``.NAME.XXXX.tmp``, see :mod:`.atomic`)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def discard_new(run_dir: Path) -> None:
    """Undo a new run that failed before training: remove what it wrote (config, state,
    lock, temporary files), then the folder if nothing else is left in it. Never the
    user's files: :func:`claim_out_dir` refused a folder that held any."""
    for path in run_dir.iterdir():
        if path.name in (CONFIG, STATE, LOCK, DATA_STAMP) or _temporary(path):
            path.unlink(missing_ok=True)
    try:
        run_dir.rmdir()
    except OSError:
        pass  # data/ or files of the user's: left as they are


class RunLock:
    """An exclusive lock on a run directory while a process trains in it, so that a second
    ``resume`` (or ``run --out``) of the same run is refused. The operating system drops
    the lock when the process ends, however it ends (even SIGKILL): no stale locks."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK
        self.handle = None

    def __enter__(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:  # never through a link: the pid would be written into the file it points to
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666)
        except OSError as err:
            if err.errno != errno.ELOOP:
                raise
            raise UserError(
                f"{self.path}: is a symbolic link; remove it (it is the run's lock file)"
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UserError(
                f"{self.path}: is not a regular file; remove it (it is the run's lock file)"
            )
        self.handle = os.fdopen(fd, "r+")
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


def training_pid(run_dir: str | Path) -> str | None:
    """The pid of the process training ``run_dir`` now (it holds the run's lock), else
    None. Only looks: the lock file is neither made nor changed, and a link is not
    followed."""
    import fcntl

    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # no lock file (a finished run copied elsewhere, a model/ folder) or a link
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder or a device: nobody's lock
        os.close(fd)
        return None
    with os.fdopen(fd) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return handle.read(32).strip() or "?"
        return None


#: what ``eval`` and ``export`` write into a run directory
EVAL_FILE, EXPORT_FOLDER = "eval.json", "export"


def drop_stale_results(run_dir: str | Path) -> list[str]:
    """Remove what ``eval`` and ``export`` wrote from an interrupted run's checkpoint, as
    training goes on from it: left, they would contradict the finished run's results for
    good. Returns what was removed; a link is left alone (never followed)."""
    import shutil

    removed = []
    evaluated, exported = Path(run_dir) / EVAL_FILE, Path(run_dir) / EXPORT_FOLDER
    if evaluated.is_file() and not evaluated.is_symlink():
        evaluated.unlink()
        removed.append(EVAL_FILE)
    if exported.is_dir() and not exported.is_symlink():
        shutil.rmtree(exported)
        removed.append(f"{EXPORT_FOLDER}/")
    return removed


def is_finished(run_dir: str | Path) -> bool:
    return (Path(run_dir) / METRICS).exists()


def read_config(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG
    if not Path(run_dir).is_dir():
        raise UserError(f"{run_dir}: run directory not found")
    if not path.exists():
        raise UserError(f"{run_dir}: not a seqsuite run directory ({CONFIG} missing)")
    try:
        return tomllib.loads(regular_file(path, CONFIG).read_text(encoding="utf-8"))
    except ValueError as err:  # TOML or UTF-8 errors; an integer of over 4,300 digits
        raise UserError(f"{path}: invalid TOML: {err}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid TOML: nested too deeply") from None


#: the sections every run's config.toml holds (it is written whole, every setting)
SECTIONS = ("run", "data", "backbone", "train", "task")


def check_sections(raw: dict[str, Any], path: Path) -> None:
    """A run's own config.toml with a section or ``run.task`` missing was cut short or
    edited: read as it is, the defaults would stand in for what the run used."""
    missing = [name for name in SECTIONS if not isinstance(raw.get(name), dict)]
    if missing:
        raise UserError(
            f"{path}: no [{missing[0]}] section (a run writes every section: the file is "
            "empty, cut short or edited)"
        )
    if not raw["run"].get("task"):
        raise UserError(f"{path}: run.task missing (the file is cut short or edited)")
    if not isinstance(raw["run"]["task"], str):
        raise UserError(f"{path}: run.task = {raw['run']['task']!r}; expected a task's name")


def read_json(path: str | Path, what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: {what} missing")
    try:
        return json.loads(regular_file(path, what).read_text(encoding="utf-8"))
    except ValueError as err:  # JSON or UTF-8 errors; an integer of over 4,300 digits
        raise UserError(f"{path}: invalid JSON: {err}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid JSON: nested too deeply") from None


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    """A finished run's ``metrics.json``: a JSON object naming its primary metric, with
    numbers (or null) under ``test`` and each baseline; NaN read as null. An edited file
    is refused in one line rather than failing later in a table or a plot."""
    path = Path(run_dir) / METRICS
    metrics = clean_json(read_json(path, "metrics"))
    if not isinstance(metrics, dict) or not isinstance(metrics.get("primary_metric"), str):
        raise UserError(f"{path}: expected a JSON object naming its 'primary_metric' (edited?)")
    parts = {"test": metrics.get("test", {})}
    baselines = metrics.get("baselines", {})
    if not isinstance(baselines, dict):
        raise UserError(f"{path}: 'baselines' is not an object (edited?)")
    parts.update({f"baselines.{k}": v for k, v in baselines.items()})
    for where, values in parts.items():
        if not isinstance(values, dict):
            raise UserError(f"{path}: {where!r} is not an object of metrics (edited?)")
        for name, value in values.items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise UserError(f"{path}: {where}.{name} is {value!r}; expected a number (edited?)")
    return metrics


#: the layout of the run directories this seqsuite writes; raised when a change makes
#: older versions misread a new run (runs written before it was recorded are format 1)
RUN_FORMAT = 2


def write_state(
    run_dir: str | Path, spec: dict[str, Any], state: dict[str, Any], dataset: str
) -> None:
    """``task_state.json``: the model's spec, the task's fitted state, the data set name,
    and the run format and version that wrote them."""
    from . import __version__

    saved = {"spec": spec, "state": state, "dataset": dataset}
    saved.update(run_format=RUN_FORMAT, seqsuite_version=__version__)
    atomic.write_json(Path(run_dir) / STATE, saved)


def made_by(saved: dict[str, Any]) -> str:
    """Which seqsuite wrote a run, for messages: its version and run format."""
    version = saved.get("seqsuite_version")
    fmt = saved.get("run_format", 1)
    return (
        f"seqsuite {version} (run format {fmt})"
        if version
        else f"an older seqsuite (run format {fmt})"
    )


def older_run(saved: dict[str, Any]) -> bool:
    """The run was written by a seqsuite with an older run format than this one's."""
    fmt = saved.get("run_format", 1)
    return isinstance(fmt, int) and fmt < RUN_FORMAT


#: the largest size a model spec may hold (classes, vocabulary, horizon, buckets ...): a
#: spec edited to 10**12 would otherwise be allocated as it says
MAX_SPEC_SIZE = 10_000_000


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
    fmt = saved.get("run_format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise UserError(
            f"{path}: run_format is {json.dumps(fmt)}; expected a whole number from 1 (edited?)"
        )
    if fmt > RUN_FORMAT:
        raise UserError(
            f"{run_dir}: made by a newer seqsuite ({made_by(saved)}; this one reads run "
            f"format {RUN_FORMAT} and older); upgrade seqsuite to use it"
        )
    for key, value in saved["spec"].items():  # the model's sizes: read before any is made
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SPEC_SIZE:
            raise UserError(
                f"{path}: spec.{key} = {value:,}; a model size is at most {MAX_SPEC_SIZE:,} "
                "(the file was edited or is not a seqsuite run's)"
            )
    return saved


def write_history(run_dir: str | Path, history: list[dict[str, Any]]) -> None:
    atomic.write_csv(Path(run_dir) / HISTORY, history)


def clean_json(value: Any) -> Any:
    """``value`` as JSON can hold it: NaN and infinity become null, and numpy or PyTorch
    numbers and arrays (a plugin's metrics, a task's predictions) their Python values."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if not isinstance(value, str | int | bool | type(None)) and hasattr(value, "tolist"):
        return clean_json(value.tolist())
    return value


def json_text(value: Any) -> str:
    """What ``--json`` prints: indented JSON, never ``NaN`` (see :func:`clean_json`);
    anything else JSON has no type for as its text."""
    return json.dumps(clean_json(value), indent=2, default=str, allow_nan=False)
