"""CPU threads that fit the work and the machine.

PyTorch starts one intra-op thread per core. For the small recurrent models most tasks
train, a step is a chain of tiny matrix products that a second thread cannot split
usefully, and two processes that each run a thread per core on the same cores slow each
other 15-40x (each thread spins waiting for the others). So seqsuite chooses:

1. what the user said: ``--threads N`` / ``run.threads``, else ``OMP_NUM_THREADS``, else a
   ``torch.set_num_threads`` call (one made after ``import seqsuite``, or after
   ``import torch`` when seqsuite was imported first: :mod:`.torch_threads_default`);
2. otherwise one thread when a training step is too small to gain from more
   (:data:`SMALL_STEP_FLOPS`, measured in ``bench/threads.py``), else every CPU this process
   may use (``os.sched_getaffinity``, not the machine's count);
3. and shares the CPUs with the other seqsuite processes training on this machine: each
   holds a claim (a locked file under the cache folder) saying how many threads it
   wants, and takes its fair part of what the others leave. The share is looked at again
   every half second of training (:data:`REBALANCE_SECONDS`), so a run that started alone
   gives a CPU back as soon as a second one starts, and takes it again when that one ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import torch_threads_default

#: below this many forward FLOPs per training step (batch x backbone FLOPs per step and
#: time step), one thread trains as fast as two on the machines measured (bench/threads.py)
SMALL_STEP_FLOPS = 2e6

#: how often a training run looks at the other runs' claims again (reading them costs
#: tens of microseconds; a step costs milliseconds)
REBALANCE_SECONDS = 0.5

#: counts seqsuite itself set, and PyTorch's own at its start: not the user's choice
_SET_HERE = {torch_threads_default.count() or torch.get_num_threads()}


def set_threads(count: int) -> None:
    """``torch.set_num_threads`` for seqsuite's own choices, remembered, so that a later
    run in the same process (a notebook's second ``fit``) does not take them for the
    user's."""
    _SET_HERE.add(count)
    torch.set_num_threads(count)


def in_this_thread() -> None:
    """Give a thread seqsuite starts the process's thread count. OpenMP (and MKL) keep
    the count per thread: a new thread starts at OpenMP's default, every core, whatever
    ``torch.set_num_threads`` said in the main thread. ``seqsuite serve``'s inference
    thread ran each batch of one thread's worth of work on two OpenMP threads, the second
    spinning between ops: beside one busy process, 7.2 ms of CPU per forecast request
    instead of 1.9 (docs/results.md, Serving). Call it first thing in the thread."""
    torch.set_num_threads(torch.get_num_threads())


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under taskset or a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def user_choice(requested: int = 0) -> tuple[int, str] | None:
    """Threads the user asked for, and where: the option, the environment, or torch."""
    if requested:
        return requested, "run.threads"
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env), "OMP_NUM_THREADS"
    if torch.get_num_threads() not in _SET_HERE:
        return torch.get_num_threads(), "torch.set_num_threads"
    return None


def wanted_for(step_flops: float, cpus: int) -> int:
    """Threads worth having for a step of ``step_flops`` forward FLOPs."""
    return 1 if step_flops < SMALL_STEP_FLOPS else cpus


def fair_share(wanted: int, others: list[int], cpus: int) -> int:
    """This process's threads when the other live claims want ``others``: what the
    one-thread runs leave, split evenly among those that want more; at least one."""
    small = sum(1 for w in others if w <= 1)
    large = sum(1 for w in others if w > 1)
    share = max(1, (cpus - small) // (large + 1))
    return max(1, min(wanted, share))


def claims_dir() -> Path:
    from .cache import cache_dir

    return cache_dir() / "threads"


@dataclass
class ThreadPlan:
    """The threads chosen for this process, and why (recorded in ``metrics.json``)."""

    threads: int
    source: str  # "run.threads", "OMP_NUM_THREADS", "torch.set_num_threads" or "auto"
    wanted: int
    cpus: int

    def as_json(self) -> dict[str, Any]:
        return {"threads": self.threads, "threads_source": self.source, "cpus": self.cpus}


class Claim:
    """This process's claim on CPU threads, held while it trains; the operating system drops
    the lock however the process ends, so a killed run never holds CPUs."""

    def __init__(self, wanted: int, cpus: int):
        self.wanted, self.cpus = wanted, cpus
        self.handle = None
        self.path: Path | None = None

    def __enter__(self) -> Claim:
        with contextlib.suppress(OSError):  # no writable cache: work alone, uncoordinated
            folder = claims_dir()
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / f"{os.getpid()}-{id(self)}.claim"
            self.handle = self.path.open("w")
            fcntl.flock(self.handle, fcntl.LOCK_EX)
            self.handle.write(str(self.wanted))
            self.handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.handle.close()
            self.handle = None

    def others(self) -> list[int]:
        """What every other live claim wants; stale claims (their process ended) are removed."""
        if self.handle is None:
            return []
        wants = []
        for path in claims_dir().glob("*.claim"):
            if path == self.path:
                continue
            with contextlib.suppress(OSError, ValueError), path.open() as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:  # locked: its process is alive
                    wants.append(int(handle.read().strip() or 1))
                    continue
                path.unlink()  # we got the lock: nobody holds it
        return wants

    def share(self) -> int:
        return fair_share(self.wanted, self.others(), self.cpus)


def plan(requested: int, step_flops: float) -> ThreadPlan:
    """The threads this process should want for a step of ``step_flops`` forward FLOPs."""
    cpus = available_cpus()
    chosen = user_choice(requested)
    if chosen is not None:
        return ThreadPlan(chosen[0], chosen[1], chosen[0], cpus)
    wanted = wanted_for(step_flops, cpus)
    return ThreadPlan(wanted, "auto", wanted, cpus)


class Rebalance:
    """A trainer callback: every :data:`REBALANCE_SECONDS` of training, and after each
    round, take this process's fair share again. Called on the training thread, because
    an OpenMP thread count set on another thread would not reach it."""

    def __init__(self, claim: Claim, plan: ThreadPlan, interval: float = REBALANCE_SECONDS):
        self.claim, self.plan, self.interval = claim, plan, interval
        self.next_look = time.monotonic() + interval

    def on_step(self, trainer: Any) -> None:
        if time.monotonic() >= self.next_look:
            self.take_share()

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        self.take_share()

    def take_share(self) -> None:
        share = self.claim.share()
        if share != torch.get_num_threads():
            set_threads(share)
        self.plan.threads = share
        self.next_look = time.monotonic() + self.interval


@contextlib.contextmanager
def threads_for(requested: int, step_flops: float):
    """Set PyTorch's threads for a training run and hold a claim on them (so other runs
    count them); yields the :class:`ThreadPlan` and a :class:`Rebalance` callback, which is
    None when the user fixed the count: their choice is never changed."""
    chosen = plan(requested, step_flops)
    before = torch.get_num_threads()
    with Claim(chosen.wanted, chosen.cpus) as claim:
        if chosen.source == "auto":
            chosen.threads = claim.share()
        set_threads(chosen.threads)
        try:
            yield chosen, Rebalance(claim, chosen) if chosen.source == "auto" else None
        finally:
            torch.set_num_threads(before)
