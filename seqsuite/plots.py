"""Figures every task draws the same way: matplotlib without a display, saved atomically as PNG.

The house style, in one place, so that every plot reads the same:

- the legend never covers data: in the emptiest corner (:func:`legend`), or outside the
  axes when there are many lines (``outside=True``);
- plain tick labels: ``0.9``, not ``9x10^-1``; no offset such as ``+1.741`` (:func:`plain_ticks`);
- markers when a line has few points, so a one-row history is a dot, not nothing
  (:func:`marker`);
- one y-axis per panel: two quantities with their own scales get two panels, never twin
  axes (which make two different curves look alike);
- colour bars on images (:func:`image`); log axes where values span decades
  (:func:`log_if_decades`); axis labels always.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import dates, ticker  # noqa: E402

from . import atomic  # noqa: E402

#: a line with at most this many points also gets a marker at each point
FEW_POINTS = 30


@contextlib.contextmanager
def _quiet_layout():
    """matplotlib's harmless layout warnings: a short time axis falls back to a fine
    interval; a legend outside the axes is left to ``save``'s tight bounding box."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="AutoDateLocator was unable")
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        yield


def tidy(fig: Any) -> None:
    """``tight_layout`` without its harmless warnings."""
    with _quiet_layout():
        fig.tight_layout()


def save(fig: Any, path: str | Path) -> None:
    buffer = io.BytesIO()
    with _quiet_layout():
        fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(path, buffer.getvalue())


def marker(points: int) -> str | None:
    """A marker for short lines (a single point would otherwise not show)."""
    return "o" if points <= FEW_POINTS else None


def _plain(value: float, _position: Any = None) -> str:
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else ""
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e6:
        return f"{value:.6g}"
    return f"{value:.2g}"


def plain_ticks(ax: Any) -> None:
    """Tick labels as plain numbers on both axes, linear or log, with no offset."""
    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_formatter(ticker.FuncFormatter(_plain))
            axis.set_minor_formatter(ticker.NullFormatter())
        elif axis.get_scale() == "linear" and isinstance(
            axis.get_major_formatter(), ticker.ScalarFormatter
        ):
            axis.get_major_formatter().set_useOffset(False)
            axis.get_major_formatter().set_scientific(False)


def log_if_decades(ax: Any, values: Sequence[float], axis: str = "y", ratio: float = 30.0) -> bool:
    """Use a log scale on ``axis`` when the positive ``values`` span more than ``ratio``."""
    positive = [v for v in values if v is not None and math.isfinite(v)]
    if not positive or min(positive) <= 0 or max(positive) / min(positive) <= ratio:
        return False
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    return True


def legend(ax: Any, outside: bool = False, **options: Any) -> None:
    """The legend in the emptiest corner, or to the right of the axes (``outside``)."""
    if not ax.get_legend_handles_labels()[0]:
        return
    if outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", **options)
    else:
        ax.legend(loc="best", fontsize="small", framealpha=0.9, **options)


def finish_axes(ax: Any, xlabel: str, ylabel: str, title: str = "") -> None:
    """Labels, a light grid and plain ticks: what every panel gets."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    plain_ticks(ax)
    few_date_ticks(ax)


def few_date_ticks(ax: Any, most: int = 6) -> None:
    """On a time axis, at most ``most`` ticks with short labels ("1994", "Apr"), so that
    the labels of a narrow panel never run into each other."""
    if isinstance(ax.xaxis.get_major_locator(), dates.AutoDateLocator):
        locator = dates.AutoDateLocator(minticks=2, maxticks=most)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))


def image(fig: Any, ax: Any, data: Any, label: str, **options: Any) -> Any:
    """``imshow`` with a colour bar saying what the colours mean."""
    shown = ax.imshow(data, **{"aspect": "auto", "origin": "lower", **options})
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    bar.set_label(label)
    return shown


def loss_plot(
    history: list[dict[str, Any]], key: str, path: str | Path, best_epoch: float = 0
) -> None:
    """Two panels, each with its own y-axis: the training loss, and the validation
    criterion that chose the best epoch (marked in both)."""
    epochs = [h["epoch"] for h in history]
    panels = 2 if key != "train_loss" and all(key in h for h in history) else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.8), squeeze=False)
    series = [("train_loss", "train loss", "tab:blue")]
    if panels == 2:
        series.append((key, key.replace("_", " "), "tab:orange"))
    for ax, (name, label, color) in zip(axes[0], series, strict=True):
        values = [h[name] for h in history]
        ax.plot(epochs, values, color=color, marker=marker(len(values)), label=label)
        log_if_decades(ax, values)
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch:g}")
        finish_axes(ax, "epoch", label)
        if all(float(e).is_integer() for e in epochs):
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        legend(ax)
    fig.suptitle("training")
    fig.tight_layout()
    save(fig, path)


#: a confusion plot names every class up to this many, and writes each cell's count and
#: share up to :data:`ANNOTATED_CLASSES`; its side stops growing at :data:`MAX_SIDE_INCHES`
#: (120 classes drew a 110-inch figure with 14,400 labels: 4 GB and a minute)
NAMED_CLASSES, ANNOTATED_CLASSES, MAX_SIDE_INCHES = 60, 20, 16.0


def confusion_plot(matrix: Any, classes: list[str], path: str | Path, title: str) -> None:
    """Rows: true class; columns: predicted; each cell: count and share of its row (the
    shares alone, as colours, when there are many classes)."""
    import numpy as np

    matrix = np.asarray(matrix)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = min(MAX_SIDE_INCHES, max(4.0, 0.9 * len(classes) + 2))
    fig, ax = plt.subplots(figsize=(size + 1.2, size * 0.85))
    image(
        fig,
        ax,
        shares,
        "share of the true class",
        cmap="Blues",
        vmin=0,
        vmax=1,
        origin="upper",
        aspect="equal",
    )
    if len(classes) <= NAMED_CLASSES:
        small = {} if len(classes) <= ANNOTATED_CLASSES else {"fontsize": 6}
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", **small)
        ax.set_yticks(range(len(classes)), classes, **small)
    named = "" if len(classes) <= NAMED_CLASSES else " (class number, in the run's order)"
    ax.set_xlabel(f"predicted{named}")
    ax.set_ylabel(f"true{named}")
    annotated = len(classes) <= ANNOTATED_CLASSES
    for i in range(len(classes) if annotated else 0):
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
