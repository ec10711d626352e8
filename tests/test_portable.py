"""Portable models: RUN_DIR/model/ (safetensors + config + state + card), used by eval,
predict, generate, --init-from and seqsuite.load; Hub ids offline; push offline."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from safetensors import safe_open

import seqsuite
from seqsuite import portable

FORECAST = ["--epochs", "2", "--set", "backbone.hidden_size=8", "--set", "task.horizon=6"]


@pytest.fixture
def forecast_run(cli) -> Path:
    result = cli("run", "forecast", "--dataset", "nile", *FORECAST, "--out", "f")
    assert result.code == 0, result.err
    return Path("f")


def test_every_run_writes_a_portable_model_folder(forecast_run):
    model = forecast_run / "model"
    assert sorted(p.name for p in model.iterdir()) == [
        "README.md",
        "config.toml",
        "metrics.json",
        "model.safetensors",
        "task_state.json",
    ]
    with safe_open(str(model / "model.safetensors"), "pt") as weights:
        assert weights.metadata()["task"] == "forecast"
        assert "backbone.rnn.weight_ih_l0" in set(weights.keys())
    assert (model / "config.toml").read_bytes() == (forecast_run / "config.toml").read_bytes()
    metrics = json.loads((forecast_run / "metrics.json").read_text())
    card = (model / "README.md").read_text()
    assert "library_name: seqsuite" in card and "**nile**" in card
    assert "| model (lstm) |" in card and f"{metrics['test']['mase']:.4g}" in card
    for name in metrics["baselines"]:
        assert f"| {name} |" in card
    assert 'seqsuite.load("path/to/this/folder")' in card


def test_eval_predict_and_init_from_take_the_model_folder(forecast_run, cli, tmp_path):
    elsewhere = tmp_path / "copied-model"
    seqsuite.load(forecast_run).save(elsewhere)
    from_run = cli("predict", str(forecast_run), "--option", "horizon=3", "--json")
    from_model = cli("predict", str(elsewhere), "--option", "horizon=3", "--json")
    assert from_model.code == 0 and json.loads(from_model.out) == json.loads(from_run.out)
    evaluated = cli("eval", str(elsewhere), "--json")
    metrics = json.loads((forecast_run / "metrics.json").read_text())
    assert evaluated.code == 0 and json.loads(evaluated.out)["test"] == metrics["test"]
    started = cli(
        "run",
        "forecast",
        "--dataset",
        "nile",
        *FORECAST,
        "--init-from",
        str(elsewhere),
        "--out",
        "g",
    )
    assert started.code == 0, started.err
    assert "backbone from" in started.out + started.err


def test_generate_reads_a_model_folder(cli, tmp_path):
    args = ["--set", "backbone.hidden_size=16", "--set", "task.embedding_dim=8",
            "--set", "task.transpose=false", "--epochs", "1"]  # fmt: skip
    pieces = tmp_path / "pieces"
    pieces.mkdir()
    from seqsuite_tasks.music.midi import write_midi

    for k in range(10):
        write_midi(
            pieces / f"{k}.mid", [(60 + (i * (k + 1)) % 12, float(i), 1.0) for i in range(12)]
        )
    assert cli("run", "music", "--data", str(pieces), *args, "--out", "m").code == 0
    result = cli("generate", "m/model", "--length", "8", "--out", "song.mid")
    assert result.code == 0, result.err
    assert Path("song.mid").read_bytes()[:4] == b"MThd"


def test_a_hub_id_offline_is_one_line_within_seconds(cli):
    for args in (
        ["eval", "someone/some-model"],
        ["predict", "someone/some-model"],
        ["run", "forecast", "--init-from", "someone/some-model", "--out", "x"],
    ):
        started = time.perf_counter()
        result = cli(*args)
        assert time.perf_counter() - started < 10
        assert result.code == 2, result.err
        assert len(result.err.strip().splitlines()) == 1 and "offline" in result.err
    with pytest.raises(seqsuite.UserError, match="offline"):
        seqsuite.load("someone/some-model")


def test_push_offline_is_one_clear_line_and_uploads_nothing(forecast_run, cli):
    result = cli("push", str(forecast_run), "me/my-model")
    assert result.code == 2
    assert result.err.strip() == (
        "error: push me/my-model: the Hugging Face Hub cannot be reached (offline); "
        "nothing was uploaded"
    )
    bad = cli("push", str(forecast_run), "not-an-id")
    assert bad.code == 2 and "OWNER/NAME" in bad.err
    empty = Path("empty")
    empty.mkdir()
    missing = cli("push", str(empty), "me/my-model")
    assert missing.code == 2 and "no portable model" in missing.err


def test_a_damaged_weights_file_is_refused_in_one_line(forecast_run, cli, tmp_path):
    copy = seqsuite.load(forecast_run).save(tmp_path / "m")
    (copy / "model.safetensors").write_bytes(b"\x10\x00\x00\x00not a header")
    result = cli("eval", str(copy))
    assert result.code == 2 and "not a valid safetensors file" in result.err


def test_hub_ids_are_told_from_paths():
    assert portable.looks_like_hub_id("owner/name")
    for text in ("./owner/name", "/abs/path", "a/b/c", "name", "owner/"):
        assert not portable.looks_like_hub_id(text)
