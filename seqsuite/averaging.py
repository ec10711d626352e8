"""An exponential moving average of a model's weights (Polyak averaging, ``train.ema``).

A model whose validation score swings from epoch to epoch (small data, strong
augmentation, a shift between training and validation data) is judged, kept and
returned as the average of its recent weights instead of the last step's: the average
sits nearer the middle of the basin the optimizer wanders in. This is the EMA that
timm, fairseq and diffusion models keep, bias-corrected as Adam's moments are: the
average is always a weighted mean of the weights trained so far (weight ``decay**age``),
so the first epochs are not judged on the random initialisation and ``decay`` means
the same from the first step.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


class WeightAverage:
    """A copy of ``model`` whose weights follow the live ones: after the ``n``-th
    optimizer step (``n`` from 1) ``average = sum(decay**(n-k) * live_k) / sum(decay**(n-k))``
    over steps ``k = 1..n``, kept by one in-place interpolation per step."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)
        pairs = _state_pairs(self.module, model)
        self._averaged = [a for a, _ in pairs if a.is_floating_point()]
        self._live = [b for a, b in pairs if a.is_floating_point()]
        self._others = [(a, b) for a, b in pairs if not a.is_floating_point()]

    def rate(self) -> float:
        """How far this update moves the average toward the live weights: the new
        step's share of the bias-corrected mean, ``(1 - d) / (1 - d**(n+1))``, which is 1
        for the first step and tends to ``1 - decay``."""
        d = self.decay
        return (1.0 - d) / (1.0 - d ** (self.updates + 1))

    @torch.no_grad()
    def update(self) -> None:
        """Move the average toward the live weights (call after each optimizer step)."""
        if self._averaged:
            torch._foreach_lerp_(self._averaged, self._live, self.rate())
        for a, b in self._others:
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
