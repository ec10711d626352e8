"""A new user's first hour: help that shows examples, a doctor for bug reports, eval of
another file that scores the whole file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

COMMANDS = [
    "run",
    "eval",
    "predict",
    "generate",
    "compare",
    "export",
    "resume",
    "tasks",
    "config",
    "doctor",
    "new-task",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_an_example_and_no_python_types(cli, command):
    result = cli(command, "--help")
    assert result.code == 0, result.err
    assert "Examples:" in result.out and f"$ seqsuite {command}" in result.out
    for python_type in ("<bool>", "<str>", "<list[str]>", "<int>"):
        assert python_type not in result.out


def test_bare_seqsuite_shows_help_and_no_error(cli):
    result = cli()
    assert result.code == 0 and "error" not in result.err
    assert "Start with: seqsuite run forecast" in result.out


def test_version_says_which_install_answers(cli):
    import seqsuite

    result = cli("--version")
    assert result.code == 0, result.err
    assert result.out.startswith(f"seqsuite {seqsuite.__version__} (")
    assert str(Path(seqsuite.__file__).parent) in result.out


def test_doctor_reports_what_a_bug_report_needs(cli):
    result = cli("doctor", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["libraries"]["torch"] and report["threads"]["cpus_available"] >= 1
    assert {p["name"] for p in report["plugins"] if p["ok"]} >= {"forecast", "textgen", "music"}
    assert set(report["extras"]) == {"export", "tracking", "serve"}  # those pyproject defines
    table = cli("doctor")
    assert table.code == 0 and "seqsuite doctor" in table.out
    assert "seqsuite[serve]" in table.out  # the extra's name, not eaten as a style tag


def test_eval_data_scores_the_whole_file_with_the_runs_vocabulary(cli, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 200)
    args = [
        "--set",
        "backbone.hidden_size=8",
        "--set",
        "backbone.num_layers=1",
        "--set",
        "task.bptt=20",
    ]
    args += [
        "--set",
        "train.time_budget=0",
        "--set",
        "train.epochs=1",
        "--set",
        "train.eval_every=0",
    ]
    args += ["--set", "task.sample_length=5", "--quiet"]
    assert cli("run", "textgen", "--data", str(corpus), "--out", "r", *args).code == 0
    other = tmp_path / "four.txt"
    other.write_text("a lazy fox")  # far too short for a split: scored whole
    result = cli("eval", "r", "--data", str(other), "--json")
    assert result.code == 0, result.err
    scored = json.loads(result.out)
    assert scored["data"]["tokens"] == len("a lazy fox")
    assert scored["baselines"] == {} and "none on --data" in scored["baselines_note"]
    assert scored["test"]["nll"] > 0


@pytest.mark.parametrize("name", ["forecast", "textgen", "sentiment", "speech", "music"])
def test_quick_presets_are_bounded_by_steps_or_epochs_not_seconds(name):
    """--quick gives the same result on a loaded machine as on a quiet one."""
    from seqsuite import config as configs
    from seqsuite.registry import get_task

    task = get_task(name)
    resolved = configs.resolve(task, base=[(task.quick, "quick")])
    assert resolved.train.time_budget == 0
    assert resolved.train.max_steps or resolved.train.epochs <= 50


def test_json_read_by_a_reader_that_stops_early_is_not_a_failure():
    import subprocess
    import sys

    for args in (["tasks", "--json"], ["--help"], ["run", "--help"]):
        code = (
            "import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "  # a reader gone
            f"from seqsuite.cli import main; main({args!r})"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr and "error" not in done.stderr
