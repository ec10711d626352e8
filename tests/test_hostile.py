"""Hostile input against the core: destructive writes, options and saved files made absurd,
plugins that misbehave. Each ends with exit code 2 and one line (or, for plugins, a row in
`seqsuite tasks`), never a traceback, a hang or a write through a link or into a device."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import PLUGINS


def one_line_error(result, *words: str) -> None:
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.err


@pytest.fixture(scope="module")
def textgen_run(tmp_path_factory):
    """A tiny finished textgen run to generate from."""
    from seqsuite.cli import main

    folder = tmp_path_factory.mktemp("tg")
    corpus = folder / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 200)
    run = folder / "run"
    args = ["run", "textgen", "--data", str(corpus), "--out", str(run), "--quiet"]
    args += ["--set", "backbone.hidden_size=8", "--set", "backbone.num_layers=1"]
    args += ["--set", "train.time_budget=0", "--set", "train.epochs=1", "--set", "task.bptt=20"]
    args += ["--set", "train.eval_every=0", "--set", "task.sample_length=5"]
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 0
    return run


# -- destructive writes ----------------------------------------------------------------------


def test_generate_never_writes_into_a_device(cli, textgen_run):
    before = os.stat("/dev/null")
    result = cli("generate", str(textgen_run), "--length", "5", "--out", "/dev/null")
    one_line_error(result, "/dev/null", "not a regular file")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_generate_never_writes_through_a_link(cli, textgen_run, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    one_line_error(
        cli("generate", str(textgen_run), "--length", "5", "--out", str(link)), "symbolic link"
    )
    assert target.read_text() == "keep me" and link.is_symlink()


def test_a_link_planted_in_a_run_directory_is_not_written_through(cli, textgen_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(textgen_run, run)
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (run / "eval.json").symlink_to(target)
    one_line_error(cli("eval", str(run)), "eval.json", "symbolic link")
    assert target.read_text() == "keep me"


def test_export_and_the_model_folder_never_write_through_a_planted_link(cli, textgen_run, tmp_path):
    """`export/` or `model/` as a link to the user's folder: export wrote model.onnx into
    it, and every run or resume replaced the user's README.md with the model card."""
    import shutil

    from seqsuite import portable
    from seqsuite.errors import UserError

    run = tmp_path / "copy"
    shutil.copytree(textgen_run, run)
    victim = tmp_path / "project"
    victim.mkdir()
    (victim / "README.md").write_text("my project")
    (run / "export").symlink_to(victim)
    one_line_error(cli("export", str(run), "--format", "torchscript"), "export", "symbolic link")
    shutil.rmtree(run / "model")
    (run / "model").symlink_to(victim)
    with pytest.raises(UserError, match="model: is a symbolic link"):
        portable.write_model_dir(run, __import__("torch").nn.Linear(1, 1), {"task": "textgen"})
    assert [p.name for p in victim.iterdir()] == ["README.md"]
    assert (victim / "README.md").read_text() == "my project"


@pytest.mark.parametrize(
    "payload, words",
    [
        ("state_dict", "no 'model' (a model's state_dict alone?)"),
        ([1, 2], "holds a list, not a dict"),
        ({"model": [1, 2]}, "'model' is not named tensors"),
        ("fifo", "FIFO"),
        ("garbage", "not a PyTorch checkpoint"),  # was: "holds objects other than tensors"
    ],
)
def test_a_checkpoint_that_is_not_seqsuites_is_one_line(cli, textgen_run, tmp_path, payload, words):
    """A plain torch.save(model.state_dict()) gave KeyError: 'model'; a FIFO never ended."""
    import shutil

    import torch

    run = tmp_path / "copy"
    shutil.copytree(textgen_run, run)
    best = run / "best.pt"
    state = torch.load(best, weights_only=True)["model"]
    best.unlink()
    (run / "best.pt.sha256").unlink()
    if payload == "fifo":
        os.mkfifo(best)
    elif payload == "garbage":
        best.write_bytes(os.urandom(64).replace(b"\x80", b"\x81").replace(b"PK", b"QK"))
    else:
        torch.save(state if payload == "state_dict" else payload, best)
    one_line_error(cli("eval", str(run)), "best.pt", words)


def test_a_spec_edited_to_a_negative_size_or_text_is_one_line(cli, textgen_run, tmp_path):
    """`spec.horizon = -5` gave PyTorch's "negative dimension" traceback."""
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(textgen_run, run)
    saved = json.loads((run / "task_state.json").read_text())
    key = next(k for k, v in saved["spec"].items() if isinstance(v, int) and v > 1)
    for value in (-5, "24"):
        saved["spec"][key] = value
        (run / "task_state.json").write_text(json.dumps(saved))
        one_line_error(cli("eval", str(run)), "task_state.json", "do not build a textgen model")


def test_a_run_this_user_cannot_write_is_refused_before_the_work(
    cli, textgen_run, tmp_path, monkeypatch
):
    """backtest lost 21 s of work at its last step, naming a temporary file; generate
    said "samples: permission denied" without the way out (--out). Tests run as root,
    for whom every folder is writable: the access check is what is stood in for."""
    from seqsuite import inference

    real = os.access
    monkeypatch.setattr(
        inference.os, "access", lambda p, mode: False if Path(p) == textgen_run else real(p, mode)
    )
    one_line_error(cli("generate", str(textgen_run), "--length", "3"), "not writable", "--out")
    out = tmp_path / "sample.txt"
    assert cli("generate", str(textgen_run), "--length", "3", "--out", str(out)).code == 0


def test_a_console_that_cannot_show_a_character_does_not_fail_the_command(textgen_run):
    """Under cp1252 or ASCII output (Windows' `> log.txt`) the table's arrow ended a
    finished command with exit 2 and "text is not valid in its encoding; save it as UTF-8"."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "seqsuite", "eval", str(textgen_run)],
        env=env, capture_output=True, text=True, encoding="ascii", errors="replace",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "nll" in done.stdout


def test_generate_never_overwrites_an_earlier_sample(cli, textgen_run):
    first = cli("generate", str(textgen_run), "--length", "5", "--prompt", "the")
    second = cli("generate", str(textgen_run), "--length", "5", "--prompt", "a")
    assert first.code == second.code == 0
    samples = sorted((textgen_run / "samples").glob("generated-seed0*.txt"))
    assert len(samples) >= 2


def test_written_files_follow_the_umask(cli, textgen_run, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "sample.txt"
        assert cli("generate", str(textgen_run), "--length", "5", "--out", str(out)).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


@pytest.mark.parametrize("where", ["/proc/seqsuite-run", "/dev/null/x"])
def test_impossible_output_folders_are_one_line(cli, where):
    one_line_error(cli("run", "forecast", "--epochs", "1", "--out", where))


def test_an_output_folder_that_is_a_link_is_refused(cli, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "via").symlink_to(tmp_path / "real")
    one_line_error(cli("run", "forecast", "--epochs", "1", "--out", str(tmp_path / "via")), "link")


# -- options and saved files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "run.task=textgen"], ["run.task cannot be set"]),
        (["--set", "backbone.hidden_size=1000000000"], ["backbone.hidden_size", "<= 16384"]),
        (
            ["--set", "backbone.hidden_size=16000", "--set", "backbone.num_layers=64"],
            ["parameters"],
        ),
        (["--seed", "99999999999999999999"], ["run.seed", "2**63"]),
        (["--set", "train.lr=nan"], ["train.lr", "finite"]),
        (["--time-budget", "nan"], ["train.time_budget", "finite"]),
        (["--set", "train.lr=inf"], ["train.lr", "finite"]),
    ],
)
def test_absurd_options_are_one_line(cli, args, words):
    one_line_error(cli("run", "forecast", "--epochs", "1", "--out", "r", *args), *words)
    assert not Path("r/metrics.json").exists()


def test_a_deeply_nested_config_is_one_line(cli, tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")
    one_line_error(cli("run", "forecast", "--config", str(deep)), "deep.toml")


@pytest.mark.parametrize(
    ("generate_args", "words"),
    [
        (["--length", "0"], ["--length", "expected 1"]),
        (["--length", "-5"], ["--length"]),
        (["--length", "100000000"], ["--length"]),
        (["--top-k", "-5"], ["--top-k"]),
        (["--temperature", "-1"], ["--temperature"]),
        (["--temperature", "nan"], ["--temperature"]),
    ],
)
def test_absurd_generation_options_are_one_line(cli, textgen_run, generate_args, words):
    one_line_error(cli("generate", str(textgen_run), *generate_args), *words)


def test_an_edited_task_state_is_one_line(cli, textgen_run, tmp_path):
    import shutil

    run = tmp_path / "edited"
    shutil.copytree(textgen_run, run)
    saved = json.loads((run / "task_state.json").read_text())
    del saved["spec"]
    (run / "task_state.json").write_text(json.dumps(saved))
    one_line_error(cli("eval", str(run)), "task_state.json", "'spec'")


def test_an_unknown_predict_option_names_what_is_accepted(cli, textgen_run):
    one_line_error(cli("predict", str(textgen_run), "x", "--option", "horizn=3"), "horizn")


def test_a_checkpoint_that_holds_code_is_refused_without_suggesting_to_run_it(
    cli, textgen_run, tmp_path
):
    import pickle
    import shutil

    run = tmp_path / "crafted"
    shutil.copytree(textgen_run, run)
    (run / "best.pt").write_bytes(pickle.dumps(os.system))
    (run / "best.pt.sha256").unlink()
    result = cli("eval", str(run))
    one_line_error(result, "best.pt", "never loads")
    assert "weights_only=False" not in result.err


# -- inputs that never end ---------------------------------------------------------------------


def test_a_fifo_as_data_is_refused_not_waited_on(cli, tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    one_line_error(cli("run", "textgen", "--data", str(fifo), "--out", "r"), "FIFO")


def test_a_link_to_a_device_as_data_is_refused(cli, tmp_path):
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    one_line_error(cli("run", "forecast", "--data", str(link), "--out", "r"), "device")


def test_utf16_text_is_read_as_text(cli, tmp_path):
    path = tmp_path / "u16.txt"
    path.write_text("to be or not to be, that is the question. " * 300, encoding="utf-16")
    result = cli(
        "run",
        "textgen",
        "--data",
        str(path),
        "--out",
        "r",
        "--set",
        "task.bptt=20",
        "--set",
        "backbone.hidden_size=8",
        "--set",
        "backbone.num_layers=1",
        "--set",
        "train.time_budget=0",
        "--set",
        "train.epochs=1",
        "--set",
        "train.eval_every=0",
        "--set",
        "task.sample_length=5",
        "--quiet",
    )
    assert result.code == 0, result.err


# -- plugins that misbehave --------------------------------------------------------------------


def _seqsuite(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "PYTHONPATH": str(PLUGINS / "hostile"),
        "SEQSUITE_PLUGIN_TIMEOUT": "3",
        "OMP_NUM_THREADS": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "seqsuite", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


def test_misbehaving_plugins_are_rows_and_stdout_stays_json():
    started = time.perf_counter()
    listed = _seqsuite("tasks", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)  # nothing a plugin printed got in the way
    by = {}
    for row in rows:
        by.setdefault(row["name"], []).append(row)
    assert "SystemExit" in by["exits"][0]["error"] and not by["exits"][0]["ok"]
    assert "KeyboardInterrupt" in by["interrupts"][0]["error"]
    assert "timed out" in by["hangs"][0]["error"]
    assert by["chatty"][0]["ok"] and "hello from a chatty plugin" in listed.stderr
    builtin, impostor = by["forecast"]
    assert builtin["ok"] and builtin["distribution"] == "seqsuite"
    assert not impostor["ok"] and "already taken by seqsuite" in impostor["error"]
    assert time.perf_counter() - started < 60


def test_a_command_imports_only_the_plugin_it_needs(tmp_path):
    """The hanging plugin is never imported: `run forecast` finishes, and it is the built-in."""
    result = _seqsuite("run", "forecast", "--epochs", "1", "--out", str(tmp_path / "r"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["task"] == "forecast"
    assert "impostor" not in result.stdout + result.stderr


def test_running_a_plugin_that_exits_on_import_is_one_line():
    result = _seqsuite("run", "exits")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: task 'exits' (from seqsuite-hostile) failed to load: SystemExit: 3"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run"], ["Missing argument 'TASK'", "seqsuite run --help"]),
        (["run", "forecast", "--epochs", "abc"], ["--epochs"]),
        (["bogus"], ["No such command 'bogus'"]),
    ],
)
def test_usage_errors_are_one_line(cli, args, words):
    one_line_error(cli(*args), *words)
