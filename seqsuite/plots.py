"""Figures: matplotlib without a display, saved atomically as PNG."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import atomic  # noqa: E402


def save(fig: Any, path: str | Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(path, buffer.getvalue())


def loss_plot(
    history: list[dict[str, Any]], key: str, path: str | Path, best_epoch: int = 0
) -> None:
    """Training loss per epoch, with the validation criterion on a second axis."""
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [h["train_loss"] for h in history], color="tab:blue", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss", color="tab:blue")
    if all(h["train_loss"] > 0 for h in history):
        ax.set_yscale("log")
    if key != "train_loss" and all(key in h for h in history):
        ax2 = ax.twinx()
        ax2.plot(epochs, [h[key] for h in history], color="tab:orange", label=key)
        ax2.set_ylabel(key, color="tab:orange")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
    ax.set_title("training")
    ax.grid(alpha=0.3)
    fig.legend(loc="upper right", fontsize="small")
    save(fig, path)


def confusion_plot(matrix: Any, classes: list[str], path: str | Path, title: str) -> None:
    """Rows: true class; columns: predicted; each cell: count and share of its row."""
    import numpy as np

    matrix = np.asarray(matrix)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.9 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            color = "white" if shares[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{matrix[i, j]}\n{shares[i, j]:.0%}",
                ha="center",
                va="center",
                color=color,
                fontsize=8,
            )
    ax.set_title(title)
    save(fig, path)
