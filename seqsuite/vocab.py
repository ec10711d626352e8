"""Token vocabularies: characters or words to ids and back, saved with a run.

Id 0 is padding, id 1 the unknown token: text the model has never seen maps to it
instead of failing. A vocabulary is plain JSON (``to_dict``/``from_dict``) so it sits in
``task_state.json`` beside the run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

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
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(data["level"], list(data["tokens"]), bool(data.get("lowercase", False)))


def _join_words(tokens: list[str]) -> str:
    """Words back into text: no space before punctuation or after a line break."""
    out: list[str] = []
    for token in tokens:
        if out and token not in ".,;:!?)'\n" and not out[-1].endswith(("\n", "(")):
            out.append(" ")
        out.append(token)
    return "".join(out)
