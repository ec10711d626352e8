"""Data-parallel training: 2 processes (gloo, CPU) end with the weights of 1 process
with the same global batch and seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seqsuite import checkpoint

RUNS = {
    "forecast": [
        "--epochs",
        "3",
        "--set",
        "backbone.hidden_size=8",
        "--set",
        "task.baselines=['naive']",
        "--set",
        "train.batch_size=16",
    ],
    "sentiment": [
        "--epochs",
        "2",
        "--set",
        "backbone.hidden_size=8",
        "--set",
        "task.min_freq=1",
        "--set",
        "task.dropout=0.0",
        "--set",
        "task.ngram_dropout=0.0",  # the n-gram bag's dropout draws differ per process
        "--set",
        "task.embedding_dim=16",
        "--set",
        "train.batch_size=8",
    ],
}


def data_for(task: str, tmp_path: Path) -> list[str]:
    if task == "forecast":
        path = tmp_path / "s.csv"
        t = np.arange(150)
        path.write_text("value\n" + "\n".join(f"{100 + v + 5 * np.sin(v / 2):.4f}" for v in t))
    else:
        path = tmp_path / "r.csv"
        rows = [
            ("a great film truly", "pos"),
            ("dull and far too long", "neg"),
            ("great", "pos"),
            ("dull", "neg"),
        ] * 15
        path.write_text("text,label\n" + "\n".join(f"{a},{b}" for a, b in rows))
    return ["--data", str(path)]


def seqsuite(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "seqsuite", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.parametrize("task", sorted(RUNS))
def test_two_processes_train_like_one(tmp_path, task):
    args = ["run", task, *data_for(task, tmp_path), *RUNS[task], "--quiet"]
    one = seqsuite(*args, "--out", "one", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    two = seqsuite(*args, "--out", "two", "--nproc", "2", cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.split() == ["two"]  # --quiet prints the run once, not once per rank
    a = checkpoint.load(tmp_path / "one" / "best.pt")
    b = checkpoint.load(tmp_path / "two" / "best.pt")
    assert a["epoch"] == b["epoch"]
    for name, tensor in a["model"].items():
        torch.testing.assert_close(b["model"][name], tensor, atol=2e-5, rtol=1e-4, msg=name)
    import json

    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["processes"] == 2
    assert sorted(p.name for p in (tmp_path / "two").iterdir() if p.suffix == ".pt") == [
        "best.pt",
        "last.pt",
    ]


def _join_and_leave(rank: int, port: int, caller_owns: bool, results) -> None:
    """One rank: join the group through ``distributed.group`` and report what is left after."""
    import torch.distributed as dist

    from seqsuite import distributed

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2"
    )
    if caller_owns:
        dist.init_process_group("gloo")
    with distributed.group(torch.device("cpu")):
        inside = distributed.all_sum(1.0)[0]
    results.put((rank, inside, dist.is_initialized()))
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.mark.parametrize("caller_owns", [False, True])
def test_a_run_leaves_the_group_it_joined_and_only_that(caller_owns):
    """A rank that exits still holding a gloo group can abort at shutdown (CI saw SIGABRT),
    so the run destroys the group it created; a group the caller made stays the caller's."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_join_and_leave, args=(r, port, caller_owns, results)) for r in (0, 1)
    ]
    for p in procs:
        p.start()
    got = sorted(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert got == [(0, 2.0, caller_owns), (1, 2.0, caller_owns)]
