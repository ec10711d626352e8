"""Shared fixtures: offline hubs, a scratch working folder, the test plugins, the CLI."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# The same examples on every run: a CI failure is reproducible, never a coin toss.
# HYPOTHESIS_PROFILE=explore searches afresh (and finds new cases) when run by hand.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PLUGINS = Path(__file__).parent / "plugins"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Every test runs in its own empty folder, so `runs/` never leaks between tests."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def toy_plugin(monkeypatch):
    """Installs the `seqsuite-toy` distribution (a real .dist-info) on the path."""
    monkeypatch.syspath_prepend(str(PLUGINS / "toy"))
    yield
    sys.modules.pop("seqsuite_toy", None)


@pytest.fixture
def broken_plugins(monkeypatch):
    """Installs a distribution whose plugins fail to load."""
    monkeypatch.syspath_prepend(str(PLUGINS / "broken"))
    yield
    for name in ("seqsuite_broken", "seqsuite_old_api"):
        sys.modules.pop(name, None)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Runs `seqsuite ARGS...` in this process; returns exit code, stdout and stderr."""
    from seqsuite.cli import main

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


def airpassengers() -> Path:
    path = SHARED_DATA / "airpassengers.csv"
    if not path.exists():
        pytest.skip(f"reference data not found at {path}")
    return path
