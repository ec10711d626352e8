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

from seqsuite import atomic, limits, rundir
from seqsuite.adapters import FeatureInput
from seqsuite.batches import ArraySplit
from seqsuite.errors import UserError
from seqsuite.heads import LastStateHead
from seqsuite.task import Context, Evaluation, Prepared, Results, Task

from . import baselines as classical
from . import combine, intervals
from .report import forecast_plot, forecast_table
from .scoring import mase_scale, point_metrics
from .series import NAMED, Series, load_file, load_named
from .transforms import SeriesTransform, detect_season, fit_transform, season_from_freq
from .window_split import window_split as training_windows

#: points of the series end saved with the run: what ``predict`` refits the classical
#: members of the combination on
HISTORY_KEPT = 5000
#: classical models fit the last this many points of a longer history (ETS or SARIMA on
#: millions of points would take hours; their parameters settle long before)
CLASSICAL_POINTS = 5000
#: files the report writes for ``predict``: combination weights and interval widths
FORECASTER_FILE = "forecaster.json"


@dataclass
class ForecastData:
    """The loaded series and what the hooks after ``prepare`` need of it."""

    series: Series
    transform: SeriesTransform
    season: int
    lookback: int
    origins: dict[str, tuple[int, int]]  # split -> (first forecast step, steps)

    def calibration_origins(self) -> list[int]:
        """Where validation forecasts start: the start of the val window and its middle."""
        origin, steps = self.origins["val"]
        return sorted({origin, origin + steps // 2})


@dataclass
class ModelForecast:
    """A model's forecast of a window: the point forecast, its quantiles and, for the
    combination, the members' forecasts and weights."""

    point: np.ndarray
    quantiles: dict[float, np.ndarray]
    widths: dict[float, float]  # quantile -> calibrated half-width score (see intervals)
    members: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)


def history_state(series: Series, keep: int) -> dict[str, Any]:
    """The end of the series that ``predict`` forecasts from: values, time labels, frequency."""
    first = max(0, len(series) - keep)
    labels = series.labels(first) if series.times is not None else None
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
    combine: list[str] = field(
        default_factory=lambda: list(combine.MEMBERS),
        metadata={
            "help": "classical forecasts combined with the LSTM, weighted by validation "
            "error ([] = the LSTM alone)"
        },
    )
    backtest_windows: int = field(
        default=0,
        metadata={"min": 0, "help": "also evaluate over N rolling origins (backtest.json)"},
    )
    quantiles: list[float] = field(
        default_factory=lambda: [0.1, 0.5, 0.9],
        metadata={"help": "quantile forecasts (conformal, from validation errors)"},
    )

    def validate(self) -> None:
        for option, names in (("baselines", self.baselines), ("combine", self.combine)):
            unknown = [b for b in names if b not in classical.BASELINES]
            if unknown:
                raise UserError(
                    f"{option}: unknown {unknown}; available: {', '.join(classical.BASELINES)}"
                )
        bad = [q for q in self.quantiles if not 0 < q < 1]
        if bad:
            raise UserError(f"quantiles: {bad} outside (0, 1); expected e.g. [0.1, 0.5, 0.9]")


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
                    "y": torch.from_numpy(
                        (y[origin : origin + steps] / transform.unit).astype(np.float32)
                    ).view(1, -1),
                }
            )

        series_z = torch.from_numpy(z)
        offset = transform.offset

        train = training_windows(series_z, offset, max(train_end, 0), lookback, o.horizon)
        return Prepared(
            train=train,
            refit_train=training_windows(series_z, offset, len(y) - test, lookback, o.horizon),
            summary=f"{len(y)} points, {train.size} training windows, val {val} / test {test} steps",
            val=window_split(train_end, val),
            test=window_split(len(y) - test, test),
            spec={"features": 1, "horizon": o.horizon, "lookback": lookback},
            state={
                "season": int(season),
                "lookback": lookback,
                "transform": transform.to_dict(),
                "decided": decided,
                "history": history_state(
                    series, max(lookback + transform.offset + season, HISTORY_KEPT)
                ),
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

    def member_forecasts(
        self, ctx: Context, model: Any, data: ForecastData, origin: int, steps: int
    ) -> dict[str, np.ndarray]:
        """The LSTM's and the combination members' forecasts of ``steps`` after ``origin``."""
        y = data.series.values
        out = {"lstm": self.forecast(ctx, model, data.transform, data.lookback, y[:origin], steps)}
        for name in ctx.options.combine:
            predicted = self.classical(
                ctx, name, y[:origin], steps, data.season, data.transform.log
            )
            if predicted is not None:
                out[name] = predicted
        return out

    @staticmethod
    def classical(
        ctx: Context, name: str, history: np.ndarray, steps: int, season: int, log: bool
    ) -> np.ndarray | None:
        """One classical forecast, or None (with a note) when it cannot be fitted."""
        method = classical.BASELINES[name]
        history = history[-CLASSICAL_POINTS:]
        try:
            if name in classical.TAKES_LOG:
                predicted = method(history, steps, season, log=log)
            else:
                predicted = method(history, steps, season)
        except Exception as err:  # noqa: BLE001 - a failed member must not fail the run
            ctx.console.print(f"[yellow]{name} failed: {err}[/]")
            return None
        predicted = np.asarray(predicted, dtype=float)
        return predicted if np.isfinite(predicted).all() else None

    def calibrate(
        self, ctx: Context, model: Any, data: ForecastData
    ) -> tuple[dict[str, float], np.ndarray]:
        """The combination's weights and its calibration scores, from forecasts of the
        validation window (see :mod:`.combine`, :mod:`.intervals`)."""
        y = data.series.values
        val_end = sum(data.origins["val"])
        actual, per_origin = [], []
        for start in data.calibration_origins():
            actual.append(y[start:val_end])
            per_origin.append(self.member_forecasts(ctx, model, data, start, val_end - start))
        names = [n for n in per_origin[0] if all(n in f for f in per_origin)]
        joined = np.concatenate(actual)
        errors = {
            n: float(np.mean(np.abs(joined - np.concatenate([f[n] for f in per_origin]))))
            for n in names
        }
        weight = combine.weights(errors)
        all_scores = np.concatenate(
            [
                intervals.scores(a, combine.combine(f, weight))
                for a, f in zip(actual, per_origin, strict=True)
            ]
        )
        return weight, all_scores

    def combined_forecast(
        self,
        ctx: Context,
        model: Any,
        data: ForecastData,
        origin: int,
        steps: int,
        calibration: tuple[dict[str, float], np.ndarray] | None = None,
    ) -> ModelForecast:
        """The reported forecast from ``origin``: the LSTM and the classical members,
        weighted by their validation errors, with calibrated quantiles."""
        weight, all_scores = calibration or self.calibrate(ctx, model, data)
        members = self.member_forecasts(ctx, model, data, origin, steps)
        point = combine.combine(members, weight)
        return self._with_quantiles(ctx, point, all_scores, members, weight)

    @staticmethod
    def _with_quantiles(
        ctx: Context,
        point: np.ndarray,
        all_scores: np.ndarray,
        members: dict[str, np.ndarray] | None = None,
        weight: dict[str, float] | None = None,
    ) -> ModelForecast:
        qs = ctx.options.quantiles
        widths = {q: intervals.half_width(all_scores, abs(2 * q - 1)) for q in qs}
        return ModelForecast(
            point=point,
            quantiles=intervals.quantile_forecasts(point, all_scores, qs),
            widths=widths,
            members=members or {},
            weights=weight or {},
        )

    def score(self, data: ForecastData, origin: int, fc: ModelForecast) -> dict[str, float]:
        """Point and interval metrics of a forecast from ``origin`` against the actual values."""
        y = data.series.values
        actual = y[origin : origin + len(fc.point)]
        metrics = point_metrics(actual, fc.point, y[:origin], data.season)
        scale = mase_scale(y[:origin], data.season)
        metrics.update(intervals.interval_metrics(actual, fc.quantiles, scale))
        return metrics

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        """Test: the combined forecast of the whole test window from its start, as the
        baselines do, with its quantiles; outputs hold a :class:`ModelForecast`.

        Validation (early stopping, the LSTM alone): forecasts from several origins inside
        the val window, every ``horizon // 4`` steps, each running to the window's end. One
        origin alone makes the stopping epoch depend on one stretch of weather; the
        rolling origins look at the same data more often and choose more steadily.
        """
        data: ForecastData = prepared.data
        origin, steps = data.origins[split]
        y, transform, lookback = data.series.values, data.transform, data.lookback
        if split == "test":
            fc = self.combined_forecast(ctx, model, data, origin, steps)
            return Evaluation(self.score(data, origin, fc), outputs=fc)
        stride = max(1, ctx.options.horizon // 4)
        actual, predicted = [], []
        for start in range(origin, origin + steps, stride):
            actual.append(y[start : origin + steps])
            predicted.append(
                self.forecast(ctx, model, transform, lookback, y[:start], origin + steps - start)
            )
        metrics = point_metrics(
            np.concatenate(actual), np.concatenate(predicted), y[:origin], data.season
        )
        return Evaluation(metrics, outputs=predicted[0])

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        """Each baseline from the test origin, its quantiles calibrated on its own
        validation errors exactly as the model's are."""
        data: ForecastData = prepared.data
        origin, steps = data.origins["test"]
        y = data.series.values
        val_end = sum(data.origins["val"])
        results = {}
        for name in ctx.options.baselines:
            predicted = self.classical(
                ctx, name, y[:origin], steps, data.season, data.transform.log
            )
            if predicted is None:
                continue
            all_scores = []
            for start in data.calibration_origins():
                val_fc = self.classical(
                    ctx, name, y[:start], val_end - start, data.season, data.transform.log
                )
                if val_fc is not None:
                    all_scores.append(intervals.scores(y[start:val_end], val_fc))
            fc = self._with_quantiles(
                ctx, predicted, np.concatenate(all_scores) if all_scores else np.array([])
            )
            results[name] = Evaluation(self.score(data, origin, fc), outputs=fc)
        return results

    def backtest(
        self, ctx: Context, model: Any, prepared: Prepared, windows: int, stride: int = 0
    ) -> dict[str, Any]:
        """Rolling-origin evaluation: ``windows`` forecasts of the test length, the last
        from the test origin, each ``stride`` steps (default: the test length) before the
        next; the model (weights and calibration fixed, no retraining) and every baseline
        (refitted at each origin). Writes backtest.json, backtest.csv and
        plots/backtest.png; windows before the end of validation overlap the data the
        LSTM was trained or stopped on, and say so (``in_sample``)."""
        from .backtests import backtest_origins, write_backtest

        data: ForecastData = prepared.data
        test_origin, steps = data.origins["test"]
        origins = backtest_origins(test_origin, steps, windows, stride, data.lookback)
        y = data.series.values
        calibration = self.calibrate(ctx, model, data)
        val_end = sum(data.origins["val"])
        rows = []
        for origin in origins:
            fc = self.combined_forecast(ctx, model, data, origin, steps, calibration)
            record = {
                "origin": int(origin),
                "time": data.series.labels(origin, origin + 1)[0],
                "in_sample": bool(origin < val_end),
                "model": self.score(data, origin, fc),
                "baselines": {},
            }
            for name in ctx.options.baselines:
                predicted = self.classical(
                    ctx, name, y[:origin], steps, data.season, data.transform.log
                )
                if predicted is not None:
                    record["baselines"][name] = point_metrics(
                        y[origin : origin + steps], predicted, y[:origin], data.season
                    )
            rows.append(record)
        return write_backtest(ctx, rows, self.primary_metric)

    # -- outputs --------------------------------------------------------------------

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        """forecast.csv (every model's forecast, the model's quantiles), the plot with the
        model's interval, components.json (the combination's members, weights and test
        metrics) and forecaster.json (what ``predict`` needs: weights, interval widths)."""
        data: ForecastData = prepared.data
        origin, steps = data.origins["test"]
        label = results.metrics.get("model", ctx.config.backbone.cell)
        fc: ModelForecast = results.test.outputs
        forecasts = {label: fc.point}
        forecasts.update({name: b.outputs.point for name, b in results.baselines.items()})
        table = forecast_table(data.series, origin, steps, forecasts)
        for q, values in fc.quantiles.items():
            table[f"{label}_q{q:g}"] = values
        atomic.write_text(ctx.path("forecast.csv"), table.to_csv(index=False))
        band = (fc.quantiles.get(min(fc.quantiles)), fc.quantiles.get(max(fc.quantiles)))
        forecast_plot(
            data.series,
            origin,
            steps,
            forecasts,
            results.metrics,
            ctx.path("plots/forecast.png"),
            band=band if len(fc.quantiles) > 1 else None,
        )
        y = data.series.values
        members = {
            name: point_metrics(y[origin : origin + steps], values, y[:origin], data.season)
            for name, values in fc.members.items()
        }
        atomic.write_json(ctx.path("components.json"), {"weights": fc.weights, "test": members})
        atomic.write_json(
            ctx.path(FORECASTER_FILE),
            rundir.clean_json(
                {"weights": fc.weights, "widths": {f"{q:g}": w for q, w in fc.widths.items()}}
            ),
        )
        if ctx.options.backtest_windows:
            self.backtest(ctx, model, prepared, ctx.options.backtest_windows)

    predict_options = {
        "horizon": "steps to forecast past the end of the series (default task.horizon)",
    }

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The combined forecast past the end of the series, with its quantiles."""
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
        y = series.values
        saved = self.forecaster(ctx)
        members = {"lstm": self.forecast(ctx, model, transform, ctx.state["lookback"], y, steps)}
        for name in saved["weights"]:
            if name != "lstm":
                predicted = self.classical(ctx, name, y, steps, ctx.state["season"], transform.log)
                if predicted is not None:
                    members[name] = predicted
        point = combine.combine(members, saved["weights"])
        lead = np.sqrt(np.arange(1, steps + 1))
        rows = []
        for i, t in enumerate(series.future_times(steps)):
            row = {"time": t, "forecast": float(point[i])}
            for key, width in saved["widths"].items():
                q = float(key)
                sign = 0.0 if q == 0.5 else np.sign(q - 0.5)
                row[f"q{key}"] = float(point[i] + sign * width * lead[i])
            rows.append(row)
        return rows

    @staticmethod
    def forecaster(ctx: Context) -> dict[str, Any]:
        """The combination weights and interval widths the run's report saved."""
        import json

        path = ctx.run_dir / FORECASTER_FILE
        if not path.exists():
            return {"weights": {"lstm": 1.0}, "widths": {}}
        return json.loads(path.read_text())
