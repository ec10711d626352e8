"""The sentiment task: classify a text into any number of classes.

Text -> word tokens (lower-cased; URLs and @mentions folded into placeholders), stored
once as ids in a memory-mapped token store -> embedding (optionally pretrained word
vectors, ``task.embeddings``) -> the shared backbone (bidirectional by default, packed)
-> pooling over time -> class scores, plus the class scores of a bag of the text's word
n-grams that start from naive-Bayes ratios (:mod:`.hybrid`). Batches group texts of
similar length so that padding stays small.

Transfer: with ``--init-from RUN_DIR`` (a ``bilm`` run: :mod:`.bilm`) the backbone
starts from that run's weights and the embedding rows of the words both vocabularies
share are copied; ``train.layer_lr_decay`` and ``train.unfreeze_epochs`` give ULMFiT's
discriminative learning rates and gradual unfreezing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from seqsuite import classify, word_vectors
from seqsuite.adapters import TokenInput
from seqsuite.errors import UserError
from seqsuite.example_store import ExampleStore, TokenSplit, load_or_build
from seqsuite.heads import PooledHead
from seqsuite.task import Context, Evaluation, Prepared, Results, Task
from seqsuite.vocab import Vocabulary, saved_vocabulary
from seqsuite.word_vectors import MatchedVectors

from . import data as sources
from .hybrid import HybridHead, bag_buckets, hybrid_loss, naive_bayes_weights

UNK_ID = 1  # Vocabulary's unknown token
BASELINE_TEXTS = 100_000  # training texts the bag-of-words baseline is fitted on, at most

#: a URL or @mention (folded into placeholders: they say little about sentiment but
#: add many distinct words), a word (with an inner apostrophe), or one punctuation mark
TOKEN = re.compile(r"(https?://\S+|www\.\S+)|(@\w+)|\w+(?:'\w+)?|[^\w\s]")
TOKENIZER = {"name": "sentiment-words", "version": 2}


def tokenize(text: str, limit: int, lowercase: bool = True) -> tuple[list[str], bool]:
    """The first ``limit`` tokens of ``text``, and whether it has more. Reads only as far
    as it keeps: a text of millions of characters costs what its first tokens cost."""
    out: list[str] = []
    for match in TOKEN.finditer(text):
        if match.group(1):
            pieces: tuple[str, ...] = ("http",)
        elif match.group(2):
            pieces = ("@", "user")
        else:
            pieces = (match.group(0).lower() if lowercase else match.group(0),)
        for piece in pieces:
            if len(out) == limit:
                return out, True
            out.append(piece)
    return out, False


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
    embeddings: str = field(
        default="",
        metadata={"help": "word vectors (word2vec/GloVe/fastText, text or binary) or a Hub repo"},
    )
    freeze_embeddings: bool = field(
        default=False, metadata={"help": "keep the pretrained vectors as they are"}
    )
    pooling: Literal["last", "mean", "max", "meanmax", "attention"] = "max"
    dropout: float = field(default=0.5, metadata={"min": 0.0, "below": 1.0})
    ngram_orders: int = field(
        default=3,
        metadata={
            "min": 0,
            "max": 6,
            "help": "n-gram bag beside the BiLSTM: orders 1..N (0 = none)",
        },
    )
    ngram_buckets: int = field(
        default=1 << 20,
        metadata={
            "min": 1,
            "help": "hashed n-gram rows of the bag (fewer beyond 4 classes: 2^22 weights at most)",
        },
    )
    ngram_dropout: float = field(
        default=0.3,
        metadata={"min": 0.0, "below": 1.0, "help": "share of n-grams dropped in training"},
    )
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
    predict_options = {
        "probabilities": "true: a p(CLASS) column for every class",
        "text_column": "with --data: the column that holds the texts (default: the run's)",
    }
    defaults = {
        "backbone": {"hidden_size": 128, "bidirectional": True},
        "train": {"epochs": 6, "batch_size": 64, "lr": 2e-3, "patience": 2, "clip_norm": 1.0},
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        o, run = ctx.options, ctx.config.run
        if run.data:
            source = sources.from_file(
                run.data, o.text_column, o.label_column, o.split_column, ctx.config.data
            )
        else:
            source = sources.named(
                run.dataset or self.default_dataset, o.text_column, o.label_column
            )
        store, cached, usable, encoded = self._examples(ctx, source)
        parts = classify.choose_split(
            store.splits(usable),
            encoded.index,
            o.val_fraction,
            o.test_fraction,
            ctx.seed,
            source.where,
        )
        rows = {name: usable[part] for name, part in parts.items()}
        labels = np.full(store.size, -1, np.int64)  # class index of each stored example
        labels[usable] = encoded.index
        vocab = vocabulary(ctx, store, rows["train"])
        vectors = self._vectors(ctx, vocab)
        remap = store.remap(vocab.index, UNK_ID)
        train, val, test = (
            TokenSplit(store, rows[name], remap, labels[rows[name]])
            for name in ("train", "val", "test")
        )
        if min(train.size, val.size, test.size) == 0:
            raise UserError(
                f"{source.where}: too few texts for a train / val / test split ({len(usable)} usable)"
            )
        refit_rows = np.sort(np.concatenate([rows["train"], rows["val"]]))
        classes = encoded.classes
        empty = store.size - len(usable)
        repeated = store.repeated_in(rows["test"], rows["train"])
        return Prepared(
            train=train,
            val=val,
            test=test,
            refit_train=TokenSplit(store, refit_rows, remap, labels[refit_rows]),
            spec={
                "vocab_size": len(vocab),
                "classes": len(classes),
                "embedding_dim": self._embedding_dim(ctx, vectors),
                "ngram_buckets": bag_buckets(o.ngram_buckets, len(classes)),
            },
            state={"vocab": vocab.to_dict(), "classes": classes},
            dataset=source.name,
            summary=(
                f"{len(usable):,} texts, {len(classes)} classes, {len(vocab):,} words: "
                f"{train.size:,} train / {val.size:,} val / {test.size:,} test"
                + (f" ({empty} empty texts skipped)" if empty else "")
                + (
                    f"; {store.truncated:,} texts cut at {o.max_length} tokens"
                    if store.truncated
                    else ""
                )
                + ("; tokens from the cache" if cached else "")
                + (f"; {twins}" if (twins := classify.case_twins(classes)) else "")
                + (
                    f"; {repeated:,} of the {test.size:,} test texts are also in training "
                    "(duplicates: the test score flatters the model on new text)"
                    if repeated
                    else ""
                )
            ),
            info={
                **self._info(store, usable, cached, o),
                **_vector_counts(vectors, vocab),
                "test_texts_also_in_training": repeated,
            },
            data={
                "classes": classes,
                "store": store,
                "rows": rows,
                "labels": labels,
                "vocab": vocab,
                "vectors": vectors,
            },
        )

    def prepare_eval(self, ctx: Context) -> Prepared:
        """``eval RUN_DIR --data FILE``: every text of the file, read as the run reads."""
        o = ctx.options
        source = sources.from_file(
            ctx.config.run.data, o.text_column, o.label_column, o.split_column, ctx.config.data
        )
        store, cached, usable, encoded = self._examples(ctx, source)
        vocab = saved_vocabulary(ctx)
        test = TokenSplit(store, usable, store.remap(vocab.index, UNK_ID), encoded.index)
        return Prepared(
            train=test,
            val=test,
            test=test,
            spec={},
            state=ctx.state,
            dataset=source.name,
            info=self._info(store, usable, cached, o),
            data={"classes": encoded.classes, "store": store, "vocab": vocab},
        )

    def _examples(
        self, ctx: Context, source: sources.Source
    ) -> tuple[ExampleStore, bool, np.ndarray, classify.Labels]:
        """The source's token store, the rows that hold text, and their classes."""
        o = ctx.options
        store, cached = self._store(source, o)
        usable = np.flatnonzero(store.lengths > 0)
        if not len(usable):
            raise UserError(f"{source.where}: column {o.text_column!r} holds no text")
        saved = (ctx.state or {}).get("classes")
        encoded = classify.encode_labels(store.labels(usable), source.where, saved, o.label_order)
        return store, cached, usable, encoded

    @staticmethod
    def _vectors(ctx: Context, vocab: Vocabulary) -> MatchedVectors | None:
        """``task.embeddings`` matched to a new run's vocabulary (a saved run has its
        embedding in its weights already)."""
        o, limits = ctx.options, ctx.config.data
        if not o.embeddings or (ctx.state and "vocab" in ctx.state):
            return None
        return word_vectors.match(
            o.embeddings, vocab.tokens, limits.max_rows, limits.max_line_chars
        )

    @staticmethod
    def _embedding_dim(ctx: Context, vectors: MatchedVectors | None) -> int:
        """``task.embedding_dim``, else the vectors', the --init-from run's, or 300."""
        o = ctx.options
        if vectors is not None:
            if o.embedding_dim and o.embedding_dim != vectors.dim:
                raise UserError(
                    f"task.embedding_dim: got {o.embedding_dim}, but the vectors of "
                    f"task.embeddings ({o.embeddings}) have {vectors.dim} dimensions"
                )
            return vectors.dim
        return o.embedding_dim or (ctx.source.input_size if ctx.source else 300)

    @staticmethod
    def _info(store: ExampleStore, usable: np.ndarray, cached: bool, o: SentimentConfig) -> dict:
        return {
            "examples": store.size,
            "empty_texts_skipped": int(store.size - len(usable)),
            "examples_truncated": store.truncated,
            "max_length": o.max_length,
            "tokens_from_cache": cached,
        }

    @staticmethod
    def _store(source: sources.Source, o: SentimentConfig) -> tuple[ExampleStore, bool]:
        """The source's examples as token ids, tokenized once and cached."""
        key = {**source.key, "tokenizer": {**TOKENIZER, "lowercase": o.lowercase}}
        tokenizer = partial(tokenize, lowercase=o.lowercase)
        return load_or_build("sentiment-tokens", key, source.examples, tokenizer, o.max_length)

    # -- model ----------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> TokenInput:
        o = ctx.options
        adapter = TokenInput(spec["vocab_size"], spec["embedding_dim"], dropout=o.dropout)
        if o.embeddings and o.freeze_embeddings:
            adapter.embedding.weight.requires_grad_(False)
        return adapter

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> nn.Module:
        o = ctx.options
        if not o.ngram_orders:
            return PooledHead(in_features, spec["classes"], o.pooling, o.dropout)
        return HybridHead(
            in_features,
            spec["classes"],
            o.pooling,
            o.dropout,
            o.ngram_orders,
            spec.get("ngram_buckets", o.ngram_buckets),  # runs before the bag was bounded
            o.ngram_dropout,
        )

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return hybrid_loss(output, batch["label"])

    def initialise(self, ctx: Context, model: Any, prepared: Prepared) -> str:
        """Pretrained word vectors into the embedding; the n-gram bag from the training
        split's naive-Bayes ratios."""
        notes = []
        vectors = prepared.data["vectors"]
        if vectors is not None:
            weight = model.adapter.embedding.weight
            with torch.no_grad():
                found = torch.from_numpy(vectors.found)
                weight[found] = torch.from_numpy(vectors.matrix[vectors.found]).to(weight)
            how = "frozen" if ctx.options.freeze_embeddings else "fine-tuned"
            notes.append(
                f"embedding: {vectors.found_count:,} of {len(vectors.found) - 2:,} words from "
                f"{ctx.options.embeddings} ({how}; the others start at random)"
            )
        if isinstance(model.head, HybridHead):
            notes.append(naive_bayes_weights(model.head, prepared.train))
        return "; ".join(notes)

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
        """Majority class, and a bag-of-words model on the tokens the model reads (those
        of two or more letters or digits: scikit-learn's own word pattern), fitted on at most ``BASELINE_TEXTS`` training texts (a seeded sample): its cost
        in memory and time grows with the vocabulary of word pairs, faster than the data."""
        from .baselines import bag_of_words

        store, rows = prepared.data["store"], prepared.data["rows"]
        train, test = rows["train"], rows["test"]
        if len(train) > BASELINE_TEXTS:
            rng = np.random.default_rng(ctx.seed)
            train = np.sort(rng.choice(train, BASELINE_TEXTS, replace=False))
        fitted = {
            "bow_logreg": (
                bag_of_words(ctx.seed),
                list(store.texts(train)),
                list(store.texts(test)),
            )
        }
        k = len(prepared.data["classes"])
        parts = {"train": train, "test": test}
        return classify.baselines(prepared.data["labels"], parts, k, fitted, ctx.console)

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        classify.confusion_report(ctx, prepared, results, self.name)

    # -- inference ----------------------------------------------------------------------

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        every_class = classify.every_class_option(options)
        texts = list(inputs)
        if options.get("data"):
            column = str(options.get("text_column") or ctx.options.text_column)
            texts += sources.texts_of_file(
                options["data"], column, ctx.config.data, "--option text_column"
            )
        if not texts:
            raise UserError(
                'give texts to classify, e.g. seqsuite predict RUN_DIR "a great movie", or --data FILE'
            )
        split = self._texts_split(ctx, texts)
        probs = classify.class_probabilities(model, split, ctx.device)
        return classify.prediction_rows(
            probs, ctx.state["classes"], [{"text": t} for t in texts], every_class
        )

    @staticmethod
    def _texts_split(ctx: Context, texts: list[str]) -> Any:
        """Texts as the saved run reads them (an empty text as one unknown word)."""
        o = ctx.options
        index = saved_vocabulary(ctx).index
        encoded = [
            [index.get(t, UNK_ID) for t in tokenize(text, o.max_length, o.lowercase)[0]] or [UNK_ID]
            for text in texts
        ]
        return classify.labelled_split([torch.tensor(e) for e in encoded], None, "tokens")

    # -- serving (seqsuite serve) ---------------------------------------------------------

    serve_examples = {
        "predict": {"texts": ["a gripping, beautifully shot film", "dull and far too long"]}
    }

    def parse_request(self, ctx: Context, body: dict[str, Any]) -> list[str]:
        """``{"texts": ["...", ...]}``."""
        from seqsuite import limits
        from seqsuite.errors import FieldError

        texts = limits.items(body.get("texts"), "texts", str, "texts")
        for k, text in enumerate(texts):
            if len(text) > limits.MAX_TEXT_CHARS:
                raise FieldError(
                    f"texts[{k}]", f"{len(text):,} characters; at most {limits.MAX_TEXT_CHARS:,}"
                )
        return texts

    def predict_batch(self, ctx: Context, model: Any, requests: list[list[str]]) -> list[dict]:
        """Every request's texts in one ``predict``: a label (and class probabilities) each."""
        from seqsuite import served_rows

        every = {"probabilities": True} if "probabilities" in self.predict_options else {}
        rows = self.predict(ctx, model, [t for texts in requests for t in texts], every)
        return served_rows.split_answers(rows, [len(texts) for texts in requests])

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


def _vector_counts(vectors: MatchedVectors | None, vocab: Vocabulary) -> dict[str, int]:
    """How many vocabulary words the pretrained vectors cover (for metrics.json)."""
    if vectors is None:
        return {}
    return {
        "vectors_found": vectors.found_count,
        "vectors_missing": len(vocab) - 2 - vectors.found_count,
    }


def vocabulary(ctx: Context, store: ExampleStore, train_rows: np.ndarray) -> Vocabulary:
    """The saved run's vocabulary, or the training texts' words (counted from the store)."""
    if ctx.state and "vocab" in ctx.state:
        return saved_vocabulary(ctx)
    o = ctx.options
    return store.vocabulary(train_rows, o.min_freq, o.max_vocab, o.lowercase)


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
