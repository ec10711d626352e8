"""A bidirectional word language model: pretraining for sentiment's BiLSTM.

Each text (a line of a ``.txt`` file, or the text column of a CSV / TSV / JSON lines
file; by default the unlabelled text that installs with seqsuite: the tweets and the
King James Bible's verses) is one sequence of word tokens, read with sentiment's
tokenizer. A one-layer bidirectional backbone reads it; the forward direction's state
at word t predicts word t+1 and the backward direction's state predicts word t-1
(ELMo's biLM), so neither direction sees the word it predicts. The output layer is an
adaptive softmax (frequent words cheap, rare words in smaller clusters), so a large
vocabulary costs little. ``seqsuite run sentiment --init-from RUN_DIR`` then starts
from this backbone and the embedding rows of the words both vocabularies share.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqsuite.adapters import TokenInput
from seqsuite.backbone import BackboneOutput
from seqsuite.errors import UserError
from seqsuite.example_store import Example, TokenSplit, load_or_build
from seqsuite.task import Context, Evaluation, Prepared, Task
from seqsuite.text_rows import check_regular_file, file_identity, iter_rows

from . import data as sources
from .task import TOKENIZER, UNK_ID, tokenize, vocabulary

CORPORA = ("tweets", "kjv")


@dataclass
class BiLMConfig:
    """The ``[task]`` section of ``seqsuite run bilm``."""

    text_column: str = field(default="text", metadata={"help": "for CSV / TSV / JSON lines"})
    corpora: list[str] = field(
        default_factory=list,
        metadata={"help": "embedded texts added to --data: tweets, kjv"},
    )
    lowercase: bool = True
    min_freq: int = field(default=2, metadata={"min": 1})
    max_vocab: int = field(default=30_000, metadata={"min": 3})
    max_length: int = field(default=100, metadata={"min": 2, "help": "tokens kept per text"})
    embedding_dim: int = field(default=300, metadata={"min": 1})
    dropout: float = field(default=0.3, metadata={"min": 0.0, "below": 1.0})
    val_fraction: float = field(default=0.05, metadata={"min": 0.0, "below": 0.5})

    def validate(self) -> None:
        unknown = [c for c in self.corpora if c not in CORPORA]
        if unknown:
            raise UserError(f"corpora: {unknown[0]!r} is not one of {', '.join(CORPORA)}")
        if self.val_fraction <= 0:
            raise UserError("val_fraction: must be > 0 (validation chooses the best checkpoint)")


class BiLMHead(nn.Module):
    """Backbone states (batch, time, 2 x hidden) -> the summed negative log-likelihood of
    the words each direction predicts and their count: a (2,) tensor."""

    def __init__(self, in_features: int, vocab_size: int, dropout: float):
        super().__init__()
        self.hidden = in_features // 2
        self.dropout = nn.Dropout(dropout)
        cutoffs = [c for c in (2000, 10_000) if c < vocab_size - 1] or [max(1, vocab_size // 2)]
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(
            self.hidden, vocab_size, cutoffs, div_value=4.0
        )

    def forward(self, out: BackboneOutput, batch: dict[str, Any]) -> Tensor:
        tokens, states = batch["tokens"], self.dropout(out.sequence)
        lengths = batch.get("lengths")
        steps = tokens.shape[1]
        if lengths is None:
            lengths = torch.full((tokens.shape[0],), steps)
        positions = torch.arange(steps - 1, device=tokens.device)[None, :]
        real = positions < (lengths.to(tokens.device)[:, None] - 1)  # a word follows
        forward = states[:, :-1, : self.hidden][real], tokens[:, 1:][real]
        backward = states[:, 1:, self.hidden :][real], tokens[:, :-1][real]
        inputs = torch.cat([forward[0], backward[0]])
        targets = torch.cat([forward[1], backward[1]])
        if not len(targets):
            return torch.zeros(2, device=tokens.device)
        nll = -self.softmax(inputs.float(), targets).output.sum()
        return torch.stack([nll, torch.tensor(float(len(targets)), device=nll.device)])


class BiLMTask(Task):
    name = "bilm"
    summary = "bidirectional word language model: pretrains a BiLSTM for sentiment (--init-from)"
    config_class = BiLMConfig
    datasets = ("unlabelled",)
    primary_metric = "nll"
    higher_is_better = False
    quick = {"train": {"epochs": 1}}
    comparable = False  # one bidirectional layer, whatever backbone compare shares
    # sentiment's default backbone, so that a sentiment run starts from it as it is
    defaults = {
        "backbone": {"hidden_size": 128, "bidirectional": True},
        "train": {"epochs": 5, "batch_size": 64, "lr": 2e-3, "patience": 2, "clip_norm": 1.0},
    }

    def prepare(self, ctx: Context) -> Prepared:
        o, backbone = ctx.options, ctx.config.backbone
        if not backbone.bidirectional or backbone.num_layers != 1:
            raise UserError(
                "backbone: a bidirectional language model needs bidirectional = true and "
                "num_layers = 1 (a second layer would let each direction see the words it predicts)"
            )
        name, key, examples = self._source(ctx)
        tokenizer = partial(tokenize, lowercase=o.lowercase)
        store, cached = load_or_build(
            "bilm-tokens",
            {**key, "tokenizer": {**TOKENIZER, "lowercase": o.lowercase}},
            examples,
            tokenizer,
            o.max_length,
        )
        usable = np.flatnonzero(store.lengths > 1)
        if len(usable) < 2:
            raise UserError(f"{name}: needs at least two texts of two or more words")
        order = np.random.default_rng(ctx.seed).permutation(usable)
        n_val = max(1, round(len(order) * o.val_fraction))
        rows = {"val": np.sort(order[:n_val]), "train": np.sort(order[n_val:])}
        vocab = vocabulary(ctx, store, rows["train"])
        remap = store.remap(vocab.index, UNK_ID)
        train, val = (TokenSplit(store, rows[k], remap, None) for k in ("train", "val"))
        return Prepared(
            train=train,
            val=val,
            test=val,
            spec={"vocab_size": len(vocab), "embedding_dim": o.embedding_dim},
            state={"vocab": vocab.to_dict()},
            dataset=name,
            summary=(
                f"{len(usable):,} texts, {train.timesteps + val.timesteps:,} words, "
                f"{len(vocab):,} in the vocabulary: {train.size:,} train / {val.size:,} val"
                + ("; tokens from the cache" if cached else "")
            ),
            info={"examples_truncated": store.truncated, "tokens_from_cache": cached},
            data={"vocab": vocab},
        )

    def _source(self, ctx: Context) -> tuple[str, dict[str, Any], Any]:
        """Name, store key and example stream of ``--data`` plus ``task.corpora``."""
        o, run = ctx.options, ctx.config.run
        corpora = list(o.corpora) if run.data else list(CORPORA)
        if not run.data and run.dataset not in ("", "unlabelled"):
            raise UserError(f"--dataset {run.dataset!r}: unknown; embedded: unlabelled")
        key: dict[str, Any] = {"corpora": corpora}
        if run.data:
            key["file"] = file_identity(run.data)
            key["column"] = o.text_column
        name = "+".join(([Path(run.data).stem] if run.data else []) + corpora)
        return name, key, partial(_examples, run.data, o.text_column, corpora, ctx.config.data)

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> TokenInput:
        return TokenInput(spec["vocab_size"], spec["embedding_dim"], dropout=ctx.options.dropout)

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> BiLMHead:
        return BiLMHead(in_features, spec["vocab_size"], ctx.options.dropout)

    def loss(self, output: Tensor, batch: dict[str, Any]) -> Tensor:
        return output[0] / output[1].clamp(min=1)

    @torch.no_grad()
    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        model.eval()
        total = torch.zeros(2, dtype=torch.float64)
        for batch in getattr(prepared, split).to(ctx.device).batches(256):
            total += model(batch)[0].double().cpu()
        nll = float(total[0] / max(float(total[1]), 1.0))
        return Evaluation({"nll": nll, "perplexity": math.exp(min(nll, 700.0))})


def _examples(data: str, text_column: str, corpora: list[str], limits: Any) -> Iterator[Example]:
    if data:
        yield from _file_texts(Path(data), text_column, limits)
    if "tweets" in corpora:
        yield from (Example(e.text, "") for e in sources.tweets().examples())
    if "kjv" in corpora:
        from seqsuite_tasks.textgen.corpus import kjv

        yield from (Example(line, "") for line in kjv().splitlines() if line.strip())


def _file_texts(path: Path, text_column: str, limits: Any) -> Iterator[Example]:
    """A ``.txt`` file's non-blank lines, or a table's text column."""
    if path.suffix.lower() != ".txt":
        rows = iter_rows(
            path,
            [(text_column, "text", "task.text_column")],
            max_rows=limits.max_rows,
            max_line_chars=limits.max_line_chars,
        )
        yield from (Example(sources.text_value(r[text_column]), "") for r in rows)
        return
    check_regular_file(path)
    try:
        yield from _lines(path, limits)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not valid UTF-8 text; save it as UTF-8") from None


def _lines(path: Path, limits: Any) -> Iterator[Example]:
    with path.open(encoding="utf-8-sig") as handle:
        for number in range(1, limits.max_rows + 2):
            line = handle.readline(limits.max_line_chars + 1)
            if not line:
                return
            if number > limits.max_rows:
                raise UserError(f"{path}: more than {limits.max_rows:,} lines (data.max_rows)")
            if len(line) > limits.max_line_chars:
                raise UserError(
                    f"{path}: line {number} is longer than data.max_line_chars ({limits.max_line_chars:,})"
                )
            if line.strip():
                yield Example(line, "")
