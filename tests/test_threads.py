"""Threads fit the work and the machine: one for small steps, a fair share beside other runs,
and always what the user said."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from seqsuite import inference, threads


def test_small_steps_get_one_thread_large_ones_every_cpu():
    assert threads.wanted_for(threads.SMALL_STEP_FLOPS / 10, cpus=8) == 1
    assert threads.wanted_for(threads.SMALL_STEP_FLOPS * 10, cpus=8) == 8


@pytest.mark.parametrize(
    ("wanted", "others", "cpus", "share"),
    [
        (8, [], 8, 8),  # alone: all it wants
        (8, [8], 8, 4),  # two large runs split the CPUs
        (8, [1, 1], 8, 6),  # one-thread runs keep their CPU
        (2, [2], 2, 1),  # two large runs on two cores: one each
        (1, [8, 8, 8], 2, 1),  # never less than one
        (4, [], 16, 4),  # never more than it wants
    ],
)
def test_fair_share(wanted, others, cpus, share):
    assert threads.fair_share(wanted, others, cpus) == share


def test_the_user_choice_wins_and_says_where_it_came_from(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.user_choice(3) == (3, "run.threads")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.user_choice(0) == (2, "OMP_NUM_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    before = torch.get_num_threads()
    try:
        threads.set_threads(1)  # seqsuite's own choice (an earlier run in this process)
        assert threads.user_choice(0) is None
        torch.set_num_threads(7)  # the user's
        assert threads.user_choice(0) == (7, "torch.set_num_threads")
    finally:
        torch.set_num_threads(before)


def test_claims_see_each_other_and_stale_claims_disappear(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path))
    with threads.Claim(2, cpus=2) as first:
        assert first.share() == 2
        with threads.Claim(2, cpus=2) as second:
            assert first.others() == [2] and second.share() == 1 and first.share() == 1
        assert first.share() == 2  # the second run ended: its CPU comes back
    stale = tmp_path / "threads" / "999999-1.claim"
    stale.write_text("4")  # a claim whose process is gone (no lock held)
    with threads.Claim(2, cpus=2) as claim:
        assert claim.others() == [] and not stale.exists()


def test_a_claim_in_another_process_halves_the_share(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from seqsuite import threads\n"
            "with threads.Claim(4, cpus=4):\n    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with threads.Claim(4, cpus=4) as claim:
            assert claim.share() == 2
    finally:
        holder.kill()
        holder.wait()
    with threads.Claim(4, cpus=4) as claim:
        assert claim.share() == 4  # the killed process's lock is gone with it


def test_a_run_records_its_threads(cli, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    result = cli("run", "forecast", "--out", "r", "--epochs", "1", "--threads", "1", "--json")
    assert result.code == 0, result.err
    metrics = json.loads(result.out)
    assert metrics["threads"] == 1 and metrics["threads_source"] == "run.threads"
    assert metrics["cpus"] >= 1
    auto = cli("run", "forecast", "--out", "a", "--epochs", "1", "--json")
    assert json.loads(auto.out)["threads_source"] == "auto"
    assert json.loads(auto.out)["threads"] == 1  # the forecast model is small


def test_rebalance_gives_a_cpu_back_within_a_round(monkeypatch, tmp_path):
    """A second run starting mid-epoch is seen at the next look (every interval of training),
    not only when the round ends; and the CPU comes back once that run is gone."""
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path))
    before = torch.get_num_threads()
    clock = [0.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock[0])
    try:
        with threads.Claim(2, cpus=2) as claim:
            plan = threads.ThreadPlan(2, "auto", 2, 2)
            rebalance = threads.Rebalance(claim, plan, interval=0.5)
            threads.set_threads(2)
            with threads.Claim(2, cpus=2):
                clock[0] = 0.2
                rebalance.on_step(None)  # too soon to look again
                assert torch.get_num_threads() == 2
                clock[0] = 0.6
                rebalance.on_step(None)
                assert torch.get_num_threads() == 1 and plan.threads == 1
            clock[0] = 1.2
            rebalance.on_step(None)
            assert torch.get_num_threads() == 2 and plan.threads == 2
    finally:
        torch.set_num_threads(before)


def _loaded_run(flops: float) -> SimpleNamespace:
    """What :func:`inference.cpu_share` reads of a loaded run: its model's cost and batch."""
    model = SimpleNamespace(flops_per_timestep=lambda: flops)
    config = SimpleNamespace(train=SimpleNamespace(batch_size=1))
    return SimpleNamespace(model=model, ctx=SimpleNamespace(config=config))


def test_inference_takes_a_fair_share_and_is_counted_by_training(monkeypatch, tmp_path):
    """eval / predict / generate / backtest hold a claim like a training run: beside a run
    that wants every CPU they take half, that run sees them, and the count is put back."""
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    before = torch.get_num_threads()
    large = _loaded_run(threads.SMALL_STEP_FLOPS * 10)
    with threads.Claim(4, cpus=4) as training:
        with inference.cpu_share(large) as plan:
            assert plan.source == "auto" and plan.threads == 2 == torch.get_num_threads()
            assert training.others() == [4] and training.share() == 2
        assert training.others() == [] and torch.get_num_threads() == before
        with inference.cpu_share(_loaded_run(threads.SMALL_STEP_FLOPS / 10)) as plan:
            assert plan.threads == 1 == torch.get_num_threads()
        with inference.cpu_share(large, requested=3) as plan:  # --threads 3: as said
            assert plan.source == "run.threads" and torch.get_num_threads() == 3
    assert torch.get_num_threads() == before


def test_inference_commands_take_threads(cli):
    trained = cli("run", "forecast", "--out", "r", "--epochs", "1", "--threads", "1", "--quiet")
    assert trained.code == 0, trained.err
    for command in (
        ["eval", "r"],
        ["predict", "r", "--option", "horizon=3"],
        ["backtest", "r", "--windows", "1"],
    ):
        result = cli(*command, "--threads", "1", "--json")
        assert result.code == 0, (command, result.err)


def _openmp_threads() -> int | None:
    """The OpenMP thread count of the calling thread in PyTorch's own OpenMP library
    (OpenMP keeps one per thread; scikit-learn and others may load an OpenMP of their own)."""
    import threadpoolctl

    counts = [
        i["num_threads"]
        for i in threadpoolctl.threadpool_info()
        if i["user_api"] == "openmp" and "torch" in i["filepath"]
    ]
    return counts[0] if counts else None


def test_serving_threads_take_the_process_thread_count():
    """``serve`` answers on threads of its own; each must run torch with the count the
    process chose, not OpenMP's default of every core (a second, spinning thread)."""
    pytest.importorskip("fastapi")
    from pathlib import Path

    from seqsuite.serve.batching import Batcher
    from seqsuite.serve.runs import ServedRun
    from seqsuite.serve.streaming import GenerationStream
    from seqsuite.task import Task

    if _openmp_threads() is None:
        pytest.skip("this torch is built without OpenMP")

    class Counting(Task):
        name = "counting"

        def predict(self, ctx, model, inputs, options):
            return [{"threads": _openmp_threads()} for _ in inputs]

        def generate_stream(self, ctx, model, options):
            yield {"threads": _openmp_threads()}

    run = ServedRun("counting", Path("."), Counting(), None, None, ("predict", "generate"))
    wanted = (threads.available_cpus() or 1) + 1  # not OpenMP's default, whatever the machine

    async def counts() -> tuple[int, int]:
        batcher = Batcher(run, max_batch=4, max_wait=0.001, max_queue=8)
        batcher.start()
        try:
            answer = await batcher.submit(run.task.parse_request(None, {"inputs": ["a"]}))
        finally:
            await batcher.stop()
        pieces = [piece async for piece in GenerationStream(run, {}, float("inf")).start()]
        return answer["predictions"][0]["threads"], pieces[0]["threads"]

    before = torch.get_num_threads()
    threads.set_threads(wanted)
    try:
        assert asyncio.run(counts()) == (wanted, wanted)
    finally:
        threads.set_threads(before)


@pytest.mark.parametrize(
    "order",
    ["import seqsuite\nimport torch", "import torch\nimport seqsuite"],
    ids=["seqsuite-first", "torch-first"],
)
def test_a_torch_set_num_threads_call_after_the_imports_is_the_users(order):
    """seqsuite reads PyTorch's count at its start, whichever of the two came first, even
    when its own thread module is first used after the user's call."""
    users = "torch.set_num_threads(torch.get_num_threads() + 1)\n"
    ask = "from seqsuite import threads\nprint(threads.user_choice(0))\n"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    said = []
    for script in (f"{order}\n{ask}", f"{order}\n{users}{ask}"):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        said.append(done.stdout.strip())
    assert said[0] == "None"
    assert said[1].endswith(", 'torch.set_num_threads')")
