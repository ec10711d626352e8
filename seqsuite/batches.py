"""Splits of prepared tensors, and how the trainer draws batches from them.

Tensors are built once by the task (no per-sample Python in the training loop) and,
where they fit, moved to the device once; a batch is then a single index operation.

A split is anything with ``size``, ``timesteps``, ``batches(...)`` and ``to(device)``;
:class:`ArraySplit` covers windows, padded sequences and labels. A ``lengths`` tensor
marks padding and stays on the CPU (packing wants it there).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import Tensor

Batch = dict[str, Any]


class Split(Protocol):
    """What the trainer needs from a split."""

    #: examples per epoch
    size: int
    #: time steps per epoch (for throughput figures)
    timesteps: int
    #: True when consecutive batches continue the same sequences, so the trainer carries
    #: the recurrent state from one batch to the next (truncated BPTT)
    stateful: bool

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]: ...

    def to(self, device: torch.device) -> Split: ...


class ArraySplit:
    """Named tensors with the same first dimension (examples).

    ``seq_key`` names the tensor whose second dimension is time; ``lengths`` (optional,
    (examples,) int64) gives each example's real length when sequences are padded.
    """

    stateful = False

    def __init__(self, tensors: dict[str, Tensor], seq_key: str = "x"):
        sizes = {name: t.shape[0] for name, t in tensors.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"tensors differ in their first dimension: {sizes}")
        self.tensors = tensors
        self.seq_key = seq_key
        self.size = next(iter(sizes.values())) if sizes else 0
        if "lengths" in tensors:
            self.timesteps = int(tensors["lengths"].sum())
        elif seq_key in tensors and tensors[seq_key].dim() >= 2:
            self.timesteps = self.size * tensors[seq_key].shape[1]
        else:
            self.timesteps = self.size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: str) -> Tensor:
        return self.tensors[key]

    def to(self, device: torch.device | str) -> ArraySplit:
        moved = {
            name: t if name == "lengths" else t.to(device, non_blocking=True)
            for name, t in self.tensors.items()
        }
        return ArraySplit(moved, self.seq_key)

    def num_batches(self, batch_size: int) -> int:
        return -(-self.size // batch_size)

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        if shuffle:
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        device_order = {}
        for start in range(0, self.size, batch_size):
            idx = order[start : start + batch_size]
            batch = {}
            for name, t in self.tensors.items():
                if t.device.type != "cpu":
                    if t.device not in device_order:
                        device_order[t.device] = order.to(t.device)
                    batch[name] = t[device_order[t.device][start : start + batch_size]]
                else:
                    batch[name] = t[idx]
            yield batch


def pad_sequences(sequences: list[Tensor], padding_value: float = 0.0) -> tuple[Tensor, Tensor]:
    """Stack variable-length sequences (time, ...) into (batch, max_time, ...) + lengths."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    padded = torch.nn.utils.rnn.pad_sequence(
        sequences, batch_first=True, padding_value=padding_value
    )
    return padded, lengths
