"""The forecast task: look back ``lookback`` steps, predict the next ``horizon`` at once.

Split (chronological): ``| train | val | test |`` with val and test at the end of the
series. The model is trained on windows whose targets lie in the training part; it is
validated (early stopping) by forecasting the val window from the end of the training
part, and tested by forecasting the test window from the end of the val part, exactly
as the baselines are. Longer windows than ``horizon`` are forecast block by block,
feeding the model its own forecasts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from seqsuite import atomic, limits
from seqsuite.adapters import FeatureInput
from seqsuite.batches import ArraySplit
from seqsuite.errors import UserError
from seqsuite.heads import LastStateHead
from seqsuite.metrics import point_errors
from seqsuite.task import Context, Evaluation, Prepared, Results, Task

from . import baselines as classical
from .report import forecast_plot, forecast_table
from .series import NAMED, Series, load_file, load_named
from .transforms import SeriesTransform, detect_season, fit_transform, season_from_freq, windows


@dataclass
class ForecastData:
    """The loaded series and what the hooks after ``prepare`` need of it."""

    series: Series
    transform: SeriesTransform
    season: int
    lookback: int
    origins: dict[str, tuple[int, int]]  # split -> (first forecast step, steps)


def history_state(series: Series, keep: int) -> dict[str, Any]:
    """The end of the series that ``predict`` forecasts from: values, time labels, frequency."""
    labels = series.labels()[-keep:] if series.times is not None else None
    return {
        "values": series.values[-keep:].tolist(),
        "times": labels,
        "freq": series.freq,
        "length": len(series),
    }


def history_series(state: dict[str, Any]) -> Series:
    """The series end saved by :func:`history_state`, as a :class:`Series`."""
    times = pd.DatetimeIndex(pd.to_datetime(state["times"])) if state.get("times") else None
    values = np.asarray(state["values"], dtype=float)
    start = int(state.get("length", len(values))) - len(values)
    return Series(values, times, state.get("freq"), "series", start=start)


@dataclass
class ForecastConfig:
    """The ``[task]`` section of ``seqsuite run forecast``."""

    column: str = field(
        default="", metadata={"help": "value column of --data ('' = the only numeric one)"}
    )
    time_column: str = field(default="", metadata={"help": "time column ('' = detect)"})
    lookback: int = field(
        default=0,
        metadata={"min": 0, "help": "input window in steps (0 = two seasons, at least 12)"},
    )
    horizon: int = field(default=24, metadata={"min": 1, "help": "steps the head predicts at once"})
    test_size: int = field(
        default=0, metadata={"min": 0, "help": "held-out steps at the end (0 = horizon)"}
    )
    val_size: int = field(
        default=0, metadata={"min": 0, "help": "validation steps before them (0 = test_size)"}
    )
    season: int = field(
        default=0, metadata={"min": 0, "help": "seasonal period (0 = detect, 1 = none)"}
    )
    log: Literal["auto", "on", "off"] = field(default="auto", metadata={"help": "model log values"})
    difference: Literal["auto", "none", "first", "seasonal", "both"] = "auto"
    dropout: float = field(
        default=0.0, metadata={"min": 0.0, "below": 1.0, "help": "before the head"}
    )
    baselines: list[str] = field(default_factory=lambda: list(classical.BASELINES))

    def validate(self) -> None:
        unknown = [b for b in self.baselines if b not in classical.BASELINES]
        if unknown:
            raise UserError(
                f"baselines: unknown {unknown}; available: {', '.join(classical.BASELINES)}"
            )


class ForecastTask(Task):
    name = "forecast"
    summary = "time-series forecasting: LSTM with a direct multi-step head vs naive, ETS, SARIMA"
    config_class = ForecastConfig
    datasets = tuple(NAMED)
    primary_metric = "mase"
    higher_is_better = False
    quick = {"train": {"epochs": 40, "patience": 10}}
    defaults = {
        "backbone": {"hidden_size": 32},
        "train": {"epochs": 200, "batch_size": 16, "lr": 5e-4, "patience": 40, "clip_norm": 1.0},
    }

    # -- data -----------------------------------------------------------------------

    def load_series(self, ctx: Context) -> Series:
        run, options = ctx.config.run, ctx.options
        if run.data:
            return load_file(run.data, options.column, options.time_column)
        name = run.dataset or self.default_dataset
        if "/" in name:
            from seqsuite.hub import load_hub_frame

            frame = load_hub_frame(name)
            column = options.column or "value"
            if column not in frame.columns:
                raise UserError(
                    f"--dataset {name}: no column {column!r}; set --set task.column=NAME"
                )
            return Series(frame[column].to_numpy(dtype=float), None, None, name)
        return load_named(name)

    def prepare(self, ctx: Context) -> Prepared:
        o = ctx.options
        series = self.load_series(ctx)
        y = series.values
        test = o.test_size or o.horizon
        val = o.val_size or test
        train_end = len(y) - test - val
        state = ctx.state or {}
        if "transform" in state:
            season = state["season"]
            transform = SeriesTransform(**state["transform"])
            decided = state.get("decided", {})
        else:
            if train_end < 3:
                raise UserError(self._too_short(series, o.lookback, o.horizon, test, val, 0))
            season = o.season or season_from_freq(series.freq) or detect_season(y[:train_end])
            transform, decided = fit_transform(y[:train_end], season, o.log, o.difference)
        lookback = state.get("lookback") or o.lookback or max(2 * season, 12)
        if transform.log and (y <= 0).any():
            raise UserError(f"{series.name}: has values <= 0, but the run models log values")
        too_short = self._too_short(series, lookback, o.horizon, test, val, transform.offset)
        if train_end - transform.offset - lookback - o.horizon + 1 < 1 and not ctx.state:
            raise UserError(too_short)
        if len(y) - test - transform.offset < lookback:
            raise UserError(too_short)
        z = transform.forward(y).astype(np.float32)

        def window_split(origin: int, steps: int) -> ArraySplit:
            history = torch.from_numpy(z[origin - lookback : origin].copy()).view(1, -1, 1)
            return ArraySplit(
                {
                    "x": history,
                    "y": torch.from_numpy(y[origin : origin + steps].astype(np.float32)).view(
                        1, -1
                    ),
                }
            )

        def window_pairs(end: int) -> ArraySplit:
            x, target = windows(z, transform.offset, max(end, 0), lookback, o.horizon)
            return ArraySplit(
                {"x": torch.from_numpy(x).unsqueeze(-1), "y": torch.from_numpy(target)}
            )

        train = window_pairs(train_end)
        return Prepared(
            train=train,
            refit_train=window_pairs(len(y) - test),
            summary=f"{len(y)} points, {train.size} training windows, val {val} / test {test} steps",
            val=window_split(train_end, val),
            test=window_split(len(y) - test, test),
            spec={"features": 1, "horizon": o.horizon, "lookback": lookback},
            state={
                "season": int(season),
                "lookback": lookback,
                "transform": transform.to_dict(),
                "decided": decided,
                "history": history_state(series, lookback + transform.offset + max(season, 1)),
            },
            dataset=series.name,
            data=ForecastData(
                series=series,
                transform=transform,
                season=int(season),
                lookback=lookback,
                origins={"val": (train_end, val), "test": (len(y) - test, test)},
            ),
        )

    @staticmethod
    def _too_short(
        series: Series, lookback: int, horizon: int, test: int, val: int, offset: int
    ) -> str:
        need = test + val + offset + lookback + horizon
        return (
            f"{series.name}: {len(series)} points is too short for lookback {lookback} + horizon "
            f"{horizon} + val {val} + test {test}"
            + (f" + {offset} lost to differencing" if offset else "")
            + f" (needs at least {need}); lower task.lookback, task.horizon or task.test_size"
        )

    # -- model ----------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> FeatureInput:
        return FeatureInput(spec["features"])

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> LastStateHead:
        return LastStateHead(in_features, spec["horizon"], dropout=ctx.options.dropout)

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return F.mse_loss(output, batch["y"])

    # -- forecasting and evaluation -----------------------------------------------------

    @torch.no_grad()
    def forecast(
        self,
        ctx: Context,
        model: Any,
        transform: SeriesTransform,
        lookback: int,
        history: np.ndarray,
        steps: int,
    ) -> np.ndarray:
        """``steps`` values after ``history``, block by block of ``horizon``."""
        z = list(transform.forward(history)[-lookback:])
        if len(z) < lookback or np.isnan(z).any():
            raise UserError(
                f"history of {len(history)} points is too short for lookback {lookback}"
            )
        predicted: list[float] = []
        model.eval()
        while len(predicted) < steps:
            x = torch.tensor(z[-lookback:], dtype=torch.float32, device=ctx.device).view(1, -1, 1)
            block = model({"x": x})[0][0].float().cpu().numpy().tolist()
            predicted += block
            z += block
        return transform.inverse(np.array(predicted[:steps]), history)

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        """Test: one forecast of the whole test window from its start, as the baselines do.

        Validation (early stopping): forecasts from several origins inside the val window,
        every ``horizon // 4`` steps, each running to the window's end. One origin alone
        makes the stopping epoch depend on one stretch of weather; the rolling origins
        look at the same data more often and choose more steadily.
        """
        data: ForecastData = prepared.data
        origin, steps = data.origins[split]
        y, transform, lookback = data.series.values, data.transform, data.lookback
        stride = steps if split == "test" else max(1, ctx.options.horizon // 4)
        actual, predicted = [], []
        for start in range(origin, origin + steps, stride):
            actual.append(y[start : origin + steps])
            predicted.append(
                self.forecast(ctx, model, transform, lookback, y[:start], origin + steps - start)
            )
        metrics = point_errors(
            np.concatenate(actual), np.concatenate(predicted), y[:origin], data.season
        )
        return Evaluation(metrics, outputs=predicted[0])

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        data: ForecastData = prepared.data
        origin, steps = data.origins["test"]
        y, season = data.series.values, data.season
        results = {}
        for name in ctx.options.baselines:
            method = classical.BASELINES[name]
            try:
                if name in classical.TAKES_LOG:
                    predicted = method(y[:origin], steps, season, log=data.transform.log)
                else:
                    predicted = method(y[:origin], steps, season)
            except Exception as err:  # noqa: BLE001 - a failed baseline must not fail the run
                ctx.console.print(f"[yellow]baseline {name} failed: {err}[/]")
                continue
            metrics = point_errors(y[origin : origin + steps], predicted, y[:origin], season)
            results[name] = Evaluation(metrics, outputs=predicted)
        return results

    # -- outputs --------------------------------------------------------------------

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        data: ForecastData = prepared.data
        origin, steps = data.origins["test"]
        label = ctx.config.backbone.cell
        forecasts = {label: results.test.outputs}
        forecasts.update({name: b.outputs for name, b in results.baselines.items()})
        table = forecast_table(data.series, origin, steps, forecasts)
        atomic.write_text(ctx.path("forecast.csv"), table.to_csv(index=False))
        forecast_plot(
            data.series, origin, steps, forecasts, results.metrics, ctx.path("plots/forecast.png")
        )

    predict_options = {
        "horizon": "steps to forecast past the end of the series (default task.horizon)",
    }

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if inputs:
            raise UserError(
                "forecast predict takes no inputs: use --option horizon=N "
                "(and --data FILE for another series)"
            )
        steps = limits.horizon(options.get("horizon"), ctx.options.horizon)
        if options.get("data"):
            series = load_file(options["data"], ctx.options.column, ctx.options.time_column)
        else:
            series = history_series(ctx.state["history"])
        transform = SeriesTransform(**ctx.state["transform"])
        values = self.forecast(ctx, model, transform, ctx.state["lookback"], series.values, steps)
        return [
            {"time": t, "forecast": float(v)}
            for t, v in zip(series.future_times(steps), values, strict=True)
        ]

    # -- in-memory data (seqsuite.fit, Hugging Face data sets) ----------------------------

    def write_data(self, ctx: Context, data: Any, folder: Any) -> Any:
        """A series in memory -> ``series.csv`` (its time column kept). Takes a
        :class:`~seqsuite.memory.Table` (a DataFrame or a Hugging Face data set, whose
        own val/test parts become ``task.val_size``/``task.test_size``), a pandas Series
        (its DatetimeIndex as the times) or a 1-D array or list of numbers."""
        from seqsuite.memory import Table
        from seqsuite.task import DataFiles

        settings: dict[str, Any] = {}
        if isinstance(data, Table):
            frame = data.concat()
            sizes = data.sizes()
            if data.has_splits and sizes.get("test"):
                settings = {"task": {"test_size": sizes["test"]}}
                if sizes.get("val"):
                    settings["task"]["val_size"] = sizes["val"]
        else:
            frame = series_frame(data, ctx.options.column or "value")
        if isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.rename_axis(ctx.options.time_column or "time").reset_index()
        path = folder / "series.csv"
        atomic.write_text(path, frame.to_csv(index=False))
        return DataFiles(str(path), settings)

    def predict_inputs(self, ctx: Context, obj: Any, folder: Any) -> tuple[list, dict]:
        """Forecast after a series given in memory (as :meth:`write_data` takes it)."""
        files = self.write_data(ctx, obj, folder)
        return [], {"data": files.path}


def series_frame(data: Any, column: str) -> pd.DataFrame:
    """A pandas Series, a 1-D array or a list of numbers as a one-column frame."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.rename(data.name or column).to_frame()
    values = np.asarray(data, dtype=float)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise UserError(
            f"forecast: expected one series (a 1-D array, a list of numbers, a pandas Series or "
            f"DataFrame), got an array of shape {values.shape}"
        )
    return pd.DataFrame({column: values})
