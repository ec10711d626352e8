"""An exponential moving average of a model's weights (Polyak averaging, ``train.ema``).

A model whose validation score swings from epoch to epoch (small data, strong
augmentation, a shift between training and validation data) is judged, kept and
returned as the average of its recent weights instead of the last step's: the average
sits nearer the middle of the basin the optimizer wanders in. This is the EMA that
timm, fairseq and diffusion models keep; the first steps average faster, so that the
early epochs are not judged on the random initialisation.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


class WeightAverage:
    """A copy of ``model`` whose weights follow the live ones:
    ``average = decay * average + (1 - decay) * live`` after every optimizer step, with
    ``decay`` capped at ``(1 + n) / (10 + n)`` for the ``n``-th update."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        self._pairs = _state_pairs(self.module, model)

    def rate(self) -> float:
        """How far this update moves the average toward the live weights."""
        n = self.updates
        return 1.0 - min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self) -> None:
        """Move the average toward the live weights (call after each optimizer step)."""
        rate = self.rate()
        floats = [(a, b) for a, b in self._pairs if a.is_floating_point()]
        if floats:
            averaged, live = zip(*floats)
            torch._foreach_lerp_(list(averaged), list(live), rate)
        for a, b in self._pairs:
            if not a.is_floating_point():
                a.copy_(b)  # counters and other integer buffers: the live value
        self.updates += 1

    def state_dict(self) -> dict:
        return {"model": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, saved: dict) -> None:
        self.module.load_state_dict(saved["model"])
        self.updates = int(saved["updates"])


def _state_pairs(averaged: nn.Module, live: nn.Module) -> list[tuple[Tensor, Tensor]]:
    """The (averaged, live) tensors of every saved weight and buffer, matched by name."""
    mine = averaged.state_dict(keep_vars=True)
    theirs = live.state_dict(keep_vars=True)
    return [(mine[name].data, theirs[name].data) for name in mine]
