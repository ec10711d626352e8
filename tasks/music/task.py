"""The music task: predict the next note event, or the next piano-roll frame.

Where the data come from is decided here (music21's Bach chorales, a folder of scores,
or a benchmark file with its own splits); what is done with them belongs to one of two
representations, chosen by ``task.representation``: :class:`~.events.Events` (the top
voice as ``pitch:duration`` tokens) or :class:`~.pianoroll.Pianoroll` (88-key frames,
Bernoulli outputs). Each holds its part of every hook; generation and its MIDI file are
shared.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from seqsuite import atomic
from seqsuite.errors import UserError
from seqsuite.input_files import regular_file
from seqsuite.limits import MAX_TEMPERATURE
from seqsuite.plots import plt, save
from seqsuite.task import Context, Evaluation, Prepared, Results, Task

from . import benchmark, scores
from .events import Events
from .pianoroll import Pianoroll, rolls_from_pieces, within_limit
from .recorder import Recorder
from .scores import Piece

NAMED = {"chorales": "music21's Bach chorales (371 pieces)"}
REPRESENTATIONS = {"events": Events(), "pianoroll": Pianoroll()}
PLOT_QUARTERS = 128.0  # the picture of a sample shows its first 32 bars of 4/4


class SilentSample(UserError):
    """A generation of rests only: no notes to write."""


@dataclass
class MusicConfig:
    """The ``[task]`` section of ``seqsuite run music``."""

    representation: Literal["events", "pianoroll"] = "events"
    transpose: bool = field(
        default=True,
        metadata={"help": "train each piece in a random key each epoch (both representations)"},
    )
    step: float = field(
        default=1.0, metadata={"min": 0.0625, "help": "pianoroll: quarter notes per frame"}
    )
    grid: float = field(
        default=0.25, metadata={"min": 0.0625, "help": "events: duration grid (quarter notes)"}
    )
    max_duration: float = field(default=8.0, metadata={"min": 0.25})
    window: int = field(
        default=64,
        metadata={"min": 8, "help": "longer pieces train as windows of this many steps"},
    )
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
    workers: int = field(
        default=0,
        metadata={
            "min": 0,
            "max": 256,
            "help": "processes parsing a folder (0 = the CPUs usable, at most 8)",
        },
    )
    midi_column: str = field(
        default="midi",
        metadata={"help": "in-memory / Hugging Face data: the column of MIDI bytes or paths"},
    )


@dataclass
class Corpus:
    """The loaded data: parsed pieces to split, or a benchmark file's own split rolls."""

    name: str
    pieces: list[Piece] = field(default_factory=list)
    rolls: dict[str, Any] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)


class MusicTask(Task):
    name = "music"
    summary = "note generation: melodies as events or polyphonic piano rolls; writes MIDI"
    config_class = MusicConfig
    datasets = tuple(NAMED)
    primary_metric = "nll"
    higher_is_better = False
    quick = {"train": {"epochs": 30}}
    defaults = {
        "backbone": {"hidden_size": 256, "num_layers": 2, "dropout": 0.3},
        # an epoch is every piece once (in a random key): short, so many of them; a high
        # rate decayed to zero over the run (or the time budget), chosen on validation NLL
        # of Nottingham and JSB (docs/results.md, Music)
        "train": {
            "epochs": 400,
            "batch_size": 16,
            "lr": 5e-3,
            "schedule": "cosine",
            "patience": 40,
            "clip_norm": 1.0,
        },
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        corpus = self._load(ctx)
        rep = REPRESENTATIONS[ctx.options.representation]
        if corpus.rolls is not None:
            prepared = rep.prepare(ctx, corpus.rolls)
        else:
            o, run = ctx.options, ctx.config.run
            where = run.data or corpus.name
            if rep is REPRESENTATIONS["pianoroll"]:
                limit = ctx.config.data.max_elements
                corpus.pieces, long = within_limit(corpus.pieces, o.step, limit)
                corpus.skipped += long
                if not corpus.pieces:
                    raise UserError(_no_usable(where, corpus.skipped))
            parts = own_splits(run.data, corpus.pieces) or _split_pieces(
                len(corpus.pieces), o.val_fraction, o.test_fraction, ctx.seed
            )
            if min(len(p) for p in parts.values()) == 0:
                raise UserError(
                    f"{where}: {len(corpus.pieces)} pieces are too few for train / val / test"
                )
            if rep is REPRESENTATIONS["pianoroll"]:
                prepared = rep.prepare(ctx, rolls_from_pieces(corpus.pieces, parts, o.step))
            else:
                prepared = rep.prepare(ctx, corpus.pieces, parts)
        skipped = corpus.skipped
        prepared.dataset = corpus.name
        prepared.info = {
            "files_skipped": len(skipped),
            "skipped": [f"{p}: {why}" for p, why in skipped[:20]],
        }
        if skipped:
            prepared.summary += (
                f"; {len(skipped)} files skipped (e.g. {skipped[0][0]}: {skipped[0][1]})"
            )
        return prepared

    def _load(self, ctx: Context) -> Corpus:
        o, run, limits = ctx.options, ctx.config.run, ctx.config.data
        if run.data and benchmark.is_benchmark(Path(run.data)):
            if o.representation != "pianoroll":
                raise UserError(
                    f"{run.data}: a piano-roll benchmark file needs --set task.representation='pianoroll'"
                )
            return Corpus(
                Path(run.data).stem, rolls=benchmark.load_benchmark(Path(run.data), limits)
            )
        if run.data:
            root = Path(run.data)
            if not root.exists():
                raise UserError(f"{root}: not found")
            if not root.is_dir():
                raise UserError(
                    f"{root}: expected a folder of MIDI / MusicXML / ABC files or a .mat/.pickle benchmark file"
                )
            printer = scores.progress_printer(ctx.console, f"parsing {root}", ctx.quiet)
            pieces, skipped = scores.folder(root, limits, _workers(o.workers), printer)
            if not pieces:
                raise UserError(_no_usable(root, skipped))
            return Corpus(root.name, pieces, skipped=skipped)
        name = run.dataset or self.default_dataset
        if name != "chorales":
            raise UserError(f"--dataset {name!r}: unknown; embedded: {', '.join(NAMED)}")
        return Corpus(name, scores.chorales()[0])

    # -- model: each representation's own ---------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]):
        return REPRESENTATIONS[spec["representation"]].input_adapter(ctx, spec)

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int):
        return REPRESENTATIONS[spec["representation"]].head(ctx, spec, in_features)

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        # the batch says which representation made it: frames carry "y", events "targets"
        return REPRESENTATIONS["pianoroll" if "y" in batch else "events"].loss(output, batch)

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        return REPRESENTATIONS[prepared.spec["representation"]].evaluate(
            ctx, model, prepared, split
        )

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        return REPRESENTATIONS[prepared.spec["representation"]].baselines(ctx, prepared)

    # -- generation and report -----------------------------------------------------------

    def generate(self, ctx: Context, model: Any, options: dict[str, Any]) -> dict[str, Any]:
        o = ctx.options
        options = _sampling(options)
        out = (
            Path(options["out"])
            if options.get("out")
            else ctx.new_path(f"samples/generated-seed{options['seed']}.mid")
        )
        if out.suffix.lower() not in (".mid", ".midi"):
            raise UserError(f"--out {out}: expected a .mid file name")
        prompt = _prompt(options.get("prompt"), ctx)
        rep = REPRESENTATIONS[ctx.config.task.representation]
        maker, made = rep.note_maker(ctx), 0
        with torch.no_grad(), Recorder(out, o.bpm) as recorder:
            for made, step in enumerate(rep.steps(ctx, model, prompt, options), 1):
                recorder.add(maker.add(step))
                if made >= options["length"] or recorder.stopped:
                    break
            recorder.add(maker.finish())
        notes = recorder.notes
        if recorder.stopped:
            ctx.console.print(f"stopped after {made:,} steps: {len(notes):,} notes kept in {out}")
            raise KeyboardInterrupt
        if not notes:
            out.unlink(missing_ok=True)  # a MIDI file of no notes is not a sample
            raise SilentSample(
                "the model generated only rests/silence; try a higher --temperature or another --seed"
            )
        picture = out.with_suffix(".png")
        pianoroll_plot(
            notes,
            picture,
            f"generated (seed {options['seed']}, temperature {options['temperature']:g})",
        )
        ctx.console.print(
            f"{len(notes):,} notes, {max(n[1] + n[2] for n in notes):g} quarter notes -> {out}, {picture}"
        )
        return {"path": str(out), "notes": len(notes), "picture": str(picture)}

    serve_examples = {"generate": {"length": 64, "temperature": 1.0, "seed": 0}}

    def generate_stream(self, ctx: Context, model: Any, options: dict[str, Any]):
        """Events (with their notes) or frames as sampled: see serving.py."""
        from .serving import stream

        return stream(ctx, model, options)

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        """Each test piece's NLL per step (``test_pieces.csv``, worst first) and a sample."""
        outputs = results.test.outputs
        if outputs is not None:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["piece", "steps", "nll"])
            for i in np.argsort(-outputs["nll"], kind="stable"):
                writer.writerow([int(i), int(outputs["steps"][i]), f"{outputs['nll'][i]:.4f}"])
            atomic.write_text(ctx.path("test_pieces.csv"), buffer.getvalue())
        try:
            self.generate(
                ctx, model, {"length": 64, "temperature": 1.0, "top_k": 0, "seed": ctx.seed}
            )
        except SilentSample:  # the run's figures stand; a sample is a courtesy
            ctx.console.print(
                "no sample: the model generated only rests in 64 steps (`seqsuite generate RUN_DIR "
                "--temperature 1.5` or another --seed may give notes)"
            )

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


def _no_usable(where: Any, skipped: list[tuple[str, str]]) -> str:
    return (
        f"{where}: no usable scores ({len(skipped)} skipped, e.g. {skipped[0][0]}: {skipped[0][1]})"
    )


def _workers(wanted: int) -> int:
    if wanted:
        return wanted
    usable = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    return max(1, min(usable, 8))


def _sampling(options: dict[str, Any]) -> dict[str, Any]:
    """``generate``'s options checked as the CLI checks them (the Python API and the report
    call this hook directly)."""
    length = int(options.get("length") or 64)
    temperature = float(options.get("temperature", 1.0))
    if not 0 <= temperature <= MAX_TEMPERATURE:  # also refuses NaN
        raise UserError(
            f"--temperature: got {temperature}, expected 0 (most likely) to {MAX_TEMPERATURE:g}"
        )
    if length < 1:
        raise UserError(f"--length: got {length}, expected 1 or more")
    top_k = int(options.get("top_k") or 0)
    if top_k < 0:
        raise UserError(f"--top-k: got {top_k}, expected 0 (all) or more")
    seed = int(options.get("seed") or 0)
    return {**options, "length": length, "temperature": temperature, "top_k": top_k, "seed": seed}


def _prompt(prompt: str | None, ctx: Context) -> Piece | None:
    """The ``--prompt`` score, parsed within the ``[data]`` limits; one line if it cannot be."""
    if not prompt:
        return None
    try:
        return scores.parse_file(Path(prompt), ctx.config.data)
    except scores.ScoreError as err:
        raise UserError(f"--prompt {prompt}: {err}") from None


SPLITS_MARK = "SPLITS"  # in a folder whose file names say each piece's split


def own_splits(data: str | None, pieces: list[Piece]) -> dict[str, list[int]] | None:
    """The data set's own train / val / test pieces when :meth:`MusicTask.write_data`
    wrote them (file names ``train-000001.mid`` beside a ``SPLITS`` file); else None."""
    if not data or not (Path(data) / SPLITS_MARK).is_file():
        return None
    parts = {s: [k for k, p in enumerate(pieces) if p.name.startswith(f"{s}-")] for s in
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
        source = regular_file(piece, "score file")  # not a FIFO or device
        with source.open("rb") as handle:  # copied in blocks, not read whole
            atomic.write_atomic(
                folder / f"{name}{source.suffix.lower()}", partial(shutil.copyfileobj, handle)
            )
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


def pianoroll_plot(notes: list[tuple[int, float, float]], path: Path, title: str) -> None:
    """The notes that start in the first ``PLOT_QUARTERS`` quarter notes, one bar each."""
    shown = [n for n in notes if n[1] < PLOT_QUARTERS]
    by_pitch: dict[int, list[tuple[float, float]]] = {}
    for pitch, onset, length in shown:
        by_pitch.setdefault(pitch, []).append((onset, length))
    fig, ax = plt.subplots(figsize=(10, 4))
    for pitch, bars in by_pitch.items():
        ax.broken_barh(bars, (pitch - 0.4, 0.8), color="tab:blue")
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    more = (
        f" (first {PLOT_QUARTERS:g} of {max(o + d for _, o, d in notes):g} quarter notes)"
        if len(shown) < len(notes)
        else ""
    )
    ax.set_title(title + more)
    ax.grid(alpha=0.3)
    save(fig, path)
