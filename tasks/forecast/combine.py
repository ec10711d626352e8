"""The forecast the task reports: the LSTM combined with classical forecasts, weighted by
how well each forecast the validation window.

Why: on short or smooth series a simple model is right and an LSTM trained on a few dozen
windows is not; on long, complex series the LSTM wins. Weighting each member by its
validation error keeps the LSTM where it earns its place and lets ETS, ARIMA and Theta
carry the rest. Weights are ``error ** -power``, normalised, then mixed with equal weights
(``shrink``) because one validation window is a noisy judge. ``power = 2`` and
``shrink = 0.3`` were chosen on the development windows of the benchmark panel
(``bench/forecast_panel.py``), never on a test window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from seqsuite.errors import UserError

from .baselines import BASELINES

#: the classical members of the combination (names of :mod:`.baselines`)
MEMBERS = ("ets", "sarima", "theta")
POWER = 2.0
SHRINK = 0.3
#: a member whose validation error is over this many times the best member's gets no
#: weight, not even the equal share: one window is a noisy judge, but not that noisy. An ETS
#: fit that a single outlier blew up (validation errors of 10^5) or an LSTM beside an exact
#: model (a constant, or exponential growth ARIMA fits to 1e-13) took 0.3 / 4 of the
#: forecast, which was then 1,000 times worse than seasonal naive, or no longer exact.
CUTOFF = 10.0


def weights(
    errors: dict[str, float], power: float = POWER, shrink: float = SHRINK, cutoff: float = CUTOFF
) -> dict[str, float]:
    """Member -> weight (summing to 1) from each member's validation error (lower is better).

    A member with no finite error gets no weight; nor does one whose error is over
    ``cutoff`` times the best's. A member with error 0 takes the inverse weights' whole
    share (it was exact on validation), and then every inexact member is out."""
    usable = {k: float(v) for k, v in errors.items() if np.isfinite(v)}
    if not usable:
        raise ValueError("no member has a finite validation error")
    values = np.array(list(usable.values()))
    best = values.min()
    credible = values <= 0 if best <= 0 else values <= best * cutoff
    if best <= 0:
        inverse = credible.astype(float)
    else:
        inverse = np.where(credible, (values / best) ** -power, 0.0)  # relative: no overflow
    inverse /= inverse.sum()
    mixed = (1 - shrink) * inverse + shrink * credible / credible.sum()
    return dict(zip(usable, mixed.tolist(), strict=True))


def combine(forecasts: dict[str, np.ndarray], weight: dict[str, float]) -> np.ndarray:
    """The weighted sum of the members' forecasts (members missing a forecast are dropped
    and the remaining weights renormalised)."""
    present = [k for k in weight if k in forecasts and np.isfinite(forecasts[k]).all()]
    if not present:
        raise UserError(
            "no finite forecast: every member's forecast overflows (values near the largest "
            "float, or a horizon far longer than the series); give smaller values or a "
            "shorter horizon"
        )
    total = sum(weight[k] for k in present)
    return sum(weight[k] / total * np.asarray(forecasts[k], dtype=float) for k in present)


def check_setting(path: Any, name: str, setting: Any) -> None:
    """One series' saved combination: weights of known members, finite and not negative,
    not all zero; interval widths of quantiles in (0, 1), finite and not negative (null
    where none was calibrated). An edited file would otherwise answer NaN or a band
    below its own forecast."""
    where = f"{path}: series {name!r}"
    weights = setting.get("weights") if isinstance(setting, dict) else None
    widths = setting.get("widths", {}) if isinstance(setting, dict) else None
    if not isinstance(weights, dict) or not isinstance(widths, dict):
        raise UserError(f"{where}: expected 'weights' and 'widths' objects (the file is damaged)")
    members = {"lstm", *BASELINES}
    for member, weight in weights.items():
        if member not in members:
            raise UserError(f"{where}: weight of {member!r}: not a member ({', '.join(members)})")
        if not _finite_at_least_zero(weight):
            raise UserError(f"{where}: weight of {member!r} is {weight!r}; expected a number >= 0")
    if not any(weights.values()):
        raise UserError(f"{where}: no member weighs more than 0; at least one must count")
    for key, width in widths.items():
        try:
            level = float(key)
        except ValueError:
            level = -1.0
        if not 0 < level < 1:
            raise UserError(f"{where}: width of {key!r}: expected a quantile between 0 and 1")
        if width is not None and not _finite_at_least_zero(width):
            raise UserError(f"{where}: width of {key!r} is {width!r}; expected a number >= 0")


def _finite_at_least_zero(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )
