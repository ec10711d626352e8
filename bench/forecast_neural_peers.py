"""Forecasts of the neural peers (Darts' ``BlockRNNModel`` with an LSTM, NeuralForecast's
``LSTM``) on the panel, for ``bench/forecast_panel.py --neural``.

    /work/benchenv-neural/bin/python bench/forecast_neural_peers.py --drop 0 --out neural.json

Runs in a bench-only environment (``pip install darts neuralforecast``: neither is a
dependency of seqsuite). Each model is what a user of the library would write first, at
the sizes the issue measured them with: Darts' ``BlockRNNModel(model="LSTM",
hidden_dim=32, n_epochs=100)`` on min-max scaled values (Darts' ``Scaler``), and
NeuralForecast's ``LSTM(max_steps=500)`` with its own robust scaling. Both read a
look-back of two seasons or two horizons (the longer, cut to half of the training part on
short series) and forecast ``h`` points at once; seed 0. ``--drop K`` removes the last
``K * h`` points of each series first, as ``bench/forecast_peers.py`` does. Writes
``{series: {model: {"forecast": [...], "seconds": s}}}`` (a model that fails: ``error``).
"""

from __future__ import annotations

import logging
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore")
for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "darts", "neuralforecast"):
    logging.getLogger(name).setLevel(logging.ERROR)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import panel_peers  # noqa: E402  (beside this script)

QUIET_TRAINER = {"enable_progress_bar": False, "logger": False, "enable_model_summary": False}


def lookback(train_points: int, m: int, h: int) -> int:
    """Two seasons or two horizons, at most half the training part (at least 2)."""
    return max(2, min(2 * max(m, h), (train_points - h) // 2))


def darts_forecast(values: np.ndarray, m: int, h: int) -> list[float]:
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel

    series = TimeSeries.from_values(values.astype(np.float32))
    scaler = Scaler()
    scaled = scaler.fit_transform(series)
    model = BlockRNNModel(
        model="LSTM",
        input_chunk_length=lookback(len(values), m, h),
        output_chunk_length=h,
        hidden_dim=32,
        n_epochs=100,
        random_state=0,
        pl_trainer_kwargs={"accelerator": "cpu", **QUIET_TRAINER},
    )
    model.fit(scaled, verbose=False)
    forecast = scaler.inverse_transform(model.predict(h, verbose=False))
    return forecast.values().ravel().astype(float).tolist()


def neuralforecast_forecast(values: np.ndarray, m: int, h: int) -> list[float]:
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM

    frame = pd.DataFrame({"unique_id": "s", "ds": np.arange(len(values)), "y": values})
    model = LSTM(
        h=h,
        input_size=lookback(len(values), m, h),
        max_steps=500,
        random_seed=0,
        accelerator="cpu",
        **QUIET_TRAINER,
    )
    forecaster = NeuralForecast(models=[model], freq=1)
    forecaster.fit(frame)
    return forecaster.predict()["LSTM"].astype(float).tolist()


MODELS = {"Darts BlockRNN": darts_forecast, "NeuralForecast LSTM": neuralforecast_forecast}


def neural_forecasts(values: np.ndarray, m: int, h: int) -> dict[str, dict]:
    """Each neural peer's forecast of the ``h`` points after ``values`` (or its error)."""
    out: dict[str, dict] = {}
    for name, forecast in MODELS.items():
        started = time.perf_counter()
        try:
            points = forecast(values, m, h)
        except Exception as err:  # noqa: BLE001 - a failing peer is reported, not fatal
            out[name] = {"error": f"{type(err).__name__}: {str(err)[:200]}"}
            continue
        out[name] = {"forecast": points, "seconds": time.perf_counter() - started}
    return out


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    panel_peers.main(neural_forecasts, __doc__.splitlines()[0])
