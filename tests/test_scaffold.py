"""seqsuite new-task: the generated plugin installs, is discovered, passes its own test, runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqsuite.scaffold import new_task


def test_new_task_round_trip(cli, tmp_path):
    result = cli("new-task", "waves", "--dir", str(tmp_path / "plugin"))
    assert result.code == 0, result.err
    root = tmp_path / "plugin"
    for name in (
        "pyproject.toml",
        "README.md",
        "seqsuite_waves/task.py",
        "seqsuite_waves/waves.toml",
        "tests/test_waves.py",
    ):
        assert (root / name).exists(), name
    task_source = (root / "seqsuite_waves" / "task.py").read_text()
    for hook in (
        "def prepare",
        "def input_adapter",
        "def head",
        "def loss",
        "def evaluate",
        "def baselines",
        "def report",
        "def predict",
        "def generate",
    ):
        assert hook in task_source

    # install it as pip would (a real .dist-info with the entry point), beside seqsuite
    site = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    config_run = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqsuite",
            "run",
            "waves",
            "--config",
            str(root / "seqsuite_waves" / "waves.toml"),
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "r"),
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert config_run.returncode == 0, config_run.stderr
    assert (tmp_path / "r" / "plots" / "examples.png").exists()


@pytest.mark.parametrize("name", ["Video", "2d", "class", "my-task"])
def test_bad_task_names_are_refused(cli, tmp_path, name):
    result = cli("new-task", name, "--dir", str(tmp_path / "x"))
    assert result.code == 2 and "task name" in result.err


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    from seqsuite.errors import UserError

    with pytest.raises(UserError, match="not empty"):
        new_task("ok", tmp_path / "x")
    assert Path(tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_printed_next_steps_work_as_printed(cli, tmp_path):
    """The printed commands name the interpreter that runs seqsuite, so they work even when
    its virtual environment is not activated; the install resolves (pip --dry-run)."""
    import shlex

    result = cli("new-task", "waves", "--dir", str(tmp_path / "plugin"))
    assert result.code == 0, result.err
    install, run = [shlex.split(line) for line in result.out.splitlines()[1:3]]
    assert install[:5] == [sys.executable, "-m", "pip", "install", "-e"]
    assert run == [sys.executable, "-m", "seqsuite", "run", "waves"]
    dry = subprocess.run(
        [*install, "--dry-run", "--no-build-isolation", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert dry.returncode == 0, dry.stderr
