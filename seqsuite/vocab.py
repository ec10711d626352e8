"""Token vocabularies: characters or words to ids and back, saved with a run.

Id 0 is padding, id 1 the unknown token: text the model has never seen maps to it
instead of failing. A vocabulary is plain JSON (``to_dict``/``from_dict``) so it sits in
``task_state.json`` beside the run; :meth:`Vocabulary.from_dict` also reads back the
byte-level BPE vocabularies of :mod:`seqsuite.subword`.

A corpus too large to hold is counted in chunks: :class:`PieceTable` gives each distinct
piece a raw id in the order first seen (what :mod:`seqsuite.token_store` writes to disk),
and :meth:`Vocabulary.from_counts` keeps the frequent ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PAD, UNK = "<pad>", "<unk>"
WORD_PATTERN = re.compile(r"\w+(?:'\w+)?|[^\w\s]|\n")


def split_words(text: str, lowercase: bool = False) -> list[str]:
    """Words, punctuation marks and line breaks as separate tokens."""
    return WORD_PATTERN.findall(text.lower() if lowercase else text)


@dataclass
class Vocabulary:
    level: str  # "char" or "word"
    tokens: list[str] = field(default_factory=lambda: [PAD, UNK])
    lowercase: bool = False

    def __post_init__(self) -> None:
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(
        cls,
        pieces: Iterable[str],
        level: str,
        min_freq: int = 1,
        max_size: int = 0,
        lowercase: bool = False,
    ) -> Vocabulary:
        """Tokens seen at least ``min_freq`` times (the ``max_size`` most frequent)."""
        return cls.from_counts(Counter(pieces), level, min_freq, max_size, lowercase)

    @classmethod
    def from_counts(
        cls,
        counts: dict[str, int],
        level: str,
        min_freq: int = 1,
        max_size: int = 0,
        lowercase: bool = False,
    ) -> Vocabulary:
        """As :meth:`build`, from counts already made (e.g. streamed over a large file)."""
        kept = [
            t for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_freq
        ]
        if max_size:
            kept = kept[: max(0, max_size - 2)]
        if level == "char":
            kept.sort()  # a stable, readable order for characters
        return cls(level, [PAD, UNK, *kept], lowercase)

    def __len__(self) -> int:
        return len(self.tokens)

    def split(self, text: str) -> list[str]:
        if self.level == "char":
            return list(text.lower() if self.lowercase else text)
        return split_words(text, self.lowercase)

    def encode(self, text: str) -> list[int]:
        unk = self.index[UNK]
        return [self.index.get(t, unk) for t in self.split(text)]

    def decode(self, ids: Iterable[int]) -> str:
        tokens = [self.tokens[i] for i in ids if i != 0]
        if self.level == "char":
            return "".join(tokens)
        return _join_words(tokens)

    def unknown(self, text: str) -> list[str]:
        """The pieces of ``text`` that are not in the vocabulary."""
        return sorted({t for t in self.split(text) if t not in self.index})

    def to_dict(self) -> dict:
        return {"level": self.level, "tokens": self.tokens, "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, data: dict) -> Any:
        """A saved vocabulary. A ``bpe`` one comes back as a
        :class:`seqsuite.subword.BpeVocabulary`, which has the same interface."""
        if data.get("level") == "bpe":
            from .subword import BpeVocabulary

            return BpeVocabulary.from_dict(data)
        return cls(data["level"], list(data["tokens"]), bool(data.get("lowercase", False)))


def _join_words(tokens: list[str]) -> str:
    """Words back into text: no space before punctuation or after a line break."""
    out: list[str] = []
    for token in tokens:
        if out and token not in ".,;:!?)'\n" and not out[-1].endswith(("\n", "(")):
            out.append(" ")
        out.append(token)
    return "".join(out)


class PieceTable:
    """Characters or words to raw ids, each distinct piece numbered in the order first
    seen; the table grows as text is encoded, and earlier ids never change. The raw ids of
    a corpus become model ids through a lookup table made from a :class:`Vocabulary`
    (:meth:`lookup`), so one tokenised corpus serves any ``min_freq`` or ``max_vocab``.
    """

    def __init__(self, level: str, lowercase: bool = False):
        if level not in ("char", "word"):
            raise ValueError(f"PieceTable: level {level!r}, expected 'char' or 'word'")
        self.level, self.lowercase = level, lowercase
        self.index: dict[str, int] = {}

    def settings(self) -> dict[str, Any]:
        """What the raw ids depend on."""
        return {"level": self.level, "lowercase": self.lowercase, "pattern": WORD_PATTERN.pattern}

    @property
    def pieces(self) -> list[str]:
        return list(self.index)

    def encode_array(self, text: str) -> np.ndarray:
        """(tokens,) uint32 raw ids of ``text``."""
        if self.lowercase:
            text = text.lower()
        index = self.index
        if self.level == "char":  # vectorised: code points, then one lookup per distinct one
            points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
            distinct, inverse = np.unique(points, return_inverse=True)
            ids = [index.setdefault(chr(p), len(index)) for p in distinct.tolist()]
            return np.asarray(ids, dtype=np.uint32)[inverse].reshape(-1)
        words = split_words(text)
        return np.fromiter(
            (index.setdefault(w, len(index)) for w in words), dtype=np.uint32, count=len(words)
        )

    @staticmethod
    def lookup(pieces: list[str], vocab: Vocabulary) -> np.ndarray:
        """(len(pieces),) int64: raw id -> the vocabulary's id (``<unk>`` if absent)."""
        unk = vocab.index[UNK]
        return np.asarray([vocab.index.get(p, unk) for p in pieces], dtype=np.int64)


def saved_vocabulary(ctx: Any) -> Any:
    """The vocabulary saved with a run (``ctx.state["vocab"]``), built once per context."""
    return ctx.derived("vocabulary", _from_state)


def _from_state(state: dict[str, Any]) -> Any:
    return Vocabulary.from_dict(state["vocab"])
