"""The textgen task: next-token prediction on a contiguous text, then sampling from it.

Split (contiguous): ``| train | val | test |`` (fractions of the characters, each part
beginning at a line end). The text is tokenised once into a memory-mapped token file in
the cache (:mod:`seqsuite.token_store`); training reads the training part in
``batch_size`` parallel streams, ``bptt`` tokens at a time, with the state carried from
one batch to the next (truncated BPTT), reading only each batch from the file. Levels:
characters, words, or byte-level BPE subwords learnt from the training part
(:mod:`seqsuite.subword`); ``nats_per_char`` compares them. The output layer shares its
weights with the embedding when their sizes agree (weight tying).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from seqsuite import atomic, cache, token_store
from seqsuite.adapters import TokenInput
from seqsuite.batches import StreamSplit
from seqsuite.errors import UserError
from seqsuite.heads import StepHead
from seqsuite.spelling import Speller
from seqsuite.task import Context, Prepared, Results, Task
from seqsuite.text_source import (
    TextSource,
    decoded_blocks,
    line_chunks,
    read_stats,
    split_positions,
)
from seqsuite.token_lm import generate, lm_metrics, stream_nll
from seqsuite.token_store import Part, TokenStore
from seqsuite.vocab import UNK, PieceTable, Vocabulary

from . import corpus
from .ngram import KneserNey, unigram_nll

#: characters of training text the BPE tokenizer learns from, at most (the start of it)
BPE_TRAIN_CHARS = 100_000_000
#: ``eval --data``: above this share of unknown tokens the scores are flagged
UNKNOWN_WARNING = 0.05


@dataclass
class TextgenConfig:
    """The ``[task]`` section of ``seqsuite run textgen``."""

    level: Literal["char", "word", "bpe"] = "char"
    bpe_vocab: int = field(
        default=2048,
        metadata={"min": 260, "max": 1_000_000, "help": "bpe: subword ids (bytes included)"},
    )
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
    max_eval_tokens: int = field(
        default=1_000_000,
        metadata={
            "min": 0,
            "help": "validation and test score the start of their part, up to this many tokens (0 = all)",
        },
    )
    ngram_order: int = field(
        default=0, metadata={"min": 0, "help": "baseline order (0 = 5 for chars, 3 for words)"}
    )
    ngram_max_tokens: int = field(
        default=5_000_000,
        metadata={
            "min": 0,
            "help": "the n-gram baseline fits the end of the training part, up to this many tokens (0 = all)",
        },
    )
    sample_temperatures: list[float] = field(default_factory=lambda: [0.5, 0.8, 1.0])
    sample_length: int = field(default=500, metadata={"min": 1})
    sample_prompt: str = ""

    def validate(self) -> None:
        if self.val_fraction <= 0:
            raise UserError("val_fraction: must be > 0 (validation chooses the best checkpoint)")


@dataclass(frozen=True)
class TextData:
    """What later hooks read: the vocabulary, the token store and how its raw ids map."""

    vocab: Any  # Vocabulary or BpeVocabulary
    store: TokenStore
    lookup: torch.Tensor | None  # raw id -> model id (None: the same)
    speller: Speller | None = None  # word level: what spelling an <unk>'s word costs
    spelled: dict[str, float] = field(default_factory=dict)  # split -> nats of that spelling


class TextgenTask(Task):
    name = "textgen"
    summary = (
        "character-, word- or subword-level LSTM language model with truncated BPTT; samples text"
    )
    config_class = TextgenConfig
    datasets = tuple(corpus.NAMED)
    primary_metric = "nll"
    higher_is_better = False
    # --quick: a fixed number of steps, so that it gives the same result on any machine
    quick = {
        "train": {"time_budget": 0.0, "max_steps": 120, "eval_every": 40, "warmup_steps": 20},
        "task": {"sample_length": 100, "ngram_order": 3},
    }
    # The preset for English text of 0.5-5 MB at character level, chosen on KJV's
    # validation part (docs/results.md): 2 x 256 LSTM, light dropout, batch 32 x 100
    # characters, Adam 3e-3 with warm-up and a cosine decay over a fixed number of steps
    # (1,400 steps, 4.5 M characters: about 10 minutes on 2 quiet CPU cores, and the same
    # result on any machine), validation every 350 steps keeping the best checkpoint.
    defaults = {
        "backbone": {"hidden_size": 256, "num_layers": 2, "dropout": 0.1},
        "train": {
            "epochs": 100,
            "batch_size": 32,
            "lr": 3e-3,
            "schedule": "cosine",
            "warmup_steps": 100,
            "clip_norm": 1.0,
            "patience": 0,
            "eval_every": 350,
            "time_budget": 0.0,
            "max_steps": 1400,
            "precision": "auto",
        },
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        o, run = ctx.options, ctx.config.run
        sources, name = corpus.sources(
            run.data, run.dataset or self.default_dataset, ctx.config.data.max_files
        )
        where = run.data or name
        fractions = (o.val_fraction, o.test_fraction)
        info: dict[str, Any] = {}
        vocab = _saved(ctx.state, "vocab", Vocabulary.from_dict)
        if vocab is None and o.level == "bpe":
            vocab = self._train_bpe(ctx, sources, fractions, info)
        encoder = vocab if o.level == "bpe" else PieceTable(o.level, o.lowercase)
        store, cached = token_store.open_or_build(
            sources,
            encoder,
            fractions,
            max_line_chars=ctx.config.data.max_line_chars,
            quiet=ctx.quiet,
            console=ctx.console,
        )
        train, val, test = store.parts
        train_counts = None
        if vocab is None:
            train_counts = store.counts(train.start, train.stop, len(store.pieces))
            vocab = self._word_or_char_vocabulary(ctx, store.pieces, train_counts, where)
        _check_sizes(where, o.bptt, train, val)
        lookup = _lookup(store, vocab)
        speller = _saved(ctx.state, "speller", Speller.from_dict) or _fit_speller(
            store, train, vocab, lookup, train_counts
        )
        val_scored = store.prefix(1, o.max_eval_tokens)
        test_scored = store.prefix(2, o.max_eval_tokens) if test.tokens >= 2 else val_scored
        data = TextData(vocab, store, lookup, speller)
        data = replace(
            data,
            spelled={
                "val": _spelled_nats(data, val_scored),
                "test": _spelled_nats(data, test_scored),
            },
        )
        info.update(_data_info(o, store, cached, val_scored, test_scored))
        return Prepared(
            train=_split(data, train, o.bptt, history=False),
            val=_split(data, val_scored, o.bptt),
            test=_split(data, test_scored, o.bptt),
            spec={"vocab_size": len(vocab), "level": o.level},
            state={"vocab": vocab.to_dict(), **({"speller": speller.to_dict()} if speller else {})},
            dataset=name,
            summary=(
                f"{store.tokens:,} {o.level} tokens ({len(vocab):,} in the vocabulary): "
                f"{train.tokens:,} train / {val.tokens:,} val / {(test if test.tokens >= 2 else val).tokens:,} test"
                f"{' (token cache reused)' if cached else ''}"
            ),
            data=data,
            info=info,
        )

    def _word_or_char_vocabulary(
        self, ctx: Context, pieces: list[str], counts: np.ndarray, where: str
    ) -> Vocabulary:
        """The vocabulary of the training part from its ``counts`` of each raw piece."""
        o = ctx.options
        seen = {p: int(n) for p, n in zip(pieces, counts.tolist(), strict=True) if n}
        vocab = Vocabulary.from_counts(seen, o.level, o.min_freq, o.max_vocab, o.lowercase)
        if len(vocab) <= 3:
            raise UserError(
                f"{where}: the training text has {len(vocab) - 2} distinct "
                f"{'characters' if o.level == 'char' else 'words'}; a language model needs more"
            )
        return vocab

    def _train_bpe(
        self, ctx: Context, sources: list[TextSource], fractions: tuple, info: dict
    ) -> Any:
        """Byte-level BPE learnt from the training part (its first
        :data:`BPE_TRAIN_CHARS` characters), cached by the text and the settings."""
        from seqsuite.subword import BpeVocabulary, train_bpe

        o, limit = ctx.options, ctx.config.data.max_line_chars
        key = {
            "content": token_store.content_key(sources),
            "format": token_store.FORMAT,
            "fractions": list(fractions),
            "vocab": o.bpe_vocab,
            "lowercase": o.lowercase,
            "max_chars": BPE_TRAIN_CHARS,
        }

        def learn() -> dict:
            total = sum(s.size() for s in sources)
            with token_store.progress_bar(2 * total, "learning BPE", ctx.quiet) as advance:
                stats = read_stats(sources, limit, advance)
                cuts = split_positions(stats.chars, fractions)
                learnt: list[int] = []  # characters of each chunk learnt from
                texts = _training_text(sources, cuts, limit, advance, learnt)
                vocab = train_bpe(texts, o.bpe_vocab, o.lowercase)
            return {"json": vocab.json, "chars": sum(learnt)}

        learnt, _ = cache.load_or_compute("bpe", key, learn)
        info["bpe_trained_on_chars"] = learnt["chars"]
        return BpeVocabulary.from_dict({"level": "bpe", "tokenizer": learnt["json"]})

    def prepare_eval(self, ctx: Context) -> Prepared:
        """``eval --data FILE``: the whole file as the test stream, read with the run's
        vocabulary (unknown tokens count as ``<unk>``); nothing is split or refitted."""
        o = ctx.options
        sources, name = corpus.sources(ctx.config.run.data, "", ctx.config.data.max_files)
        vocab = _saved(ctx.state, "vocab", Vocabulary.from_dict)
        encoder = vocab if o.level == "bpe" else PieceTable(o.level, o.lowercase)
        store, cached = token_store.open_or_build(
            sources,
            encoder,
            (),
            max_line_chars=ctx.config.data.max_line_chars,
            quiet=ctx.quiet,
            console=ctx.console,
        )
        (whole,) = store.parts
        if whole.tokens < 2:
            raise UserError(f"{ctx.config.run.data}: too little text to score (needs 2 tokens)")
        data = TextData(
            vocab, store, _lookup(store, vocab), _saved(ctx.state, "speller", Speller.from_dict)
        )
        spelled = _spelled_nats(data, whole)
        data = replace(data, spelled={split: spelled for split in ("train", "val", "test")})
        chars = whole.chars - _first_token_chars(data)
        stream = StreamSplit(
            store.ids[whole.start : whole.stop], o.bptt, lookup=data.lookup, chars=chars
        )
        unknown = _unknown_tokens(data, whole)
        if unknown > UNKNOWN_WARNING * whole.tokens:
            ctx.console.print(
                f"[yellow]{unknown:,} of {whole.tokens:,} tokens ({100 * unknown / whole.tokens:.1f} %) "
                "are not in the run's vocabulary and read as <unk>: the scores say little "
                "about this text[/]"
            )
        return Prepared(
            train=stream,
            val=stream,
            test=stream,
            spec={"vocab_size": len(vocab), "level": o.level},
            state=ctx.state,
            dataset=name,
            data=data,
            info={"tokens": whole.tokens, "chars": whole.chars, "unknown_tokens": unknown},
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
        stream = getattr(prepared, split)
        total, count = stream_nll(model, stream, ctx.device)
        spelled = prepared.data.spelled.get(split, 0.0)
        return lm_metrics(total, count, stream.chars, ctx.options.level == "char", spelled)

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, dict[str, float]]:
        """Unigram (counted over the whole training part) and Kneser-Ney (fitted on the end
        of the training part, ``task.ngram_max_tokens`` at most), scored on the same test
        tokens as the model, each with the tokens before it as context."""
        o, data = ctx.options, prepared.data
        vocab_size = prepared.spec["vocab_size"]
        char_level = o.level == "char"
        train, test = prepared.train, prepared.test
        start = max(0, len(train.tokens) - o.ngram_max_tokens) if o.ngram_max_tokens else 0
        order = o.ngram_order or (5 if char_level else 3)
        scored = test.read().tolist()  # the first is context only, as for the model
        targets, context = scored[1:], scored[:1]
        counts = _model_counts(data, data.store.parts[0], vocab_size)
        kn = KneserNey(train.read(start).tolist(), order, vocab_size)
        spelled = data.spelled.get("test", 0.0)
        return {
            "unigram": lm_metrics(
                unigram_nll(counts, targets, vocab_size),
                len(targets),
                test.chars,
                char_level,
                spelled,
            ),
            f"kneser_ney_{order}gram": lm_metrics(
                kn.nll(targets, context), len(targets), test.chars, char_level, spelled
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
        ids = vocab.encode(prompt) or vocab.encode("\n")
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
        if vocab.level == "word":
            return vocab.decode(ids + out), unknown
        return prompt + vocab.decode(out), unknown

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
        vocab = _saved(ctx.state, "vocab", Vocabulary.from_dict)
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

    serve_examples = {
        "generate": {"prompt": "ROMEO:", "length": 200, "temperature": 0.8, "seed": 0}
    }

    def generate_stream(self, ctx: Context, model: Any, options: dict[str, Any]) -> Any:
        """``{"text": ...}`` per token after ``prompt`` (seqsuite serve's /generate)."""
        import itertools

        from seqsuite import limits
        from seqsuite.errors import FieldError
        from seqsuite.token_lm import sample, text_pieces

        prompt = options.get("prompt") or ""
        if not isinstance(prompt, str) or len(prompt) > limits.MAX_TEXT_CHARS:
            raise FieldError(
                "prompt", f"expected text of at most {limits.MAX_TEXT_CHARS:,} characters"
            )
        vocab = _saved(ctx.state, "vocab", Vocabulary.from_dict)
        ids = vocab.encode(prompt) or vocab.encode("\n") or [1]
        tokens = sample(
            model,
            ids,
            temperature=options["temperature"],
            top_k=options["top_k"],
            seed=options["seed"],
            device=ctx.device,
            banned=(0, 1),
        )
        for piece in text_pieces(
            vocab.decode, itertools.islice(tokens, options["length"]), ids[-1]
        ):
            yield {"text": piece}

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        o = ctx.options
        parts = []
        for temperature in o.sample_temperatures:
            text, _ = self._generate(
                ctx,
                prepared.data.vocab,
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


# -- helpers of prepare -----------------------------------------------------------------


def _training_text(
    sources: list[TextSource], cuts: list[int], max_line_chars: int, advance: Any, seen: list
) -> Any:
    """The training part's chunks (its first :data:`BPE_TRAIN_CHARS` characters); the
    length of each is appended to ``seen``."""
    for part, text in line_chunks(decoded_blocks(sources, max_line_chars, advance), cuts):
        if part > 0 or sum(seen) >= BPE_TRAIN_CHARS:
            return
        seen.append(len(text))
        yield text


def _lookup(store: TokenStore, vocab: Any) -> torch.Tensor | None:
    """Raw id -> model id, when the store numbers pieces its own way."""
    if store.pieces is None:
        return None
    return torch.from_numpy(PieceTable.lookup(store.pieces, vocab))


def _check_sizes(where: str, bptt: int, train: Part, val: Part) -> None:
    minimum = 4 * bptt
    if train.tokens < minimum or val.tokens < 2:
        raise UserError(
            f"{where}: {train.tokens:,} training and {val.tokens:,} validation tokens are "
            f"too little text for bptt {bptt} (needs at least {minimum:,} for training "
            "and 2 for validation)"
        )


def _split(data: TextData, part: Part, bptt: int, history: bool = True) -> StreamSplit:
    """A stream over ``part`` of the token file. With ``history`` it begins one token
    earlier, so that every token of the part is predicted (and ``chars`` is exact)."""
    start = part.start - 1 if history and part.start > 0 else part.start
    return StreamSplit(
        data.store.ids[start : part.stop], bptt, lookup=data.lookup, chars=part.chars
    )


def _data_info(o: Any, store: TokenStore, cached: bool, val: Part, test: Part) -> dict:
    """What metrics.json records about the text and how it was scored."""
    train, val_part, test_part = store.parts
    info = {
        "chars": store.chars,
        "tokens": store.tokens,
        "train_tokens": train.tokens,
        "val_tokens": val_part.tokens,
        "test_tokens": test_part.tokens,
        "train_chars": train.chars,
        "val_chars": val_part.chars,
        "test_chars": test_part.chars,
        "token_cache": "reused" if cached else "built",
        "val_scored_tokens": val.tokens,
        "test_scored_tokens": test.tokens,
    }
    if o.ngram_max_tokens and train.tokens > o.ngram_max_tokens:
        info["ngram_fitted_on"] = (
            f"the last {o.ngram_max_tokens:,} of {train.tokens:,} training tokens"
        )
    return info


def _model_counts(data: TextData, part: Part, vocab_size: int) -> np.ndarray:
    """(vocab_size,) how often each model id occurs in ``part``, counted in blocks."""
    if data.lookup is None:
        return data.store.counts(part.start, part.stop, vocab_size)
    raw = data.store.counts(part.start, part.stop, len(data.store.pieces))
    return np.bincount(data.lookup.numpy(), weights=raw, minlength=vocab_size).astype(np.int64)


def _saved(state: dict | None, key: str, reader: Callable[[Any], Any]) -> Any:
    """``reader(state[key])``, None if absent; what an edited or damaged
    ``task_state.json`` holds there is one line (exit 2), not a traceback."""
    saved = (state or {}).get(key)
    if not saved:
        return None
    try:
        return reader(saved)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise UserError(
            f"task_state.json: state.{key} is not what textgen saves "
            f"({type(err).__name__}: {err}); was the run directory edited?"
        ) from None


def _fit_speller(
    store: TokenStore,
    train: Part,
    vocab: Any,
    lookup: torch.Tensor | None,
    counts: np.ndarray | None = None,
) -> Speller | None:
    """Word level: the character model of the training words outside the vocabulary (all
    training words if it kept every one); None at other levels (nothing is ``<unk>``).
    ``counts``: the training part's counts of each raw piece, if already made."""
    if vocab.level != "word" or lookup is None:
        return None
    if counts is None:
        counts = store.counts(train.start, train.stop, len(store.pieces))
    outside = (lookup.numpy() == vocab.index[UNK]) & (counts > 0)
    chosen = np.flatnonzero(outside if outside.any() else counts > 0)
    return Speller.fit((store.pieces[i], int(counts[i])) for i in chosen)


def _spelled_nats(data: TextData, part: Part) -> float:
    """What spelling the words behind the ``<unk>`` tokens a stream over ``part`` predicts
    costs (0 without a speller): added to the likelihood for nats per character. Such a
    stream predicts every token of the part but the corpus' very first (context only)."""
    if data.speller is None or data.lookup is None:
        return 0.0
    unknown = data.lookup.numpy() == data.vocab.index[UNK]
    counts = data.store.counts(max(part.start, 1), part.stop, len(unknown))
    return float(
        sum(
            counts[i] * data.speller.nats(data.store.pieces[i])
            for i in np.flatnonzero(unknown & (counts > 0))
        )
    )


def _unknown_tokens(data: TextData, part: Part) -> int:
    if data.lookup is None:
        return 0
    return int(_model_counts(data, part, len(data.vocab))[data.vocab.index[UNK]])


def _first_token_chars(data: TextData) -> int:
    """Characters of the stream's first token (context only: never predicted)."""
    first = int(data.store.ids[0])
    if data.store.pieces is None:
        return len(data.vocab.decode([first]))
    return len(data.store.pieces[first])
