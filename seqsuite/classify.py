"""What every sequence-classification task does with a trained model, written once:
class probabilities in split order, the evaluation that remembers the test predictions,
and the confusion-matrix plot drawn from them.

A task using these keeps the class names in ``prepared.data["classes"]`` and a ``label``
tensor in each split.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .batches import ArraySplit
from .metrics import classification, confusion_matrix
from .plots import confusion_plot
from .task import Evaluation, Results


@torch.no_grad()
def class_probabilities(model: Any, split: ArraySplit, device: torch.device) -> np.ndarray:
    """(examples, classes) softmax probabilities, rows in the split's order (batches are
    bucketed by length, so each batch's ``index`` says where its rows go)."""
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
