"""The forecast task's prepared data: each series with its fitted transform, its input
features and its split points, and the training windows of all of them.

Split of every series (chronological): ``| train | val | test |``, val and test the last
steps. One global model learns from the windows of every series, each series scaled by
its own transform (per-series scaling), so series of any level train together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .features import calendar, future_times, scale_covariates
from .series import Series
from .transforms import SeriesTransform
from .window_split import WindowSplit


@dataclass
class SeriesData:
    """One series and what forecasting it needs."""

    series: Series
    transform: SeriesTransform
    features: np.ndarray  # (time, F) float32: z, scaled covariates, calendar; NaN before offset
    origins: dict[str, tuple[int, int]]  # split -> (first forecast step, steps)
    decided: dict[str, float]
    covariate_scale: tuple[list[float], list[float]]  # mean, std of the training part

    @property
    def name(self) -> str:
        return self.series.name

    def calibration_origins(self) -> list[tuple[int, int]]:
        """Where validation forecasts start and how many steps each runs: in a val window
        of one test length, its start and its middle, each to the window's end; in a
        longer one, every half test length, each at most a test length."""
        origin, steps = self.origins["val"]
        span = self.origins["test"][1]
        if steps <= span:
            return sorted({(origin, steps), (origin + steps // 2, steps - steps // 2)})
        stride = max(1, span // 2)
        end = origin + steps
        return [(at, min(span, end - at)) for at in range(origin, end - stride + 1, stride)]

    def future_calendar(self, end: int, steps: int, kinds: list[str]) -> np.ndarray:
        """(steps, K) calendar features of the ``steps`` times after point ``end``."""
        times, freq = self.series.times, self.series.freq
        if not kinds or times is None or not freq:
            return np.zeros((steps, 0))
        return calendar(future_times(times[:end], freq, steps), kinds)


@dataclass
class ForecastData:
    """Every series of the run and the settings they share."""

    items: list[SeriesData]
    season: int
    lookback: int
    calendar: list[str]  # calendar feature kinds (month, weekday, hour)
    covariates: list[str]  # past covariate names
    members: list[str]  # classical members of the combination this run uses
    baselines: list[str]  # baselines this run fits


def build_features(
    series: Series,
    transform: SeriesTransform,
    covariates: np.ndarray,
    kinds: list[str],
) -> np.ndarray:
    """(time, 1 + C + K) float32 inputs: the transformed value, the (already scaled)
    covariates, the calendar features."""
    z = transform.forward(series.values)[:, None]
    parts = [z, covariates]
    if kinds and series.times is not None:
        parts.append(calendar(series.times, kinds))
    elif kinds:
        parts.append(np.zeros((len(series), 2 * len(kinds))))
    return np.concatenate(parts, axis=1).astype(np.float32)


def make_item(
    series: Series,
    transform: SeriesTransform,
    covariates: np.ndarray,
    kinds: list[str],
    test: int,
    val: int,
    decided: dict[str, float],
    scale: tuple[list[float], list[float]] | None = None,
) -> SeriesData:
    """A series ready to forecast: covariates scaled (on its training part unless
    ``scale`` is given: the saved one), features built, split points set."""
    train_end = len(series) - test - val
    if scale is None:
        scaled, mean, std = scale_covariates(covariates, train_end)
        scale = (mean, std)
    else:
        mean, std = (np.asarray(s, dtype=float) for s in scale)
        scaled = (
            (covariates - mean) / np.where(std > 0, std, 1.0) if covariates.size else covariates
        )
    return SeriesData(
        series=series,
        transform=transform,
        features=build_features(series, transform, scaled, kinds),
        origins={"val": (train_end, val), "test": (len(series) - test, test)},
        decided=decided,
        covariate_scale=scale,
    )


def training_split(items: list[SeriesData], lookback: int, horizon: int, end: str) -> WindowSplit:
    """Windows of every series whose targets end before its ``end`` split ("val": the
    training part; "test": training and validation, for ``train.refit``)."""
    features = torch.from_numpy(np.concatenate([item.features for item in items]))
    origins, start = [], 0
    for item in items:
        stop = item.origins[end][0]
        first = start + item.transform.offset + lookback
        last = start + stop - horizon
        if last >= first:
            origins.append(torch.arange(first, last + 1))
        start += len(item.series)
    index = torch.cat(origins) if origins else torch.zeros(0, dtype=torch.long)
    return WindowSplit(features, index, lookback, horizon)


def history_state(item: SeriesData, keep: int) -> dict[str, Any]:
    """The end of a series that ``predict`` forecasts from: values, time labels,
    frequency, fitted transform and covariate scale, and the covariates' last rows."""
    series = item.series
    first = max(0, len(series) - keep)
    covariates = item.features[first:, 1 : 1 + len(item.covariate_scale[0])]
    mean, std = item.covariate_scale
    raw = covariates * np.asarray(std) + np.asarray(mean) if covariates.size else covariates
    return {
        "name": series.name,
        "values": series.values[first:].tolist(),
        "times": series.labels(first) if series.times is not None else None,
        "freq": series.freq,
        "length": len(series),
        "covariates": raw.tolist(),
        "transform": item.transform.to_dict(),
        "decided": item.decided,
        "covariate_scale": [list(mean), list(std)],
    }


def history_series(state: dict[str, Any]) -> tuple[Series, np.ndarray]:
    """The series end saved by :func:`history_state`, and its covariates (time, C)."""
    times = pd.DatetimeIndex(pd.to_datetime(state["times"])) if state.get("times") else None
    values = np.asarray(state["values"], dtype=float)
    start = int(state.get("length", len(values))) - len(values)
    series = Series(values, times, state.get("freq"), state.get("name", "series"), start=start)
    width = len(state.get("covariate_scale", [[]])[0])
    covariates = np.asarray(state.get("covariates") or [], dtype=float).reshape(len(values), width)
    return series, covariates
