"""Training windows cut from the series per batch, never materialised.

Why: a series of n points has about n windows of ``lookback + horizon`` values; stacking
them costs ``(lookback + horizon)`` times the series' memory (about 4 GB for 10 million
points and 48-step windows). :class:`WindowSplit` keeps the transformed series once (a
float32 tensor) and the window origins as an index range; a batch gathers its windows
with one indexing operation.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from seqsuite.batches import Batch


class WindowSplit:
    """Windows ``x = z[o - lookback : o]`` (batch, lookback, 1) and ``y = z[o : o + horizon]``
    (batch, horizon), for origins ``o`` in ``[first, last]``: the split the trainer sees."""

    stateful = False

    def __init__(self, z: torch.Tensor, first: int, last: int, lookback: int, horizon: int):
        self.z = z
        self.first, self.last = first, last
        self.lookback, self.horizon = lookback, horizon
        self.size = max(0, last - first + 1)
        self.timesteps = self.size * lookback

    def __len__(self) -> int:
        return self.size

    def to(self, device: torch.device | str) -> WindowSplit:
        return WindowSplit(self.z.to(device), self.first, self.last, self.lookback, self.horizon)

    def num_batches(self, batch_size: int) -> int:
        return -(-self.size // batch_size)

    def window(self, origins: torch.Tensor) -> Batch:
        """The batch of windows at ``origins`` (int64, on the CPU)."""
        origins = origins.to(self.z.device)
        back = torch.arange(-self.lookback, 0, device=self.z.device)
        ahead = torch.arange(self.horizon, device=self.z.device)
        return {
            "x": self.z[origins[:, None] + back[None, :]].unsqueeze(-1),
            "y": self.z[origins[:, None] + ahead[None, :]],
        }

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        order = (
            torch.randperm(self.size, generator=generator) if shuffle else torch.arange(self.size)
        )
        for idx in order.split(batch_size):
            yield {"index": idx, **self.window(idx + self.first)}


def window_split(z: torch.Tensor, start: int, end: int, lookback: int, horizon: int) -> WindowSplit:
    """All windows with inputs at or after ``start`` and targets before ``end``: the same
    pairs as :func:`.transforms.windows`, made on the fly."""
    return WindowSplit(z, start + lookback, end - horizon, lookback, horizon)
