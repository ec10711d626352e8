"""The sentiment task: classify a text into any number of classes.

Text -> word tokens (lower-cased; URLs and @mentions folded into placeholders) ->
embedding -> the shared backbone (bidirectional by default, packed) -> pooling over time
-> class scores. Batches group texts of similar length so that padding stays small.

Transfer: with ``--init-from RUN_DIR`` (for example a word-level ``textgen`` language
model) the backbone starts from that run's weights and the embedding rows of the words
both vocabularies share are copied; ``train.layer_lr_decay`` and
``train.unfreeze_epochs`` give ULMFiT's discriminative learning rates and gradual
unfreezing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from seqsuite import classify
from seqsuite.adapters import TokenInput
from seqsuite.errors import UserError
from seqsuite.heads import PooledHead
from seqsuite.task import Context, Evaluation, Prepared, Results, Task
from seqsuite.vocab import Vocabulary

from . import data as sources

URL = re.compile(r"https?://\S+|www\.\S+")
MENTION = re.compile(r"@\w+")


def normalize(text: str) -> str:
    """URLs and @mentions say little about sentiment but a lot of distinct words."""
    return MENTION.sub(" @user ", URL.sub(" http ", text))


@dataclass
class SentimentConfig:
    """The ``[task]`` section of ``seqsuite run sentiment``."""

    text_column: str = "text"
    label_column: str = "label"
    split_column: str = field(default="split", metadata={"help": "optional column: train/val/test"})
    lowercase: bool = True
    min_freq: int = field(default=2, metadata={"min": 1, "help": "rarer words become <unk>"})
    max_vocab: int = field(default=30_000, metadata={"min": 3})
    max_length: int = field(default=100, metadata={"min": 1, "help": "tokens kept per text"})
    embedding_dim: int = field(
        default=0, metadata={"min": 0, "help": "0 = 300, or the --init-from run's"}
    )
    label_order: Literal["natural", "alphabetical", "first_seen"] = field(
        default="natural",
        metadata={"help": "class order: numbers as numbers, a-z, or as in the data"},
    )
    pooling: Literal["last", "mean", "max", "meanmax", "attention"] = "max"
    dropout: float = field(default=0.5, metadata={"min": 0.0, "below": 1.0})
    val_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    test_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})


class SentimentTask(Task):
    name = "sentiment"
    summary = (
        "text classification: word embeddings, BiLSTM, pooling; transfer from a language model"
    )
    config_class = SentimentConfig
    datasets = tuple(sources.NAMED)
    primary_metric = "accuracy"
    higher_is_better = True
    quick = {"train": {"epochs": 2}}
    predict_options = {"probabilities": "true: a p(CLASS) column for every class"}
    defaults = {
        "backbone": {"hidden_size": 128, "bidirectional": True},
        "train": {"epochs": 8, "batch_size": 64, "lr": 2e-3, "patience": 3, "clip_norm": 1.0},
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        o, run = ctx.options, ctx.config.run
        if run.data:
            data = sources.load_file(run.data, o.text_column, o.label_column, o.split_column)
        else:
            data = sources.load_named(
                run.dataset or self.default_dataset, o.text_column, o.label_column
            )
        where = run.data or data.name
        saved = (ctx.state or {}).get("classes")
        labels = classify.encode_labels(data.labels, where, saved, o.label_order)
        classes = labels.classes
        parts = classify.choose_split(
            data.splits, labels.index, o.val_fraction, o.test_fraction, ctx.seed, where
        )
        labels = labels.index
        state = ctx.state or {}

        texts = [normalize(t) for t in data.texts]
        if "vocab" in state:
            vocab = Vocabulary.from_dict(state["vocab"])
        else:
            splitter = Vocabulary("word", lowercase=o.lowercase)
            vocab = Vocabulary.build(
                (w for i in parts["train"] for w in splitter.split(texts[i])),
                "word",
                min_freq=o.min_freq,
                max_size=o.max_vocab,
                lowercase=o.lowercase,
            )
        encoded = [vocab.encode(t)[: o.max_length] for t in texts]

        rows = {name: [i for i in parts[name] if encoded[i]] for name in parts}

        def split(name: str) -> Any:
            return classify.labelled_split(
                [torch.tensor(encoded[i]) for i in rows[name]], labels[rows[name]], "tokens"
            )

        train, val, test = split("train"), split("val"), split("test")
        empty = sum(1 for e in encoded if not e)
        if min(train.size, val.size, test.size) == 0:
            raise UserError(
                f"{where}: too few texts for a train / val / test split ({len(texts)} usable)"
            )
        return Prepared(
            train=train,
            val=val,
            test=test,
            spec={
                "vocab_size": len(vocab),
                "classes": len(classes),
                "embedding_dim": o.embedding_dim or (ctx.source.input_size if ctx.source else 300),
            },
            state={"vocab": vocab.to_dict(), "classes": classes},
            dataset=data.name,
            summary=(
                f"{len(texts):,} texts, {len(classes)} classes, {len(vocab):,} words: "
                f"{train.size:,} train / {val.size:,} val / {test.size:,} test"
                + (f" ({empty} empty texts skipped)" if empty else "")
            ),
            data={
                "classes": classes,
                "texts": data.texts,
                "rows": rows,
                "labels": labels,
                "vocab": vocab,
            },
        )

    # -- model ----------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> TokenInput:
        return TokenInput(spec["vocab_size"], spec["embedding_dim"], dropout=ctx.options.dropout)

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> PooledHead:
        return PooledHead(in_features, spec["classes"], ctx.options.pooling, ctx.options.dropout)

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return F.cross_entropy(output.float(), batch["label"])

    def transfer(self, ctx: Context, model: Any, prepared: Prepared, source: Any) -> str:
        """Copy the embedding rows of the words both vocabularies know."""
        vocab = source.state.get("vocab")
        weight = source.weights.get("adapter.embedding.weight")
        if not vocab or weight is None or vocab.get("level") != "word":
            return "no word embedding in the source run: the embedding starts fresh"
        own = model.adapter.embedding.weight
        if weight.shape[1] != own.shape[1]:
            return f"embedding sizes differ ({weight.shape[1]} there, {own.shape[1]} here): it starts fresh"
        theirs = {token: i for i, token in enumerate(vocab["tokens"])}
        mine = prepared.data["vocab"].tokens
        shared = [(i, theirs[t]) for i, t in enumerate(mine) if t in theirs]
        with torch.no_grad():
            for i, j in shared:
                own[i] = weight[j]
        return (
            f"embedding: {len(shared):,} of {len(mine):,} words copied from the source vocabulary"
        )

    # -- evaluation -------------------------------------------------------------------

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        return classify.evaluate(model, prepared, split, ctx.device)

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        from .baselines import bag_of_words

        rows, texts = prepared.data["rows"], prepared.data["texts"]
        fitted = {
            "bow_logreg": (
                bag_of_words(ctx.seed),
                [texts[i] for i in rows["train"]],
                [texts[i] for i in rows["test"]],
            )
        }
        k = len(prepared.data["classes"])
        return classify.baselines(prepared.data["labels"], rows, k, fitted)

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        classify.confusion_report(ctx, prepared, results, self.name)

    # -- inference ----------------------------------------------------------------------

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        every_class = classify.every_class_option(options)
        texts = list(inputs)
        if options.get("data"):
            texts += sources.load_texts(options["data"], ctx.options.text_column)
        if not texts:
            raise UserError(
                'give texts to classify, e.g. seqsuite predict RUN_DIR "a great movie", or --data FILE'
            )
        vocab = Vocabulary.from_dict(ctx.state["vocab"])
        encoded = [vocab.encode(normalize(t))[: ctx.options.max_length] or [1] for t in texts]
        split = classify.labelled_split([torch.tensor(e) for e in encoded], None, "tokens")
        probs = classify.class_probabilities(model, split, ctx.device)
        return classify.prediction_rows(
            probs, ctx.state["classes"], [{"text": t} for t in texts], every_class
        )
