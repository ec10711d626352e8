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
