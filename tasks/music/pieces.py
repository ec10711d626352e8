"""Training on pieces of any length without padding them to the longest one.

A *store* holds a split's pieces compactly (note runs, token ids) and makes the dense
tensors of a batch when asked (:class:`PieceStore`). :class:`PieceSplit` draws the
batches the trainer wants from it:

- pieces longer than ``window`` steps are trained as windows of at most ``window``
  steps, cut at a new random offset every epoch, so every step is trained every epoch
  and memory is ``batch x window`` whatever the longest piece (Piano-midi.de has pieces
  of thousands of frames). Each window starts from a fresh state; its first input is the
  real step before it. Windows, not chunks with the state carried: a carried state needs
  a reset per row when one piece ends and the next begins in that row, which the shared
  training loop does not have, and the measured cost of the fresh state is small
  (docs/results.md, Music);
- windows of similar length are batched together (sorted within pools of 50 batches,
  the batch order shuffled), so padding stays small;
- with ``augment`` each window is transposed by a random shift that keeps its piece in
  range, drawn anew every epoch: every key over the epochs, without a stored copy.

:func:`chunked` reads whole pieces for evaluation, in chunks with the state carried,
so a score is the exact likelihood of each piece from its start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

POOL = 50  # batches per sorting pool
EVAL_PIECES, EVAL_CHUNK = 32, 512  # pieces read together and steps per call in evaluation


class PieceStore(Protocol):
    """A split's pieces, compact; ``batch`` makes dense tensors for some windows."""

    #: (pieces,) steps to predict in each piece
    lengths: np.ndarray

    def shift_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per piece, the lowest and highest transposition allowed."""

    def batch(self, pieces, starts, stops, shifts) -> dict[str, Tensor]:
        """Steps ``starts[b]:stops[b]`` of piece ``pieces[b]`` transposed by ``shifts[b]``:
        the model's inputs and targets, padded at the end, and ``steps`` (batch,): each
        row's real length, for the loss's mask. Not ``lengths``: the backbone would pack the
        batch, which on a CPU runs the LSTM four to five times slower (measured), and a
        forward-only LSTM's outputs before the padding do not depend on it."""


def cut(lengths: np.ndarray, window: int, offsets: np.ndarray) -> tuple[np.ndarray, ...]:
    """Windows of at most ``window`` steps: piece, start, stop. A piece longer than the
    window is cut every ``window`` steps counted from ``-offsets[piece]``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.where(lengths > window, offsets, 0)
    counts = -(-(lengths + offsets) // window)
    piece = np.repeat(np.arange(len(lengths)), counts)
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    starts = np.maximum(k * window - offsets[piece], 0)
    stops = np.minimum((k + 1) * window - offsets[piece], lengths[piece])
    return piece, starts, stops


class PieceSplit:
    """Batches of windows of a store's pieces (see the module doc). ``size`` counts
    windows; the trainer never carries the state from one batch to the next."""

    stateful = False

    def __init__(self, store: PieceStore, window: int, augment: bool = False, device: Any = "cpu"):
        self.store, self.window, self.augment = store, int(window), augment
        self.device = torch.device(device)
        lengths = np.asarray(store.lengths, dtype=np.int64)
        self.timesteps = int(lengths.sum())
        self.size = int((-(-lengths // self.window)).sum())
        # at most one window more per long piece, whatever the offset: the trainer's bound
        self.most = self.size + int((lengths > self.window).sum())
        self.low, self.high = store.shift_bounds()

    def __len__(self) -> int:
        return self.size

    def to(self, device: Any) -> PieceSplit:
        return PieceSplit(self.store, self.window, self.augment, device)

    def num_batches(self, batch_size: int) -> int:
        return -(-self.most // batch_size)

    def _order(
        self, piece: np.ndarray, stops: np.ndarray, starts: np.ndarray, batch_size: int, generator
    ) -> list:
        """Window indices per batch: similar lengths together, the batches shuffled."""
        length = torch.from_numpy(stops - starts)
        order = torch.randperm(len(piece), generator=generator)
        groups = []
        for pool in order.split(batch_size * POOL):
            by_length = pool[torch.argsort(length[pool], stable=True)]
            groups += list(by_length.split(batch_size))
        return [groups[i].numpy() for i in torch.randperm(len(groups), generator=generator)]

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[dict[str, Any]]:
        lengths = self.store.lengths
        if shuffle:
            offsets = torch.randint(0, self.window, (len(lengths),), generator=generator).numpy()
        else:
            offsets = np.zeros(len(lengths), dtype=np.int64)
        piece, starts, stops = cut(lengths, self.window, offsets)
        if shuffle and self.augment:
            span = torch.from_numpy(self.high - self.low + 1)[piece]
            draw = (torch.rand(len(piece), generator=generator) * span).long().numpy()
            shifts = self.low[piece] + draw
        else:
            shifts = np.zeros(len(piece), dtype=np.int64)
        if shuffle:
            groups = self._order(piece, stops, starts, batch_size, generator)
        else:
            groups = np.array_split(np.arange(len(piece)), max(1, -(-len(piece) // batch_size)))
        for idx in groups:
            batch = self.store.batch(piece[idx], starts[idx], stops[idx], shifts[idx])
            yield {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}


def _take(state: Any, rows: int) -> Any:
    """The first ``rows`` sequences of a recurrent state (LSTM pair or GRU tensor)."""
    if isinstance(state, tuple):
        return tuple(s[:, :rows] for s in state)
    return state[:, :rows]


@torch.no_grad()
def chunked(
    model: Any, store: PieceStore, device: Any, pieces: int = EVAL_PIECES, chunk: int = EVAL_CHUNK
) -> Iterator[tuple[np.ndarray, dict[str, Tensor], Tensor]]:
    """(piece indices, batch, model output) for every chunk of every piece, whole pieces
    read from their start with the state carried between chunks. Pieces are taken
    longest first, so the ones still going are always the first rows of a group; a row
    that goes on fills its whole chunk, so its carried state never saw padding."""
    model.eval()
    lengths = np.asarray(store.lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    for first in range(0, len(order), pieces):
        group = order[first : first + pieces]
        state = None
        for start in range(0, int(lengths[group[0]]), chunk):
            live = group[lengths[group] > start]
            if state is not None:
                state = _take(state, len(live))
            stops = np.minimum(lengths[live], start + chunk)
            batch = store.batch(
                live, np.full(len(live), start), stops, np.zeros(len(live), dtype=np.int64)
            )
            batch = {k: v.to(device) for k, v in batch.items()}
            output, state = model(batch, state)
            yield live, batch, output
