"""seqsuite compare: one backbone for several tasks, a row per run, failures isolated."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from seqsuite.compare import COLUMNS, route_sets

from .conftest import PLUGINS


def test_sets_route_to_all_tasks_or_one():
    common, per_task = route_sets(
        ["backbone.hidden_size=8", "forecast.lookback=12", "toy.train.epochs=1"],
        ["forecast", "toy"],
    )
    assert common == ["backbone.hidden_size=8"]
    assert per_task == {"forecast": ["task.lookback=12"], "toy": ["train.epochs=1"]}


def _plugins_on_path(monkeypatch) -> None:
    # the child processes find the plugins the same way: on PYTHONPATH
    paths = [str(PLUGINS / "toy"), str(PLUGINS / "broken")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]))
    for path in paths:
        monkeypatch.syspath_prepend(path)


def test_quick_compare_over_two_tasks_and_one_that_fails_while_running(cli, monkeypatch):
    _plugins_on_path(monkeypatch)
    result = cli(
        "compare",
        "forecast",
        "toy",
        "sentiment",
        "--quick",
        "--out",
        "cmp",
        "--set",
        "backbone.hidden_size=8",
        "--set",
        "forecast.train.epochs=3",
        "--set",
        "toy.examples=64",
        "--set",
        "sentiment.run.data=missing.csv",  # a valid setting; the file is missing: fails in its run
    )
    assert result.code == 1, result.err  # one task failed
    out = Path("cmp")
    for name in ("compare.json", "compare.csv", "compare.md", "plots/compare.png"):
        assert (out / name).exists(), name
    rows = list(csv.DictReader((out / "compare.csv").open()))
    assert list(rows[0]) == COLUMNS
    by_task = {r["task"]: r for r in rows}
    assert by_task["forecast"]["status"] == by_task["toy"]["status"] == "ok"
    assert (
        by_task["sentiment"]["status"] == "error" and "missing.csv" in by_task["sentiment"]["error"]
    )
    forecast = by_task["forecast"]
    assert forecast["primary_metric"] == "mase" and forecast["best_baseline"]
    assert float(forecast["backbone_params"]) > 0 and float(forecast["peak_memory_mb"]) > 0
    assert (out / "forecast" / "metrics.json").exists() and (out / "toy" / "metrics.json").exists()
    config = (out / "forecast" / "config.toml").read_text()
    assert "hidden_size = 8" in config and "epochs = 3" in config  # one backbone; per-task set
    data = json.loads((out / "compare.json").read_text())
    assert data["command"].startswith("seqsuite compare forecast toy sentiment --quick")
    assert "| forecast |" in (out / "compare.md").read_text()


def test_a_broken_or_unknown_task_stops_compare_before_anything_trains(cli, monkeypatch):
    _plugins_on_path(monkeypatch)
    broken = cli("compare", "forecast", "broken", "--quick", "--out", "cmp")
    assert broken.code == 2 and "'broken'" in broken.err and "failed to load" in broken.err
    unknown = cli("compare", "forecast", "bogus", "--quick", "--out", "cmp")
    assert unknown.code == 2 and "unknown task 'bogus'" in unknown.err
    twice = cli("compare", "forecast", "forecast", "--quick", "--out", "cmp")
    assert twice.code == 2 and "named twice" in twice.err
    assert not Path("cmp").exists()  # nothing trained, nothing written


def test_a_bad_setting_for_any_task_stops_compare_before_anything_trains(cli, monkeypatch):
    _plugins_on_path(monkeypatch)
    result = cli("compare", "forecast", "toy", "--quick", "--out", "cmp", "--set", "toy.lookback=3")
    assert result.code == 2 and "compare toy" in result.err and "task.lookback" in result.err
    assert not Path("cmp").exists()


def test_sweep_makes_one_row_per_backbone(cli, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(PLUGINS / "toy"))
    monkeypatch.syspath_prepend(str(PLUGINS / "toy"))
    result = cli("compare", "toy", "--sweep", "backbone.hidden_size=4,6", "--out", "cmp", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)["rows"]
    assert [r["backbone"] for r in rows] == ["hidden_size=4", "hidden_size=6"]
    assert rows[0]["backbone_params"] < rows[1]["backbone_params"]
    assert (Path("cmp") / "toy-hidden_size=4" / "metrics.json").exists()


def test_bad_sweep_is_a_user_error(cli):
    result = cli("compare", "forecast", "--sweep", "backbone.hiden_size=4")
    assert result.code == 2 and "did you mean 'backbone.hidden_size'" in result.err


def test_a_task_that_needs_its_own_backbone_is_left_out_of_all_and_refused_by_name(cli):
    from seqsuite.compare import make_plan

    assert "bilm" not in make_plan([], all_tasks=True).tasks
    named = cli("compare", "bilm", "--quick")
    assert named.code == 2 and "cannot share" in named.err
    assert len(named.err.strip().splitlines()) == 1


def test_compare_stops_its_child_run_when_it_is_terminated():
    """SIGTERM to compare alone (timeout, docker stop) left its child training on."""
    import signal
    import subprocess
    import sys
    import threading

    from seqsuite.compare import _wait_for

    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    before = signal.getsignal(signal.SIGTERM)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    with pytest.raises(SystemExit) as stopped:
        _wait_for(child)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert child.poll() is not None  # stopped, not left running
    assert signal.getsignal(signal.SIGTERM) is before  # the handler was put back


def test_an_out_holding_another_commands_comparison_is_refused_and_kept(cli):
    Path("cmp").mkdir()
    earlier = '{"command": "seqsuite compare forecast --quick --out cmp --epochs 1", "rows": []}'
    Path("cmp/compare.json").write_text(earlier)
    result = cli("compare", "forecast", "--quick", "--out", "cmp", "--set", "train.epochs=2")
    assert result.code == 2 and "holds a comparison made by another command" in result.err
    assert Path("cmp/compare.json").read_text() == earlier and len(list(Path("cmp").iterdir())) == 1
    Path("cmp/compare.json").unlink()
    Path("cmp/compare.csv").write_text("task,status\nforecast,ok\n")  # its results, kept
    result = cli("compare", "forecast", "--quick", "--out", "cmp", "--set", "train.epochs=2")
    assert result.code == 2 and "compare.csv but not the compare.json" in result.err
    assert Path("cmp/compare.csv").read_text() == "task,status\nforecast,ok\n"
