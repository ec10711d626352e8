"""Forecasts of the statistical peers (statsforecast AutoETS, AutoARIMA, AutoTheta and
seasonal naive) on the panel, for ``bench/forecast_panel.py``.

    /work/benchenv-forecast/bin/python bench/forecast_peers.py --drop 0 --out peers.json

Runs in the bench-only environment. ``--drop K`` removes the last ``K * h`` points of each
series first, so ``--drop 1`` forecasts the development window just before the test window
(what defaults are chosen on) and ``--drop 0`` the test window. Each model sees the series'
season ``m`` from the manifest. Writes ``{series: {model: {"forecast": [...], "seconds": s,
"lo80": [...], "hi80": [...]}}}``.
"""

from __future__ import annotations

import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import panel_peers  # noqa: E402  (beside this script)

#: AutoARIMA fits the last this many points of longer series (on the 4,032 half-hourly
#: points of taylor, m = 48, a full fit ran past 10 minutes)
ARIMA_POINTS = 1000
#: ... and is skipped past this season: its state space grows with m, and at m = 48 a fit
#: on the last 1,000 points was still in its search after 13 minutes
ARIMA_MAX_SEASON = 24


def peer_forecasts(values: np.ndarray, m: int, h: int) -> dict[str, dict]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

    frame = pd.DataFrame(
        {"unique_id": "s", "ds": np.arange(len(values)), "y": values.astype(float)}
    )
    out = {}
    for name, model in [
        ("seasonal_naive", SeasonalNaive(season_length=m)),
        ("AutoETS", AutoETS(season_length=m)),
        ("AutoARIMA", AutoARIMA(season_length=m)),
        ("AutoTheta", AutoTheta(season_length=m)),
    ]:
        if name == "AutoARIMA" and m > ARIMA_MAX_SEASON:
            out[name] = {"error": f"skipped: season {m} > {ARIMA_MAX_SEASON} (minutes per fit)"}
            continue
        started = time.perf_counter()
        data = frame.iloc[-ARIMA_POINTS:] if name == "AutoARIMA" else frame
        try:
            result = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(
                df=data, h=h, level=[80]
            )
        except Exception as err:  # noqa: BLE001 - a failing peer is reported, not fatal
            out[name] = {"error": str(err)[:200]}
            continue
        column = [c for c in result.columns if c not in ("unique_id", "ds")][0]
        out[name] = {
            "forecast": result[column].tolist(),
            "lo80": result.get(f"{column}-lo-80", result[column]).tolist(),
            "hi80": result.get(f"{column}-hi-80", result[column]).tolist(),
            "seconds": time.perf_counter() - started,
        }
    return out


if __name__ == "__main__":
    panel_peers.main(peer_forecasts, __doc__.splitlines()[0])
