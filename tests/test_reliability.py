"""Reliability: killed runs resume to the same result, torn files are refused, one process
per run, the same seed gives the same metrics, and the data functions keep their laws."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqsuite import rundir

from .conftest import PLUGINS

TOY = [
    "run",
    "toy",
    "--set",
    "task.examples=2000",
    "--set",
    "task.length=30",
    "--epochs",
    "12",
    "--quiet",
]
TIMINGS = {
    "train_seconds",
    "samples_per_second",
    "timesteps_per_second",
    "baseline_seconds",
    "peak_memory_mb",
    "data_share",  # share of wall time spent on data: a timing too
}


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PLUGINS / "toy"), "OMP_NUM_THREADS": "1"}


def seqsuite(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "seqsuite", *args],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def metrics_without_timings(path: Path) -> dict:
    metrics = json.loads(path.read_text())
    return {k: v for k, v in metrics.items() if k not in TIMINGS}


def kill_and_resume(tmp_path: Path, kills: int, seed: int) -> tuple[dict, int]:
    """Start a run, SIGKILL it at random moments, resume until it finishes."""
    rng = random.Random(seed)
    done = seqsuite(*TOY, "--out", "straight", cwd=tmp_path)
    assert done.wait(timeout=600) == 0, done.stderr.read()
    straight = metrics_without_timings(tmp_path / "straight" / "metrics.json")
    process = seqsuite(*TOY, "--out", "killed", cwd=tmp_path)
    cycles = 0
    for _ in range(kills):
        time.sleep(
            rng.uniform(3.0, 7.0)
        )  # includes start-up; lands in training or a checkpoint write
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        cycles += 1
        if (tmp_path / "killed" / "config.toml").exists():
            process = seqsuite("resume", "killed", "--quiet", cwd=tmp_path)
        else:  # killed before the run was written (a loaded machine starts slowly): run again
            process = seqsuite(*TOY, "--out", "killed", cwd=tmp_path)
    assert process.wait(timeout=600) == 0, process.stderr.read()
    for leftover in (tmp_path / "killed").glob("*"):
        assert not leftover.name.endswith(".tmp") or leftover.name.startswith(".")
    return {
        "straight": straight,
        "resumed": metrics_without_timings(tmp_path / "killed" / "metrics.json"),
    }, cycles


def test_killed_runs_resume_to_the_same_metrics(tmp_path):
    result, cycles = kill_and_resume(tmp_path, kills=2, seed=0)
    assert cycles >= 1
    assert result["resumed"]["test"] == result["straight"]["test"]
    assert result["resumed"]["epochs"] == result["straight"]["epochs"]


@pytest.mark.slow
def test_many_kill_and_resume_cycles(tmp_path):
    total = 0
    for seed in range(3):
        folder = tmp_path / str(seed)
        folder.mkdir()
        result, cycles = kill_and_resume(folder, kills=4, seed=seed)
        assert result["resumed"]["test"] == result["straight"]["test"]
        total += cycles
    assert total >= 6


def test_a_second_process_on_the_same_run_is_refused(tmp_path):
    with rundir.RunLock(tmp_path / "run"):
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from seqsuite import rundir; rundir.RunLock({str(tmp_path / 'run')!r}).__enter__()",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert probe.returncode != 0 and "another seqsuite process" in probe.stderr
    with rundir.RunLock(tmp_path / "run"):  # released: free again
        pass


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    folders = {rundir.new_run_dir("toy", tmp_path) for _ in range(5)}
    assert len(folders) == 5


def test_same_seed_same_metrics(tmp_path):
    outputs = []
    for name in ("a", "b"):
        process = seqsuite(*TOY[:-3], "--epochs", "2", "--out", name, "--quiet", cwd=tmp_path)
        assert process.wait(timeout=600) == 0, process.stderr.read()
        outputs.append(metrics_without_timings(tmp_path / name / "metrics.json"))
    assert outputs[0] == outputs[1]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["forecast", "textgen", "sentiment", "speech", "music"])
def test_each_task_quick_preset_gives_the_same_metrics_twice(tmp_path, task):
    outputs = []
    for name in ("a", "b"):
        process = seqsuite("run", task, "--quick", "--out", name, "--quiet", cwd=tmp_path)
        assert process.wait(timeout=1800) == 0, process.stderr.read()
        outputs.append(metrics_without_timings(tmp_path / name / "metrics.json"))
    assert outputs[0] == outputs[1]


# -- laws of the data functions (hypothesis) ---------------------------------------------


@given(
    st.lists(st.floats(0.5, 1e4), min_size=40, max_size=120),
    st.booleans(),
    st.sampled_from([0, 4]),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_series_transform_inverts(values, log, lag, first):
    from seqsuite_tasks.forecast.transforms import SeriesTransform

    y = np.array(values)
    transform = SeriesTransform(log=log, seasonal_lag=lag, first_diff=first).fit_scale(y[:30])
    z = transform.forward(y)
    np.testing.assert_allclose(transform.inverse(z[30:], y[:30]), y[30:], rtol=1e-6)


@given(st.integers(10, 60), st.integers(1, 5), st.integers(1, 5), st.integers(0, 3))
def test_windows_pair_each_input_with_what_follows(n, lookback, horizon, start):
    from seqsuite_tasks.forecast.transforms import windows

    z = np.arange(n, dtype=float)
    x, y = windows(z, start, n, lookback, horizon)
    assert len(x) == max(0, n - start - lookback - horizon + 1)
    for inputs, targets in zip(x, y, strict=True):
        assert inputs[-1] + 1 == targets[0] and np.all(
            np.diff(np.concatenate([inputs, targets])) == 1
        )


@given(st.lists(st.integers(0, 4), min_size=3, max_size=200), st.integers(0, 10))
def test_stratified_split_is_a_partition(labels, seed):
    from seqsuite.splits import stratified_split

    labels = np.array(labels)
    parts = stratified_split(labels, 0.2, 0.2, seed)
    rows = sorted(parts["train"] + parts["val"] + parts["test"])
    assert rows == list(range(len(labels)))
    assert parts == stratified_split(labels, 0.2, 0.2, seed)


@given(st.text(min_size=1, max_size=200))
def test_character_vocabulary_round_trips(text):
    from seqsuite.vocab import Vocabulary

    vocab = Vocabulary.build(list(text), "char")
    assert vocab.decode(vocab.encode(text)) == text


@given(
    st.lists(st.lists(st.integers(2, 9), min_size=1, max_size=12), min_size=1, max_size=20),
    st.integers(1, 7),
)
@settings(deadline=None)
def test_padding_and_bucketing_keep_every_token(sequences, batch_size):
    from seqsuite.batches import ArraySplit, pad_sequences

    tokens, lengths = pad_sequences([torch.tensor(s) for s in sequences])
    split = ArraySplit({"tokens": tokens, "lengths": lengths}, seq_key="tokens", bucket=True)
    seen = {}
    for batch in split.batches(
        batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    ):
        assert batch["tokens"].shape[1] == int(batch["lengths"].max())
        for row, index in enumerate(batch["index"].tolist()):
            seen[index] = batch["tokens"][row, : int(batch["lengths"][row])].tolist()
    assert [seen[i] for i in range(len(sequences))] == sequences


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=100))
@example(values=[683.625, 683.625, 683.59375])  # a small spread around a large mean
def test_feature_normalisation_is_zero_mean(values):
    from seqsuite_tasks.speech.frontend import normalise

    features = torch.tensor(values, dtype=torch.float32).reshape(1, -1, 1)
    out = normalise(features, torch.ones_like(features))
    assert abs(float(out.mean())) < 1e-3
