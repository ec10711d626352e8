"""The notebook API: ``seqsuite.fit(task, data, **overrides) -> Run`` and
``seqsuite.load(dir) -> Run``.

    run = seqsuite.fit("sentiment", frame, backbone={"hidden_size": 64}, train={"epochs": 5})
    run.metrics["test"], run.baselines, run.history      # metrics.json, history.csv
    run.predict(["a fine film", "dull"])                  # rows, in the input's kind
    run.save("my-model"); seqsuite.load("my-model")

It is the command line's code path: :func:`fit` calls :func:`seqsuite.runner.run`. Data in
memory (a DataFrame, an array, a list of texts or waveforms, a Hugging Face ``Dataset``) is
first written by the task, in its own file format, into the run directory's ``data/``
(:meth:`seqsuite.task.Task.write_data`), so ``seqsuite eval`` and ``seqsuite resume`` work
on the run as on any other.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import config as configs
from . import portable, report_html, rundir, runner
from .assembly import console as console_for
from .errors import UserError
from .registry import get_task
from .task import Context


def fit(
    task_name: str,
    /,
    data: Any = None,
    *,
    dataset: str | None = None,
    out: str | Path | None = None,
    runs_root: str | Path = "runs",
    quick: bool = False,
    quiet: bool = True,
    config_files: list[str | Path] = (),
    sets: list[str] = (),
    init_from: str | Path | None = None,
    callbacks: list[Any] = (),
    **overrides: dict[str, Any],
) -> Run:
    """Train and evaluate the task ``task_name`` on ``data``; return the finished :class:`Run`.

    ``data``: a file or folder path (as ``--data``), or data in memory that the task
    accepts (see each task's ``write_data``). ``dataset``: a named or Hugging Face data set
    (``owner/name[:config][@revision]`` or a folder saved with ``save_to_disk``).
    ``overrides``: sections of the configuration as keyword arguments, e.g.
    ``backbone={"hidden_size": 64}, train={"epochs": 5}, task={"horizon": 12}``.
    """
    sections = check_overrides(overrides)
    common = dict(
        config_files=list(config_files),
        sets=list(sets),
        init_from=str(init_from) if init_from else None,
        quiet=quiet,
        quick=quick,
        callbacks=list(callbacks),
        overrides=sections,
    )
    if data is None or is_path(data):
        result = runner.run(
            task_name,
            data=str(data) if data is not None else None,
            dataset=dataset,
            out=out,
            runs_root=runs_root,
            **common,
        )
        return Run(result.run_dir)
    return _fit_in_memory(task_name, data, out, runs_root, common)


def is_path(data: Any) -> bool:
    """A file or folder name rather than text: a Path, or a short one-line string that
    names something that exists or looks like a file name (``reviews.csv``, ``dir/``; not
    ``Hello.``, whose dot ends a sentence)."""
    if isinstance(data, Path):
        return True
    if not isinstance(data, str) or len(data) > 4096 or "\n" in data:
        return False
    return Path(data).exists() or (" " not in data and ("/" in data or Path(data).suffix != ""))


def check_overrides(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Keyword arguments must be sections of the configuration, each a dict."""
    for name, values in overrides.items():
        if name not in configs.SECTIONS:
            raise UserError(
                f"fit(): unknown keyword {name!r}; sections are {', '.join(configs.SECTIONS)} "
                "(e.g. train={'epochs': 5})"
            )
        if not isinstance(values, dict):
            raise UserError(f"fit(): {name}= must be a dict of settings, e.g. {name}={{...}}")
    return {name: dict(values) for name, values in overrides.items()}


def _fit_in_memory(
    task_name: str, data: Any, out: str | Path | None, runs_root: str | Path, common: dict
) -> Run:
    """Write ``data`` into ``RUN_DIR/data/`` in the task's format, then run on it."""
    from .memory import materialise

    task = get_task(task_name)
    if out is not None and (Path(out) / rundir.CONFIG).exists():
        raise UserError(
            f"out={out}: already holds a run; data in memory needs a new folder "
            "(continue an interrupted run with seqsuite.resume)"
        )
    config = configs.resolve(  # before any folder is made: a wrong setting leaves nothing
        task,
        common["config_files"],
        common["sets"],
        base=[(common["overrides"], "keyword arguments")],
    )
    run_dir = Path(out) if out is not None else rundir.new_run_dir(task.name, runs_root)
    created = not run_dir.exists() or not any(run_dir.iterdir())
    ctx = Context(config=config, device=_cpu(), console=console_for(True))
    try:
        files = materialise(task, ctx, data, run_dir / rundir.DATA, "data")
        layered = _merge(files.settings, common["overrides"])
        result = runner.run(
            task.name, data=files.path, out=run_dir, **{**common, "overrides": layered}
        )
    except BaseException:
        if created and not (run_dir / rundir.CONFIG).exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # only the data we wrote: nothing ran
        raise
    return Run(result.run_dir)


def _cpu() -> Any:
    import torch

    return torch.device("cpu")


def _merge(low: dict[str, dict[str, Any]], high: dict[str, dict[str, Any]]) -> dict:
    merged = {section: dict(values) for section, values in low.items()}
    for section, values in high.items():
        merged.setdefault(section, {}).update(values)
    return merged


def load(where: str | Path) -> Run:
    """A finished run: its directory, a portable ``model/`` folder (``Run.save``), or a
    Hub model id when online."""
    path = portable.resolve(where)
    rundir.read_config(path)  # one line if it is not a run or model folder
    return Run(path)


class Run:
    """A trained run in a notebook: its numbers, its plots, and its model for predictions."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._loaded = None

    def __repr__(self) -> str:
        primary = self.metrics.get("primary_metric", "")
        value = (self.metrics.get("test") or {}).get(primary)
        return f"Run({str(self.path)!r}, task={self.task!r}, test {primary}={value!r})"

    @property
    def task(self) -> str:
        return str(self.config.get("run", {}).get("task", ""))

    @property
    def config(self) -> dict[str, Any]:
        return rundir.read_config(self.path)

    @property
    def metrics(self) -> dict[str, Any]:
        """``metrics.json``: test and validation metrics, baselines, timings."""
        return rundir.read_metrics(self.path)

    @property
    def baselines(self) -> dict[str, dict[str, float]]:
        """Each baseline's test metrics (same names as ``metrics["test"]``)."""
        return dict(self.metrics.get("baselines") or {})

    @property
    def history(self) -> Any:
        """``history.csv`` as a DataFrame (one row per epoch); empty for a model folder."""
        import pandas as pd

        path = self.path / rundir.HISTORY
        return pd.read_csv(path) if path.exists() else pd.DataFrame()

    def _model(self) -> Any:
        from .assembly import load as load_run

        if self._loaded is None:
            self._loaded = load_run(self.path, quiet=True)
        return self._loaded

    def predict(self, obj: Any = None, **options: Any) -> Any:
        """Predictions for ``obj`` (texts, file paths, waveforms, a series), as a DataFrame
        when ``obj`` is a DataFrame, Series or array, as a list for a list, and as one row
        for one text. ``options`` are the task's predict options (``horizon=12``)."""
        import torch

        from .inference import check_predict_options

        loaded = self._model()
        check_predict_options(loaded.task, options)
        with tempfile.TemporaryDirectory(prefix="seqsuite-predict-") as folder:
            if obj is None:
                inputs, extra = [], {}
            else:
                inputs, extra = loaded.task.predict_inputs(loaded.ctx, obj, Path(folder))
            with torch.no_grad():
                rows = loaded.task.predict(loaded.ctx, loaded.model, inputs, {**options, **extra})
            rows = [without_folder(row, folder) for row in rows]
        return in_kind_of(obj, rows)

    def generate(self, **options: Any) -> dict[str, Any]:
        """A sample (``length``, ``temperature``, ``top_k``, ``prompt``, ``seed``, ``out``),
        as ``seqsuite generate`` writes it."""
        from .inference import generate

        defaults = {"length": 200, "temperature": 1.0, "top_k": 0, "seed": 0}
        return generate(self.path, {**defaults, **options}, quiet=True)

    def evaluate(self, data: str | None = None) -> dict[str, Any]:
        """Re-evaluate on the test split, or on all of the file ``data``."""
        from .inference import evaluate

        return evaluate(self.path, data=data, quiet=True)

    def plots(self) -> list[Path]:
        return sorted((self.path / "plots").glob("*.png"))

    def plot(self, name: str | None = None) -> Any:
        """The run's plots (or the one called ``name``) in one matplotlib figure."""
        import matplotlib.image

        from .plots import plt

        paths = [p for p in self.plots() if name is None or p.stem == name]
        if not paths:
            raise UserError(f"{self.path}: no plot{' ' + repr(name) if name else 's'}")
        fig, axes = plt.subplots(len(paths), 1, figsize=(10, 4.5 * len(paths)), squeeze=False)
        for ax, path in zip(axes[:, 0], paths, strict=True):
            ax.imshow(matplotlib.image.imread(str(path)))
            ax.set_axis_off()
        fig.tight_layout()
        return fig

    def save(self, folder: str | Path) -> Path:
        """Copy the portable model (``model/``) to ``folder``; ``seqsuite.load(folder)``."""
        return portable.copy_model(self.path, folder)

    def push(self, repo_id: str, *, private: bool = False) -> str:
        """Upload the portable model to the Hub (online only); returns its URL."""
        return portable.push(self.path, repo_id, private=private)

    def _repr_html_(self) -> str:
        """The metrics against the baselines and the plots, for a notebook cell."""
        metrics = self.metrics
        title = f"<b>{self.task}</b> on {metrics.get('dataset', '')} — {self.path}"
        images = "".join(report_html.image_html(p, p.stem) for p in self.plots())
        return f"<div><p>{title}</p>{report_html.metrics_table(metrics)}{images}</div>"


def without_folder(row: dict[str, Any], folder: str) -> dict[str, Any]:
    """Names of the temporary files inputs were written to, not their passing paths."""
    return {
        k: Path(v).name if isinstance(v, str) and v.startswith(folder) else v
        for k, v in row.items()
    }


def in_kind_of(obj: Any, rows: list[dict[str, Any]]) -> Any:
    """Prediction rows in the kind of the input: a frame for frames and arrays, one row
    for one text or file, the list otherwise."""
    import numpy as np
    import pandas as pd

    if isinstance(obj, pd.DataFrame | pd.Series | np.ndarray) or obj is None:
        return pd.DataFrame(rows)
    if isinstance(obj, str | Path) and len(rows) == 1:
        return rows[0]
    return rows
