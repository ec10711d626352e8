"""Input adapters and heads that several tasks share.

An adapter maps a batch (dict of tensors) to features (batch, time, features); a head
maps a :class:`~seqsuite.backbone.BackboneOutput` (and the batch) to predictions.
Task-specific ones live in the task; anything two tasks need lives here.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from .backbone import BackboneOutput


class FeatureInput(nn.Module):
    """Continuous features ``batch[key]`` (batch, time, size), optionally projected."""

    def __init__(self, size: int, key: str = "x", project_to: int = 0):
        super().__init__()
        self.key = key
        self.proj = nn.Linear(size, project_to) if project_to else nn.Identity()
        self.output_size = project_to or size

    def forward(self, batch: dict[str, Any]) -> Tensor:
        return self.proj(batch[self.key])


class TokenInput(nn.Module):
    """Token ids ``batch[key]`` (batch, time) -> embeddings (batch, time, dim)."""

    def __init__(self, vocab_size: int, dim: int, key: str = "tokens", dropout: float = 0.0):
        super().__init__()
        self.key = key
        self.embedding = nn.Embedding(vocab_size, dim)
        self.dropout = nn.Dropout(dropout)
        self.output_size = dim

    def forward(self, batch: dict[str, Any]) -> Tensor:
        return self.dropout(self.embedding(batch[self.key]))


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
