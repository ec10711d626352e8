"""Heads that several tasks share: a :class:`~seqsuite.backbone.BackboneOutput` (and the
batch) -> predictions. Task-specific heads live in the task."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .backbone import BackboneOutput
from .batches import padding_mask


class LastStateHead(nn.Module):
    """Linear map of each sequence's final state: (batch, out_features)."""

    def __init__(self, in_features: int, out_features: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, out: BackboneOutput, batch: dict[str, Any]) -> Tensor:
        return self.linear(self.dropout(out.last))


class StepHead(nn.Module):
    """Linear map at every time step: (batch, time, out_features)."""

    def __init__(self, in_features: int, out_features: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, out: BackboneOutput, batch: dict[str, Any]) -> Tensor:
        return self.linear(self.dropout(out.sequence))


class PooledHead(nn.Module):
    """Class scores from a whole sequence: pool the backbone's outputs over time, then a
    linear layer. ``last`` takes each sequence's final state (both directions when
    bidirectional); ``mean`` and ``max`` pool over the real steps only (padding is
    ignored, using ``batch["lengths"]``); ``meanmax`` is both side by side (the usual
    choice for keyword spotting); ``attention`` learns a weight per step."""

    POOLINGS = ("last", "mean", "max", "meanmax", "attention")

    def __init__(
        self, in_features: int, num_classes: int, pooling: str = "last", dropout: float = 0.0
    ):
        super().__init__()
        if pooling not in self.POOLINGS:
            raise ValueError(f"pooling must be one of {self.POOLINGS}")
        self.pooling = pooling
        self.attention = nn.Linear(in_features, 1) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features * (2 if pooling == "meanmax" else 1), num_classes)

    def pool(self, out: BackboneOutput, batch: dict[str, Any]) -> Tensor:
        if self.pooling == "last":
            return out.last
        steps = out.sequence
        mask = padding_mask(batch.get("lengths"), steps.shape[1], steps.device, steps.shape[0])
        if self.pooling == "attention":
            scores = self.attention(steps).squeeze(-1).masked_fill(~mask, float("-inf"))
            return (torch.softmax(scores, dim=1)[..., None] * steps).sum(1)
        parts = []  # only what the pooling needs: this runs on every batch
        if self.pooling in ("mean", "meanmax"):
            parts.append((steps * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1))
        if self.pooling in ("max", "meanmax"):
            parts.append(steps.masked_fill(~mask[..., None], float("-inf")).amax(1))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def forward(self, out: BackboneOutput, batch: dict[str, Any]) -> Tensor:
        return self.linear(self.dropout(self.pool(out, batch)))
