"""What the LSTM reads at each step: the transformed value, the series' past covariates
(scaled on the training part) and calendar features of the step's time.

Calendar features are sine/cosine pairs, so December sits next to January: month of year
(for anything finer than yearly), day of week (daily and finer) and hour of day (finer
than daily). They are known for future steps too, so block-by-block forecasts get them
right; past covariates are not, and hold their last value beyond the history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def calendar_kinds(freq: str | None) -> list[str]:
    """Which calendar features a frequency has: a subset of month, weekday, hour."""
    if not freq:
        return []
    base = freq.split("-")[0].lstrip("0123456789")
    if base in ("YS", "Y", "YE", "A", "AS", "BYS", "BA"):
        return []
    if base.startswith("Q") or base in ("MS", "ME", "M", "BMS", "BME", "SMS"):
        return ["month"]
    if base in ("W",):
        return ["month"]
    if base in ("D", "B", "C"):
        return ["month", "weekday"]
    return ["month", "weekday", "hour"]


def calendar(times: pd.DatetimeIndex, kinds: list[str]) -> np.ndarray:
    """(time, 2 * len(kinds)) sine/cosine features of ``times``."""
    columns = []
    for kind in kinds:
        if kind == "month":
            phase = (times.month.to_numpy() - 1) / 12
        elif kind == "weekday":
            phase = times.dayofweek.to_numpy() / 7
        else:
            phase = (times.hour.to_numpy() + times.minute.to_numpy() / 60) / 24
        columns += [np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase)]
    if not columns:
        return np.zeros((len(times), 0))
    return np.stack(columns, axis=1)


def future_times(times: pd.DatetimeIndex, freq: str, steps: int) -> pd.DatetimeIndex:
    """The ``steps`` times after the last of ``times``."""
    return pd.date_range(times[-1], periods=steps + 1, freq=freq)[1:]


def scale_covariates(covariates: np.ndarray, train_end: int) -> tuple[np.ndarray, list, list]:
    """Covariates standardised by their training part's mean and spread."""
    part = covariates[: max(train_end, 1)]
    mean = part.mean(axis=0) if len(part) else np.zeros(covariates.shape[1])
    std = part.std(axis=0) if len(part) else np.ones(covariates.shape[1])
    std = np.where(std > 0, std, 1.0)
    return (covariates - mean) / std, mean.tolist(), std.tolist()
