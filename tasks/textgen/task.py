"""The textgen task: next-token prediction on a contiguous text, then sampling from it.

Split (contiguous): ``| train | val | test |`` (fractions of the tokens). Training reads
the training stream in ``batch_size`` parallel streams, ``bptt`` tokens at a time, with
the state carried from one batch to the next (truncated BPTT). The output layer shares
its weights with the embedding when their sizes agree (weight tying).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from seqsuite import atomic
from seqsuite.adapters import TokenInput
from seqsuite.batches import StreamSplit
from seqsuite.errors import UserError
from seqsuite.heads import StepHead
from seqsuite.task import Context, Prepared, Results, Task
from seqsuite.token_lm import generate, lm_metrics, stream_nll
from seqsuite.vocab import Vocabulary

from . import corpus
from .ngram import KneserNey, unigram_nll


@dataclass
class TextgenConfig:
    """The ``[task]`` section of ``seqsuite run textgen``."""

    level: Literal["char", "word"] = "char"
    bptt: int = field(default=100, metadata={"min": 2, "help": "steps per truncated-BPTT chunk"})
    embedding_dim: int = field(
        default=0, metadata={"min": 0, "help": "0 = the backbone's output size (tied)"}
    )
    tie_weights: bool = field(
        default=True, metadata={"help": "output layer = embedding, when sizes agree"}
    )
    dropout: float = field(
        default=0.1, metadata={"min": 0.0, "below": 1.0, "help": "on embeddings and outputs"}
    )
    lowercase: bool = False
    min_freq: int = field(default=1, metadata={"min": 1, "help": "rarer tokens become <unk>"})
    max_vocab: int = field(default=50_000, metadata={"min": 3})
    val_fraction: float = field(default=0.05, metadata={"min": 0.0, "below": 0.5})
    test_fraction: float = field(
        default=0.05, metadata={"min": 0.0, "below": 0.5, "help": "0 = test on val"}
    )
    ngram_order: int = field(
        default=0, metadata={"min": 0, "help": "baseline order (0 = 5 for chars, 3 for words)"}
    )
    sample_temperatures: list[float] = field(default_factory=lambda: [0.5, 0.8, 1.0])
    sample_length: int = field(default=500, metadata={"min": 1})
    sample_prompt: str = ""

    def validate(self) -> None:
        if self.val_fraction <= 0:
            raise UserError("val_fraction: must be > 0 (validation chooses the best checkpoint)")


class TextgenTask(Task):
    name = "textgen"
    summary = "character- or word-level LSTM language model with truncated BPTT; samples text"
    config_class = TextgenConfig
    datasets = tuple(corpus.NAMED)
    primary_metric = "nll"
    higher_is_better = False
    # --quick: a fixed number of steps, so that it gives the same result on any machine
    quick = {
        "train": {"time_budget": 0.0, "max_steps": 120, "eval_every": 40, "warmup_steps": 20},
        "task": {"sample_length": 100, "ngram_order": 3},
    }
    # The preset for a few-megabyte character corpus (tuned on tiny-shakespeare, see
    # docs/results.md): 2 x 512 LSTM, dropout between layers, cosine decay over the
    # time budget, bf16 autocast where the hardware has it, the best checkpoint kept.
    defaults = {
        "backbone": {"hidden_size": 512, "num_layers": 2, "dropout": 0.35},
        "train": {
            "epochs": 100,
            "batch_size": 32,
            "lr": 2e-3,
            "schedule": "cosine",
            "warmup_steps": 200,
            "clip_norm": 1.0,
            "patience": 0,
            "eval_every": 200,
            "time_budget": 600.0,
            "precision": "auto",
        },
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        o = ctx.options
        run = ctx.config.run
        if run.data:
            text, name = corpus.load_path(run.data)
        else:
            name = run.dataset or self.default_dataset
            text = corpus.load_named(name)
        if ctx.state and "vocab" in ctx.state:
            vocab = Vocabulary.from_dict(ctx.state["vocab"])
        else:
            train_chars = int(len(text) * (1 - o.val_fraction - o.test_fraction))
            train_text = text[:train_chars]
            pieces = (
                list(train_text.lower() if o.lowercase else train_text)
                if o.level == "char"
                else None
            )
            vocab = Vocabulary.build(
                pieces
                if pieces is not None
                else Vocabulary(o.level, lowercase=o.lowercase).split(train_text),
                o.level,
                min_freq=o.min_freq,
                max_size=o.max_vocab,
                lowercase=o.lowercase,
            )
            if len(vocab) <= 3:
                raise UserError(
                    f"{run.data or name}: the training text has {len(vocab) - 2} distinct "
                    f"{'characters' if o.level == 'char' else 'words'}; a language model needs more"
                )
        ids = torch.tensor(vocab.encode(text), dtype=torch.long)
        n = len(ids)
        n_test = int(n * o.test_fraction)
        n_val = int(n * o.val_fraction)
        n_train = n - n_val - n_test
        minimum = 2 * o.bptt
        if n_train < minimum * 2 or n_val < 2:
            raise UserError(
                f"{run.data or name}: {n} tokens is too little text for bptt {o.bptt} "
                f"(needs at least {4 * minimum} for training plus validation)"
            )
        train, val = ids[:n_train], ids[n_train : n_train + n_val]
        test = ids[n_train + n_val :] if n_test >= 2 else val
        return Prepared(
            train=StreamSplit(train, o.bptt),
            val=StreamSplit(val, o.bptt),
            test=StreamSplit(test, o.bptt),
            spec={"vocab_size": len(vocab), "level": o.level},
            state={"vocab": vocab.to_dict()},
            dataset=name,
            summary=(
                f"{n:,} {o.level} tokens ({len(vocab)} in the vocabulary): "
                f"{n_train:,} train / {n_val:,} val / {n_test or n_val:,} test"
            ),
            data=vocab,
        )

    def prepare_eval(self, ctx: Context) -> Prepared:
        """``eval --data FILE``: the whole file as the test stream, read with the run's
        vocabulary (unknown tokens count as ``<unk>``); nothing is split or refitted."""
        text, name = corpus.load_path(ctx.config.run.data)
        vocab = Vocabulary.from_dict(ctx.state["vocab"])
        ids = torch.tensor(vocab.encode(text), dtype=torch.long)
        if len(ids) < 2:
            raise UserError(f"{ctx.config.run.data}: too little text to score (needs 2 tokens)")
        stream = StreamSplit(ids, ctx.options.bptt)
        return Prepared(
            train=stream,
            val=stream,
            test=stream,
            spec={"vocab_size": len(vocab), "level": ctx.options.level},
            state=ctx.state,
            dataset=name,
            data=vocab,
            info={"tokens": len(ids), "unknown_tokens": int((ids == 1).sum())},
        )

    # -- model ----------------------------------------------------------------------

    def _embedding_dim(self, ctx: Context) -> int:
        return ctx.options.embedding_dim or ctx.config.backbone.output_size

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> TokenInput:
        return TokenInput(spec["vocab_size"], self._embedding_dim(ctx), dropout=ctx.options.dropout)

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> StepHead:
        return StepHead(in_features, spec["vocab_size"], ctx.options.dropout)

    def finish_model(self, ctx: Context, model: Any) -> None:
        """Tie the output layer to the embedding when their shapes agree."""
        embedding, decoder = model.adapter.embedding, model.head.linear
        if ctx.options.tie_weights and embedding.weight.shape == decoder.weight.shape:
            decoder.weight = embedding.weight

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return F.cross_entropy(output.float().flatten(0, 1), batch["targets"].flatten())

    # -- evaluation -------------------------------------------------------------------

    def evaluate(
        self, ctx: Context, model: Any, prepared: Prepared, split: str
    ) -> dict[str, float]:
        total, count = stream_nll(model, getattr(prepared, split), ctx.device)
        return lm_metrics(total, count, count if ctx.options.level == "char" else None)

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, dict[str, float]]:
        o = ctx.options
        vocab_size = prepared.spec["vocab_size"]
        train = prepared.train.tokens.tolist()
        test = prepared.test.tokens.tolist()
        chars = len(test) - 1 if o.level == "char" else None  # bits per character at char level
        order = o.ngram_order or (5 if o.level == "char" else 3)
        history = prepared.val.tokens.tolist() if prepared.test is not prepared.val else train
        kn = KneserNey(train, order, vocab_size)
        # the first targets of the test stream: score every token after the first, as the model does
        return {
            "unigram": lm_metrics(unigram_nll(train, test[1:], vocab_size), len(test) - 1, chars),
            f"kneser_ney_{order}gram": lm_metrics(
                kn.nll(test[1:], history + test[:1]), len(test) - 1, chars
            ),
        }

    # -- generation -------------------------------------------------------------------

    @staticmethod
    def _generate(
        ctx: Context,
        vocab: Vocabulary,
        model: Any,
        prompt: str,
        length: int,
        temperature: float,
        top_k: int,
        seed: int,
    ) -> tuple[str, list[str]]:
        unknown = vocab.unknown(prompt)
        ids = vocab.encode(prompt) or [vocab.index.get("\n", 1)]
        out = generate(
            model,
            ids,
            length,
            temperature=temperature,
            top_k=top_k,
            seed=seed,
            device=ctx.device,
            banned=(0, 1),
        )
        return prompt + vocab.decode(out) if vocab.level == "char" else vocab.decode(
            ids + out
        ), unknown

    def generate(self, ctx: Context, model: Any, options: dict[str, Any]) -> dict[str, Any]:
        length = int(options.get("length") or 200)
        temperature = float(options.get("temperature", 1.0))
        if temperature < 0:
            raise UserError(f"--temperature: got {temperature}, expected >= 0")
        top_k = int(options.get("top_k") or 0)
        seed = int(options.get("seed") or 0)
        prompt = options.get("prompt") or ""
        started = time.perf_counter()
        if not ctx.state or "vocab" not in ctx.state:
            raise UserError(f"{ctx.run_dir}: no vocabulary saved in task_state.json")
        vocab = Vocabulary.from_dict(ctx.state["vocab"])
        text, unknown = self._generate(ctx, vocab, model, prompt, length, temperature, top_k, seed)
        seconds = time.perf_counter() - started
        if unknown:
            ctx.console.print(
                f"[yellow]prompt pieces not in the vocabulary, read as <unk>: {unknown}[/]"
            )
        out = (
            Path(options["out"])
            if options.get("out")
            else ctx.new_path(f"samples/generated-seed{seed}.txt")
        )
        atomic.write_text(out, text)
        ctx.console.print(text, markup=False, highlight=False)
        ctx.console.print(
            f"[dim]{length} tokens in {seconds:.2f} s ({length / seconds:.0f}/s) -> {out}[/]"
        )
        return {"text": text, "path": str(out), "tokens_per_second": length / seconds}

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        o = ctx.options
        parts = []
        for temperature in o.sample_temperatures:
            text, _ = self._generate(
                ctx,
                prepared.data,
                model,
                o.sample_prompt,
                o.sample_length,
                temperature,
                0,
                ctx.seed,
            )
            parts.append(f"=== temperature {temperature} ===\n{text}\n")
        atomic.write_text(ctx.path("samples.txt"), "\n".join(parts))

    # -- in-memory data (seqsuite.fit, Hugging Face data sets) ----------------------------

    def write_data(self, ctx: Context, data: Any, folder: Any) -> Any:
        """Text in memory -> ``corpus.txt``. Takes a string, a list of strings, or a
        :class:`~seqsuite.memory.Table` (its ``text`` column, else its first column of
        strings). A data set's own train / validation / test parts are written in that
        order, and their shares of the characters become ``task.val_fraction`` and
        ``task.test_fraction``, so the model is validated and tested on those parts."""
        from seqsuite.memory import Table
        from seqsuite.task import DataFiles

        settings: dict[str, Any] = {}
        if isinstance(data, Table):
            first = data.parts()[0][1]
            strings = [c for c in first.columns if first[c].map(type).eq(str).all()]
            column = data.column("text", strings[:1], "text", "a column named text")
            parts = {s: "\n".join(map(str, f[column])) + "\n" for s, f in data.parts()}
            text = "".join(parts.values())
            shares = {s: len(parts.get(s, "")) / max(len(text), 1) for s in ("val", "test")}
            if data.has_splits and 0 < shares["val"] < 0.5 and shares["test"] < 0.5:
                settings = {
                    "task": {"val_fraction": shares["val"], "test_fraction": shares["test"]}
                }
        elif isinstance(data, str):
            text = data
        elif isinstance(data, list | tuple) and all(isinstance(t, str) for t in data):
            text = "\n".join(data) + "\n"
        else:
            raise UserError(
                "textgen: expected a string, a list of strings, a DataFrame or a Hugging Face "
                f"data set, got {type(data).__name__}"
            )
        if not text.strip():
            raise UserError("textgen: the text is empty")
        path = folder / "corpus.txt"
        atomic.write_text(path, text)
        return DataFiles(str(path), settings)
