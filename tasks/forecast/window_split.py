"""Training windows cut from the series per batch, never materialised.

Why: a series of n points has about n windows of ``lookback + horizon`` values; stacking
them costs ``(lookback + horizon)`` times the series' memory (about 4 GB for 10 million
points and 48-step windows). :class:`WindowSplit` keeps the inputs once (a float32
(time, features) tensor, every series of a panel one after another) and the window
origins as an index; a batch gathers its windows with one indexing operation.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from seqsuite.batches import Batch


class WindowSplit:
    """Windows ``x = features[o - lookback : o]`` (batch, lookback, F) and
    ``y = features[o : o + horizon, 0]`` (batch, horizon), for each origin ``o`` in
    ``origins``: the split the trainer sees."""

    stateful = False

    def __init__(self, features: torch.Tensor, origins: torch.Tensor, lookback: int, horizon: int):
        self.features = features
        self.origins = origins
        self.lookback, self.horizon = lookback, horizon
        self.size = len(origins)
        self.timesteps = self.size * lookback

    def __len__(self) -> int:
        return self.size

    def to(self, device: torch.device | str) -> WindowSplit:
        return WindowSplit(self.features.to(device), self.origins, self.lookback, self.horizon)

    def num_batches(self, batch_size: int) -> int:
        return -(-self.size // batch_size)

    def window(self, origins: torch.Tensor) -> Batch:
        """The batch of windows at ``origins`` (int64, on the CPU)."""
        device = self.features.device
        origins = origins.to(device)
        back = torch.arange(-self.lookback, 0, device=device)
        ahead = torch.arange(self.horizon, device=device)
        return {
            "x": self.features[origins[:, None] + back[None, :]],
            "y": self.features[origins[:, None] + ahead[None, :], 0],
        }

    def batches(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        order = (
            torch.randperm(self.size, generator=generator) if shuffle else torch.arange(self.size)
        )
        for idx in order.split(batch_size):
            yield {"index": idx, **self.window(self.origins[idx])}
