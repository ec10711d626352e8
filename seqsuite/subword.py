"""Byte-level BPE (the ``tokenizers`` package): subword tokens learnt from the training
text, between characters (long sequences, tiny vocabulary) and words (short sequences,
rare words lost to ``<unk>``).

Byte-level means every text has a tokenisation (unknown characters fall back to their
UTF-8 bytes), so nothing is ever ``<unk>`` and the likelihood of any text is defined.
Ids 0 and 1 are ``<pad>`` and ``<unk>`` as in :class:`seqsuite.vocab.Vocabulary`. The
trained tokenizer is plain JSON, saved in ``task_state.json``; reading it back parses
JSON and runs no code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import UserError
from .vocab import PAD, UNK


def train_bpe(texts: Iterable[str], vocab_size: int, lowercase: bool = False) -> BpeVocabulary:
    """A byte-level BPE vocabulary of at most ``vocab_size`` ids learnt from ``texts``
    (an iterable of chunks: the training text is streamed, never held whole)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return BpeVocabulary(tokenizer)


class BpeVocabulary:
    """The interface of :class:`~seqsuite.vocab.Vocabulary` over a trained tokenizer."""

    level = "bpe"

    def __init__(self, tokenizer: Any):
        # "<pad>" or "<unk>" written in a text is text, never the padding or unknown id
        # (not saved in the JSON: set on every load)
        tokenizer.encode_special_tokens = True
        self.tokenizer = tokenizer
        self.json = tokenizer.to_str()
        self.index: dict[str, int] = tokenizer.get_vocab()  # piece (byte-level) -> id
        self.tokens = sorted(self.index, key=self.index.get)
        self.lowercase = False  # a lower-casing tokenizer says so in its own normaliser

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode([i for i in ids if i > 1])

    def unknown(self, text: str) -> list[str]:
        """Nothing: bytes cover every text."""
        return []

    # -- what a token store needs (raw ids are the final ids) --------------------------

    pieces = None

    def settings(self) -> dict[str, Any]:
        return {"level": "bpe", "tokenizer": hashlib.sha256(self.json.encode()).hexdigest()}

    def encode_array(self, text: str) -> np.ndarray:
        """(tokens,) uint32 ids of ``text``."""
        return np.asarray(self.encode(text), dtype=np.uint32)

    # -- saving --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"level": "bpe", "tokenizer": self.json}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BpeVocabulary:
        from tokenizers import Tokenizer

        try:
            return cls(Tokenizer.from_str(data["tokenizer"]))
        except Exception as err:  # noqa: BLE001 - the Rust parser raises plain Exceptions
            raise UserError(
                f"task_state.json: the saved BPE tokenizer cannot be read ({err})"
            ) from None
