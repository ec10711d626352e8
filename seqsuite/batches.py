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


class StreamSplit:
    """One long token stream, read as ``batch_size`` parallel streams, ``bptt`` steps at
    a time (char-rnn's layout). Consecutive batches continue the same streams, so the
    trainer carries the recurrent state across them (truncated back-propagation through
    time). With ``shuffle`` the streams start at a random offset below ``bptt`` each
    epoch, so chunk boundaries move; the order itself is never shuffled.

    Batches: ``tokens`` (batch, ≤bptt) inputs and ``targets`` the next tokens.
    """

    stateful = True

    def __init__(self, tokens: Tensor, bptt: int):
        self.tokens = tokens.long()
        self.bptt = bptt
        self.timesteps = max(0, len(self.tokens) - 1)
        self.size = max(1, self.timesteps // bptt)  # examples: sequences of bptt steps

    def __len__(self) -> int:
        return self.size

    def to(self, device: torch.device | str) -> StreamSplit:
        return StreamSplit(self.tokens.to(device, non_blocking=True), self.bptt)

    def layout(self, batch_size: int, offset: int = 0) -> tuple[Tensor, Tensor]:
        """Inputs and targets as (batch_size, length) streams."""
        usable = self.tokens[offset:]
        length = (len(usable) - 1) // batch_size
        if length < 1:
            raise ValueError(f"{len(self.tokens)} tokens cannot fill {batch_size} streams")
        x = usable[: batch_size * length].view(batch_size, length)
        y = usable[1 : batch_size * length + 1].view(batch_size, length)
        return x, y

    def num_batches(self, batch_size: int) -> int:
        length = (len(self.tokens) - 1) // batch_size
        return max(1, -(-length // self.bptt))

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        offset = int(torch.randint(0, self.bptt, (1,), generator=generator)) if shuffle else 0
        if (len(self.tokens) - 1 - offset) // batch_size < 1:
            offset = 0
        x, y = self.layout(batch_size, offset)
        for start in range(0, x.shape[1], self.bptt):
            yield {
                "tokens": x[:, start : start + self.bptt],
                "targets": y[:, start : start + self.bptt],
            }
