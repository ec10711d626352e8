"""Plugins are found through entry points only; a broken one is reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

from seqsuite.registry import discover


def test_builtin_task_is_registered_through_an_entry_point():
    info = {i.name: i for i in discover()}["forecast"]
    assert info.ok and info.distribution == "seqsuite"


def test_a_second_distribution_is_discovered(toy_plugin, cli):
    result = cli("tasks", "--json")
    assert result.code == 0
    tasks = {t["name"]: t for t in json.loads(result.out)}
    assert tasks["toy"] == {
        "name": "toy",
        "summary": "mean of a random sequence (test plugin)",
        "distribution": "seqsuite-toy",
        "ok": True,
        "error": "",
    }


def test_broken_plugins_are_listed_with_their_error(broken_plugins, cli):
    result = cli("tasks", "--json")
    assert result.code == 0
    tasks = {t["name"]: t for t in json.loads(result.out)}
    assert tasks["broken"]["ok"] is False
    assert "a_module_that_does_not_exist" in tasks["broken"]["error"]
    assert tasks["oldapi"]["ok"] is False
    assert "API version 0" in tasks["oldapi"]["error"]
    assert tasks["forecast"]["ok"] is True


def test_other_commands_work_while_a_plugin_is_broken(broken_plugins, toy_plugin, cli):
    import sys

    result = cli("run", "toy", "--epochs", "1", "--out", "r", "--quiet")
    assert result.code == 0, result.err
    assert "r" in result.out
    # a run imports its own task only: the report's environment used to import every
    # plugin, and one that crashes the interpreter on import lost the run at its end
    assert "seqsuite_broken" not in sys.modules and "seqsuite_old_api" not in sys.modules
    assert Path("r/report.html").exists()


def test_running_a_broken_plugin_is_a_user_error(broken_plugins, cli):
    result = cli("run", "broken")
    assert result.code == 2
    assert result.err.startswith("error: task 'broken' (from seqsuite-broken) failed to load")
    assert len(result.err.strip().splitlines()) == 1


def test_unknown_task_names_the_nearest(cli):
    result = cli("run", "forcast")
    assert result.code == 2 and "did you mean 'forecast'" in result.err


def test_an_entry_point_whose_name_is_a_path_is_not_a_task(toy_plugin, cli, tmp_path, monkeypatch):
    """`../escaped` ran, and its run folder was made outside runs/."""
    info = tmp_path / "site" / "seqsuite_evil-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: seqsuite-evil\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[seqsuite.tasks]\n../escaped = seqsuite_toy:ToyTask\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    listed = {t["name"]: t for t in json.loads(cli("tasks", "--json").out)}
    assert (
        listed["../escaped"]["ok"] is False and "not a task name" in listed["../escaped"]["error"]
    )
    result = cli("run", "../escaped", "--epochs", "1")
    assert result.code == 2 and "not a task name" in result.err
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.glob("escaped-*"))
