"""NBSVM beside the BiLSTM: the sentiment head's bag of word n-grams.

On sentence-sized text, a linear model over word n-grams whose features are scaled by
naive-Bayes log-count ratios (NBSVM, Wang & Manning 2012) is a strong classifier, and a
recurrent model trained from scratch rarely beats it alone. :class:`HybridHead` adds
the two: class scores from the pooled BiLSTM states plus class scores from a bag of the
text's n-grams (orders 1 to ``orders``, hashed into ``buckets`` rows, so that no n-gram
list is stored and any text maps to rows). The bag's weights start from the training
split's log-count ratios (:func:`naive_bayes_weights`) and are trained with the rest.

In training the head returns three score sets, (batch, 3, classes): the sum, the BiLSTM
part and the bag part; :func:`hybrid_loss` trains each, so that neither part leans on
the other (the bag alone would fit the training texts quickly and leave the BiLSTM
nothing to learn). In evaluation it returns the sum, (batch, classes). During training a
share (``bag_dropout``) of each text's n-grams is dropped at random.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqsuite.backbone import BackboneOutput
from seqsuite.batches import padding_mask
from seqsuite.heads import PooledHead

HASH_MODULUS = 2_147_483_647  # a prime near 2**31: products stay within int64
HASH_MULTIPLIER = 1_000_003
#: the bag's weights (buckets x classes) at most: with its gradient, Adam's two moments
#: and the naive-Bayes counts they cost about 64 bytes each (256 MB here), so that a
#: label column of a hundred classes cannot take gigabytes (2^20 buckets x 120 classes
#: took 7.5 GB)
MAX_BAG_WEIGHTS = 1 << 22


def bag_buckets(requested: int, classes: int) -> int:
    """``task.ngram_buckets``, fewer when there are so many classes that the bag would
    hold more than :data:`MAX_BAG_WEIGHTS` weights (2 or 3 classes keep 2^20)."""
    return max(1, min(requested, MAX_BAG_WEIGHTS // max(classes, 1)))


def ngram_rows(
    tokens: Tensor, lengths: Tensor | None, orders: int, buckets: int
) -> tuple[Tensor, Tensor]:
    """Bucket of every n-gram of ``tokens`` (batch, time), orders 1..``orders`` side by
    side: (batch, n-grams) rows and a (batch, n-grams) mask, False on padding (no
    ``lengths``: no padding)."""
    batch, steps = tokens.shape
    real = padding_mask(lengths, steps, tokens.device, batch)
    rows, masks = [], []
    for n in range(1, min(orders, steps) + 1):
        width = steps - n + 1
        code = torch.full_like(tokens[:, :width], n)  # the order seeds the hash
        for i in range(n):
            code = (code * HASH_MULTIPLIER + tokens[:, i : i + width]) % HASH_MODULUS
        rows.append(code % buckets)
        masks.append(real[:, n - 1 :])  # an n-gram is real when its last word is
    return torch.cat(rows, 1), torch.cat(masks, 1)


class HybridHead(nn.Module):
    """Pooled-BiLSTM class scores plus hashed n-gram bag class scores."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        pooling: str,
        dropout: float,
        orders: int,
        buckets: int,
        bag_dropout: float,
    ):
        super().__init__()
        self.pooled = PooledHead(in_features, num_classes, pooling, dropout)
        self.bag = nn.Embedding(buckets, num_classes)
        nn.init.zeros_(self.bag.weight)
        self.orders, self.buckets, self.bag_dropout = orders, buckets, bag_dropout

    def bag_scores(self, batch: dict[str, Any]) -> Tensor:
        """(batch, classes): the summed weights of the text's n-grams."""
        rows, mask = ngram_rows(batch["tokens"], batch.get("lengths"), self.orders, self.buckets)
        weight = mask.float()
        if self.training and self.bag_dropout:
            keep = torch.rand(weight.shape, device=weight.device) >= self.bag_dropout
            weight = weight * keep / (1 - self.bag_dropout)
        return (self.bag(rows) * weight[..., None]).sum(1)

    def forward(self, out: BackboneOutput, batch: dict[str, Any]) -> Tensor:
        recurrent = self.pooled(out, batch)
        bag = self.bag_scores(batch)
        if self.training:
            return torch.stack([recurrent + bag, recurrent, bag], 1)
        return recurrent + bag


def hybrid_loss(output: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of the sum and of each part (training, (batch, 3, classes)), or of
    the scores (batch, classes)."""
    if output.dim() == 2:
        return F.cross_entropy(output.float(), labels)
    parts = output.shape[1]
    return F.cross_entropy(output.float().flatten(0, 1), labels.repeat_interleave(parts))


@torch.no_grad()
def naive_bayes_weights(head: HybridHead, split: Any, alpha: float = 1.0) -> str:
    """Set the bag's weights to the training split's naive-Bayes log-count ratios: for
    each class, log of the n-gram's share among that class's n-grams over its share
    among the other classes' (smoothed by ``alpha``), scaled so that a text's summed
    scores start near the size of single-feature evidence."""
    classes = head.bag.weight.shape[1]
    counts = torch.zeros(classes, head.buckets, dtype=torch.float64)
    seen, total = 0, 0
    for batch in split.batches(512):
        rows, mask = ngram_rows(batch["tokens"], batch["lengths"], head.orders, head.buckets)
        labels = batch["label"][:, None].expand_as(rows)
        flat = (labels * head.buckets + rows)[mask]
        counts += torch.bincount(flat, minlength=classes * head.buckets).view(classes, -1)
        seen, total = seen + len(rows), total + int(mask.sum())
    present = counts.sum(0) > 0
    others = counts.sum(0, keepdim=True) - counts
    share = (counts + alpha) / (counts + alpha).sum(1, keepdim=True)
    rest = (others + alpha) / (others + alpha).sum(1, keepdim=True)
    ratio = torch.log(share / rest) * present
    scale = 1 / math.sqrt(max(total / max(seen, 1), 1.0))
    head.bag.weight.copy_((ratio * scale).T.float())
    used = int(present.sum())
    return (
        f"n-gram bag: {used:,} of {head.buckets:,} buckets ({classes} classes) start from "
        "naive-Bayes ratios"
    )
