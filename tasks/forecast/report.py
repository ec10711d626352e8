"""The forecast report: a table of the test window and the tutorial's plot, done properly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqsuite.plots import finish_axes, legend, marker, plt, save, tidy

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
    """Two panels: the recent history with the test window (context), and the test window
    alone (the forecasts readable), where the actual values are drawn last, black with
    markers, so no forecast hides them; baselines dashed; ``band`` (lower, upper) shades the
    model's interval; a forecast below zero for a series that never is, is said in the
    legend. The legend sits outside the axes."""
    x = series.times if series.times is not None else np.arange(len(series))
    start = max(0, origin - 4 * steps)
    stop = origin + steps
    fig, (context, zoom) = plt.subplots(
        1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1, 1.6]}
    )
    model = metrics.get("model", "lstm")
    context.plot(x[start:origin], series.values[start:origin], color="black", linewidth=1.0)
    context.plot(x[origin:stop], forecasts.get(model, series.values[origin:stop]), color="tab:red")
    context.plot(x[origin:stop], series.values[origin:stop], color="black", linewidth=1.5)
    context.axvspan(x[origin], x[stop - 1], color="grey", alpha=0.12, label="test window")
    finish_axes(context, "time", "value", "history and test window")
    legend(context)
    never_negative = bool((series.values[:origin] >= 0).all())
    for k, (name, values) in enumerate(forecasts.items()):
        zoom.plot(
            x[origin:stop],
            values,
            label=_label(name, values, metrics, never_negative),
            **_style(name, model, k),
        )
    if band is not None:
        zoom.fill_between(
            x[origin:stop], band[0], band[1], color="tab:red", alpha=0.15, label="model interval"
        )
    zoom.plot(
        x[origin:stop],
        series.values[origin:stop],
        color="black",
        linewidth=2,
        marker=marker(steps) or ".",
        label="actual",
        zorder=10,
    )
    finish_axes(
        zoom,
        "time",
        "value",
        f"{metrics.get('task', 'forecast')} on {metrics.get('dataset', '')}: test window",
    )
    legend(zoom, outside=True)
    tidy(fig)
    save(fig, path)


def _label(name: str, values: np.ndarray, metrics: dict[str, Any], never_negative: bool) -> str:
    """``name (mase 0.187)``, and ``, below 0`` when it forecasts negatives for a series
    that never was negative."""
    primary = metrics.get("primary_metric", "mase")
    scores = (
        metrics["test"]
        if name == metrics.get("model", "lstm")
        else metrics.get("baselines", {}).get(name, {})
    )
    score = scores.get(primary)
    label = f"{name} ({primary} {score:.3f})" if isinstance(score, float) else name
    if never_negative and np.nanmin(values) < 0:
        label += ", below 0"
    return label


#: baselines' colours: never the model's red
BASELINE_COLOURS = [
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "tab:gray",
]


def _style(name: str, model: str, k: int) -> dict[str, Any]:
    if name == model:
        return {"color": "tab:red", "linewidth": 2}
    return {"linestyle": "--", "linewidth": 1, "color": BASELINE_COLOURS[k % len(BASELINE_COLOURS)]}
