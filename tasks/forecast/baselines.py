"""Classical forecasts from the same origin over the same test window as the LSTM.

``naive`` repeats the last value, ``seasonal_naive`` the last season, ``drift`` the last
season plus the average seasonal change; ``ets`` is
Holt-Winters exponential smoothing: an additive (or damped) trend with an additive or
multiplicative season, chosen by AICc (for series without a season also simple
exponential smoothing). The trend is kept: without it AICc often prefers a level-only
model that cannot follow a growing series (15.9 % MAPE on air passengers, against
6.4 % for Holt-Winters). ``sarima`` is the "airline"
model SARIMA(0,1,1)(0,1,1)m for seasonal series, else ARIMA(p,1,q) chosen by AIC, on
logs when the task decided to model logs. ``theta`` is the Theta method.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np


def naive(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    return np.full(steps, history[-1], dtype=float)


def seasonal_naive(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    if season < 2 or len(history) < season:
        return naive(history, steps, season)
    last = history[-season:]
    return np.array([last[i % season] for i in range(steps)], dtype=float)


def drift(history: np.ndarray, steps: int, season: int, log: bool = False) -> np.ndarray:
    """Seasonal naive plus the mean seasonal change of the history (random walk with drift
    when there is no season), on logs when the task models logs. It is what the LSTM
    forecasts when its output is the training mean of the differenced series."""
    level = np.log(history) if log else np.asarray(history, dtype=float)
    lag = season if season > 1 and len(level) > season else 1
    step = float(np.mean(level[lag:] - level[:-lag]))
    forecast = np.array(
        [level[len(level) - lag + (h % lag)] + (h // lag + 1) * step for h in range(steps)]
    )
    return np.exp(forecast) if log else forecast


def ets(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    trends = [("add", False), ("add", True)]
    if season > 1 and len(history) >= 2 * season + 2:
        seasonal_options = ["add"] + (["mul"] if (history > 0).all() else [])
    else:
        seasonal_options, trends = [None], [(None, False), *trends]
    best, best_score = None, np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seasonal, (trend, damped) in itertools.product(seasonal_options, trends):
            try:
                fit = ExponentialSmoothing(
                    history,
                    trend=trend,
                    damped_trend=damped,
                    seasonal=seasonal,
                    seasonal_periods=season if seasonal else None,
                    initialization_method="estimated",
                ).fit()
            except (ValueError, np.linalg.LinAlgError):
                continue
            score = fit.aicc if np.isfinite(fit.aicc) else np.inf
            if best is None or score < best_score:
                best, best_score = fit, score
    if best is None:
        raise RuntimeError("no exponential smoothing model could be fitted")
    return np.asarray(best.forecast(steps), dtype=float)


def sarima(history: np.ndarray, steps: int, season: int, log: bool = False) -> np.ndarray:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    data = np.log(history) if log else history
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if season > 1 and len(history) >= 3 * season:
            fit = SARIMAX(data, order=(0, 1, 1), seasonal_order=(0, 1, 1, season)).fit(disp=False)
        else:
            best, best_aic = None, np.inf
            for p, q in itertools.product(range(3), range(3)):
                try:
                    candidate = SARIMAX(data, order=(p, 1, q), trend="t").fit(disp=False)
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if candidate.aic < best_aic:
                    best, best_aic = candidate, candidate.aic
            if best is None:
                raise RuntimeError("no ARIMA model could be fitted")
            fit = best
    forecast = np.asarray(fit.forecast(steps), dtype=float)
    return np.exp(forecast) if log else forecast


def theta(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    """The Theta method (Assimakopoulos & Nikolopoulos 2000; M3's winner): simple
    exponential smoothing with half the linear trend, on seasonally adjusted values when
    there are two seasons of history."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    if np.ptp(history) == 0:  # statsmodels' fit of a constant drifts away from it (7 -> 12.8)
        return naive(history, steps, season)
    adjust = season > 1 and len(history) >= 2 * season
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ThetaModel(
            np.asarray(history, dtype=float),
            period=season if adjust else 1,
            deseasonalize=adjust,
            method="auto",
        ).fit()
    return np.asarray(fit.forecast(steps), dtype=float)


BASELINES = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "ets": ets,
    "sarima": sarima,
    "theta": theta,
}
#: baselines that take the task's log decision
TAKES_LOG = {"drift", "sarima"}
