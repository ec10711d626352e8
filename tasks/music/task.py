"""The music task: predict the next note event, or the next piano-roll frame.

``events`` (default): the top voice of each piece as tokens ``pitch:duration`` (``r`` for
a rest; durations in quarter notes on a sixteenth-note grid) between ``<s>`` and
``</s>``; an embedding -> the backbone -> logits over the event vocabulary. Optional
transposition of the training pieces into all twelve keys.

``pianoroll``: frames of 88 keys every ``task.step`` quarter notes; the backbone reads a
frame and predicts each key of the next frame independently (88 Bernoulli outputs), the
set-up of Boulanger-Lewandowski et al. (2012), so results compare with the literature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from seqsuite.adapters import FeatureInput, TokenInput
from seqsuite.batches import ArraySplit, pad_sequences
from seqsuite.errors import UserError
from seqsuite.heads import StepHead
from seqsuite.plots import plt, save
from seqsuite.task import Context, Prepared, Results, Task
from seqsuite.token_lm import sample_next
from seqsuite.vocab import Vocabulary

from . import rolls, scores
from .midi import write_midi

NAMED = {"chorales": "music21's Bach chorales (371 pieces)"}
BOS, EOS, REST = "<s>", "</s>", "r"


@dataclass
class MusicConfig:
    """The ``[task]`` section of ``seqsuite run music``."""

    representation: Literal["events", "pianoroll"] = "events"
    transpose: bool = field(
        default=True, metadata={"help": "train in all 12 keys (both representations)"}
    )
    step: float = field(
        default=1.0, metadata={"min": 0.0625, "help": "pianoroll: quarter notes per frame"}
    )
    grid: float = field(
        default=0.25, metadata={"min": 0.0625, "help": "events: duration grid (quarter notes)"}
    )
    max_duration: float = field(default=8.0, metadata={"min": 0.25})
    embedding_dim: int = field(default=64, metadata={"min": 1})
    dropout: float = field(
        default=0.3, metadata={"min": 0.0, "below": 1.0, "help": "input and output dropout"}
    )
    input_dropout: float = field(
        default=0.0,
        metadata={"min": 0.0, "below": 1.0, "help": "pianoroll: dropout on the input keys"},
    )
    val_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    test_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    bpm: float = field(default=90.0, metadata={"min": 10.0, "help": "tempo of generated MIDI"})
    midi_column: str = field(
        default="midi",
        metadata={"help": "in-memory / Hugging Face data: the column of MIDI bytes or paths"},
    )


class MusicTask(Task):
    name = "music"
    summary = "note generation: melodies as events or polyphonic piano rolls; writes MIDI"
    config_class = MusicConfig
    datasets = tuple(NAMED)
    primary_metric = "nll"
    higher_is_better = False
    quick = {"train": {"epochs": 4}}
    defaults = {
        "backbone": {"hidden_size": 256, "num_layers": 2, "dropout": 0.3},
        "train": {"epochs": 60, "batch_size": 16, "lr": 2e-3, "patience": 8, "clip_norm": 1.0},
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        o, run = ctx.options, ctx.config.run
        skipped: list[tuple[str, str]] = []
        benchmark = None
        if run.data and rolls.is_benchmark(Path(run.data)):
            if o.representation != "pianoroll":
                raise UserError(
                    f"{run.data}: a piano-roll benchmark file needs --set task.representation='pianoroll'"
                )
            benchmark = rolls.load_benchmark(Path(run.data))
            name, pieces = Path(run.data).stem, None
        elif run.data:
            root = Path(run.data)
            if not root.is_dir():
                raise UserError(
                    f"{root}: expected a folder of MIDI / MusicXML / ABC files or a .mat/.pickle benchmark file"
                )
            pieces, skipped, _ = scores.folder(root)
            name = root.name
            if not pieces:
                raise UserError(
                    f"{root}: no usable scores ({len(skipped)} skipped, e.g. {skipped[0][0]}: {skipped[0][1]})"
                )
        else:
            name = run.dataset or self.default_dataset
            if name != "chorales":
                raise UserError(f"--dataset {name!r}: unknown; embedded: {', '.join(NAMED)}")
            pieces, _ = scores.chorales()
        if benchmark is None:
            parts = own_splits(run.data, pieces) or _split_pieces(
                len(pieces), o.val_fraction, o.test_fraction, ctx.seed
            )
            if min(len(p) for p in parts.values()) == 0:
                raise UserError(
                    f"{run.data or name}: {len(pieces)} pieces are too few for train / val / test"
                )
        if o.representation == "pianoroll":
            if benchmark is None:
                benchmark = {
                    s: [rolls.roll_from_notes(pieces[i]["notes"], o.step) for i in idx]
                    for s, idx in parts.items()
                }
            return self._prepare_rolls(benchmark, name, skipped, o.transpose)
        return self._prepare_events(ctx, pieces, parts, name, skipped)

    def _prepare_events(self, ctx, pieces, parts, name, skipped) -> Prepared:
        o = ctx.options
        melodies = {
            s: [self.encode(pieces[i]["melody"], o) for i in idx] for s, idx in parts.items()
        }
        if ctx.state and "vocab" in ctx.state:
            vocab = Vocabulary.from_dict(ctx.state["vocab"])
        else:
            training = [
                t
                for m in melodies["train"]
                for shift in _shifts(m, o.transpose)
                for t in transpose(m, shift)
            ]
            vocab = Vocabulary.build(training + [BOS, EOS], "event")

        def split(name: str, augment: bool) -> ArraySplit:
            seqs = []
            for melody in melodies[name]:
                for shift in _shifts(melody, augment and o.transpose):
                    ids = [vocab.index.get(t, 1) for t in [BOS, *transpose(melody, shift), EOS]]
                    seqs.append(torch.tensor(ids))
            tokens, lengths = pad_sequences(seqs)
            # inputs are all but the last event, targets all but the first
            return ArraySplit(
                {"tokens": tokens[:, :-1], "targets": tokens[:, 1:], "lengths": lengths - 1},
                seq_key="tokens",
                bucket=True,
            )

        train = split("train", True)
        events = {s: sum(len(m) + 1 for m in melodies[s]) for s in melodies}
        return Prepared(
            train=train,
            val=split("val", False),
            test=split("test", False),
            spec={"representation": "events", "vocab_size": len(vocab)},
            state={"vocab": vocab.to_dict()},
            dataset=name,
            summary=(
                f"{sum(len(v) for v in melodies.values())} pieces ({len(vocab)} distinct events): "
                f"{len(melodies['train'])} train{' x12 keys' if o.transpose else ''} / {len(melodies['val'])} val / "
                f"{len(melodies['test'])} test pieces, {events['test']:,} test events"
                + (f"; {len(skipped)} files skipped" if skipped else "")
            ),
            data={"vocab": vocab, "melodies": melodies, "skipped": skipped},
        )

    def _prepare_rolls(
        self, data: dict[str, list[np.ndarray]], name: str, skipped, augment: bool
    ) -> Prepared:
        def split(pieces: list[np.ndarray], augment: bool = False) -> ArraySplit:
            if augment:
                pieces = [rolls.shift(p, s) for p in pieces for s in rolls.shifts(p)]
            frames = [torch.from_numpy(p.astype(np.float32)) for p in pieces]
            # the input at t is frame t-1 (silence before the first), the target frame t
            inputs = [torch.cat([torch.zeros(1, rolls.KEYS), f[:-1]]) for f in frames]
            x, lengths = pad_sequences(inputs)
            y, _ = pad_sequences(frames)
            return ArraySplit({"x": x, "y": y, "lengths": lengths}, bucket=True)

        sizes = {s: sum(len(p) for p in data[s]) for s in data}
        return Prepared(
            train=split(data["train"], augment),
            val=split(data["val"]),
            test=split(data["test"]),
            spec={"representation": "pianoroll", "keys": rolls.KEYS},
            state={},
            dataset=name,
            summary=(
                f"piano rolls: {len(data['train'])}{' x12 keys' if augment else ''} / {len(data['val'])} / {len(data['test'])} pieces, "
                f"{sizes['train']:,} / {sizes['val']:,} / {sizes['test']:,} frames"
                + (f"; {len(skipped)} files skipped" if skipped else "")
            ),
            data={"rolls": data, "skipped": skipped},
        )

    @staticmethod
    def encode(melody: list[tuple[int, float]], o: MusicConfig) -> list[str]:
        """``pitch:duration`` tokens on the duration grid (shorter notes round up to it)."""
        out = []
        for pitch, length in melody:
            steps = max(1, round(min(length, o.max_duration) / o.grid))
            out.append(f"{REST if pitch < 0 else pitch}:{steps * o.grid:g}")
        return out

    # -- model ----------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]):
        if spec["representation"] == "pianoroll":
            return FeatureInput(spec["keys"], dropout=ctx.options.input_dropout)
        return TokenInput(
            spec["vocab_size"], ctx.options.embedding_dim, dropout=ctx.options.dropout
        )

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> StepHead:
        out = spec["keys"] if spec["representation"] == "pianoroll" else spec["vocab_size"]
        return StepHead(in_features, out, dropout=ctx.options.dropout)

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        total, count = self._nll(output, batch)
        return total / count

    @staticmethod
    def _nll(output: torch.Tensor, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed negative log-likelihood and the number of predictions it covers: events,
        or frames (the 88 keys' Bernoulli terms summed per frame)."""
        lengths = batch["lengths"].to(output.device)
        mask = torch.arange(output.shape[1], device=output.device)[None, :] < lengths[:, None]
        if "targets" in batch:
            per = F.cross_entropy(
                output.float().transpose(1, 2), batch["targets"], reduction="none"
            )
        else:
            per = F.binary_cross_entropy_with_logits(
                output.float(), batch["y"], reduction="none"
            ).sum(-1)
        return (per * mask).sum(), mask.sum()

    # -- evaluation -------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(
        self, ctx: Context, model: Any, prepared: Prepared, split: str
    ) -> dict[str, float]:
        model.eval()
        total, count, correct = 0.0, 0, 0
        for batch in getattr(prepared, split).to(ctx.device).batches(64):
            output, _ = model(batch)
            nll, n = self._nll(output, batch)
            total, count = total + float(nll), count + int(n)
            if "targets" in batch:
                mask = (
                    torch.arange(output.shape[1], device=output.device)[None, :]
                    < batch["lengths"].to(output.device)[:, None]
                )
                correct += int(((output.argmax(-1) == batch["targets"]) & mask).sum())
        metrics = {"nll": total / max(count, 1)}
        if prepared.spec["representation"] == "events":
            metrics["accuracy"] = correct / max(count, 1)
        return metrics

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, dict[str, float]]:
        if prepared.spec["representation"] == "pianoroll":
            train = np.concatenate(prepared.data["rolls"]["train"]).astype(float)
            p = np.clip(train.mean(0), 1e-4, 1 - 1e-4)
            test = np.concatenate(prepared.data["rolls"]["test"]).astype(float)
            nll = -(test * np.log(p) + (1 - test) * np.log(1 - p)).sum(1).mean()
            return {"key_frequencies": {"nll": float(nll)}}
        return event_baselines(prepared.train, prepared.test, prepared.spec["vocab_size"])

    # -- generation -------------------------------------------------------------------

    @torch.no_grad()
    def _sample_events(
        self,
        ctx,
        model,
        vocab: Vocabulary,
        prime: list[str],
        length: int,
        temperature: float,
        top_k: int,
        seed: int,
    ) -> list[str]:
        generator = torch.Generator().manual_seed(seed)
        ids = [vocab.index[BOS]] + [vocab.index.get(t, 1) for t in prime]
        logits, state = model({"tokens": torch.tensor([ids], device=ctx.device)})
        banned = [0, 1, vocab.index[BOS]]
        out: list[str] = []
        while len(out) < length:
            last = logits[:, -1].clone()
            last[:, banned] = float("-inf")
            if not out:
                last[:, vocab.index[EOS]] = float("-inf")  # at least one note
            next_id = sample_next(last, temperature, top_k, generator)
            token = vocab.tokens[int(next_id)]
            if token == EOS:
                break
            out.append(token)
            logits, state = model({"tokens": next_id.view(1, 1)}, state)
        return out

    @torch.no_grad()
    def _sample_roll(
        self, ctx, model, prime: np.ndarray, length: int, temperature: float, seed: int
    ) -> np.ndarray:
        generator = torch.Generator().manual_seed(seed)
        frames = [torch.zeros(rolls.KEYS)] + [torch.from_numpy(f.astype(np.float32)) for f in prime]
        logits, state = model({"x": torch.stack(frames).unsqueeze(0).to(ctx.device)})
        out = []
        for _ in range(length):
            scale = max(temperature, 1e-6)
            probs = torch.sigmoid(logits[0, -1].float().cpu() / scale)
            frame = (
                (torch.rand(rolls.KEYS, generator=generator) < probs).float()
                if temperature > 0
                else (probs > 0.5).float()
            )
            out.append(frame.numpy())
            logits, state = model({"x": frame.view(1, 1, -1).to(ctx.device)}, state)
        return np.array(out, dtype=np.uint8)

    def generate(self, ctx: Context, model: Any, options: dict[str, Any]) -> dict[str, Any]:
        o = ctx.options
        length = int(options.get("length") or 64)
        temperature = float(options.get("temperature", 1.0))
        seed = int(options.get("seed") or 0)
        prompt = options.get("prompt")
        out = (
            Path(options["out"])
            if options.get("out")
            else ctx.new_path(f"samples/generated-seed{seed}.mid")
        )
        if out.suffix.lower() not in (".mid", ".midi"):
            raise UserError(f"--out {out}: expected a .mid file name")
        prime_piece = scores.parse_file(Path(prompt)) if prompt else None
        if ctx.config.task.representation == "pianoroll":
            prime = (
                rolls.roll_from_notes(prime_piece["notes"], o.step)[:16]
                if prime_piece
                else np.zeros((0, rolls.KEYS))
            )
            roll = self._sample_roll(ctx, model, prime, length, temperature, seed)
            notes = [
                (p, first * o.step, held * o.step) for p, first, held in rolls.notes_from_roll(roll)
            ]
        else:
            vocab = Vocabulary.from_dict(ctx.state["vocab"])
            prime = self.encode(prime_piece["melody"], o)[:8] if prime_piece else []
            events = self._sample_events(
                ctx, model, vocab, prime, length, temperature, int(options.get("top_k") or 0), seed
            )
            notes, now = [], 0.0
            for token in events:
                pitch, length_ = token.split(":")
                if pitch != REST:
                    notes.append((int(pitch), now, float(length_)))
                now += float(length_)
        if not notes:
            raise UserError(
                "the model generated only rests/silence; try a higher --temperature or another --seed"
            )
        write_midi(out, notes, bpm=o.bpm)
        picture = out.with_suffix(".png")
        pianoroll_plot(notes, picture, f"generated (seed {seed}, temperature {temperature:g})")
        ctx.console.print(
            f"{len(notes)} notes, {max(n[1] + n[2] for n in notes):g} quarter notes -> {out}, {picture}"
        )
        return {"path": str(out), "notes": len(notes), "picture": str(picture)}

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        self.generate(ctx, model, {"length": 64, "temperature": 1.0, "seed": ctx.seed})

    # -- in-memory data (seqsuite.fit, Hugging Face data sets) ----------------------------

    def write_data(self, ctx: Context, data: Any, folder: Path) -> Any:
        """Pieces in memory -> a folder of MIDI files. Takes a list of music21 scores or
        of MIDI / MusicXML / ABC paths or MIDI bytes, or a :class:`~seqsuite.memory.Table`
        whose ``task.midi_column`` holds MIDI bytes or paths (each piece split as usual)."""
        from seqsuite import atomic
        from seqsuite.memory import Table
        from seqsuite.task import DataFiles

        if isinstance(data, Table):
            frame = data.concat(split_column="split")
            column = data.column(ctx.options.midi_column, ["midi"], "MIDI", "task.midi_column")
            pieces = list(frame[column])
        elif isinstance(data, list | tuple):
            pieces = list(data)
        else:
            raise UserError(
                "music: expected a list of music21 scores, file paths or MIDI bytes, a "
                f"DataFrame or a Hugging Face data set, got {type(data).__name__}"
            )
        target = folder / "pieces"
        target.mkdir(parents=True, exist_ok=True)
        splits = list(frame["split"]) if isinstance(data, Table) and "split" in frame else None
        for k, piece in enumerate(pieces):
            write_piece(piece, target, k, splits[k] if splits else "")
        if splits:  # the data set's own splits, by file name (see own_splits)
            atomic.write_text(target / SPLITS_MARK, "pieces named train-*, val-*, test-*\n")
        return DataFiles(str(target))


SPLITS_MARK = "SPLITS"  # in a folder whose file names say each piece's split


def own_splits(data: str, pieces: list[dict[str, Any]]) -> dict[str, list[int]] | None:
    """The data set's own train / val / test pieces when :meth:`MusicTask.write_data`
    wrote them (file names ``train-000001.mid`` beside a ``SPLITS`` file); else None."""
    if not data or not (Path(data) / SPLITS_MARK).is_file():
        return None
    parts = {s: [k for k, p in enumerate(pieces) if p["name"].startswith(f"{s}-")] for s in
             ("train", "val", "test")}  # fmt: skip
    return parts if parts["train"] and parts["val"] and parts["test"] else None


def write_piece(piece: Any, folder: Path, k: int, split: str = "") -> None:
    """One piece into ``folder``: bytes as MIDI, a path copied, a music21 stream written;
    the file name starts with its split when the data has its own."""
    from seqsuite import atomic

    name = f"{split}-{k:06d}" if split else f"{k:06d}"
    if isinstance(piece, dict):  # a Hugging Face value {"bytes": ..., "path": ...}
        piece = piece.get("bytes") or piece.get("path")
    if isinstance(piece, bytes | bytearray):
        atomic.write_bytes(folder / f"{name}.mid", bytes(piece))
    elif isinstance(piece, str | Path):
        source = Path(piece)
        if not source.is_file():
            raise UserError(f"{source}: not found")
        atomic.write_bytes(folder / f"{name}{source.suffix.lower()}", source.read_bytes())
    elif hasattr(piece, "write"):  # a music21 stream
        piece.write("midi", fp=str(folder / f"{name}.mid"))
    else:
        raise UserError(f"music: piece {k + 1} is a {type(piece).__name__}, not a score")


def _split_pieces(n: int, val: float, test: float, seed: int) -> dict[str, list[int]]:
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = max(1, round(n * test)), max(1, round(n * val))
    return {
        "test": sorted(order[:n_test]),
        "val": sorted(order[n_test : n_test + n_val]),
        "train": sorted(order[n_test + n_val :]),
    }


def transpose(melody: list[str], shift: int) -> list[str]:
    if not shift:
        return melody
    out = []
    for token in melody:
        pitch, length = token.split(":")
        out.append(token if pitch == REST else f"{int(pitch) + shift}:{length}")
    return out


def _shifts(melody: list[str], augment: bool) -> list[int]:
    """All twelve keys that keep the melody inside the MIDI range, or just the original."""
    if not augment:
        return [0]
    pitches = [int(t.split(":")[0]) for t in melody if not t.startswith(REST)]
    if not pitches:
        return [0]
    return [s for s in range(-6, 6) if 0 <= min(pitches) + s and max(pitches) + s <= 127]


def event_baselines(
    train: ArraySplit, test: ArraySplit, vocab_size: int
) -> dict[str, dict[str, float]]:
    """Unigram and bigram (add-one smoothed) next-event models on the same test events."""

    def pairs(split: ArraySplit) -> tuple[np.ndarray, np.ndarray]:
        mask = torch.arange(split["tokens"].shape[1])[None, :] < split["lengths"][:, None]
        return split["tokens"][mask].numpy(), split["targets"][mask].numpy()

    prev_train, next_train = pairs(train)
    prev_test, next_test = pairs(test)
    unigram = np.bincount(next_train, minlength=vocab_size) + 1.0
    unigram /= unigram.sum()
    bigram = np.ones((vocab_size, vocab_size))
    np.add.at(bigram, (prev_train, next_train), 1)
    bigram /= bigram.sum(1, keepdims=True)
    return {
        "unigram": {
            "nll": float(-np.log(unigram[next_test]).mean()),
            "accuracy": float((next_test == unigram.argmax()).mean()),
        },
        "bigram": {
            "nll": float(-np.log(bigram[prev_test, next_test]).mean()),
            "accuracy": float((bigram[prev_test].argmax(1) == next_test).mean()),
        },
    }


def pianoroll_plot(notes: list[tuple[int, float, float]], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(10, 4))
    for pitch, onset, length in notes:
        ax.broken_barh([(onset, length)], (pitch - 0.4, 0.8), color="tab:blue")
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    save(fig, path)
