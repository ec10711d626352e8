"""Forecasts of the model (batched over series), of the classical members, and of their
combination with calibrated quantiles; the metrics of a forecast.

The LSTM forecasts ``horizon`` steps at once; longer windows are forecast block by block,
feeding it its own forecasts (calendar features of future steps are known; past
covariates hold their last value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from seqsuite.errors import UserError
from seqsuite.task import Context

from . import baselines as classical
from . import combine, intervals
from .data import ForecastData, SeriesData
from .scoring import mase_scale, point_metrics

#: classical models fit the last this many points of a longer history (ETS or SARIMA on
#: millions of points would take hours; their parameters settle long before)
CLASSICAL_POINTS = 5000
#: series forecast together in one batch
FORECAST_BATCH = 512


@dataclass
class ModelForecast:
    """A model's forecast of one series' window: the point forecast, its quantiles and,
    for the combination, the members' forecasts and weights."""

    point: np.ndarray
    quantiles: dict[float, np.ndarray]
    widths: dict[float, float]  # quantile -> calibrated half-width score (see intervals)
    members: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    calibration: Any = None  # the Calibration its quantiles came from


@torch.no_grad()
def lstm_forecasts(
    ctx: Context,
    model: Any,
    data: ForecastData,
    items: list[SeriesData],
    ends: list[int],
    steps: int,
) -> list[np.ndarray]:
    """The LSTM's forecast of ``steps`` points after point ``ends[i]`` of each series,
    from the ``lookback`` steps before it; series are forecast in batches."""
    if model.training:  # a served model is in eval mode already: walking it costs per call
        model.eval()
    lookback, out = data.lookback, []
    covs = len(data.covariates)
    for at in range(0, len(items), FORECAST_BATCH):
        chunk, chunk_ends = items[at : at + FORECAST_BATCH], ends[at : at + FORECAST_BATCH]
        windows = []
        for item, end in zip(chunk, chunk_ends, strict=True):
            window = item.features[end - lookback : end]
            if end - lookback < 0 or np.isnan(window).any():
                raise UserError(
                    f"{item.name}: history of {end} points is too short for lookback {lookback}"
                )
            windows.append(window)
        x = np.stack(windows)  # (batch, lookback, F)
        predicted = np.zeros((len(chunk), 0), dtype=np.float32)
        while predicted.shape[1] < steps:
            tensor = torch.from_numpy(np.ascontiguousarray(x)).to(ctx.device)
            block = model({"x": tensor})[0].float().cpu().numpy()  # (batch, horizon)
            done = predicted.shape[1]
            predicted = np.concatenate([predicted, block], axis=1)
            if predicted.shape[1] >= steps:
                break
            rows = np.repeat(x[:, -1:, :], block.shape[1], axis=1).copy()  # covariates held
            rows[:, :, 0] = block
            if x.shape[2] > 1 + covs:
                for i, (item, end) in enumerate(zip(chunk, chunk_ends, strict=True)):
                    future = item.future_calendar(end, done + block.shape[1], data.calendar)
                    rows[i, :, 1 + covs :] = future[done:]  # the block's own times
            x = np.concatenate([x, rows], axis=1)[:, -lookback:]
        for i, (item, end) in enumerate(zip(chunk, chunk_ends, strict=True)):
            history = item.series.values[:end]
            out.append(item.transform.inverse(predicted[i, :steps].astype(float), history))
    return out


def classical_forecast(
    ctx: Context, name: str, history: np.ndarray, steps: int, season: int, log: bool
) -> np.ndarray | None:
    """One classical forecast, or None (with a note) when it cannot be fitted."""
    method = classical.BASELINES[name]
    history = history[-CLASSICAL_POINTS:]
    try:
        if name in classical.TAKES_LOG:
            predicted = method(history, steps, season, log=log)
        else:
            predicted = method(history, steps, season)
    except Exception as err:  # noqa: BLE001 - a failed member must not fail the run
        ctx.console.print(f"[yellow]{name} failed: {err}[/]")
        return None
    predicted = np.asarray(predicted, dtype=float)
    return predicted if np.isfinite(predicted).all() else None


def member_forecasts(
    ctx: Context, model: Any, data: ForecastData, item: SeriesData, origin: int, steps: int
) -> dict[str, np.ndarray]:
    """The LSTM's and the combination members' forecasts of ``steps`` after ``origin``."""
    y = item.series.values
    out = {"lstm": lstm_forecasts(ctx, model, data, [item], [origin], steps)[0]}
    for name in data.members:
        predicted = classical_forecast(
            ctx, name, y[:origin], steps, data.season, item.transform.log
        )
        if predicted is not None:
            out[name] = predicted
    return out


@dataclass
class Calibration:
    """A model's validation errors (actual - forecast) and the lead time of each (1 = the
    first step after its origin): what its intervals are calibrated on."""

    errors: np.ndarray
    leads: np.ndarray
    #: each combination member's validation errors, origins joined (its weight comes from
    #: their mean absolute value)
    member_errors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def scores(self) -> np.ndarray:
        return np.abs(self.errors) / np.sqrt(self.leads)

    @classmethod
    def of(
        cls, per_origin: list[np.ndarray], member_errors: dict[str, np.ndarray] | None = None
    ) -> Calibration:
        """From the errors of each validation origin's forecast (leads 1, 2, ... in each)."""
        return cls(
            np.concatenate([np.zeros(0), *per_origin]),
            np.concatenate([np.zeros(0), *(np.arange(1, len(e) + 1) for e in per_origin)]),
            member_errors or {},
        )


def calibrate(
    ctx: Context, model: Any, data: ForecastData, item: SeriesData
) -> tuple[dict[str, float], Calibration]:
    """The combination's weights and its calibration scores for one series, from
    forecasts of its validation window (see :mod:`.combine`, :mod:`.intervals`)."""
    y = item.series.values
    actual, per_origin = [], []
    for start, steps in item.calibration_origins():
        actual.append(y[start : start + steps])
        per_origin.append(member_forecasts(ctx, model, data, item, start, steps))
    names = [n for n in per_origin[0] if all(n in f for f in per_origin)]
    joined = np.concatenate(actual)
    member_errors = {n: joined - np.concatenate([f[n] for f in per_origin]) for n in names}
    weight = combine.weights({n: float(np.mean(np.abs(e))) for n, e in member_errors.items()})
    residuals = [a - combine.combine(f, weight) for a, f in zip(actual, per_origin, strict=True)]
    return weight, Calibration.of(residuals, member_errors)


def with_quantiles(
    quantiles: list[float],
    point: np.ndarray,
    calibration: Calibration,
    members: dict[str, np.ndarray] | None = None,
    weight: dict[str, float] | None = None,
) -> ModelForecast:
    """A point forecast with its conformal quantiles."""
    all_scores = calibration.scores
    widths = {
        q: intervals.half_width(all_scores, intervals.level_of(q)) if q != 0.5 else 0.0
        for q in quantiles
    }
    return ModelForecast(
        point=point,
        quantiles=intervals.quantile_forecasts(point, all_scores, quantiles),
        widths=widths,
        members=members or {},
        weights=weight or {},
        calibration=calibration,
    )


def combined_forecast(
    ctx: Context,
    model: Any,
    data: ForecastData,
    item: SeriesData,
    origin: int,
    steps: int,
    calibration: tuple[dict[str, float], Calibration] | None = None,
) -> ModelForecast:
    """The reported forecast of one series from ``origin``: the LSTM and the classical
    members weighted by their validation errors, with calibrated quantiles."""
    weight, errors = calibration or calibrate(ctx, model, data, item)
    members = member_forecasts(ctx, model, data, item, origin, steps)
    point = combine.combine(members, weight)
    return with_quantiles(ctx.options.quantiles, point, errors, members, weight)


def saved_forecast(
    ctx: Context,
    model: Any,
    data: ForecastData,
    item: SeriesData,
    origin: int,
    steps: int,
    setting: dict[str, Any],
) -> ModelForecast:
    """The forecast from ``origin`` as a finished run's ``forecaster.json`` combines and
    widens it (``setting``: one series' weights and widths), as ``predict`` and ``serve``
    answer: ``eval`` of a run made by an earlier version then scores what it serves,
    not what this version would have chosen."""
    members = member_forecasts(ctx, model, data, item, origin, steps)
    point = combine.combine(members, setting["weights"])
    widths = {float(q): float(w or 0.0) for q, w in setting["widths"].items()}
    quantiles = {q: intervals.widened(point, q, w) for q, w in widths.items()}
    return ModelForecast(point, quantiles, widths, members, dict(setting["weights"]))


def score(item: SeriesData, season: int, origin: int, fc: ModelForecast) -> dict[str, float]:
    """Point and interval metrics of a forecast from ``origin``, and ``rel_mase``: its MAE
    over seasonal naive's from the same origin (what the panel aggregate averages)."""
    y = item.series.values
    actual = y[origin : origin + len(fc.point)]
    metrics = point_metrics(actual, fc.point, y[:origin], season)
    scale = mase_scale(y[:origin], season)
    metrics.update(intervals.interval_metrics(actual, fc.quantiles, scale))
    naive = classical.seasonal_naive(y[:origin], len(actual), season)
    naive_error = float(np.mean(np.abs(actual - naive)))
    metrics["rel_mase"] = (
        float(np.mean(np.abs(actual - fc.point))) / naive_error if naive_error > 0 else math.nan
    )
    return metrics


def aggregate(per_series: list[dict[str, float]]) -> dict[str, float]:
    """Panel metrics: the mean over series of each metric, ``rel_mase`` as a geometric mean
    (the M4 convention for relative errors); one series gives its own metrics."""
    if len(per_series) == 1:
        return dict(per_series[0])
    out = {}
    for key in per_series[0]:
        values = np.array([m.get(key, math.nan) for m in per_series], dtype=float)
        values = values[np.isfinite(values)]
        if key == "rel_mase":
            positive = values[values > 0]
            out[key] = float(np.exp(np.mean(np.log(positive)))) if len(positive) else math.nan
        else:
            out[key] = float(values.mean()) if len(values) else math.nan
    return out
