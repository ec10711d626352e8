"""From raw values to what the LSTM sees, and back: log, differencing, scaling, windows.

Every choice is fitted on the training part only; the fitted :class:`SeriesTransform`
is saved with the run (``task_state.json``) so ``eval`` and ``predict`` reuse it.

Forward:  y -> s = log(y) (optional) -> d = s_t - s_{t-m} (seasonal, optional)
            -> e = d_t - d_{t-1} (first difference, optional) -> z = (e - mean) / std
Inverse:  the same steps backwards, integrating the differences from the last observed
          values (and from earlier forecasts once the horizon passes one season).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .scoring import unit

FREQ_SEASON = {
    "MS": 12,
    "ME": 12,
    "M": 12,
    "BMS": 12,  # business month start / end
    "BME": 12,
    "BM": 12,
    "QS": 4,
    "QE": 4,
    "Q": 4,
    "W": 52,
    "D": 7,
    "B": 5,
    "h": 24,
    "H": 24,
}


def season_from_freq(freq: str | None) -> int | None:
    """Calendar period of a pandas frequency alias (``MS`` -> 12), or None if unknown."""
    if not freq:
        return None
    head = freq.split("-")[0]
    base = head.lstrip("0123456789")
    count = int(head[: len(head) - len(base)] or 1)
    if base in ("min", "T") and 1440 % count == 0:
        return 1440 // count  # a day of minutes: 30min -> 48
    if base in ("h", "H") and 24 % count == 0:
        return 24 // count
    if base in ("YS", "Y", "YE", "A", "AS", "BYS", "BA"):
        return 1
    if base.startswith(("Q", "BQ")):
        return 4
    return FREQ_SEASON.get(base)


#: a calendar season is used only when the training part holds this many of it
MIN_SEASONS = 3


def choose_season(freq: str | None, train: np.ndarray) -> tuple[int, str | None]:
    """The season of a series whose first points are ``train``: its calendar period when
    the training part holds at least ``MIN_SEASONS`` of it, else the autocorrelation's
    (a day of minutes is no season for a 100-minute series); with a note when the calendar
    period was set aside."""
    calendar = season_from_freq(freq)
    if calendar and len(train) >= MIN_SEASONS * calendar:
        return calendar, None
    found = detect_season(train)
    if not calendar:
        return found, None
    return found, (
        f"season: {len(train)} training points hold fewer than {MIN_SEASONS} calendar periods "
        f"of {calendar} steps (frequency {freq}); using season {found} from the "
        "autocorrelation (set task.season to choose)"
    )


def acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    x = x - x.mean()
    denom = float(np.dot(x, x)) or 1.0
    return np.array([np.dot(x[: len(x) - k], x[k:]) / denom for k in range(max_lag + 1)])


def detect_season(y: np.ndarray) -> int:
    """Strongest autocorrelation peak of the first-differenced series (1 if none is clear)."""
    if len(y) < 16:
        return 1
    diff = np.diff(y)
    max_lag = min(len(diff) // 3, 400)
    r = acf(diff, max_lag) if max_lag >= 2 else np.zeros(1)
    best, best_r = 1, 0.3  # weaker peaks are noise, not a season
    for lag in range(2, max_lag):
        if r[lag] > r[lag - 1] and r[lag] >= r[lag + 1] and r[lag] > best_r:
            best, best_r = lag, r[lag]
    return best


def guerrero_lambda(y: np.ndarray, season: int) -> float:
    """Box-Cox lambda by Guerrero's method: the one that makes the spread of blocks of
    ``season`` points most nearly independent of their level. ~0 means log."""
    block = season if season > 1 else 2
    n = len(y) // block
    if n < 3 or (y <= 0).any():
        return 1.0
    blocks = y[len(y) - n * block :].reshape(n, block)
    mean, sd = blocks.mean(axis=1), blocks.std(axis=1, ddof=1)
    if (sd <= 0).any():
        return 1.0
    grid = np.linspace(-1, 2, 61)
    cv = []
    for lam in grid:
        ratio = sd / mean ** (1 - lam)
        cv.append(ratio.std(ddof=1) / ratio.mean())
    return float(grid[int(np.argmin(cv))])


def seasonal_strength(y: np.ndarray, season: int) -> float:
    """Autocorrelation at the seasonal lag of the first-differenced series."""
    if season < 2 or len(y) < 3 * season:
        return 0.0
    return float(acf(np.diff(y), season)[season])


@dataclass
class SeriesTransform:
    log: bool
    seasonal_lag: int  # 0: no seasonal differencing
    first_diff: bool
    mean: float = 0.0
    std: float = 1.0
    unit: float = 1.0  # values are divided by this first (a power of two; 1 unless huge)

    @property
    def offset(self) -> int:
        """Leading points with no transformed value (lost to differencing)."""
        return self.seasonal_lag + int(self.first_diff)

    def level(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float) / self.unit
        return np.log(y) if self.log else y

    def unscaled(self, y: np.ndarray) -> np.ndarray:
        """Differenced values, NaN for the first ``offset`` points."""
        s = self.level(y)
        out = s.copy()
        if self.seasonal_lag:
            out[self.seasonal_lag :] = s[self.seasonal_lag :] - s[: -self.seasonal_lag]
            out[: self.seasonal_lag] = np.nan
        if self.first_diff:
            prev = out.copy()
            out[1:] = prev[1:] - prev[:-1]
            out[0] = np.nan
        return out

    def fit_scale(self, y_train: np.ndarray) -> SeriesTransform:
        d = self.unscaled(y_train)[self.offset :]
        self.mean = float(d.mean())
        self.std = float(d.std()) or 1.0
        return self

    def forward(self, y: np.ndarray) -> np.ndarray:
        """z for every point of ``y``; NaN where differencing leaves none."""
        return (self.unscaled(y) - self.mean) / self.std

    def inverse(self, z_future: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Values of the points after ``history`` whose transformed values are ``z_future``.

        Undoes the differencing with cumulative sums (first the first difference, then the
        seasonal one, season by season), added in the same order as a step-by-step loop,
        so the values are the same to the last bit; only the last ``seasonal_lag + 1``
        points of ``history`` are read, so a forecast costs the same after a long series
        as after a short one."""
        e = np.asarray(z_future, dtype=float) * self.std + self.mean
        m = self.seasonal_lag
        s = self.level(np.asarray(history)[-(m + 1) :])
        if self.first_diff:
            d_prev = s[-1] - s[-1 - m] if m else s[-1]  # the last (seasonally) differenced value
            e = np.cumsum(np.concatenate([[d_prev], e]))[1:]
        if m:
            blocks = -(-len(e) // m)
            padded = np.zeros(blocks * m)
            padded[: len(e)] = e
            stacked = np.concatenate([s[-m:][None, :], padded.reshape(blocks, m)])
            e = np.cumsum(stacked, axis=0)[1:].reshape(-1)[: len(e)]
        return (np.exp(e) if self.log else e) * self.unit

    def to_dict(self) -> dict:
        return asdict(self)


def fit_transform(
    y_train: np.ndarray, season: int, log: str, difference: str, positive: bool = True
) -> tuple[SeriesTransform, dict[str, float]]:
    """Decide log and differencing ("auto" looks at the training part only), fit the scale.
    ``positive``: whether every value of the series is above zero, the later parts too;
    "auto" takes no log otherwise (a zero in the test part cannot be logged, and refusing
    the run over one zero month of sales would be worse than modelling the values).

    Returns the transform and the statistics the decisions were based on.
    """
    scaled = np.asarray(y_train, dtype=float) / unit(y_train)  # decisions safe from overflow
    lam = guerrero_lambda(scaled, season)
    can_log = positive and bool((y_train > 0).all())
    use_log = (log == "on") or (log == "auto" and can_log and lam < 0.5)
    if log == "on" and (y_train <= 0).any():
        from seqsuite.errors import UserError

        raise UserError("task.log = 'on' needs strictly positive values; use 'off' or 'auto'")
    s = np.log(scaled) if use_log else scaled
    strength = seasonal_strength(s, season)
    if difference == "auto":
        seasonal = season > 1 and strength > 0.3
        difference = "seasonal" if seasonal else "first"
    seasonal_lag = season if difference in ("seasonal", "both") and season > 1 else 0
    transform = SeriesTransform(
        log=use_log,
        seasonal_lag=seasonal_lag,
        first_diff=difference in ("first", "both"),
        unit=unit(y_train),
    )
    transform.fit_scale(y_train)
    return transform, {"boxcox_lambda": lam, "seasonal_strength": strength}


def windows(
    z: np.ndarray, start: int, end: int, lookback: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """All (input, target) pairs with inputs z[o-lookback:o] and targets z[o:o+horizon],
    for origins o with o-lookback >= start and o+horizon <= end.

    Returns inputs (n, lookback) and targets (n, horizon)."""
    origins = np.arange(start + lookback, end - horizon + 1)
    if len(origins) == 0:
        return np.zeros((0, lookback)), np.zeros((0, horizon))
    idx_in = origins[:, None] + np.arange(-lookback, 0)[None, :]
    idx_out = origins[:, None] + np.arange(horizon)[None, :]
    return z[idx_in], z[idx_out]
