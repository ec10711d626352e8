"""Time-series forecasting: an LSTM with a direct multi-step head, against ETS and SARIMA."""

from .task import ForecastConfig, ForecastTask

__all__ = ["ForecastConfig", "ForecastTask"]
