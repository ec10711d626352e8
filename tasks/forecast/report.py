"""The forecast report: a table of the test window and the tutorial's plot, done properly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqsuite.plots import plt, save

from .series import Series


def forecast_table(
    series: Series, origin: int, steps: int, forecasts: dict[str, np.ndarray]
) -> pd.DataFrame:
    """time, actual and one column per model over the test window."""
    labels = series.labels(origin, origin + steps)
    table = pd.DataFrame({"time": labels, "actual": series.values[origin : origin + steps]})
    for name, values in forecasts.items():
        table[name] = values
    return table


def forecast_plot(
    series: Series,
    origin: int,
    steps: int,
    forecasts: dict[str, np.ndarray],
    metrics: dict[str, Any],
    path: str | Path,
    band: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Actual against predicted over the test window, baselines dashed, recent history;
    ``band`` (lower, upper) shades the model's interval."""
    x = series.times if series.times is not None else np.arange(len(series))
    start = max(0, origin - 4 * steps)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(
        x[start:origin], series.values[start:origin], color="black", linewidth=1.2, label="history"
    )
    ax.plot(
        x[origin : origin + steps],
        series.values[origin : origin + steps],
        color="black",
        linewidth=2,
        label="actual",
    )
    primary = metrics.get("primary_metric", "mase")
    for name, values in forecasts.items():
        score = (
            metrics["test"]
            if name == metrics.get("model", "lstm")
            else metrics.get("baselines", {}).get(name, {})
        ).get(primary)
        label = f"{name} ({primary} {score:.3f})" if isinstance(score, float) else name
        style = (
            {"color": "tab:red", "linewidth": 2}
            if name == metrics.get("model", "lstm")
            else {"linestyle": "--", "linewidth": 1}
        )
        ax.plot(x[origin : origin + steps], values, label=label, **style)
    if band is not None:
        ax.fill_between(
            x[origin : origin + steps],
            band[0],
            band[1],
            color="tab:red",
            alpha=0.15,
            label="model interval",
        )
    ax.axvline(x[origin], color="grey", linestyle=":")
    ax.set_title(f"{metrics.get('task', 'forecast')} on {metrics.get('dataset', '')}: test window")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    save(fig, path)
