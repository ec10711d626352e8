"""Forecasts over HTTP (``seqsuite serve``): a request's series, checked, and many
requests forecast together, as ``seqsuite predict`` forecasts a run's own series: the
LSTM's forecasts in one batch, combined with the classical members the run chose, with
the run's quantiles."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqsuite import limits
from seqsuite.errors import FieldError

from . import combine
from .data import ForecastData, make_item
from .intervals import widened
from .predicting import classical_forecast, lstm_forecasts
from .series import Series
from .transforms import SeriesTransform


@dataclass
class SeriesRequest:
    """One request: the series' values (oldest first), the steps to forecast and the
    run's saved settings of the series it continues."""

    values: np.ndarray
    horizon: int
    saved: dict[str, Any]


def parse(ctx: Any, body: dict[str, Any]) -> SeriesRequest:
    """``{"series": [numbers], "horizon": N, "name": "..."}``: finite numbers, enough for
    the run's look-back (and differencing), positive where the run models log values;
    ``name`` (one of the run's series) only when the run has several."""
    state = ctx.state
    if state.get("covariates") or state.get("calendar"):
        raise FieldError(
            "series",
            "this run also reads covariates or calendar features; forecast it with "
            "`seqsuite predict RUN_DIR --data FILE`",
        )
    saved = _saved(ctx, body.get("name"))
    values = limits.items(body.get("series"), "series", (int, float), "numbers")
    y = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise FieldError(f"series[{bad[0]}]", f"got {values[bad[0]]!r}, expected a finite number")
    transform = SeriesTransform(**saved["transform"])
    need = state["lookback"] + transform.offset
    if len(y) < need:
        raise FieldError("series", f"{len(y)} values; this run looks back over {need}")
    if transform.log and (y <= 0).any():
        first = int(np.flatnonzero(y <= 0)[0])
        raise FieldError(
            f"series[{first}]", f"got {values[first]!r}; the run models log values, above 0"
        )
    return SeriesRequest(y, _horizon(body.get("horizon"), ctx.options.horizon), saved)


def _saved(ctx: Any, name: Any) -> dict[str, Any]:
    state = ctx.state
    if name is not None and not isinstance(name, str):
        raise FieldError("name", f"got {type(name).__name__}, expected a series name (text)")
    if name is None and len(state["series"]) == 1:
        return state["series"][0]
    saved = ctx.derived("series_by_name", _series_by_name)
    if name not in saved:
        names = ", ".join(list(saved)[:20])
        raise FieldError("name", f"{name!r}: expected one of the run's series: {names}")
    return saved[name]


def _series_by_name(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in state["series"]}


def _horizon(value: Any, default: int) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError("horizon", f"got {value!r}, expected a whole number of steps")
    try:
        return limits.horizon(value, default)
    except Exception as err:  # noqa: BLE001 - its message, under the request's field name
        raise FieldError("horizon", str(err).split(":", 1)[-1].strip()) from None


def forecast_batch(
    task: Any, ctx: Any, model: Any, requests: list[SeriesRequest]
) -> list[dict[str, Any]]:
    """``{"forecast": [...], "quantiles": {"0.1": [...], ...}}`` per request."""
    state = ctx.state
    data = ForecastData([], state["season"], state["lookback"], [], [], [], [])
    forecaster = task.forecaster(ctx)
    answers: list[dict[str, Any]] = [{} for _ in requests]
    for steps in sorted({r.horizon for r in requests}):
        group = [k for k, r in enumerate(requests) if r.horizon == steps]
        items = [_item(requests[k]) for k in group]
        lstm = lstm_forecasts(ctx, model, data, items, [len(it.series) for it in items], steps)
        for k, item, predicted in zip(group, items, lstm, strict=True):
            setting = forecaster.get(
                requests[k].saved["name"], {"weights": {"lstm": 1.0}, "widths": {}}
            )
            answers[k] = _answer(ctx, data, item, steps, predicted, setting)
    return answers


def _item(request: SeriesRequest) -> Any:
    series = Series(request.values, None, None, request.saved["name"])
    transform = SeriesTransform(**request.saved["transform"])
    return make_item(series, transform, np.zeros((len(series), 0)), [], 0, 0, {}, ([], []))


def _answer(ctx, data, item, steps, lstm: np.ndarray, setting: dict) -> dict[str, Any]:
    """The run's combination of members, and its quantile bands (as ``predict``)."""
    y = item.series.values
    members = {"lstm": lstm}
    for name in setting["weights"]:
        if name != "lstm":
            predicted = classical_forecast(ctx, name, y, steps, data.season, item.transform.log)
            if predicted is not None:
                members[name] = predicted
    point = combine.combine(members, setting["weights"])
    answer: dict[str, Any] = {"forecast": np.asarray(point, dtype=float).tolist()}
    bands = {key: widened(point, float(key), w).tolist() for key, w in setting["widths"].items()}
    if bands:
        answer["quantiles"] = bands
    return answer
