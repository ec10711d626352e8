"""Input adapters that several tasks share: a batch (dict of tensors) -> features
(batch, time, features), each with the ``output_size`` the backbone is built for
(see :class:`seqsuite.task.InputAdapter`). Task-specific adapters live in the task."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn


class FeatureInput(nn.Module):
    """Continuous features ``batch[key]`` (batch, time, size), optionally projected, with
    optional dropout on the inputs (e.g. on piano-roll keys)."""

    def __init__(self, size: int, key: str = "x", project_to: int = 0, dropout: float = 0.0):
        super().__init__()
        self.key = key
        self.in_features = size
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(size, project_to) if project_to else nn.Identity()
        self.output_size = project_to or size

    def forward(self, batch: dict[str, Any]) -> Tensor:
        return self.proj(self.dropout(batch[self.key]))


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
