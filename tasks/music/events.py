"""``events``: the top voice of each piece as tokens ``pitch:duration`` (``r`` for a rest;
durations in quarter notes on the ``task.grid``) between ``<s>`` and ``</s>``; an
embedding -> the backbone -> logits over the event vocabulary.

Training pieces are transposed by a random shift per window and epoch (``task.transpose``)
through a table of token ids, so no transposed copy is stored; the vocabulary holds every
event of every transposition that keeps a training melody in the MIDI range.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from seqsuite import token_lm
from seqsuite.adapters import TokenInput
from seqsuite.batches import padding_mask
from seqsuite.heads import StepHead
from seqsuite.task import Context, Evaluation, Prepared
from seqsuite.vocab import UNK, Vocabulary, saved_vocabulary

from .pieces import PieceSplit, chunked
from .rolls import SHIFTS, ranges
from .scores import RES, Piece

BOS, EOS, REST = "<s>", "</s>", "r"
PROMPT_EVENTS = 8  # events of a --prompt piece that start the sample


@dataclass
class EventsData:
    """What later hooks need: the vocabulary and each split's pieces as token ids."""

    vocab: Vocabulary
    stores: dict[str, TokenPieces]
    pieces: dict[str, int]


class TokenPieces:
    """Token-id sequences ``<s> events </s>`` of a split, concatenated (int64), and a
    (12, vocab) table giving each id transposed by each shift of ``SHIFTS``."""

    def __init__(
        self, sequences: list[list[int]], table: Tensor, bounds: tuple[np.ndarray, np.ndarray]
    ):
        sizes = np.array([len(s) for s in sequences], dtype=np.int64)
        self.ids = np.fromiter(
            (i for s in sequences for i in s), dtype=np.int64, count=int(sizes.sum())
        )
        self.offsets = np.r_[0, np.cumsum(sizes)]
        self.lengths = sizes - 1  # predictions: every token but the first
        self.table, self.bounds = table, bounds

    def __len__(self) -> int:
        return len(self.lengths)

    def shift_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.bounds

    def batch(self, pieces, starts, stops, shifts) -> dict[str, Tensor]:
        """tokens (batch, time) the inputs, targets the next tokens, steps (batch,): each
        row's real length."""
        first = self.offsets[pieces] + starts
        index, row = ranges(first, self.offsets[pieces] + stops)
        column = index - first[row]
        width = int((stops - starts).max(initial=0))
        tokens = torch.zeros(len(pieces), width, dtype=torch.long)
        targets = torch.zeros(len(pieces), width, dtype=torch.long)
        rows, columns = torch.from_numpy(row), torch.from_numpy(column)
        tokens[rows, columns] = torch.from_numpy(self.ids[index])
        targets[rows, columns] = torch.from_numpy(self.ids[index + 1])
        if np.any(shifts):  # each row through its shift's row of the table
            move = torch.from_numpy(np.asarray(shifts) - SHIFTS[0])[:, None]
            tokens, targets = self.table[move, tokens], self.table[move, targets]
        return {"tokens": tokens, "targets": targets, "steps": torch.from_numpy(stops - starts)}

    def pairs(self, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(previous, next) ids of every prediction, transposed by ``shift`` where allowed."""
        last = np.zeros(len(self.ids), dtype=bool)
        last[self.offsets[1:] - 1] = True
        piece = np.repeat(np.arange(len(self)), np.diff(self.offsets))
        low, high = self.bounds
        keep = ~last & (low[piece] <= shift) & (shift <= high[piece])
        at = np.flatnonzero(keep)
        moved = self.table[shift - SHIFTS[0]].numpy()
        return moved[self.ids[at]], moved[self.ids[at + 1]]


def encode(melody: np.ndarray, grid: float, max_duration: float) -> list[str]:
    """``pitch:duration`` tokens on the duration grid (shorter notes round up to it)."""
    out = []
    for pitch, ticks in melody:
        steps = max(1, round(min(ticks / RES, max_duration) / grid))
        out.append(f"{REST if pitch < 0 else int(pitch)}:{steps * grid:g}")
    return out


def transpose(token: str, shift: int) -> str:
    pitch, _, length = token.partition(":")
    if not shift or not length or pitch == REST:
        return token
    return f"{int(pitch) + shift}:{length}"


def shift_bounds(melody: list[str]) -> tuple[int, int]:
    """The lowest and highest shift of ``SHIFTS`` that keeps the melody in MIDI's 0-127."""
    pitches = [int(t.split(":")[0]) for t in melody if not t.startswith(REST)]
    if not pitches:
        return 0, 0
    return max(SHIFTS[0], -min(pitches)), min(SHIFTS[-1], 127 - max(pitches))


def shift_table(vocab: Vocabulary) -> Tensor:
    """(12, vocab) ids: row ``s - SHIFTS[0]`` maps each token to itself moved by ``s``
    (the unknown token where the moved event is not in the vocabulary)."""
    unk = vocab.index[UNK]
    rows = [
        [vocab.index.get(transpose(t, s), unk) if i > 1 else i for i, t in enumerate(vocab.tokens)]
        for s in SHIFTS
    ]
    return torch.tensor(rows, dtype=torch.long)


class Events:
    """The events representation's part of every hook."""

    name = "events"

    def prepare(self, ctx: Context, pieces: list[Piece], parts: dict[str, list[int]]) -> Prepared:
        o = ctx.options
        melodies = {
            s: [encode(pieces[i].melody, o.grid, o.max_duration) for i in idx]
            for s, idx in parts.items()
        }
        bounds = {s: [shift_bounds(m) for m in ms] for s, ms in melodies.items()}
        if ctx.state and "vocab" in ctx.state:
            vocab = saved_vocabulary(ctx)
        else:
            shifts = [range(lo, hi + 1) if o.transpose else [0] for lo, hi in bounds["train"]]
            seen = (
                transpose(t, s)
                for m, ss in zip(melodies["train"], shifts, strict=True)
                for s in ss
                for t in m
            )
            vocab = Vocabulary.build([*seen, BOS, EOS], "event")
        table = shift_table(vocab)
        stores = {}
        for split, ms in melodies.items():
            ids = [
                [vocab.index[BOS], *(vocab.index.get(t, 1) for t in m), vocab.index[EOS]]
                for m in ms
            ]
            low = np.array([b[0] for b in bounds[split]], dtype=np.int64)
            high = np.array([b[1] for b in bounds[split]], dtype=np.int64)
            stores[split] = TokenPieces(ids, table, (low, high))
        counts = {s: len(m) for s, m in melodies.items()}
        events = int(stores["test"].lengths.sum())
        return Prepared(
            train=PieceSplit(stores["train"], o.window, augment=o.transpose),
            val=PieceSplit(stores["val"], o.window),
            test=PieceSplit(stores["test"], o.window),
            spec={"representation": "events", "vocab_size": len(vocab)},
            state={"vocab": vocab.to_dict()},
            summary=(
                f"{sum(counts.values())} pieces ({len(vocab)} distinct events): {counts['train']} train"
                f"{' in random keys' if o.transpose else ''} / {counts['val']} val / {counts['test']} test, "
                f"{events:,} test events"
            ),
            data=EventsData(vocab, stores, counts),
        )

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> TokenInput:
        return TokenInput(
            spec["vocab_size"], ctx.options.embedding_dim, dropout=ctx.options.dropout
        )

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> StepHead:
        return StepHead(in_features, spec["vocab_size"], dropout=ctx.options.dropout)

    @staticmethod
    def step_nll(output: Tensor, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """(batch, time) negative log-likelihood of each event, and the mask of real steps."""
        mask = padding_mask(batch["steps"], output.shape[1], output.device)
        nll = F.cross_entropy(output.float().transpose(1, 2), batch["targets"], reduction="none")
        return nll * mask, mask

    def loss(self, output: Tensor, batch: dict[str, Any]) -> Tensor:
        nll, mask = self.step_nll(output, batch)
        return nll.sum() / mask.sum()

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        """nats per event and next-event accuracy; outputs: each piece's nats per event."""
        store = prepared.data.stores[split]
        per_piece = np.zeros(len(store))
        correct = 0
        for live, batch, output in chunked(model, store, ctx.device):
            nll, mask = self.step_nll(output, batch)
            per_piece[live] += nll.sum(1).double().cpu().numpy()
            correct += int(((output.argmax(-1) == batch["targets"]) & mask).sum())
        events = max(int(store.lengths.sum()), 1)
        metrics = {"nll": float(per_piece.sum() / events), "accuracy": correct / events}
        return Evaluation(
            metrics, {"nll": per_piece / np.maximum(store.lengths, 1), "steps": store.lengths}
        )

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        """Unigram and bigram (add-one smoothed) next-event models, fitted on the training
        events in every key the model saw, scored on the same test events."""
        data: EventsData = prepared.data
        size = len(data.vocab)
        shifts = SHIFTS if ctx.options.transpose else [0]
        fitted = [data.stores["train"].pairs(s) for s in shifts]
        prev_train = np.concatenate([p for p, _ in fitted])
        next_train = np.concatenate([n for _, n in fitted])
        prev_test, next_test = data.stores["test"].pairs(0)
        unigram = np.bincount(next_train, minlength=size) + 1.0
        unigram /= unigram.sum()
        bigram = np.ones((size, size))
        np.add.at(bigram, (prev_train, next_train), 1)
        bigram /= bigram.sum(1, keepdims=True)
        return {
            "unigram": Evaluation(
                {
                    "nll": float(-np.log(unigram[next_test]).mean()),
                    "accuracy": float((next_test == unigram.argmax()).mean()),
                }
            ),
            "bigram": Evaluation(
                {
                    "nll": float(-np.log(bigram[prev_test, next_test]).mean()),
                    "accuracy": float((bigram[prev_test].argmax(1) == next_test).mean()),
                }
            ),
        }

    # -- generation -------------------------------------------------------------------

    def steps(
        self, ctx: Context, model: Any, prompt: Piece | None, options: dict[str, Any]
    ) -> Iterator[str]:
        """Sampled events, one per step, until ``</s>`` (never before the first)."""
        vocab = saved_vocabulary(ctx)
        o = ctx.options
        prime = encode(prompt.melody, o.grid, o.max_duration)[:PROMPT_EVENTS] if prompt else []
        ids = sample_events(ctx, model, vocab, [vocab.index.get(t, 1) for t in prime], options)
        return (vocab.tokens[i] for i in ids)

    def note_maker(self, ctx: Context) -> EventNotes:
        return EventNotes()


class EventNotes:
    """Events into notes: each ``pitch:duration`` a note at the running time."""

    def __init__(self) -> None:
        self.now = 0.0

    def add(self, token: str) -> list[tuple[int, float, float]]:
        pitch, _, length = token.partition(":")
        onset, self.now = self.now, self.now + float(length)
        return [] if pitch == REST else [(int(pitch), onset, float(length))]

    def finish(self) -> list[tuple[int, float, float]]:
        return []


def sample_events(
    ctx: Context, model: Any, vocab: Vocabulary, prime: list[int], options: dict[str, Any]
) -> Iterator[int]:
    """Event ids after ``<s>`` and ``prime``, one per step, until ``</s>`` (never before
    the first event); what ``generate`` writes and ``seqsuite serve`` streams."""
    return token_lm.sample(
        model,
        [vocab.index[BOS], *prime],
        temperature=options["temperature"],
        top_k=options["top_k"],
        seed=options["seed"],
        device=ctx.device,
        banned=(0, 1, vocab.index[BOS]),
        stop_id=vocab.index[EOS],
        min_length=1,
    )
