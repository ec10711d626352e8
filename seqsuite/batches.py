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

import numpy as np
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
    (examples,) int64, kept on the CPU) gives each example's real length when sequences
    are padded. Then each batch is cut to its own longest sequence (every tensor whose
    second dimension is as long as ``seq_key``'s: inputs and per-step targets alike), and with ``bucket``
    examples of similar length are batched together (sorted within pools of 50 batches,
    the batch order shuffled) so that padding stays small. Every batch carries
    ``index``: the examples' positions in the split, to put predictions back in order.
    """

    stateful = False
    POOL = 50  # batches per sorting pool when bucketing

    def __init__(self, tensors: dict[str, Tensor], seq_key: str = "x", bucket: bool = False):
        sizes = {name: t.shape[0] for name, t in tensors.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"tensors differ in their first dimension: {sizes}")
        self.tensors = tensors
        self.seq_key = seq_key
        self.bucket = bucket
        self.size = next(iter(sizes.values())) if sizes else 0
        self.lengths = tensors.get("lengths")
        width = (
            tensors[seq_key].shape[1]
            if seq_key in tensors and tensors[seq_key].dim() >= 2
            else None
        )
        self.time_keys = {
            n
            for n, t in tensors.items()
            if width is not None and t.dim() >= 2 and t.shape[1] == width
        }
        if self.lengths is not None:
            self.timesteps = int(self.lengths.sum())
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
        return ArraySplit(moved, self.seq_key, self.bucket)

    def num_batches(self, batch_size: int) -> int:
        return -(-self.size // batch_size)

    def _order(
        self, batch_size: int, shuffle: bool, generator: torch.Generator | None
    ) -> list[Tensor]:
        """The example indices of each batch."""
        lengths = self.lengths if self.bucket else None
        return batch_groups(self.size, batch_size, shuffle, generator, lengths, self.POOL)

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        groups = self._order(batch_size, shuffle, generator)
        sizes = [len(g) for g in groups]
        everything = torch.cat(groups) if groups else torch.zeros(0, dtype=torch.long)
        per_device = {torch.device("cpu"): groups}  # the epoch's order moves to a device once
        for t in self.tensors.values():
            if t.device not in per_device:
                per_device[t.device] = everything.to(t.device, non_blocking=True).split(sizes)
        for i, idx in enumerate(groups):
            batch: Batch = {"index": idx}
            longest = int(self.lengths[idx].max()) if self.lengths is not None else None
            for name, t in self.tensors.items():
                rows = t[per_device[t.device][i]]
                if longest is not None and name in self.time_keys:
                    rows = rows[:, :longest]  # no batch is wider than its longest sequence
                batch[name] = rows
            yield batch


def batch_groups(
    size: int,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None,
    lengths: Tensor | None = None,
    pool: int = 50,
) -> list[Tensor]:
    """The example indices of each batch of an epoch. Given ``lengths``, examples of
    similar length go together: sorted by length within pools of ``pool`` batches (the
    whole split when not shuffling), the batch order then shuffled."""
    order = torch.randperm(size, generator=generator) if shuffle else torch.arange(size)
    if lengths is None:
        return list(order.split(batch_size))
    pools = order.split(batch_size * pool) if shuffle else [order]
    groups = []
    for part in pools:
        by_length = part[torch.argsort(lengths[part], stable=True)]
        groups += list(by_length.split(batch_size))
    if shuffle:
        groups = [groups[i] for i in torch.randperm(len(groups), generator=generator)]
    return groups


def padding_mask(
    lengths: Tensor | None, steps: int, device: torch.device | str = "cpu", batch: int = 0
) -> Tensor:
    """(batch, steps) booleans, True on real steps and False on padding. Without
    ``lengths`` every step is real (then ``batch`` gives the number of rows)."""
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool, device=device)
    return torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]


def pad_sequences(sequences: list[Tensor], padding_value: float = 0.0) -> tuple[Tensor, Tensor]:
    """Stack variable-length sequences (time, ...) into (batch, max_time, ...) + lengths.
    No sequences give an empty batch (0, 0), so callers can count before they refuse."""
    if not sequences:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.long)
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

    ``tokens`` is a 1-D tensor or a numpy array, typically a memory-mapped slice of a
    :class:`~seqsuite.token_store.TokenStore`: then a batch is an index into the file and
    nothing beyond it is read into memory. ``lookup`` (optional, (raw ids,) int64) maps
    the stored ids to the model's. ``chars`` (optional) is how many characters of text
    the predicted tokens (all but the first) cover, for nats per character.

    Batches: ``tokens`` (batch, ≤bptt) inputs and ``targets`` the next tokens.
    """

    stateful = True

    def __init__(
        self,
        tokens: Tensor | np.ndarray,
        bptt: int,
        *,
        lookup: Tensor | None = None,
        chars: int | None = None,
        device: torch.device | str = "cpu",
    ):
        self.tokens = tokens.long() if isinstance(tokens, Tensor) else tokens
        self.bptt = bptt
        self.lookup = lookup
        self.chars = chars
        self.device = torch.device(device)
        self.timesteps = max(0, len(self.tokens) - 1)
        self.size = max(1, self.timesteps // bptt)  # examples: sequences of bptt steps

    def __len__(self) -> int:
        return self.size

    def to(self, device: torch.device | str) -> StreamSplit:
        """In-memory tokens move to ``device``; a memory-mapped stream stays on disk and
        each batch moves when it is read."""
        tokens = self.tokens
        lookup = self.lookup.to(device) if self.lookup is not None else None
        if isinstance(tokens, Tensor):
            tokens = tokens.to(device, non_blocking=True)
        return StreamSplit(tokens, self.bptt, lookup=lookup, chars=self.chars, device=device)

    def read(self, start: int = 0, stop: int | None = None) -> Tensor:
        """(stop - start,) int64 model ids of the stream (on the CPU)."""
        return self._ids(self.tokens[start:stop]).cpu()

    def _ids(self, raw: Tensor | np.ndarray) -> Tensor:
        """Stored ids as the model's ids (int64) on the split's device."""
        if isinstance(raw, np.ndarray) or not isinstance(raw, Tensor):
            raw = torch.from_numpy(np.asarray(raw, dtype=np.int64))
        raw = raw.to(self.device, non_blocking=True).long()
        return self.lookup[raw] if self.lookup is not None else raw

    def num_batches(self, batch_size: int) -> int:
        length = (len(self.tokens) - 1) // batch_size
        return max(1, -(-length // self.bptt))

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        offset = int(torch.randint(0, self.bptt, (1,), generator=generator)) if shuffle else 0
        if (len(self.tokens) - 1 - offset) // batch_size < 1:
            offset = 0
        length = (len(self.tokens) - 1 - offset) // batch_size
        if length < 1:
            raise ValueError(f"{len(self.tokens)} tokens cannot fill {batch_size} streams")
        # stream i is tokens[offset + i * length : offset + (i + 1) * length]; its targets
        # run one further (into the next stream's first token)
        firsts = offset + np.arange(batch_size)[:, None] * length
        for start in range(0, length, self.bptt):
            steps = min(self.bptt, length - start)
            index = firsts + start + np.arange(steps + 1)[None, :]
            window = self._ids(self._gather(index))  # (batch, steps + 1)
            yield {"tokens": window[:, :-1], "targets": window[:, 1:]}

    def remainder(self, batch_size: int) -> Batch | None:
        """The last tokens that ``batches(batch_size)`` (unshuffled) leaves out, as one
        stream (1, r) that continues the last of its streams; None if there are none."""
        length = (len(self.tokens) - 1) // batch_size
        start = batch_size * length
        if length < 1 or start >= len(self.tokens) - 1:
            return None
        window = self._ids(self.tokens[start:]).unsqueeze(0)
        return {"tokens": window[:, :-1], "targets": window[:, 1:]}

    def _gather(self, index: np.ndarray) -> Tensor | np.ndarray:
        if isinstance(self.tokens, Tensor):
            return self.tokens[torch.from_numpy(index).to(self.tokens.device)]
        return self.tokens[index]


class GatheredSplit:
    """Base of the splits whose examples sit in a store and are gathered and padded one
    batch at a time (``batch(index)``), grouped by ``lengths`` like :class:`ArraySplit`.
    A subclass sets ``size`` and ``lengths`` and defines ``batch``."""

    POOL = 50  # batches per sorting pool, as ArraySplit
    size: int
    lengths: Tensor

    def num_batches(self, batch_size: int) -> int:
        return -(-self.size // batch_size)

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        groups = batch_groups(self.size, batch_size, shuffle, generator, self.lengths, self.POOL)
        for index in groups:
            yield self.batch(index)

    def batch(self, index: Tensor) -> Batch:
        raise NotImplementedError
