"""Count-based language models, the baselines a neural one must beat.

``unigram``: add-one smoothed token frequencies (from counts, so that a large training
text is counted in blocks). ``kneser_ney``: interpolated
Kneser-Ney of order n (discount 0.75): the highest order uses counts, the lower orders
continuation counts (in how many contexts a token follows), down to a uniform
distribution over the vocabulary, so unseen tokens keep some probability.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np


def unigram_nll(counts: Sequence[int], test: Sequence[int], vocab_size: int) -> float:
    """Summed negative log-likelihood (nats) of ``test``; ``counts[i]``: how often id ``i``
    occurs in the training text."""
    counts = np.asarray(counts, dtype=np.float64)
    logp = np.log((counts + 1) / (counts.sum() + vocab_size))
    return -float(logp[np.asarray(test, dtype=np.int64)].sum())


class KneserNey:
    def __init__(self, train: Sequence[int], order: int, vocab_size: int, discount: float = 0.75):
        self.order, self.vocab_size, self.d = order, vocab_size, discount
        tokens = tuple(train)
        self.counts: list[Counter] = [Counter() for _ in range(order + 1)]
        top = self.counts[order]
        for i in range(len(tokens) - order + 1):
            top[tokens[i : i + order]] += 1
        for k in range(order - 1, 0, -1):  # continuation counts: distinct left neighbours
            higher = self.counts[k + 1]
            lower = self.counts[k]
            for gram in higher:
                lower[gram[1:]] += 1
        self.context_total: list[dict] = [defaultdict(int) for _ in range(order + 1)]
        self.context_types: list[dict] = [defaultdict(int) for _ in range(order + 1)]
        for k in range(1, order + 1):
            for gram, n in self.counts[k].items():
                self.context_total[k][gram[:-1]] += n
                self.context_types[k][gram[:-1]] += 1

    def prob(self, history: tuple[int, ...], token: int) -> float:
        p = 1.0 / self.vocab_size
        for k in range(1, self.order + 1):
            context = history[len(history) - (k - 1) :] if k > 1 else ()
            if len(context) != k - 1:
                break
            total = self.context_total[k].get(context, 0)
            if not total:
                continue
            count = self.counts[k].get(context + (token,), 0)
            types = self.context_types[k][context]
            p = max(count - self.d, 0) / total + self.d * types / total * p
        return p

    def nll(self, test: Sequence[int], history: Sequence[int] = ()) -> float:
        """Summed negative log-likelihood (nats) of ``test``, each token given the
        ``order - 1`` tokens before it (the first ones also see ``history``)."""
        tokens = tuple(history[-(self.order - 1) :] if self.order > 1 else ()) + tuple(test)
        start = len(tokens) - len(test)
        total = 0.0
        for i in range(start, len(tokens)):
            context = tokens[max(0, i - self.order + 1) : i]
            total -= math.log(self.prob(context, tokens[i]))
        return total
