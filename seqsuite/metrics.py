"""Metrics that more than one task needs: point-forecast errors and classification.

All take numpy arrays and return plain floats; undefined values are NaN (written as
``null`` in ``metrics.json``).
"""

from __future__ import annotations

import numpy as np


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - predicted)))


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error (%); undefined (NaN, ``null`` in JSON, "–" in tables)
    when any actual is 0. Dropping those points instead made a mostly-zero demand series'
    MAPE that of its one sale, unmarked; sMAPE and MASE are defined there."""
    if not len(actual) or (actual == 0).any():
        return float("nan")
    return float(100 * np.mean(np.abs((actual - predicted) / actual)))


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE (%), 0..200, as in the M4 competition; 0/0 counts as 0."""
    denom = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(
        2 * np.abs(actual - predicted),
        denom,
        out=np.zeros_like(denom, dtype=float),
        where=denom > 0,
    )
    return float(100 * np.mean(ratio))


def mase(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray, season: int = 1) -> float:
    """Mean absolute scaled error: MAE over the in-sample MAE of the seasonal naive
    forecast (lag ``season``; 1 = naive) on ``history``."""
    lag = season if len(history) > season else 1
    scale = np.mean(np.abs(history[lag:] - history[:-lag])) if len(history) > lag else float("nan")
    if not scale > 0:
        return float("nan")
    return float(np.mean(np.abs(actual - predicted)) / scale)


def point_errors(
    actual: np.ndarray, predicted: np.ndarray, history: np.ndarray, season: int = 1
) -> dict[str, float]:
    """The forecast metric set: ``mae rmse smape mape mase``."""
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    return {
        "mae": mae(actual, predicted),
        "rmse": rmse(actual, predicted),
        "smape": smape(actual, predicted),
        "mape": mape(actual, predicted),
        "mase": mase(actual, predicted, np.asarray(history, dtype=float), season),
    }


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(true class, predicted class) counts."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    return matrix


def classification(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> dict[str, float]:
    """``accuracy`` and ``macro_f1`` (mean F1 over the classes present in labels or predictions)."""
    matrix = confusion_matrix(labels, predicted, num_classes)
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1)
    predicted_count = matrix.sum(axis=0)
    present = (support + predicted_count) > 0
    f1 = np.divide(2 * tp, support + predicted_count, out=np.zeros_like(tp), where=present)
    return {
        "accuracy": float(tp.sum() / max(matrix.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
    }
