"""Shared heads: padding never changes what a pooled head computes."""

from __future__ import annotations

import pytest
import torch

from seqsuite.adapters import TokenInput
from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.batches import ArraySplit, pad_sequences
from seqsuite.heads import PooledHead
from seqsuite.model import SequenceModel


@pytest.mark.parametrize("pooling", PooledHead.POOLINGS)
def test_padded_batch_gives_the_same_logits_as_one_by_one(pooling):
    torch.manual_seed(0)
    backbone = Backbone(6, BackboneConfig(hidden_size=5, bidirectional=True))
    model = SequenceModel(TokenInput(20, 6), backbone, PooledHead(10, 3, pooling)).eval()
    texts = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]]
    tokens, lengths = pad_sequences([torch.tensor(t) for t in texts])
    split = ArraySplit({"tokens": tokens, "lengths": lengths}, seq_key="tokens", bucket=True)
    together = torch.zeros(3, 3)
    for batch in split.batches(3):
        together[batch["index"]] = model(batch)[0].detach()
    for i, ids in enumerate(texts):
        alone = model({"tokens": torch.tensor([ids]), "lengths": torch.tensor([len(ids)])})[0]
        torch.testing.assert_close(together[i], alone[0].detach(), atol=1e-5, rtol=1e-5)
