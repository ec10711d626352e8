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

import numpy as np
import torch
import torch.nn.functional as F

from seqsuite import classify
from seqsuite.adapters import TokenInput
from seqsuite.batches import ArraySplit
from seqsuite.errors import UserError
from seqsuite.heads import PooledHead
from seqsuite.metrics import classification
from seqsuite.splits import stratified_split
from seqsuite.task import Context, Prepared, Results, Task
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
        state = ctx.state or {}
        if "classes" in state:
            classes = list(state["classes"])
        else:
            classes = sorted(set(data.labels), key=_label_order)
            if len(classes) < 2:
                raise UserError(
                    f"{where}: the label column has a single class ({classes[0]!r}); need two or more"
                )
        index = {c: i for i, c in enumerate(classes)}
        unknown = sorted({lab for lab in data.labels if lab not in index})
        if unknown:
            raise UserError(
                f"{where}: labels {unknown[:5]} were not in the training run's classes {classes}"
            )
        labels = np.array([index[lab] for lab in data.labels])
        parts = self._split(data, labels, o, ctx.seed, where)

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

        def split(name: str) -> ArraySplit:
            rows_ = rows[name]
            tokens, lengths = pad_tokens([encoded[i] for i in rows_])
            return ArraySplit(
                {"tokens": tokens, "lengths": lengths, "label": torch.from_numpy(labels[rows_])},
                seq_key="tokens",
                bucket=True,
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

    @staticmethod
    def _split(
        data: sources.Labelled, labels: np.ndarray, o: SentimentConfig, seed: int, where: str
    ) -> dict:
        if data.splits is not None:
            parts = {
                name: [i for i, s in enumerate(data.splits) if s == name]
                for name in ("train", "val", "test")
            }
            missing = [name for name, rows in parts.items() if not rows]
            if missing:
                raise UserError(f"{where}: the split column has no {'/'.join(missing)} rows")
            return parts
        return stratified_split(labels, o.val_fraction, o.test_fraction, seed)

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

    def evaluate(
        self, ctx: Context, model: Any, prepared: Prepared, split: str
    ) -> dict[str, float]:
        return classify.evaluate(model, prepared, split, ctx.device)

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, dict[str, float]]:
        from .baselines import bag_of_words, majority

        rows, texts, labels = (
            prepared.data["rows"],
            prepared.data["texts"],
            prepared.data["labels"],
        )
        train, test = rows["train"], rows["test"]
        k = len(prepared.data["classes"])
        predicted = bag_of_words(
            [texts[i] for i in train], labels[train], [texts[i] for i in test], ctx.seed
        )
        return {
            "majority": classification(labels[test], majority(labels[train], len(test)), k),
            "bow_logreg": classification(labels[test], predicted, k),
        }

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        classify.confusion_report(ctx, prepared, results, self.name)

    # -- inference ----------------------------------------------------------------------

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        texts = list(inputs)
        if options.get("data"):
            texts += sources.load_texts(options["data"], ctx.options.text_column)
        if not texts:
            raise UserError(
                'give texts to classify, e.g. seqsuite predict RUN_DIR "a great movie", or --data FILE'
            )
        vocab = Vocabulary.from_dict(ctx.state["vocab"])
        classes = ctx.state["classes"]
        encoded = [vocab.encode(normalize(t))[: ctx.options.max_length] or [1] for t in texts]
        tokens, lengths = pad_tokens(encoded)
        split = ArraySplit({"tokens": tokens, "lengths": lengths}, seq_key="tokens", bucket=True)
        probs = classify.class_probabilities(model, split, ctx.device)
        return [
            {"text": t, "label": classes[int(p.argmax())], "probability": round(float(p.max()), 4)}
            for t, p in zip(texts, probs, strict=True)
        ]

    # -- in-memory data (seqsuite.fit, Hugging Face data sets) ----------------------------

    def write_data(self, ctx: Context, data: Any, folder: Any) -> Any:
        """Labelled texts in memory -> ``texts.jsonl`` with the text, label and (when the
        data has its own splits) split columns this task reads. Takes a
        :class:`~seqsuite.memory.Table` (columns chosen by ``task.text_column`` and
        ``task.label_column``; ClassLabel names arrive as names), a list of
        ``(text, label)`` pairs, or a ``(texts, labels)`` pair of lists."""
        import pandas as pd

        from seqsuite import atomic
        from seqsuite.memory import Table
        from seqsuite.task import DataFiles

        o = ctx.options
        if isinstance(data, Table):
            text = data.column(o.text_column, ["text", "sentence"], "text", "task.text_column")
            label = data.column(o.label_column, ["label"], "label", "task.label_column")
            frame = data.concat(split_column=o.split_column or "split")
            frame = frame.rename(columns={text: o.text_column, label: o.label_column})
        else:
            texts, labels = _texts_and_labels(data)
            frame = pd.DataFrame({o.text_column: texts, o.label_column: labels})
        keep = [c for c in (o.text_column, o.label_column, o.split_column) if c in frame]
        path = folder / "texts.jsonl"
        atomic.write_text(path, frame[keep].to_json(orient="records", lines=True))
        return DataFiles(str(path))

    def predict_inputs(self, ctx: Context, obj: Any, folder: Any) -> tuple[list, dict]:
        """Texts: one, a list, or a DataFrame's ``task.text_column``."""
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            if ctx.options.text_column not in obj:
                raise UserError(f"predict: the frame has no column {ctx.options.text_column!r}")
            obj = obj[ctx.options.text_column].astype(str).tolist()
        return super().predict_inputs(ctx, obj, folder)


def pad_tokens(encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists -> (texts, longest) ids padded with 0, and the lengths."""
    tokens = torch.zeros(len(encoded), max(map(len, encoded), default=1), dtype=torch.long)
    for r, ids in enumerate(encoded):
        tokens[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return tokens, torch.tensor([len(e) for e in encoded], dtype=torch.long)


def _label_order(label: str) -> tuple:
    """Numbers in numeric order, words alphabetically."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def _texts_and_labels(data: Any) -> tuple[list[str], list[Any]]:
    """``[(text, label), ...]`` or ``(texts, labels)`` -> two lists of equal length."""
    if (
        isinstance(data, tuple)
        and len(data) == 2
        and all(isinstance(part, list | tuple) for part in data)
        and len(data[0]) == len(data[1])
        and not all(isinstance(x, str) for x in data)
    ):
        return [str(t) for t in data[0]], list(data[1])
    try:
        pairs = [(str(text), label) for text, label in data]
    except (TypeError, ValueError):
        raise UserError(
            "sentiment: expected (text, label) pairs, a (texts, labels) pair of lists, a "
            "DataFrame or a Hugging Face data set"
        ) from None
    return [t for t, _ in pairs], [label for _, label in pairs]
