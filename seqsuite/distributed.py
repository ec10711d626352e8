"""Data-parallel training with PyTorch's own engine (``torchrun`` / ``torch.distributed.run``).

``torchrun --nproc-per-node N -m seqsuite run TASK ...`` (or ``seqsuite run TASK --nproc N``,
which calls ``torch.distributed.run`` for you) starts N processes; each reads the same
data and draws the same global order of batches from the same seed, takes its share of
the rows of every batch, and DistributedDataParallel averages the gradients, so N
processes train as one process with the same global batch would. Only rank 0 writes the
run directory, logs and checkpoints. Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist


def requested() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextlib.contextmanager
def group(device: torch.device) -> Iterator[None]:
    """The process group joined for one run and left after it. A process that exits still
    holding a gloo group can abort at interpreter shutdown (its worker threads outlive
    Python), so the group is destroyed here; one the caller set up is left to the caller."""
    ours = requested() and not dist.is_initialized()
    if ours:  # torchrun set the environment; NCCL on CUDA, gloo on CPU
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        if ours and dist.is_initialized():
            dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank: the group's while one is joined, else the launcher's (``RANK``)
    when several processes were launched (a rank 1 whose group is gone, printing its
    result after the run, is not the main process)."""
    if active():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if requested() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def local_device(device: torch.device) -> torch.device:
    """Each process on its own GPU (LOCAL_RANK); CPU stays CPU."""
    if device.type == "cuda" and active():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a path, a decision)."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def share(batch: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    """This rank's rows of a global batch, with its row count and the global one."""
    if not active():
        n = _rows(batch)
        return batch, n, n
    total = _rows(batch)
    lo, hi = rank() * total // world(), (rank() + 1) * total // world()
    out = {
        k: v[lo:hi] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == total else v
        for k, v in batch.items()
    }
    return out, hi - lo, total


def _rows(batch: dict[str, Any]) -> int:
    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return value.shape[0]
    return 1


def all_sum(*values: float) -> list[float]:
    """Sum numbers over ranks (one collective)."""
    if not active():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def any_rank(flag: bool) -> bool:
    """True on every rank if it is true on any (e.g. one rank ran out of time)."""
    if not active():
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def launch(nproc: int, argv: list[str]) -> int:
    """``seqsuite run ... --nproc N``: start N processes through torch.distributed.run."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "seqsuite",
        *argv,
    ]
    return subprocess.call(command)
