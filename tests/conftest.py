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


def _find_shared_data() -> Path | None:
    """The project's reference data (``../shared/data`` beside the checkout, or
    ``SEQSUITE_SHARED_DATA``), found from a clone or a git worktree alike."""
    if os.environ.get("SEQSUITE_SHARED_DATA"):
        return Path(os.environ["SEQSUITE_SHARED_DATA"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


SHARED_DATA = _find_shared_data()


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


def shared_file(name: str) -> Path:
    """A reference data file. Missing, the test fails (CI has the data: a silent skip would
    hide that these tests never ran), unless SEQSUITE_SKIP_SHARED_DATA=1 says to skip."""
    path = (SHARED_DATA or Path("../shared/data")) / name
    if path.exists():
        return path
    message = f"reference data not found at {path} (set SEQSUITE_SHARED_DATA)"
    if os.environ.get("SEQSUITE_SKIP_SHARED_DATA") == "1":
        pytest.skip(message)
    pytest.fail(message)


def airpassengers() -> Path:
    return shared_file("airpassengers.csv")
