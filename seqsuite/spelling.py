"""What a word-level model's ``<unk>`` leaves out: the cost of spelling the word.

A word-level language model gives a word outside its vocabulary the probability of
``<unk>``, one token however long the word, so its likelihood never pays for the word's
letters. Nats per character computed from that alone are optimistic, and would not compare
with character or subword levels, which pay for every character. The usual correction
(open-vocabulary evaluation) charges each ``<unk>`` of the scored text the cost of spelling
its word with a character model fitted on the training part.

:class:`Speller` is that character model, kept simple and stated: add-one character
frequencies and a geometric word length, both counted over the training words that are
outside the vocabulary (the rare words an ``<unk>`` stands for; all training words when
the vocabulary kept every one). Characters never seen there share one extra count. It is
plain JSON (:meth:`to_dict`), saved with a run so that ``eval`` charges the same costs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Speller:
    """``nats(word)``: minus the log-probability of spelling ``word`` character by
    character and then stopping."""

    chars: dict[str, int]  # character -> count over the words it was fitted on
    mean_length: float  # characters per word, more than 1

    @classmethod
    def fit(cls, words: Iterable[tuple[str, int]]) -> Speller:
        """From ``(word, occurrences)`` pairs."""
        chars: Counter[str] = Counter()
        count = length = 0
        for word, n in words:
            if n <= 0 or not word:
                continue
            for char in word:
                chars[char] += n
            count += n
            length += n * len(word)
        # one character more than counted: the stop probability stays below 1
        return cls(dict(chars), (length + 1) / count if count else 2.0)

    def nats(self, word: str) -> float:
        total = sum(self.chars.values()) + len(self.chars) + 1  # add-one, one share unseen
        stop = 1.0 / self.mean_length  # geometric length with this mean
        cost = -math.log(stop) - max(len(word) - 1, 0) * math.log1p(-stop)
        for char in word:
            cost -= math.log((self.chars.get(char, 0) + 1) / total)
        return cost

    def to_dict(self) -> dict:
        return {"chars": self.chars, "mean_length": self.mean_length}

    @classmethod
    def from_dict(cls, data: dict) -> Speller:
        chars = {str(c): int(n) for c, n in dict(data["chars"]).items()}
        return cls(chars, max(1.0 + 1e-9, float(data["mean_length"])))
