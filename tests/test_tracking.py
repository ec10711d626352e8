"""run.log: TensorBoard event files and a local MLflow file store, read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqsuite import tracking


def test_tensorboard_gets_scalars_per_epoch_hparams_and_plots(toy_plugin, cli):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = cli("run", "toy", "--epochs", "3", "--out", "r", "--set", 'run.log=["tensorboard"]')
    assert result.code == 0, result.err
    files = list(Path("r/tensorboard").rglob("events.out.tfevents.*"))
    assert files
    events = EventAccumulator(str(Path("r/tensorboard")), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train_loss", "val_mse", "lr"} <= set(tags["scalars"])
    losses = events.Scalars("train_loss")
    history = [json.loads(json.dumps(r)) for r in _history("r")]
    assert [e.value for e in losses] == pytest.approx([float(r["train_loss"]) for r in history])
    assert [e.step for e in losses] == [int(r["step"]) for r in history]
    assert "plots/loss" in tags["images"]
    # the hyper-parameters (the hparams plugin) and the final metrics, in the same folder
    assert "test_mse" in tags["scalars"]
    assert events.Scalars("test_mse")[0].value == pytest.approx(
        json.loads(Path("r/metrics.json").read_text())["test"]["mse"]
    )
    hparams = events.PluginTagToContent("hparams")
    assert hparams and any(b"train.lr" in content for content in hparams.values())


def _history(run_dir: str) -> list[dict]:
    import csv

    return list(csv.DictReader(Path(run_dir, "history.csv").open()))


def test_mlflow_gets_params_metrics_per_step_artifacts_and_the_task_tag(toy_plugin, cli):
    import mlflow
    from mlflow import MlflowClient

    result = cli("run", "toy", "--epochs", "3", "--out", "r", "--set", 'run.log=["mlflow"]')
    assert result.code == 0, result.err
    uri = (Path("mlruns").resolve()).as_uri()
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["seqsuite"])
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["tags.task"] == "toy" and row["status"] == "FINISHED"
    assert row["params.train.epochs"] == "3" and row["params.run.task"] == "toy"
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert row["metrics.test_mse"] == pytest.approx(metrics["test"]["mse"])
    client = MlflowClient(tracking_uri=uri)
    run_id = row["run_id"]
    steps = client.get_metric_history(run_id, "train_loss")
    assert [m.step for m in steps] == [int(r["step"]) for r in _history("r")]
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"metrics.json", "report.html", "plots", "model"} <= artifacts
    model_files = {Path(a.path).name for a in client.list_artifacts(run_id, "model")}
    assert "model.safetensors" in model_files
    assert json.loads(Path("r/tracking.json").read_text())["mlflow_run_id"] == run_id


def test_a_missing_extra_is_one_line_naming_the_install(toy_plugin, cli, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    result = cli("run", "toy", "--epochs", "1", "--out", "r", "--set", 'run.log=["mlflow"]')
    assert result.code == 2
    assert result.err.strip() == (
        "error: run.log: 'mlflow' needs the tracking extra: pip install '.[tracking]' in "
        "seqsuite's checkout, or 'seqsuite-*.whl[tracking]'"
    )
    assert not Path("r").exists()  # refused before the run directory was made


def test_an_unknown_logger_is_refused(toy_plugin, cli):
    result = cli("run", "toy", "--out", "r", "--set", 'run.log=["wandb"]')
    assert result.code == 2 and "expected csv, tensorboard or mlflow" in result.err


def test_flatten_and_final_metrics():
    flat = tracking.flatten({"train": {"lr": 0.1, "sizes": [1, 2]}, "run": {"task": "x"}})
    assert flat == {"train.lr": 0.1, "train.sizes": "[1, 2]", "run.task": "x"}
    final = tracking.final_metrics(
        {"test": {"mse": 1.0}, "val": {"mse": float("nan")}, "baselines": {"mean": {"mse": 2}}}
    )
    assert final == {"test_mse": 1.0, "baseline_mean_mse": 2.0}
