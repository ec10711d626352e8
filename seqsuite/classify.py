"""The classification path that every sequence-classification task shares, written once.

A task that classifies whole sequences (sentiment, speech, a plugin's) keeps what is its
own (reading its data, features, its baselines' features, the keys of its prediction
rows) and hands the rest to these, in the order they run:

- :func:`encode_labels`: label strings -> class indices, classes in a stable order
  (:func:`order_classes`: numbers as numbers by default), refusing a single class and,
  with a saved run's classes, labels the run never saw;
- :func:`choose_split`: the split the data gives (what is missing carved from training)
  or a seeded one, keeping groups (speakers, authors) whole where the data names them;
- :func:`labelled_split`: variable-length sequences + class indices -> a bucketed split;
- :func:`class_probabilities`, :func:`evaluate`: the model's softmax and its metrics;
- :func:`baselines`: the majority class and a fitted feature model on the same split;
- :func:`prediction_rows`: what ``seqsuite predict`` prints;
- :func:`confusion_report`: ``plots/confusion.png``.

A task using these keeps the class names in ``prepared.data["classes"]`` and a ``label``
tensor in each split.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .batches import ArraySplit, pad_sequences
from .errors import UserError
from .metrics import classification, confusion_matrix
from .plots import confusion_plot
from .splits import group_split, stratified_split
from .task import Evaluation, Results

#: ``task.label_order`` values: natural (numbers as numbers, ``item2`` before ``item10``,
#: number words by value), alphabetical (plain string order), first_seen (as the data
#: lists them)
LABEL_ORDERS = ("natural", "alphabetical", "first_seen")
NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_PIECES = re.compile(r"(\d+(?:\.\d+)?)")


def natural_key(label: str) -> tuple:
    """Sort key: numbers ("2", "-1.5", "10") by value first, then number words ("zero" ..
    "twenty") by value, then other labels with their digit runs compared as numbers."""
    text = label.strip()
    try:
        return (0, float(text), text)
    except ValueError:
        pass
    if text.lower() in NUMBER_WORDS:
        return (1, float(NUMBER_WORDS[text.lower()]), text)
    pieces = tuple(
        (0, float(p), "") if i % 2 else (1, 0.0, p.lower())
        for i, p in enumerate(_PIECES.split(text))
    )
    return (2, 0.0, pieces, text)


def order_classes(labels: Iterable[str], order: str = "natural") -> list[str]:
    """The distinct labels in ``order`` (one of :data:`LABEL_ORDERS`)."""
    distinct = list(dict.fromkeys(labels))
    if order == "first_seen":
        return distinct
    if order == "alphabetical":
        return sorted(distinct)
    if order == "natural":
        return sorted(distinct, key=natural_key)
    raise ValueError(f"label order {order!r}: expected one of {LABEL_ORDERS}")


_WHOLE_DECIMAL = re.compile(r"[+-]?\d+\.0+")


def label_text(value: Any, where: str) -> str | None:
    """One row's label as the class name it stands for, or None when the row has none
    (an empty cell, null, NaN). Labels are read as written ("01" stays "01", "None" is a
    label), except that a whole number written as a decimal ("1.0", or 1.0 from a JSON or
    Parquet number column) is the same label as "1". A list or object is refused."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | np.integer | np.floating):
        return str(value)
    if not isinstance(value, str):
        raise UserError(
            f"{where}: a label is {type(value).__name__} {value!r:.40}; expected one label"
        )
    text = value.strip()
    if _WHOLE_DECIMAL.fullmatch(text):
        text = text.split(".")[0].lstrip("+") or "0"
    return text or None


@dataclass
class Labels:
    """Class names and each example's class index."""

    classes: list[str]
    index: np.ndarray  # (examples,) int64


def encode_labels(
    labels: Sequence[str], where: str, saved: Sequence[str] | None = None, order: str = "natural"
) -> Labels:
    """``labels`` as indices into the classes: ``saved`` (a trained run's, reused as they
    are) or the labels' own classes in ``order``. ``where`` names the data in errors."""
    if saved:
        classes = list(saved)
    else:
        classes = order_classes(labels, order)
        if len(classes) < 2:
            raise UserError(
                f"{where}: only one label ({classes[0]!r}), a single class; need two or more"
                if classes
                else f"{where}: no labelled examples"
            )
    index = {c: i for i, c in enumerate(classes)}
    unknown = list(dict.fromkeys(lab for lab in labels if lab not in index))
    if unknown:
        raise UserError(
            f"{where}: labels {unknown[:5]} are not among the trained run's classes {classes}"
        )
    return Labels(classes, np.fromiter((index[lab] for lab in labels), np.int64, len(labels)))


def case_twins(classes: Sequence[str]) -> str:
    """A note naming classes that differ only in case (``Positive`` beside ``positive``):
    read as written they are two classes, which is rarely what the data meant; "" if none."""
    seen: dict[str, str] = {}
    twins = []
    for name in classes:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            twins.append(f"{other!r} and {name!r}")
    if not twins:
        return ""
    return f"labels {', '.join(twins[:3])} differ only in case and are separate classes"


SPLITS = ("train", "val", "test")


def choose_split(
    given: Sequence[str | None] | None,
    labels: np.ndarray,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    where: str,
    groups: Sequence[str | None] | None = None,
) -> dict[str, list[int]]:
    """Row indices per split. When rows say their split (``train``/``val``/``test``; a
    blank is ``train``) that split is kept, and a missing ``val`` or ``test`` part is
    carved from training (the same share of all rows); when none does, the rows are
    split, seeded. What is carved
    keeps each of ``groups`` (who spoke, who wrote; one per row) whole where every row
    has one and there are groups enough (:func:`~seqsuite.splits.group_split`), so that
    validation and test are judged on groups never trained on; else it is stratified by
    label. A given part that shares groups with training (an official split that tests
    the training speakers) is followed: what is carved beside it is stratified too."""
    if given is None or all(s is None for s in given):
        return _carve(list(range(len(labels))), labels, groups, val_fraction, test_fraction, seed)
    given = [s or "train" for s in given]  # a row the column leaves blank is for training
    parts = {name: [i for i, s in enumerate(given) if s == name] for name in SPLITS}
    if not parts["train"]:
        raise UserError(f"{where}: the given split has no train rows")
    if not groups_apart(parts, groups):
        groups = None
    for name, fraction in (("test", test_fraction), ("val", val_fraction)):
        if parts[name] or fraction <= 0:
            continue
        train = parts["train"]
        share = min(0.49, fraction * len(labels) / len(train))
        inner = _carve(train, labels, groups, share, 0.0, seed)
        parts[name] = inner["val"]
        parts["train"] = inner["train"]
    return parts


def _carve(
    rows: list[int],
    labels: np.ndarray,
    groups: Sequence[str | None] | None,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> dict[str, list[int]]:
    """``rows`` split by whole groups where possible, else stratified by label; the
    parts hold indices into all rows."""
    mine = None if groups is None else [groups[r] for r in rows]
    inner = None
    if mine is not None and all(g is not None for g in mine):
        inner = group_split(mine, val_fraction, test_fraction, seed)
    if inner is None:
        inner = stratified_split(labels[rows], val_fraction, test_fraction, seed)
    return {name: sorted(rows[k] for k in part) for name, part in inner.items()}


def groups_apart(parts: dict[str, Sequence[int]], groups: Sequence[str | None] | None) -> bool:
    """Whether no group has rows in two splits (every row's group known)."""
    if groups is None or any(g is None for g in groups):
        return False
    seen: dict[str, str] = {}
    for name, rows in parts.items():
        for row in rows:
            if seen.setdefault(groups[row], name) != name:
                return False
    return True


def labelled_split(
    sequences: Sequence[Tensor], labels: np.ndarray | None, key: str = "x"
) -> ArraySplit:
    """Variable-length sequences (each (time, ...)) padded into ``key``, with their
    ``lengths`` and, given labels, a ``label`` tensor; batches group similar lengths."""
    padded, lengths = pad_sequences(list(sequences))
    tensors = {key: padded, "lengths": lengths}
    if labels is not None:
        tensors["label"] = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    return ArraySplit(tensors, seq_key=key, bucket=True)


@torch.no_grad()
def class_probabilities(model: Any, split: Any, device: torch.device) -> np.ndarray:
    """(examples, classes) softmax probabilities, rows in the split's order (batches are
    bucketed by length, so each batch's ``index`` says where its rows go)."""
    if model.training:  # a served model is in eval mode already: walking it costs per call
        model.eval()
    out = None
    for batch in split.to(device).batches(256):
        probs = torch.softmax(model(batch)[0].float(), -1).cpu()
        out = torch.zeros(split.size, probs.shape[1]) if out is None else out
        out[batch["index"]] = probs
    return (out if out is not None else torch.zeros(0, 0)).numpy()


def evaluate(model: Any, prepared: Any, split: str, device: torch.device) -> Evaluation:
    """Accuracy and macro-F1 on ``split``, with the predicted classes as its outputs."""
    data = getattr(prepared, split)
    predicted = class_probabilities(model, data, device).argmax(1)
    metrics = classification(data["label"].numpy(), predicted, len(prepared.data["classes"]))
    return Evaluation(metrics, outputs=predicted)


def baselines(
    labels: np.ndarray,
    parts: dict[str, list[int]],
    k: int,
    fitted: dict[str, tuple[Any, Any, Any]],
    console: Any = None,
) -> dict[str, Evaluation]:
    """The majority class of training, and each ``fitted`` model (name -> (scikit-learn
    estimator, training features, test features)), scored on the test part. One that
    cannot be fitted to these data (a bag of words of texts with no word in it) is left
    out with a line on ``console``: the model's own results still stand."""
    train, test = labels[parts["train"]], labels[parts["test"]]
    majority = np.full(len(test), np.bincount(train, minlength=k).argmax())
    out = {"majority": Evaluation(classification(test, majority, k), majority)}
    for name, (estimator, train_x, test_x) in fitted.items():
        try:
            predicted = estimator.fit(train_x, train).predict(test_x)
        except ValueError as err:  # scikit-learn's word for data it cannot fit
            if console is not None:
                console.print(f"[yellow]baseline {name} left out: {err}[/]")
            continue
        out[name] = Evaluation(classification(test, predicted, k), predicted)
    return out


def prediction_rows(
    probabilities: np.ndarray,
    classes: Sequence[str],
    keys: Sequence[dict[str, Any]],
    every_class: bool = False,
) -> list[dict[str, Any]]:
    """One row per example: its ``keys`` (text, file, ...), the most likely ``label`` and
    its ``probability``; with ``every_class`` a ``p(CLASS)`` column per class too."""
    rows = []
    for key, p in zip(keys, probabilities, strict=True):
        row = {**key, "label": classes[int(p.argmax())], "probability": round(float(p.max()), 4)}
        if every_class:
            row.update({f"p({c})": round(float(q), 4) for c, q in zip(classes, p, strict=True)})
        rows.append(row)
    return rows


def every_class_option(options: dict[str, Any]) -> bool:
    """``predict --option probabilities=true``: a probability column per class."""
    value = options.get("probabilities", False)
    if not isinstance(value, bool):
        raise UserError(f"--option probabilities: got {value!r}, expected true or false")
    return value


def confusion_report(ctx: Any, prepared: Any, results: Results, task_name: str) -> None:
    """``plots/confusion.png`` from the model's test predictions."""
    classes = prepared.data["classes"]
    truth = prepared.test["label"].numpy()
    matrix = confusion_matrix(truth, results.test.outputs, len(classes))
    confusion_plot(
        matrix,
        classes,
        ctx.path("plots/confusion.png"),
        f"{task_name} on {prepared.dataset} (test)",
    )
