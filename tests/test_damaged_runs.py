"""Run directories and model folders as people leave them: their own files beside a run,
links, data changed after the run, files edited, cut short or copied from another run."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomli_w
import torch

from seqsuite import checkpoint, inference, rundir, runner, scaffold
from seqsuite.errors import UserError
from seqsuite.trainer import _check_same_config
from seqsuite_tasks.forecast import ForecastTask
from seqsuite_tasks.forecast.task import read_forecaster

CONFIG = {"run": {"task": "forecast", "data": ""}, "train": {"epochs": 3}}


def test_a_folder_with_the_user_s_hidden_files_is_not_a_new_run_and_keeps_them(tmp_path):
    out = tmp_path / "proj"
    (out / ".git").mkdir(parents=True)
    (out / ".env").write_text("API_KEY=xyz\n")
    with pytest.raises(UserError, match="holds no seqsuite run"):
        rundir.claim_out_dir(out, CONFIG)
    assert (out / ".env").read_text() == "API_KEY=xyz\n" and (out / ".git").is_dir()


def test_a_failed_new_run_removes_what_it_wrote_and_nothing_else(tmp_path):
    out = tmp_path / "run"
    (out / "data").mkdir(parents=True)  # seqsuite.fit's data: its caller removes it
    assert rundir.claim_out_dir(out, CONFIG) == "new"
    for name in (rundir.CONFIG, rundir.STATE, rundir.LOCK, ".metrics.json.x1.tmp"):
        (out / name).write_text("x")
    rundir.discard_new(out)
    assert [p.name for p in out.iterdir()] == ["data"]
    (out / "data").rmdir()
    rundir.discard_new(out)
    assert not out.exists()


def test_the_run_lock_is_never_written_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / rundir.LOCK).symlink_to(victim)
    with pytest.raises(UserError, match="symbolic link"):
        with rundir.RunLock(run):
            pass
    assert victim.read_text() == "precious"
    (run / rundir.LOCK).unlink()
    with rundir.RunLock(run):
        assert (run / rundir.LOCK).read_text() == str(os.getpid())


def test_the_same_out_and_config_with_data_changed_since_is_not_the_finished_run(
    tmp_path, monkeypatch
):
    data = tmp_path / "sales.csv"
    data.write_text("y\n1\n2\n")
    config = {**CONFIG, "run": {**CONFIG["run"], "data": str(data)}}
    out = tmp_path / "run"
    out.mkdir()
    (out / rundir.CONFIG).write_text('[run]\ntask = "forecast"\n')
    (out / rundir.METRICS).write_text("{}")
    monkeypatch.setattr(rundir, "read_config", lambda _: config)
    assert rundir.claim_out_dir(out, config) == "finished"
    later = time.time() + 5
    os.utime(data, (later, later))
    with pytest.raises(UserError, match="data changed after that run started"):
        rundir.claim_out_dir(out, config)
    folder = tmp_path / "clips"
    folder.mkdir()
    os.utime(folder, (0, 0))
    (out / rundir.CONFIG).touch()
    assert not rundir.changed_since(folder, out / rundir.CONFIG)
    (folder / "new.wav").write_bytes(b"")
    os.utime(folder / "new.wav", (later, later))
    assert rundir.changed_since(folder, out / rundir.CONFIG)


def test_a_config_cut_short_or_emptied_is_named(tmp_path):
    path = tmp_path / rundir.CONFIG
    with pytest.raises(UserError, match=r"config.toml: no \[run\] section"):
        rundir.check_sections({}, path)
    whole = {name: {} for name in rundir.SECTIONS}
    with pytest.raises(UserError, match=r"no \[task\] section"):
        rundir.check_sections({**whole, "task": None, "run": {"task": "forecast"}}, path)
    with pytest.raises(UserError, match="run.task missing"):
        rundir.check_sections(whole, path)
    with pytest.raises(UserError, match="run.task = 5; expected a task's name"):
        rundir.check_sections({**whole, "run": {"task": 5}}, path)
    rundir.check_sections({**whole, "run": {"task": "forecast"}}, path)


def test_resuming_with_a_config_edited_since_the_checkpoint_is_refused(tmp_path):
    saved = {"backbone": {"hidden_size": 32}, "task": {"horizon": 6}}
    _check_same_config(saved, saved, tmp_path / "last.pt")
    _check_same_config(None, saved, tmp_path / "last.pt")  # checkpoints before the config
    edited = {"backbone": {"hidden_size": 16}, "task": {"horizon": 6}}
    with pytest.raises(UserError, match=r"config.toml: differs .* backbone.hidden_size \(32"):
        _check_same_config(saved, edited, tmp_path / "last.pt")


def test_weights_of_another_model_are_named_not_a_traceback(tmp_path):
    small, big = torch.nn.Linear(2, 3), torch.nn.Linear(2, 4)
    with pytest.raises(
        UserError, match=r"best.pt: these weights are not this run's model \(.*weight"
    ):
        checkpoint.put_weights(small, big.state_dict(), tmp_path / "best.pt")
    checkpoint.put_weights(small, torch.nn.Linear(2, 3).state_dict(), tmp_path / "best.pt")


def test_weights_holding_nan_are_refused_not_answered_with(tmp_path):
    from seqsuite.portable import load_weights, save_weights

    weights = torch.nn.Linear(2, 3).state_dict()
    weights["bias"][1] = float("nan")
    with pytest.raises(UserError, match=r"best.pt: tensor 'bias' holds NaN"):
        checkpoint.put_weights(torch.nn.Linear(2, 3), weights, tmp_path / "best.pt")
    save_weights(tmp_path / "model.safetensors", weights, {"format": "seqsuite"})
    with pytest.raises(UserError, match=r"model.safetensors: tensor 'bias' holds NaN"):
        load_weights(tmp_path / "model.safetensors")


def test_export_never_overwrites_a_file_of_the_user_s_nor_misnames_one(tmp_path):
    notes = tmp_path / "notes.pt"
    notes.write_text("precious")
    with pytest.raises(UserError, match="not an earlier export"):
        inference.check_export_target(notes, "torchscript")
    with pytest.raises(UserError, match=r"a onnx file is named \*.onnx; got .pt"):
        inference.check_export_target(tmp_path / "m.pt", "onnx")
    with pytest.raises(UserError, match="got .onnx"):
        inference.check_export_target(tmp_path / "m.onnx", "torchscript")
    inference.check_export_target(tmp_path / "new.onnx", "onnx")
    earlier = tmp_path / "m.onnx"
    earlier.write_bytes(b"onnx")
    (tmp_path / "m.onnx.json").write_text("{}")
    inference.check_export_target(earlier, "onnx")  # a re-export replaces it


@pytest.mark.parametrize(
    ("name", "why"), [("forecast", "an installed task has it"), ("class", "Python keyword")]
)
def test_new_task_refuses_a_taken_name_or_a_keyword_and_says_which(tmp_path, name, why):
    with pytest.raises(UserError, match=why):
        scaffold.new_task(name, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_a_damaged_or_missing_forecaster_file_of_a_finished_run_is_named(tmp_path):
    assert read_forecaster(tmp_path) == {}  # unfinished: not chosen yet
    (tmp_path / rundir.METRICS).write_text("{}")
    with pytest.raises(UserError, match="forecaster.json: the combination weights .* missing"):
        read_forecaster(tmp_path)
    (tmp_path / "forecaster.json").write_text('{"series": {"y": ')
    with pytest.raises(UserError, match="forecaster.json: invalid JSON"):
        read_forecaster(tmp_path)
    (tmp_path / "forecaster.json").write_bytes(b"garbage\x00\xff{[")
    with pytest.raises(UserError, match="forecaster.json: invalid JSON"):
        read_forecaster(tmp_path)
    (tmp_path / "forecaster.json").write_text('{"series": {"y": {"weights": {}}}}')
    with pytest.raises(UserError, match="series 'y': no member weighs more than 0"):
        read_forecaster(tmp_path)
    (tmp_path / "forecaster.json").write_text('{"series": {"y": {"weights": {"lstm": 1}}}}')
    assert read_forecaster(tmp_path) == {"y": {"weights": {"lstm": 1}}}


def test_a_model_folder_without_its_weights_says_so(tmp_path):
    from seqsuite.assembly import evaluated_weights

    (tmp_path / rundir.METRICS).write_text("{}")
    ctx = SimpleNamespace(run_dir=Path(tmp_path), config=None, device="cpu")
    with pytest.raises(UserError, match=r"model.safetensors: missing"):
        evaluated_weights(ctx)


def test_eval_of_a_run_on_a_read_only_disk_still_evaluates(tmp_path, monkeypatch):
    def refuse(path, value):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(inference.atomic, "write_json", refuse)
    note = inference._save_beside(tmp_path / "eval.json", {"test": {}})
    assert note.startswith(f"not saved to {tmp_path / 'eval.json'}: {tmp_path} is not writable")


def test_ctrl_c_while_the_command_still_imports_is_one_line_and_130(tmp_path):
    """PyTorch takes seconds to import: an interrupt then is an interrupt, not a traceback."""
    import subprocess
    import sys

    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise KeyboardInterrupt\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "seqsuite", "tasks"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 130
    assert done.stderr == "interrupted\n"


def test_a_folder_of_the_run_replaced_by_a_link_is_never_written_through(tmp_path):
    from seqsuite.task import Context

    victim = tmp_path / "elsewhere"
    victim.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples").symlink_to(victim)
    ctx = Context(config=None, device=torch.device("cpu"), console=None, run_dir=run)
    with pytest.raises(UserError, match="samples: is a symbolic link"):
        ctx.new_path("samples/generated.mid")
    assert not any(victim.iterdir())
    assert ctx.path("plots/loss.png").parent.is_dir()  # a real folder is made as before


def test_a_model_size_edited_in_the_task_state_is_refused_before_it_is_allocated(tmp_path):
    import json

    state = {"spec": {"features": 1, "horizon": 10**12}, "state": {}, "dataset": ""}
    (tmp_path / rundir.STATE).write_text(json.dumps(state))
    with pytest.raises(UserError, match=r"spec.horizon = 1,000,000,000,000; a model size"):
        rundir.read_state(tmp_path)
    state["spec"]["horizon"] = 12
    (tmp_path / rundir.STATE).write_text(json.dumps(state))
    assert rundir.read_state(tmp_path)["spec"]["horizon"] == 12
    (tmp_path / rundir.STATE).write_text("[" * 100_000)
    with pytest.raises(UserError, match=r"task_state.json: invalid JSON: nested too deeply"):
        rundir.read_state(tmp_path)


def test_resuming_a_run_whose_data_changed_since_it_started_is_refused(tmp_path):
    """`run --out` refused it, `resume` trained on the changed file (split anew: the
    test part could hold rows the model had trained on)."""
    import numpy as np

    from seqsuite import runner

    data = tmp_path / "sales.csv"
    t = np.arange(96)
    data.write_text("y\n" + "\n".join(f"{50 + 5 * np.sin(k / 2):.3f}" for k in t) + "\n")

    class Crash(Exception):
        pass

    class CrashAfterEpoch1:
        def on_epoch_end(self, trainer, record):
            raise Crash

    sets = ["task.combine=[]", "task.baselines=['naive']", "task.horizon=6"]
    with pytest.raises(Crash):
        runner.run(
            "forecast", data=str(data), epochs=2, out=tmp_path / "r", sets=sets, quiet=True,
            callbacks=[CrashAfterEpoch1()],
        )  # fmt: skip
    started = data.stat().st_mtime_ns
    later = time.time() + 5
    os.utime(data, (later, later))
    with pytest.raises(UserError, match="its data .*sales.csv changed after the run started"):
        runner.resume(tmp_path / "r", quiet=True)
    os.utime(data, (0, 0))  # another file copied in with an older time (cp -p, mv, tar)
    with pytest.raises(UserError, match="changed after the run started"):
        runner.resume(tmp_path / "r", quiet=True)
    os.utime(data, ns=(started, started))
    assert runner.resume(tmp_path / "r", quiet=True).metrics["epochs"] == 2


def test_a_runs_json_or_toml_as_a_fifo_or_with_a_5000_digit_number_is_one_line(tmp_path):
    """A FIFO as config.toml or task_state.json hung every command; a 5,000-digit integer
    was Python's own ValueError, exit 1."""
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / rundir.CONFIG)
    with pytest.raises(UserError, match="config.toml: is a FIFO"):
        rundir.read_config(run)
    os.unlink(run / rundir.CONFIG)
    (run / rundir.CONFIG).write_text("[run]\nseed = " + "9" * 5000 + "\n")
    with pytest.raises(UserError, match="config.toml: invalid TOML: .*4300"):
        rundir.read_config(run)
    (run / "metrics.json").write_text('{"seed": ' + "9" * 5000 + "}")
    with pytest.raises(UserError, match="metrics.json: invalid JSON: .*4300"):
        rundir.read_json(run / "metrics.json", "metrics")
    os.mkfifo(run / rundir.STATE)
    with pytest.raises(UserError, match="task_state.json: is a FIFO"):
        rundir.read_state(run)


def test_an_edited_metrics_file_is_named_by_what_is_wrong(tmp_path):
    """`run --out FINISHED --json` with metrics.json = [1] was a TypeError; compare over an
    earlier run whose primary metric was removed, a KeyError (and no compare.json)."""
    import json

    path = tmp_path / rundir.METRICS
    good = {"primary_metric": "mase", "test": {"mase": float("nan")}, "baselines": {}}
    path.write_text(json.dumps(good))
    assert rundir.read_metrics(tmp_path)["test"] == {"mase": None}
    for edited, words in [
        ([1], "naming its 'primary_metric'"),
        ({"test": {}}, "naming its 'primary_metric'"),
        ({**good, "test": [1]}, "'test' is not an object"),
        ({**good, "baselines": {"naive": {"mase": "0.5"}}}, "baselines.naive.mase is '0.5'"),
    ]:
        path.write_text(json.dumps(edited))
        with pytest.raises(UserError, match=re.escape(words)):
            rundir.read_metrics(tmp_path)


def test_a_data_file_swapped_for_an_older_one_or_dated_in_the_future_is_told(tmp_path):
    """A file copied in with an older time gave the old run's metrics as this one's;
    a file dated in the future (clock skew) refused the same command run again."""
    data = tmp_path / "sales.csv"
    data.write_text("y\n1\n2\n")
    future = time.time() + 10**6
    os.utime(data, (future, future))
    run = tmp_path / "run"
    run.mkdir()
    (run / rundir.CONFIG).write_text("")
    rundir.write_data_stamp(run, str(data))
    assert not rundir.data_changed(run, data)  # dated in the future, unchanged
    data.write_text("y\n50\n100\n")
    os.utime(data, (0, 0))
    assert rundir.data_changed(run, data)  # replaced, with an older time


def test_the_cache_follows_xdg_and_its_failures_say_it_is_the_cache(tmp_path, monkeypatch):
    """A read-only HOME gave "~/.cache: Read-only file system", not saying it was the
    cache nor how to move it; XDG_CACHE_HOME was ignored."""
    import errno

    from seqsuite.boundary import describe
    from seqsuite.cache import cache_dir

    monkeypatch.delenv("SEQSUITE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "seqsuite"
    err = OSError(errno.EROFS, "Read-only file system", str(tmp_path / "xdg"))
    assert "set SEQSUITE_CACHE to a writable folder" in describe(err)
    other = OSError(errno.EROFS, "Read-only file system", str(tmp_path / "run"))
    assert "SEQSUITE_CACHE" not in describe(other)
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_builds_left_in_the_cache_by_killed_processes_are_removed(tmp_path):
    """kill -9 while tokenising left a 9 MB temporary folder that only the same process id
    would ever remove; a live process's build, or another machine's, is left alone."""
    import subprocess
    import sys

    from seqsuite.cache import _host, building_folder

    final = tmp_path / "tokens" / "abc123"
    final.parent.mkdir()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    dead = final.with_name(f"abc123.{_host()}-{ended}.0000.tmp")
    alive = final.with_name(f"abc123.{_host()}-{os.getpid()}.1111.tmp")
    elsewhere = final.with_name(f"abc123.other_machine-{ended}.2222.tmp")
    for folder in (dead, alive, elsewhere):
        folder.mkdir()
    building = building_folder(final)
    assert not dead.exists() and alive.exists() and elsewhere.exists()
    assert building.name.startswith(f"abc123.{_host()}-{os.getpid()}.")


def test_a_run_being_trained_is_refused_by_the_commands_that_read_it(cli, tmp_path):
    from tests import serve_runs

    run_dir = serve_runs.forecast(tmp_path)
    assert rundir.training_pid(run_dir) is None
    with rundir.RunLock(run_dir):  # as a training process holds it
        assert rundir.training_pid(run_dir) == str(os.getpid())
        for command in (["eval", str(run_dir)], ["predict", str(run_dir)]):
            result = cli(*command)
            assert result.code == 2 and "still being trained (pid" in result.err, command
    assert cli("predict", str(run_dir)).code == 0  # the lock is gone with the process
    (run_dir / rundir.LOCK).unlink()
    (run_dir / rundir.LOCK).mkdir()  # a folder where the lock was: nobody's lock
    assert rundir.training_pid(run_dir) is None
    assert cli("predict", str(run_dir)).code == 0
    (run_dir / rundir.METRICS).unlink()  # interrupted: answered, and said even under --json
    result = cli("predict", str(run_dir), "--json")
    assert result.code == 0 and "an interrupted run" in result.err and json.loads(result.out)


def test_an_eval_whose_run_was_deleted_meanwhile_does_not_make_it_again(tmp_path):
    gone = tmp_path / "run"
    note = inference._save_beside(gone / "eval.json", {"mase": 1.0})
    assert "was removed during the evaluation" in note and not gone.exists()


def _as_an_older_version_left_it(run_dir: Path) -> None:
    """What a run made before run formats were recorded and before ``run.log`` existed
    looks like."""
    state = json.loads((run_dir / rundir.STATE).read_text())
    del state["run_format"], state["seqsuite_version"]
    (run_dir / rundir.STATE).write_text(json.dumps(state))
    config = rundir.read_config(run_dir)
    del config["run"]["log"]
    (run_dir / rundir.CONFIG).write_text(tomli_w.dumps(config))


def test_a_run_of_an_earlier_version_is_the_same_run_and_named_when_it_cannot_load(tmp_path):
    from tests import serve_runs

    run_dir = serve_runs.forecast(tmp_path)
    state = json.loads((run_dir / rundir.STATE).read_text())
    assert state["run_format"] == rundir.RUN_FORMAT and state["seqsuite_version"]
    _as_an_older_version_left_it(run_dir)
    config = rundir.read_config(run_dir)
    assert "log" not in config["run"]
    metrics = (run_dir / rundir.METRICS).read_text()
    again = serve_runs._run(
        "forecast", tmp_path, tmp_path / "series.csv", serve_runs.FORECAST_SETS, 2
    )
    assert again == run_dir  # the same command finds the same finished run
    assert (run_dir / rundir.METRICS).read_text() == metrics  # not trained again
    defaults = runner.default_config(ForecastTask())
    now = rundir.with_defaults(config, defaults)  # as this version reads the run's config
    _check_same_config(rundir.with_defaults(config, defaults), now, run_dir / "last.pt")
    with pytest.raises(UserError, match=r"differs .* \(at run.log"):
        _check_same_config(config, now, run_dir / "last.pt")  # without the defaults: refused
    config_text = (run_dir / rundir.CONFIG).read_text()
    (run_dir / rundir.CONFIG).write_text(config_text.replace("hidden_size = 8", "hidden_size = 9"))
    with pytest.raises(UserError, match=r"made by an older seqsuite \(run format 1\)"):
        inference.evaluate(run_dir, quiet=True)


def test_a_run_of_a_newer_run_format_says_so(tmp_path):
    from tests import serve_runs

    run_dir = serve_runs.forecast(tmp_path)
    state = json.loads((run_dir / rundir.STATE).read_text())
    state["run_format"] = rundir.RUN_FORMAT + 1
    (run_dir / rundir.STATE).write_text(json.dumps(state))
    (run_dir / rundir.CONFIG).write_text((run_dir / rundir.CONFIG).read_text() + "new_key = 1\n")
    with pytest.raises(UserError, match="made by a newer seqsuite .* upgrade seqsuite"):
        inference.predict(run_dir, [], {}, quiet=True)


def test_a_speech_run_whose_spec_predates_the_saved_front_end_exports(tmp_path):
    from tests import serve_runs

    run_dir = serve_runs.speech(tmp_path)
    state = json.loads((run_dir / rundir.STATE).read_text())
    state["spec"] = {"features": state["spec"]["n_mels"], "classes": state["spec"]["classes"]}
    (run_dir / rundir.STATE).write_text(json.dumps(state))  # as runs of 2026-11-29 saved it
    described = inference.export(run_dir, "torchscript", quiet=True)
    assert Path(described["path"]).stat().st_size > 0


def test_resuming_removes_what_eval_and_export_made_from_an_earlier_checkpoint(tmp_path):
    from tests import serve_runs

    run_dir = serve_runs.forecast(tmp_path)
    (run_dir / rundir.METRICS).unlink()  # interrupted after its last checkpoint
    (run_dir / "eval.json").write_text('{"test": {"mase": 9.9}}')
    (run_dir / "export").mkdir()
    (run_dir / "export" / "model.onnx").write_bytes(b"from the earlier checkpoint")
    runner.resume(run_dir, quiet=True)
    assert (run_dir / rundir.METRICS).exists()
    assert not (run_dir / "eval.json").exists() and not (run_dir / "export").exists()
