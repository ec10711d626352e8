"""Experiment tracking: ``run.log = ["csv", "tensorboard", "mlflow"]``.

``csv`` is ``history.csv`` in the run directory, always written (the run directory's
contract). The others are trainer callbacks (:class:`seqsuite.trainer.Callback`) that the
runner adds when asked; each also hears when the run has finished (:meth:`finish`), to log
the final metrics, plots and files. Both need the optional extra ``seqsuite[tracking]``;
without it the run stops before training with one line saying how to install it.

- TensorBoard: event files in ``RUN_DIR/tensorboard/``: scalars per epoch (training loss,
  validation metrics, learning rate, speed), the hyper-parameters with the final test
  metrics, and the run's plots as images. ``tensorboard --logdir runs`` shows every run.
- MLflow: the tracking server of ``MLFLOW_TRACKING_URI`` or, without one, a local file store
  ``RUNS_ROOT/mlruns`` beside the run directories (``mlflow ui --backend-store-uri
  runs/mlruns``); experiment ``seqsuite``; params (the flattened config), metrics per step,
  artifacts (plots, ``metrics.json``, ``report.html``, the ``model/`` folder) and the tag
  ``task``. A resumed run continues the same MLflow run (its id is kept in
  ``RUN_DIR/tracking.json``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from . import atomic, rundir
from .errors import UserError, install_extra

KINDS = ("csv", "tensorboard", "mlflow")
INSTALL = install_extra("tracking")
REQUIRES = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
IDS = "tracking.json"
SKIP_SCALARS = {"epoch", "step", "stop_reason"}


def check_available(kinds: list[str]) -> None:
    """Refuse, before anything runs, a tracker whose package is missing."""
    import importlib.util

    for kind in kinds:
        module = REQUIRES.get(kind)
        if module and importlib.util.find_spec(module) is None:
            raise UserError(f"run.log: {kind!r} needs the tracking extra: {INSTALL}")


def flatten(config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``; lists as text."""
    flat = {}
    for section, values in config.items():
        for key, value in values.items():
            flat[f"{section}.{key}"] = (
                value if isinstance(value, int | float | str | bool) else str(value)
            )
    return flat


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a history row (the epoch and step are the x axis)."""
    out = {}
    for key, value in record.items():
        if key in SKIP_SCALARS or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


def final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """``test_*`` and ``val_*`` of ``metrics.json``, and the baselines' test figures."""
    out = {f"test_{k}": v for k, v in (metrics.get("test") or {}).items()}
    out.update({f"final_val_{k}": v for k, v in (metrics.get("val") or {}).items()})
    for name, values in (metrics.get("baselines") or {}).items():
        out.update({f"baseline_{name}_{k}": v for k, v in values.items()})
    return {k: float(v) for k, v in out.items() if isinstance(v, int | float) and math.isfinite(v)}


class TensorBoardLogger:
    """Scalars per epoch, then hyper-parameters, final metrics and plots."""

    def __init__(self, run_dir: Path, config: dict[str, Any]):
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir, self.config = run_dir, config
        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        step = int(record.get("step", 0))
        for key, value in scalars(record).items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def finish(self, metrics: dict[str, Any]) -> None:
        import matplotlib.image

        hparams = {k: v for k, v in flatten(self.config).items() if v is not None}
        self.writer.add_hparams(hparams, final_metrics(metrics), run_name=".")
        for path in sorted((self.run_dir / "plots").glob("*.png")):
            image = matplotlib.image.imread(str(path))  # (height, width, channels) in [0, 1]
            self.writer.add_image(f"plots/{path.stem}", image[..., :3], dataformats="HWC")
        self.writer.close()


def mlflow_tracking_uri(run_dir: Path) -> str:
    """The user's server (``MLFLOW_TRACKING_URI``), else a file store beside the runs."""
    given = os.environ.get("MLFLOW_TRACKING_URI")
    if given:
        return given
    # MLflow keeps its file store for local use but asks to opt in to it
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return (run_dir.resolve().parent / "mlruns").as_uri()


class MLflowLogger:
    """Params, metrics per step, artifacts and the task tag in one MLflow run."""

    def __init__(self, run_dir: Path, config: dict[str, Any], task: str):
        import logging

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        from mlflow import MlflowClient

        self.run_dir, self.task = run_dir, task
        self.client = MlflowClient(tracking_uri=mlflow_tracking_uri(run_dir))
        ids = self._saved_ids()
        if ids.get("mlflow_run_id"):
            self.run_id = ids["mlflow_run_id"]
            return
        experiment = self.client.get_experiment_by_name("seqsuite")
        experiment_id = (
            experiment.experiment_id if experiment else self.client.create_experiment("seqsuite")
        )
        run = self.client.create_run(
            experiment_id, run_name=run_dir.name, tags={"task": task, "run_dir": str(run_dir)}
        )
        self.run_id = run.info.run_id
        for key, value in flatten(config).items():
            self.client.log_param(self.run_id, key, value)
        atomic.write_json(run_dir / IDS, {**ids, "mlflow_run_id": self.run_id})

    def _saved_ids(self) -> dict[str, Any]:
        path = self.run_dir / IDS
        return rundir.read_json(path, "tracking ids") if path.exists() else {}

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        step = int(record.get("step", 0))
        for key, value in scalars(record).items():
            self.client.log_metric(self.run_id, key, value, step=step)

    def finish(self, metrics: dict[str, Any]) -> None:
        for key, value in final_metrics(metrics).items():
            self.client.log_metric(self.run_id, key, value)
        for name in (rundir.METRICS, "report.html", rundir.CONFIG):
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        for folder in ("plots", "model"):
            if (self.run_dir / folder).is_dir():
                self.client.log_artifacts(self.run_id, str(self.run_dir / folder), folder)
        self.client.set_terminated(self.run_id)


def make_loggers(kinds: list[str], run_dir: Path, config: dict[str, Any], task: str) -> list[Any]:
    """The trackers ``run.log`` asks for, beyond ``history.csv`` (always written)."""
    check_available(kinds)
    loggers: list[Any] = []
    if "tensorboard" in kinds:
        loggers.append(TensorBoardLogger(run_dir, config))
    if "mlflow" in kinds:
        loggers.append(MLflowLogger(run_dir, config, task))
    return loggers


def finish_all(loggers: list[Any], metrics: dict[str, Any], console: Any) -> None:
    """Tell each tracker the run has finished; a tracker that fails (a server gone away)
    costs a warning, not the finished run."""
    for logger in loggers:
        try:
            logger.finish(metrics)
        except Exception as err:  # noqa: BLE001 - tracking must not undo a finished run
            console.print(
                f"[yellow]{type(logger).__name__}: could not log the end of the run: {err}[/]"
            )
