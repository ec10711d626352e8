"""Whole runs through the CLI contract: run directory, metrics.json, exit codes, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import seqsuite
from seqsuite import runner


def test_run_writes_a_complete_run_directory(toy_plugin, cli):
    result = cli("run", "toy", "--epochs", "2", "--out", "r", "--seed", "3")
    assert result.code == 0, result.err
    run = Path("r")
    for name in (
        "config.toml",
        "metrics.json",
        "history.csv",
        "best.pt",
        "last.pt",
        "task_state.json",
        "plots/loss.png",
    ):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "toy" and metrics["seed"] == 3 and metrics["epochs"] == 2
    assert metrics["primary_metric"] == "mse" and metrics["higher_is_better"] is False
    assert set(metrics["test"]) == set(metrics["baselines"]["train_mean"]) == {"mse"}
    assert metrics["params"] == sum(
        metrics["params_by_part"][p] for p in ("adapter", "backbone", "head")
    )
    assert metrics["seqsuite_version"] == seqsuite.__version__ and metrics["device"] == "cpu"
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2] and "val_mse" in rows[0]


def test_default_run_directory_is_never_reused(toy_plugin, cli):
    first = cli("run", "toy", "--epochs", "1", "--quiet")
    second = cli("run", "toy", "--epochs", "1", "--quiet")
    assert first.code == second.code == 0
    assert first.out.strip() != second.out.strip()
    assert Path(first.out.strip()).parent.name == "runs" and Path(
        first.out.strip()
    ).name.startswith("toy-")


def test_out_refuses_a_folder_holding_a_different_run(toy_plugin, cli):
    assert cli("run", "toy", "--epochs", "1", "--out", "r", "-q").code == 0
    result = cli("run", "toy", "--epochs", "2", "--out", "r", "-q")
    assert result.code == 2 and "holds a different run (differs at train.epochs" in result.err
    same = cli("run", "toy", "--epochs", "1", "--out", "r")
    assert same.code == 0 and "already holds this finished run" in same.out


def test_out_refuses_a_folder_of_other_files(toy_plugin, cli):
    Path("r").mkdir()
    Path("r/notes.txt").write_text("mine")
    result = cli("run", "toy", "--out", "r")
    assert result.code == 2 and "holds no seqsuite run" in result.err
    assert Path("r/notes.txt").read_text() == "mine"


def test_user_error_leaves_no_run_directory(toy_plugin, cli):
    result = cli("run", "toy", "--set", "backbone.hidden_size=0", "--out", "r")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert not (Path("r") / "metrics.json").exists()
    bad_init = cli("run", "toy", "--init-from", "nowhere", "--out", "s")
    assert bad_init.code == 2 and not Path("s").exists()


def test_interrupted_run_resumes_to_the_same_metrics(toy_plugin):
    straight = runner.run("toy", epochs=4, out="a", quiet=True)

    class Crash(Exception):
        pass

    class CrashAfterEpoch2:
        def on_epoch_end(self, trainer, record):
            if record["epoch"] == 2:
                raise Crash

    with pytest.raises(Crash):
        runner.run("toy", epochs=4, out="b", quiet=True, callbacks=[CrashAfterEpoch2()])
    assert not (Path("b") / "metrics.json").exists() and (Path("b") / "last.pt").exists()
    resumed = runner.resume("b", quiet=True)
    assert resumed.metrics["test"] == straight.metrics["test"]
    assert resumed.metrics["epochs"] == 4


def test_resume_cli_and_eval_and_predict_on_a_finished_run(toy_plugin, cli):
    assert cli("run", "toy", "--epochs", "1", "--out", "r", "-q").code == 0
    assert "already finished" in cli("resume", "r").out
    evaluated = cli("eval", "r", "--json")
    assert evaluated.code == 0
    assert (
        json.loads(evaluated.out)["test"] == json.loads(Path("r/metrics.json").read_text())["test"]
    )
    predicted = cli("predict", "r", "1,2,3", "--json")
    assert predicted.code == 0 and json.loads(predicted.out)[0]["input"] == "1,2,3"


def test_generate_on_a_task_without_generation_is_a_user_error(toy_plugin, cli):
    assert cli("run", "toy", "--epochs", "1", "--out", "r", "-q").code == 0
    result = cli("generate", "r")
    assert result.code == 2 and "does not generate" in result.err


def test_init_from_copies_the_backbone_of_another_run(toy_plugin):
    import torch

    source = runner.run("toy", epochs=1, out="a", quiet=True)
    target = runner.run(
        "toy", epochs=1, out="b", quiet=True, init_from="a", sets=["train.lr=1e-12"]
    )
    for name, tensor in source.model.backbone.state_dict().items():
        torch.testing.assert_close(
            target.model.backbone.state_dict()[name], tensor, atol=1e-6, rtol=0
        )


def test_init_from_a_different_backbone_is_a_user_error(toy_plugin, cli):
    assert cli("run", "toy", "--epochs", "1", "--out", "a", "-q").code == 0
    result = cli(
        "run",
        "toy",
        "--epochs",
        "1",
        "--out",
        "b",
        "--init-from",
        "a",
        "--set",
        "backbone.hidden_size=8",
    )
    assert (
        result.code == 2
        and "backbone.rnn.weight_ih_l0 has shape (64, 1), this model needs (32, 1)" in result.err
    )
    assert not Path("b").exists()


def test_checkpoints_never_run_code(toy_plugin, tmp_path, cli):
    """A pickle that would execute code on load is refused by weights_only loading."""
    import hashlib
    import pickle

    assert cli("run", "toy", "--epochs", "1", "--out", "r", "-q").code == 0

    class Evil:
        def __reduce__(self):
            return (Path("pwned").write_text, ("owned",))

    # Whoever can replace best.pt can replace its digest too: weights_only must still hold.
    evil = pickle.dumps({"model": Evil()})
    Path("r/best.pt").write_bytes(evil)
    Path("r/best.pt.sha256").write_text(hashlib.sha256(evil).hexdigest() + "\n")
    result = cli("eval", "r")
    assert result.code == 2 and "not a valid seqsuite checkpoint" in result.err
    assert not Path("pwned").exists()


def test_a_changed_checkpoint_is_refused_by_its_digest(toy_plugin, tmp_path, cli):
    assert cli("run", "toy", "--epochs", "1", "--out", "r", "-q").code == 0
    data = bytearray(Path("r/best.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path("r/best.pt").write_bytes(bytes(data))
    result = cli("eval", "r")
    assert result.code == 2 and "checksum does not match best.pt.sha256" in result.err


def test_python_module_entry_point_runs(toy_plugin):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "seqsuite", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "run" in done.stdout


def test_a_plugins_metrics_as_tensors_are_numbers_and_nan_is_null_in_json(
    toy_plugin, cli, monkeypatch
):
    """A plugin's evaluate returning 0-d tensors and numpy scalars drove a whole run, then
    failed writing metrics.json (exit 1); NaN printed by --json is not JSON."""
    import numpy as np
    import seqsuite_toy
    import torch

    def evaluate(self, ctx, model, prepared, split):
        return {"mse": torch.tensor(0.25), "spread": np.float32(0.5), "r2": float("nan")}

    monkeypatch.setattr(seqsuite_toy.ToyTask, "evaluate", evaluate)
    result = cli("run", "toy", "--epochs", "1", "--out", "r", "--json")
    assert result.code == 0, result.err
    printed = json.loads(result.out, parse_constant=lambda c: pytest.fail(f"{c} printed"))
    assert printed["test"] == {"mse": 0.25, "spread": 0.5, "r2": None}
    assert json.loads(Path("r/metrics.json").read_text())["test"]["mse"] == 0.25
    evaluated = cli("eval", "r", "--json")
    assert evaluated.code == 0 and "NaN" not in evaluated.out


def test_a_plugin_metric_or_loss_that_is_not_one_number_is_one_line(toy_plugin, cli, monkeypatch):
    import seqsuite_toy
    import torch
    import torch.nn.functional as F

    def loss(self, output, batch):
        return F.mse_loss(output, batch["y"], reduction="none")

    with monkeypatch.context() as patch:
        patch.setattr(seqsuite_toy.ToyTask, "loss", loss)
        result = cli("run", "toy", "--epochs", "1", "--out", "a")
    assert result.code == 2 and "loss() returned a tensor of shape (32, 1)" in result.err

    def evaluate(self, ctx, model, prepared, split):
        return {"mse": torch.ones(3)}

    monkeypatch.setattr(seqsuite_toy.ToyTask, "evaluate", evaluate)
    result = cli("run", "toy", "--epochs", "1", "--out", "b")
    assert result.code == 2 and "metric 'mse' as Tensor of 3 values" in result.err


def test_json_output_is_only_json_when_a_plugin_writes_to_stdout(toy_plugin, capfd, monkeypatch):
    """A hook's print, or a library writing to descriptor 1, went before the JSON."""
    import os

    import seqsuite_toy

    from seqsuite.cli import main

    prepare = seqsuite_toy.ToyTask.prepare

    def chatty_prepare(self, ctx):
        print("chatter from prepare")
        os.write(1, b"raw bytes on descriptor 1\n")
        return prepare(self, ctx)

    monkeypatch.setattr(seqsuite_toy.ToyTask, "prepare", chatty_prepare)
    with pytest.raises(SystemExit) as exited:
        main(["run", "toy", "--epochs", "1", "--out", "r", "--json"])
    assert exited.value.code in (0, None)
    out, err = capfd.readouterr()
    assert json.loads(out)["task"] == "toy"
    assert "chatter from prepare" in err and "raw bytes on descriptor 1" in err


def test_ctrl_c_inside_a_command_says_interrupted(cli, monkeypatch):
    """typer 0.20 and later turn a KeyboardInterrupt inside a command into a silent exit 130."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", interrupted)
    result = cli("run", "forecast")
    assert result.code == 130 and result.err.strip().splitlines()[-1] == "interrupted"
