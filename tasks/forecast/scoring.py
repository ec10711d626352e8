"""The forecast metrics, safe for the series users actually have.

``seqsuite.metrics.point_errors`` leaves MASE undefined when the in-sample seasonal naive
error is 0 (a constant series) and overflows for values near the float limit. Here the
MASE scale falls back to the naive (lag 1) error, then to the mean absolute value of the
history (then 1 for an all-zero history), and every error is computed on values divided
by a power of two that brings them near 1, then scaled back (exact in floating point).
"""

from __future__ import annotations

import math

import numpy as np

from seqsuite.metrics import mape, smape


def unit(*arrays: np.ndarray) -> float:
    """A power of two near the largest absolute value (1 when they are ordinary)."""
    largest = max((float(np.max(np.abs(a))) for a in arrays if len(a)), default=1.0)
    if not math.isfinite(largest) or largest < 1e100:
        return 1.0
    return 2.0 ** math.floor(math.log2(largest))


def mase_scale(history: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast, with the fallbacks above; in the
    units of ``history``."""
    history = np.asarray(history, dtype=float)
    for lag in (season if season > 1 else 1, 1):
        if len(history) > lag:
            scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
            if scale > 0:
                return scale
    level = float(np.mean(np.abs(history))) if len(history) else 0.0
    return level if level > 0 else 1.0


def point_metrics(
    actual: np.ndarray, predicted: np.ndarray, history: np.ndarray, season: int
) -> dict[str, float]:
    """``mae rmse smape mape mase`` (the forecast metric set), overflow-safe."""
    u = unit(actual, predicted, history)
    a = np.asarray(actual, float) / u
    p = np.asarray(predicted, float) / u
    h = np.asarray(history, float) / u
    err = a - p
    mae = float(np.mean(np.abs(err)))
    return {
        "mae": mae * u,
        "rmse": float(np.sqrt(np.mean(err**2))) * u,
        "smape": smape(a, p),
        "mape": mape(a, p),
        "mase": mae / mase_scale(h, season),
    }
