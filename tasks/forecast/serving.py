"""Forecasts over HTTP (``seqsuite serve``): a request's series, checked, and many
requests forecast together, block by block, in one forward pass per block."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seqsuite import limits
from seqsuite.errors import FieldError

from .transforms import SeriesTransform


@dataclass
class SeriesRequest:
    """One request: the series' values (oldest first) and the steps to forecast."""

    values: np.ndarray
    horizon: int


def parse(ctx: Any, body: dict[str, Any]) -> SeriesRequest:
    """``{"series": [numbers], "horizon": N}``: finite numbers, enough of them for the
    run's look-back (and differencing), positive where the run models log values."""
    values = limits.items(body.get("series"), "series", (int, float), "numbers")
    y = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise FieldError(f"series[{bad[0]}]", f"got {values[bad[0]]!r}, expected a finite number")
    transform = SeriesTransform(**ctx.state["transform"])
    need = ctx.state["lookback"] + transform.offset
    if len(y) < need:
        raise FieldError("series", f"{len(y)} values; this run looks back over {need}")
    if transform.log and (y <= 0).any():
        raise FieldError("series", "has values <= 0, but the run models log values")
    horizon = body.get("horizon", ctx.options.horizon)
    if isinstance(horizon, float) and not math.isfinite(horizon):
        raise FieldError("horizon", f"got {horizon!r}, expected a whole number of steps")
    try:
        steps = limits.horizon(horizon, ctx.options.horizon)
    except Exception as err:  # noqa: BLE001 - its message, under the request's field name
        raise FieldError("horizon", str(err).split(":", 1)[-1].strip()) from None
    return SeriesRequest(y, steps)


@torch.no_grad()
def forecast_batch(ctx: Any, model: Any, requests: list[SeriesRequest]) -> list[dict[str, Any]]:
    """``{"forecast": [...]}`` per request. Every series' window goes through the model at
    once; longer horizons than the head's feed the model its own forecasts, block by
    block, as ``ForecastTask.forecast`` does for one series."""
    transform = SeriesTransform(**ctx.state["transform"])
    lookback = ctx.state["lookback"]
    z = [list(transform.forward(r.values)[-lookback:]) for r in requests]
    predicted: list[list[float]] = [[] for _ in requests]
    model.eval()
    while True:
        open_ = [k for k, r in enumerate(requests) if len(predicted[k]) < r.horizon]
        if not open_:
            break
        windows = [z[k][-lookback:] for k in open_]
        x = torch.tensor(windows, dtype=torch.float32, device=ctx.device).unsqueeze(-1)
        blocks = model({"x": x})[0].float().cpu().numpy().tolist()
        for k, block in zip(open_, blocks, strict=True):
            predicted[k] += block
            z[k] += block
    return [
        {"forecast": transform.inverse(np.array(p[: r.horizon]), r.values).tolist()}
        for p, r in zip(predicted, requests, strict=True)
    ]
