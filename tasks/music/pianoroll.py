"""``pianoroll``: frames of 88 keys every ``task.step`` quarter notes; the backbone reads a
frame and predicts each key of the next frame independently (88 Bernoulli outputs), the
set-up of Boulanger-Lewandowski et al. (2012), so results compare with the literature.

Rolls stay note runs (:class:`~.rolls.NoteRolls`); a batch's frames are made when it is
drawn, transposed by a random shift per window and epoch (``task.transpose``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from seqsuite.adapters import FeatureInput
from seqsuite.batches import padding_mask
from seqsuite.errors import UserError
from seqsuite.heads import StepHead
from seqsuite.task import Context, Evaluation, Prepared

from .pieces import PieceSplit, chunked
from .rolls import KEYS, LOW, NoteRolls, runs_from_notes
from .scores import Piece

PROMPT_FRAMES = 16  # frames of a --prompt piece that start the sample


@dataclass
class RollsData:
    """What later hooks need: each split's rolls."""

    rolls: dict[str, NoteRolls]


class RollPieces:
    """A split's rolls as a :class:`~.pieces.PieceStore`: the input at a frame is the
    frame before it (silence before the first), the target the frame itself."""

    def __init__(self, rolls: NoteRolls):
        self.rolls = rolls
        self.lengths = rolls.frames

    def __len__(self) -> int:
        return len(self.rolls)

    def shift_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.rolls.shift_bounds()

    def batch(self, pieces, starts, stops, shifts) -> dict[str, Tensor]:
        """x and y (batch, time, 88), steps (batch,): each row's real length."""
        starts, stops = np.asarray(starts), np.asarray(stops)
        frames = self.rolls.window(pieces, starts - 1, stops, shifts)
        return {
            "x": frames[:, :-1],
            "y": frames[:, 1:],
            "steps": torch.from_numpy(stops - starts),
        }


def within_limit(
    pieces: list[Piece], step: float, max_elements: int
) -> tuple[list[Piece], list[tuple[str, str]]]:
    """The pieces whose roll of 88 keys every ``step`` quarters stays within
    ``max_elements``, and the others with the reason (a file may declare any length:
    one delta time of a MIDI file can say "half a year later")."""
    kept, skipped = [], []
    for piece in pieces:
        frames = piece.end() / step
        if frames * KEYS > max_elements:
            why = f"{frames:,.0f} frames of {KEYS} keys, over data.max_elements ({max_elements:,})"
            skipped.append((piece.name, why))
        else:
            kept.append(piece)
    return kept, skipped


def rolls_from_pieces(
    pieces: list[Piece], parts: dict[str, list[int]], step: float
) -> dict[str, NoteRolls]:
    """Each split's rolls, a frame every ``step`` quarter notes."""
    return {
        split: NoteRolls.from_runs([runs_from_notes(pieces[i].quarters(), step) for i in idx])
        for split, idx in parts.items()
    }


class Pianoroll:
    """The piano-roll representation's part of every hook."""

    name = "pianoroll"

    def prepare(self, ctx: Context, rolls: dict[str, NoteRolls]) -> Prepared:
        o = ctx.options
        for split, r in rolls.items():
            if not len(r):
                raise UserError(
                    f"{ctx.config.run.data or ctx.config.run.dataset}: no {split} pieces left"
                )
        stores = {s: RollPieces(r) for s, r in rolls.items()}
        state = dict(ctx.state or {})
        if "key_frequencies" not in state:
            train = rolls["train"]
            state["key_frequencies"] = (
                train.key_frames() / max(int(train.frames.sum()), 1)
            ).tolist()
        counts = {s: len(r) for s, r in rolls.items()}
        frames = {s: int(r.frames.sum()) for s, r in rolls.items()}
        return Prepared(
            train=PieceSplit(stores["train"], o.window, augment=o.transpose),
            val=PieceSplit(stores["val"], o.window),
            test=PieceSplit(stores["test"], o.window),
            spec={"representation": "pianoroll", "keys": KEYS},
            state=state,
            summary=(
                f"piano rolls: {counts['train']}{' in random keys' if o.transpose else ''} / "
                f"{counts['val']} / {counts['test']} pieces, "
                f"{frames['train']:,} / {frames['val']:,} / {frames['test']:,} frames"
            ),
            data=RollsData(rolls),
        )

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> FeatureInput:
        return FeatureInput(spec["keys"], dropout=ctx.options.input_dropout)

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> StepHead:
        """Linear per frame; its biases start at each key's log-odds in the training
        frames, so training starts from the key-frequency baseline (about 10 nats a frame)
        instead of every key at one half (61 nats) and spends no steps getting there."""
        head = StepHead(in_features, spec["keys"], dropout=ctx.options.dropout)
        prior = (ctx.state or {}).get("key_frequencies")
        if prior is not None:
            with torch.no_grad():
                head.linear.bias.copy_(torch.logit(torch.tensor(prior).clamp(1e-4, 1 - 1e-4)))
        return head

    @staticmethod
    def frame_nll(output: Tensor, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """(batch, time) negative log-likelihood of each frame (its 88 Bernoulli terms
        summed), and the mask of real frames."""
        mask = padding_mask(batch["steps"], output.shape[1], output.device)
        nll = F.binary_cross_entropy_with_logits(output.float(), batch["y"], reduction="none").sum(
            -1
        )
        return nll * mask, mask

    def loss(self, output: Tensor, batch: dict[str, Any]) -> Tensor:
        nll, mask = self.frame_nll(output, batch)
        return nll.sum() / mask.sum()

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        """Frame-level NLL over whole pieces; outputs: each piece's NLL per frame."""
        store = RollPieces(prepared.data.rolls[split])
        per_piece = np.zeros(len(store))
        for live, batch, output in chunked(model, store, ctx.device):
            nll, _ = self.frame_nll(output, batch)
            per_piece[live] += nll.sum(1).double().cpu().numpy()
        frames = np.maximum(store.lengths, 1)
        return Evaluation(
            {"nll": float(per_piece.sum() / frames.sum())},
            {"nll": per_piece / frames, "steps": store.lengths},
        )

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        """Each key independently at its frequency in the training frames."""
        rolls = prepared.data.rolls
        p = np.clip(rolls["train"].key_frames() / rolls["train"].frames.sum(), 1e-4, 1 - 1e-4)
        active, frames = rolls["test"].key_frames(), rolls["test"].frames.sum()
        nll = -(active * np.log(p) + (frames - active) * np.log(1 - p)).sum() / frames
        return {"key_frequencies": Evaluation({"nll": float(nll)})}

    # -- generation -------------------------------------------------------------------

    @torch.no_grad()
    def steps(
        self, ctx: Context, model: Any, prompt: Piece | None, options: dict[str, Any]
    ) -> Iterator[np.ndarray]:
        """Sampled frames ((88,) 0/1), one per step, each key a Bernoulli draw at
        ``sigmoid(logit / temperature)`` (temperature 0: the keys more likely than not)."""
        model.eval()
        generator = torch.Generator().manual_seed(options["seed"])
        frames = torch.zeros(1, 1, KEYS)
        if prompt is not None:
            runs, length = runs_from_notes(prompt.quarters(), ctx.options.step)
            rolls = NoteRolls.from_runs([(runs, length)])
            frames = rolls.window([0], [-1], [min(length, PROMPT_FRAMES)], [0])
        logits, state = model({"x": frames.to(ctx.device)})
        temperature = options["temperature"]
        while True:
            probs = torch.sigmoid(logits[0, -1].float().cpu() / max(temperature, 1e-6))
            if temperature > 0:
                frame = (torch.rand(KEYS, generator=generator) < probs).float()
            else:
                frame = (probs > 0.5).float()
            yield frame.numpy()
            logits, state = model({"x": frame.view(1, 1, -1).to(ctx.device)}, state)

    def note_maker(self, ctx: Context) -> FrameNotes:
        return FrameNotes(ctx.options.step)


class FrameNotes:
    """Frames into notes: a key's run of sounding frames is one note, given when it ends."""

    def __init__(self, step: float):
        self.step, self.frame = step, 0
        self.since = np.full(KEYS, -1)  # frame where each sounding key started; -1 silent

    def add(self, frame: np.ndarray) -> list[tuple[int, float, float]]:
        on = frame > 0
        ended = np.flatnonzero(~on & (self.since >= 0))
        notes = [self._note(k) for k in ended]
        self.since[ended] = -1
        self.since[on & (self.since < 0)] = self.frame
        self.frame += 1
        return notes

    def finish(self) -> list[tuple[int, float, float]]:
        held = np.flatnonzero(self.since >= 0)
        notes = [self._note(k) for k in held]
        self.since[held] = -1
        return notes

    def _note(self, key: int) -> tuple[int, float, float]:
        start = int(self.since[key])
        return (LOW + int(key), start * self.step, (self.frame - start) * self.step)
