"""The forecast task: look back ``lookback`` steps, predict the next ``horizon`` at once,
combined with classical forecasts and with calibrated quantiles.

Split of every series (chronological): ``| train | val | test |`` with val and test at the
end. One model is trained on the windows whose targets lie in the training parts of every
series (a panel trains one global model, each series scaled on its own); it is validated
(early stopping) by forecasting each val window, and tested by forecasting each test
window from its start, exactly as the baselines are. The reported forecast combines the
LSTM with ETS, ARIMA and Theta by their validation errors (:mod:`.combine`); its
quantiles are conformal (:mod:`.intervals`). Panel metrics are means over series
(``rel_mase``, MASE relative to seasonal naive, a geometric mean).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
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
from seqsuite.progress import track
from seqsuite.task import Context, Evaluation, Prepared, Results, Task

from . import baselines as classical
from . import combine, serving
from .backtests import backtest_origins
from .data import (
    ForecastData,
    SeriesData,
    history_series,
    history_state,
    make_item,
    training_split,
)
from .features import calendar_kinds
from .intervals import widened
from .panel import Panel, load_panel
from .predicting import (
    Calibration,
    ModelForecast,
    aggregate,
    calibrate,
    classical_forecast,
    combined_forecast,
    lstm_forecasts,
    saved_forecast,
    score,
    with_quantiles,
)
from .report import forecast_plot, forecast_table
from .scoring import point_metrics
from .series import NAMED, Series, load_named
from .transforms import SeriesTransform, choose_season, fit_transform

#: the default look-back is two seasons, and at least this many steps
MIN_LOOKBACK = 12
#: points of each series' end saved with the run: what ``predict`` refits the classical
#: members of the combination on (a single series; a panel keeps less per series)
HISTORY_KEPT = 5000
PANEL_HISTORY_KEPT = 600
#: panels with more series than this skip the classical fits per series (combination
#: members and the ETS / SARIMA / Theta baselines): hours for 10,000 series
COMBINE_MAX_SERIES = 100
#: what the report writes for ``predict``: combination weights and interval widths
FORECASTER_FILE = "forecaster.json"
EXPENSIVE = {"ets", "sarima", "theta"}
#: SARIMA's state grows with the season: past this one (hourly 24, half-hourly 48, weekly
#: 52) one fit takes about a minute on 2 cores, and a run needs six; it is skipped
SARIMA_MAX_SEASON = 13


def classical_plan(names: list[str], season: int, series: int) -> tuple[list[str], list[str]]:
    """Which of ``names`` (classical models) a run fits, and a note for each one it skips."""
    kept, notes = [], []
    for name in names:
        if name in EXPENSIVE and series > COMBINE_MAX_SERIES:
            notes.append(f"{name}: skipped, {series} series (at most {COMBINE_MAX_SERIES})")
        elif name == "sarima" and season > SARIMA_MAX_SEASON:
            notes.append(
                f"sarima: skipped, season {season} (minutes per fit past {SARIMA_MAX_SEASON})"
            )
        else:
            kept.append(name)
    return kept, notes


@dataclass
class ForecastConfig:
    """The ``[task]`` section of ``seqsuite run forecast``."""

    column: str = field(
        default="", metadata={"help": "value column of --data ('' = the only numeric one)"}
    )
    columns: list[str] = field(
        default_factory=list,
        metadata={"help": "wide format: one series per column ([] = every numeric one)"},
    )
    id_column: str = field(
        default="", metadata={"help": "long format: the column naming each row's series"}
    )
    covariates: list[str] = field(
        default_factory=list, metadata={"help": "numeric columns read as past covariates"}
    )
    calendar: bool = field(
        default=False,
        metadata={"help": "month / weekday / hour features of each step as inputs"},
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
        default=0,
        metadata={
            "min": 0,
            "help": "validation steps before them (0 = test_size; longer: more windows "
            "to weigh the combination and calibrate intervals on, less to train on)",
        },
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
        if list(self.quantiles) != sorted(set(self.quantiles)):
            raise UserError(
                f"quantiles: {list(self.quantiles)}: give them increasing, each once, "
                "e.g. [0.1, 0.5, 0.9]"
            )


def model_name(ctx: Context, data: ForecastData) -> str:
    """``lstm``, or ``lstm+ets+sarima+theta`` when the forecast combines the LSTM with
    classical ones (the cell's name leads: a GRU says gru)."""
    return "+".join([ctx.config.backbone.cell, *data.members])


class ForecastTask(Task):
    name = "forecast"
    summary = (
        "time-series forecasting: an LSTM combined with ETS, ARIMA and Theta, with "
        "intervals, backtests, panels and covariates"
    )
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

    def load_panel(self, ctx: Context) -> Panel:
        run, options = ctx.config.run, ctx.options
        if run.data:
            return load_panel(run.data, options)
        name = run.dataset or self.default_dataset
        if "/" in name:
            from seqsuite.hub import load_hub_frame

            frame = load_hub_frame(name)
            column = options.column or "value"
            if column not in frame.columns:
                raise UserError(
                    f"--dataset {name}: no column {column!r}; set --set task.column=NAME"
                )
            series = Series(frame[column].to_numpy(dtype=float), None, None, name)
        else:
            series = load_named(name)
        return Panel([series], [np.zeros((len(series), 0))])

    def prepare(self, ctx: Context) -> Prepared:
        o = ctx.options
        panel = self.load_panel(ctx)
        test = o.test_size or o.horizon
        state = ctx.state or {}
        val = state.get("val") or o.val_size or test
        saved = {s["name"]: s for s in state.get("series", [])}
        first = panel.series[0]
        if state:
            season = state["season"]
        else:
            train_end = len(first) - test - val
            if train_end < 3:
                raise UserError(self._too_short(first, o, o.lookback or MIN_LOOKBACK, test, val, 0))
            season, note = (
                (o.season, None)
                if o.season
                else choose_season(first.freq, first.values[:train_end])
            )
            if note:
                ctx.console.print(f"[yellow]{note}[/]")
        lookback = state.get("lookback") or o.lookback or max(2 * season, MIN_LOOKBACK)
        kinds = state.get("calendar", calendar_kinds(first.freq) if o.calendar else [])
        items, skipped = [], []
        for series, covariates in zip(panel.series, panel.covariates, strict=True):
            try:
                items.append(
                    self._item(
                        series, covariates, saved, len(panel), o, season, lookback, kinds, test, val
                    )
                )
            except UserError as err:
                if len(panel) == 1:
                    raise
                skipped.append(str(err))
        if not items:
            raise UserError(f"no series long enough to forecast; first: {skipped[0]}")
        for note in skipped[:5]:
            ctx.console.print(f"[yellow]skipped: {note}[/]")
        filled = [s.filled for s in panel.series if s.filled]
        if filled:
            where = f" in {len(filled)} series" if len(panel) > 1 else ""
            ctx.console.print(
                f"[yellow]{sum(filled):,} missing times or values filled by interpolation{where}[/]"
            )
        members, member_notes = classical_plan(list(o.combine), int(season), len(items))
        baselines, baseline_notes = classical_plan(list(o.baselines), int(season), len(items))
        notes = sorted(set(member_notes + baseline_notes))
        for note in notes:
            ctx.console.print(f"[yellow]{note}[/]")
        data = ForecastData(
            items=items,
            season=int(season),
            lookback=lookback,
            calendar=kinds,
            covariates=list(panel.covariate_names),
            members=members,
            baselines=baselines,
        )
        if o.backtest_windows:  # checked now, not after training
            names = ("task.backtest_windows", "stride (the test length)")
            for item in items:
                backtest_origins(*item.origins["test"], o.backtest_windows, 0, lookback, names)
        keep = HISTORY_KEPT if len(items) == 1 else PANEL_HISTORY_KEPT
        train = training_split(items, lookback, o.horizon, "val")
        features = items[0].features.shape[1]
        points = sum(len(i.series) for i in items)
        where = f"{len(items)} series, " if len(items) > 1 else ""
        return Prepared(
            train=train,
            refit_train=training_split(items, lookback, o.horizon, "test"),
            summary=f"{where}{points} points, {train.size} training windows, val {val} / test {test} steps",
            val=self._window(items[0], "val", lookback),
            test=self._window(items[0], "test", lookback),
            spec={"features": features, "horizon": o.horizon, "lookback": lookback},
            state={
                "season": int(season),
                "lookback": lookback,
                "val": val,
                "calendar": kinds,
                "covariates": list(panel.covariate_names),
                "series": [
                    history_state(i, max(lookback + i.transform.offset + season, keep))
                    for i in items
                ],
            },
            dataset=first.name if len(items) == 1 else f"{len(items)} series",
            data=data,
            info={
                **({"series": len(items), "skipped": skipped} if len(panel) > 1 else {}),
                **({"notes": notes} if notes else {}),
            },
        )

    def _item(
        self,
        series: Series,
        covariates: np.ndarray,
        saved: dict[str, Any],
        count: int,
        o: Any,
        season: int,
        lookback: int,
        kinds: list[str],
        test: int,
        val: int,
    ) -> SeriesData:
        """One series with its transform: the saved one (eval, resume), else fitted."""
        y = series.values
        train_end = len(y) - test - val
        mine = saved.get(series.name) or (
            next(iter(saved.values())) if count == 1 and saved else None
        )
        if mine:
            transform = SeriesTransform(**mine["transform"])
            decided, scale = mine.get("decided", {}), mine.get("covariate_scale")
            scale = tuple(scale) if scale else None
        else:
            if train_end < 3:
                raise UserError(self._too_short(series, o, lookback, test, val, 0))
            positive = bool((y > 0).all())
            transform, decided = fit_transform(y[:train_end], season, o.log, o.difference, positive)
            scale = None
        if transform.log and (y <= 0).any():
            raise UserError(self._not_positive(series, y, bool(mine)))
        too_short = self._too_short(series, o, lookback, test, val, transform.offset)
        if train_end - transform.offset - lookback - o.horizon + 1 < 1 and not mine:
            raise UserError(too_short)
        if len(y) - test - transform.offset < lookback:
            raise UserError(too_short)
        return make_item(series, transform, covariates, kinds, test, val, decided, scale)

    @staticmethod
    def _not_positive(series: Series, y: np.ndarray, saved: bool) -> str:
        first = int(np.flatnonzero(y <= 0)[0])
        what = f"{series.name}: value {y[first]:g} at point {first + 1} of {len(y)}"
        if saved:
            return (
                f"{what}; the run models log values, which need every value above 0: "
                "train a run with --set task.log=off for such series"
            )
        return f"{what}; task.log = 'on' needs every value above 0: use 'auto' or 'off'"

    @staticmethod
    def _window(item: SeriesData, split: str, lookback: int) -> ArraySplit:
        """The first series' inputs before a split and its values (for split sizes)."""
        origin, steps = item.origins[split]
        x = torch.from_numpy(item.features[origin - lookback : origin].copy())[None]
        values = item.series.values[origin : origin + steps] / item.transform.unit
        return ArraySplit({"x": x, "y": torch.from_numpy(values.astype(np.float32))[None]})

    @staticmethod
    def _too_short(series: Series, o: Any, lookback: int, test: int, val: int, offset: int) -> str:
        """The one line a series too short for the split gets, with a horizon that fits
        (a yearly series of 40 points cannot hold the default 24-step horizon three times)."""
        need = test + val + offset + lookback + o.horizon
        fits = ForecastTask._horizon_that_fits(series, o)
        advice = (
            f"`--set task.horizon={fits}` fits, or lower task.lookback or task.test_size"
            if fits
            else "lower task.lookback, task.horizon or task.test_size"
        )
        return (
            f"{series.name}: {len(series)} points is too short for lookback {lookback} + horizon "
            f"{o.horizon} + val {val} + test {test}"
            + (f" + {offset} lost to differencing" if offset else "")
            + f" (needs at least {need}); {advice}"
        )

    @staticmethod
    def _horizon_that_fits(series: Series, o: Any) -> int | None:
        """The longest horizon below ``task.horizon`` that the series holds, as ``prepare``
        would choose everything for it (a shorter horizon leaves more training points, so
        the season, and the look-back and differencing with it, can grow: the first
        suggestion once failed again); differencing counted at its most, season + 1."""
        values = series.values
        for k in range(min(o.horizon - 1, len(values) // 2), 0, -1):
            test, val = o.test_size or k, o.val_size or k
            train_end = len(values) - test - val
            if train_end < 3:
                continue
            season = o.season or choose_season(series.freq, values[:train_end])[0]
            lookback = o.lookback or max(2 * season, MIN_LOOKBACK)
            lost = season + 1 if season > 1 else 1
            if test + val + lost + lookback + k <= len(values):
                return k
        return None

    # -- model ----------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> FeatureInput:
        return FeatureInput(spec["features"])

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> LastStateHead:
        return LastStateHead(in_features, spec["horizon"], dropout=ctx.options.dropout)

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return F.mse_loss(output, batch["y"])

    # -- evaluation -------------------------------------------------------------------

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        """Test: each series' combined forecast of its whole test window from its start,
        as the baselines do, with quantiles; outputs hold one :class:`ModelForecast` per
        series. Metrics: the series' own, or for a panel their means (:func:`aggregate`).

        Validation (early stopping, the LSTM alone): forecasts from several origins inside
        the val window, every ``horizon // 4`` steps, each running to the window's end (at
        most a test length). One origin alone makes the stopping epoch depend on one
        stretch of weather; the rolling origins look at the same data more often and
        choose more steadily.
        """
        data: ForecastData = prepared.data
        if split == "test":
            # eval of a finished run: the combination it saved and serves, read once
            saved = self.forecaster(ctx) if rundir.is_finished(ctx.run_dir) else {}
            forecasts = [
                self._test_forecast(ctx, model, data, item, saved.get(item.name))
                for item in data.items
            ]
            metrics = aggregate(
                [
                    score(item, data.season, item.origins["test"][0], fc)
                    for item, fc in zip(data.items, forecasts, strict=True)
                ]
            )
            return Evaluation(metrics, outputs=forecasts, name=model_name(ctx, data))
        steps = data.items[0].origins["val"][1]
        span = data.items[0].origins["test"][1]
        stride = max(1, ctx.options.horizon // 4)
        actual: list[list[np.ndarray]] = [[] for _ in data.items]
        predicted: list[list[np.ndarray]] = [[] for _ in data.items]
        for offset in range(0, steps, stride):
            ends = [item.origins["val"][0] + offset for item in data.items]
            ahead = min(span, steps - offset)
            batch = lstm_forecasts(ctx, model, data, data.items, ends, ahead)
            for i, (item, end, fc) in enumerate(zip(data.items, ends, batch, strict=True)):
                actual[i].append(item.series.values[end : end + ahead])
                predicted[i].append(fc)
        per_series = [
            point_metrics(
                np.concatenate(a),
                np.concatenate(p),
                item.series.values[: item.origins["val"][0]],
                data.season,
            )
            for item, a, p in zip(data.items, actual, predicted, strict=True)
        ]
        return Evaluation(aggregate(per_series), outputs=None)

    def _test_forecast(
        self,
        ctx: Context,
        model: Any,
        data: ForecastData,
        item: SeriesData,
        saved: dict[str, Any] | None,
    ) -> ModelForecast:
        origin, steps = item.origins["test"]
        if saved is not None:
            return saved_forecast(ctx, model, data, item, origin, steps, saved)
        return combined_forecast(ctx, model, data, item, origin, steps)

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        """Each baseline from each series' test origin, its quantiles calibrated on its own
        validation errors exactly as the model's are."""
        data: ForecastData = prepared.data
        results = {}
        for name in data.baselines:
            forecasts, metrics = [], []
            for item in data.items:
                fc = self._baseline(ctx, data, item, name)
                if fc is None:
                    break
                forecasts.append(fc)
                metrics.append(score(item, data.season, item.origins["test"][0], fc))
            else:
                results[name] = Evaluation(aggregate(metrics), outputs=forecasts)
        return results

    @staticmethod
    def _baseline(
        ctx: Context, data: ForecastData, item: SeriesData, name: str
    ) -> ModelForecast | None:
        y = item.series.values
        origin, steps = item.origins["test"]
        log = item.transform.log
        predicted = classical_forecast(ctx, name, y[:origin], steps, data.season, log)
        if predicted is None:
            return None
        errors = []
        for start, span in item.calibration_origins():
            val_fc = classical_forecast(ctx, name, y[:start], span, data.season, log)
            if val_fc is not None:
                errors.append(y[start : start + span] - val_fc)
        return with_quantiles(ctx.options.quantiles, predicted, Calibration.of(errors))

    def backtest(
        self, ctx: Context, model: Any, prepared: Prepared, windows: int, stride: int = 0
    ) -> dict[str, Any]:
        """Rolling-origin evaluation: ``windows`` forecasts of the test length per series,
        the last from the test origin, each ``stride`` steps (default: the test length)
        before the next; the model (weights and calibration fixed, no retraining) and every
        baseline (refitted at each origin). Writes backtest.json, backtest.csv and
        plots/backtest.png; windows before the end of validation overlap the data the
        LSTM was trained or stopped on, and say so (``in_sample``)."""
        from .backtests import write_backtest

        data: ForecastData = prepared.data
        windows_of = []  # (series, origin): checked for every series before any refit
        for item in data.items:
            test_origin, steps = item.origins["test"]
            origins = backtest_origins(test_origin, steps, windows, stride, data.lookback)
            windows_of += [(item, origin) for origin in origins]
        rows, calibrations = [], {}
        for item, origin in track(windows_of, "backtest windows", ctx.quiet):
            steps, y = item.origins["test"][1], item.series.values
            if id(item) not in calibrations:
                calibrations[id(item)] = calibrate(ctx, model, data, item)
            fc = combined_forecast(ctx, model, data, item, origin, steps, calibrations[id(item)])
            record = {
                "series": item.name,
                "origin": int(origin),
                "time": item.series.labels(origin, origin + 1)[0],
                "in_sample": bool(origin < sum(item.origins["val"])),
                "model": score(item, data.season, origin, fc),
                "baselines": {},
            }
            for name in data.baselines:
                predicted = classical_forecast(
                    ctx, name, y[:origin], steps, data.season, item.transform.log
                )
                if predicted is not None:
                    record["baselines"][name] = point_metrics(
                        y[origin : origin + steps], predicted, y[:origin], data.season
                    )
            rows.append(record)
        return write_backtest(ctx, rows, self.primary_metric)

    # -- outputs --------------------------------------------------------------------

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        """forecast.csv (every model's forecast and the model's quantiles; a ``series``
        column for panels), the plot of the first series with the model's interval,
        series_metrics.csv (panels), components.json (the combination's members: their
        validation errors, weights, test forecasts and test metrics) and forecaster.json
        (what ``predict`` needs)."""
        data: ForecastData = prepared.data
        label = results.metrics.get("model", ctx.config.backbone.cell)
        tables, components, forecaster, per_series = [], {}, {}, []
        for i, item in enumerate(data.items):
            origin, steps = item.origins["test"]
            fc: ModelForecast = results.test.outputs[i]
            forecasts = {label: fc.point}
            forecasts.update({n: b.outputs[i].point for n, b in results.baselines.items()})
            table = forecast_table(item.series, origin, steps, forecasts)
            for q, values in fc.quantiles.items():
                table[f"{label}_q{q:g}"] = values
            if len(data.items) > 1:
                table.insert(0, "series", item.name)
            tables.append(table)
            y = item.series.values
            components[item.name] = {
                "weights": fc.weights,
                "validation_errors": {
                    name: errors.tolist() for name, errors in fc.calibration.member_errors.items()
                },
                "forecasts": {name: values.tolist() for name, values in fc.members.items()},
                "calibration": {
                    "errors": fc.calibration.errors.tolist(),
                    "leads": fc.calibration.leads.tolist(),
                },
                "test": {
                    name: point_metrics(y[origin : origin + steps], values, y[:origin], data.season)
                    for name, values in fc.members.items()
                },
            }
            forecaster[item.name] = {
                "weights": fc.weights or {"lstm": 1.0},
                "widths": {f"{q:g}": w for q, w in fc.widths.items()},
            }
            if len(data.items) > 1:
                row = {"series": item.name, "model": score(item, data.season, origin, fc)["mase"]}
                for n, b in results.baselines.items():
                    row[n] = score(item, data.season, origin, b.outputs[i])["mase"]
                per_series.append(row)
            if i == 0:
                band = (fc.quantiles.get(min(fc.quantiles)), fc.quantiles.get(max(fc.quantiles)))
                forecast_plot(
                    item.series,
                    origin,
                    steps,
                    forecasts,
                    results.metrics,
                    ctx.path("plots/forecast.png"),
                    band=band if len(fc.quantiles) > 1 else None,
                )
        atomic.write_text(ctx.path("forecast.csv"), pd.concat(tables).to_csv(index=False))
        if per_series:
            table = pd.DataFrame(per_series)
            atomic.write_text(ctx.path("series_metrics.csv"), table.to_csv(index=False))
        single = next(iter(components.values())) if len(components) == 1 else components
        atomic.write_json(ctx.path("components.json"), rundir.clean_json(single))
        atomic.write_json(ctx.path(FORECASTER_FILE), rundir.clean_json({"series": forecaster}))
        if ctx.options.backtest_windows:
            self.backtest(ctx, model, prepared, ctx.options.backtest_windows)

    # -- inference ----------------------------------------------------------------------

    model_files = (FORECASTER_FILE,)  # predict combines and widens as the report chose

    # -- serving (seqsuite serve): see serving.py ----------------------------------------

    serve_examples = {"predict": {"series": [112, 118, 132, 129, 121, 135] * 6, "horizon": 12}}

    def parse_request(self, ctx: Context, body: dict[str, Any]) -> Any:
        return serving.parse(ctx, body)

    def predict_batch(self, ctx: Context, model: Any, requests: list[Any]) -> list[dict]:
        return serving.forecast_batch(self, ctx, model, requests)

    predict_options = {
        "horizon": "steps to forecast past the end of each series (default task.horizon)",
        "series": "comma-separated names of the series to forecast (default: all)",
    }

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The combined forecast past the end of each series, with its quantiles."""
        steps = limits.horizon(options.get("horizon"), ctx.options.horizon)
        state = ctx.state
        histories = [history_series(s) for s in state["series"]]
        if options.get("data"):
            panel = load_panel(options["data"], ctx.options)
            histories = list(zip(panel.series, panel.covariates, strict=True))
        named = str(options["series"]).split(",") if "series" in options else []
        wanted = [str(w).strip() for w in [*inputs, *named]]
        if "" in wanted:
            raise UserError(
                "series '': an empty name; name the series to forecast, or none for all of them"
            )
        saved = {s["name"]: s for s in state["series"]}
        names = [series.name for series, _ in histories]
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise UserError(
                f"series {unknown[0]!r}: not in the run; series: {', '.join(names[:20])}"
            )
        forecaster = self.forecaster(ctx)
        data = ForecastData(
            [],
            state["season"],
            state["lookback"],
            state.get("calendar", []),
            state.get("covariates", []),
            [],
            [],
        )
        rows = []
        for series, covariates in histories:
            if wanted and series.name not in wanted:
                continue
            mine = saved.get(series.name) or (state["series"][0] if len(saved) == 1 else None)
            if mine is None:
                raise UserError(f"series {series.name!r}: the run has no fitted transform for it")
            scale = tuple(mine.get("covariate_scale") or ([], []))
            transform = SeriesTransform(**mine["transform"])
            if transform.log and (series.values <= 0).any():  # log(0): the LSTM's forecast NaN
                raise UserError(self._not_positive(series, series.values, True))
            item = make_item(
                series,
                transform,
                covariates,
                data.calendar,
                0,
                0,
                {},
                scale,
            )
            setting = forecaster.get(mine["name"], {"weights": {"lstm": 1.0}, "widths": {}})
            point = self._predict_point(ctx, model, data, item, steps, setting["weights"])
            bands = {key: widened(point, float(key), w) for key, w in setting["widths"].items()}
            for i, t in enumerate(series.future_times(steps)):
                row = {"series": series.name} if len(saved) > 1 else {}
                row.update({"time": t, "forecast": float(point[i])})
                row.update({f"q{key}": float(band[i]) for key, band in bands.items()})
                rows.append(row)
        return rows

    @staticmethod
    def _predict_point(
        ctx: Context, model: Any, data: ForecastData, item: SeriesData, steps: int, weights: dict
    ) -> np.ndarray:
        y = item.series.values
        members = {"lstm": lstm_forecasts(ctx, model, data, [item], [len(y)], steps)[0]}
        for name in weights:
            if name != "lstm":
                predicted = classical_forecast(ctx, name, y, steps, data.season, item.transform.log)
                if predicted is not None:
                    members[name] = predicted
        return combine.combine(members, weights)

    @staticmethod
    def forecaster(ctx: Context) -> dict[str, Any]:
        """Per series: the combination weights and interval widths the report saved, read
        once per loaded run (a server answered with another run's widths, or the LSTM
        alone, once the folder it had loaded was replaced or deleted)."""
        return ctx.derived(FORECASTER_FILE, partial(read_forecaster, ctx.run_dir))

    def ready(self, ctx: Context) -> None:
        self.forecaster(ctx)

    # -- in-memory data (seqsuite.fit, Hugging Face data sets) ----------------------------

    def write_data(self, ctx: Context, data: Any, folder: Any) -> Any:
        """A series in memory -> ``series.csv`` (its time column kept). Takes a
        :class:`~seqsuite.memory.Table` (a DataFrame or a Hugging Face data set, whose
        own val/test parts become ``task.val_size``/``task.test_size``: steps per series
        when ``task.id_column`` names the series of a panel), a pandas Series
        (its DatetimeIndex as the times) or a 1-D array or list of numbers."""
        from seqsuite.memory import Table
        from seqsuite.task import DataFiles

        settings: dict[str, Any] = {}
        if isinstance(data, Table):
            frame = data.concat()
            sizes = data.sizes()
            ids = ctx.options.id_column
            if ids:  # a panel: each split's steps per series
                sizes = {s: len(f) // max(f[ids].nunique(), 1) if ids in f else len(f)
                         for s, f in data.parts()}  # fmt: skip
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
    try:
        values = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as err:
        raise UserError(
            f"forecast: expected numbers (a 1-D array, a list of numbers, a pandas Series or "
            f"DataFrame), got {type(data).__name__} ({err})"
        ) from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise UserError(
            f"forecast: expected one series (a 1-D array, a list of numbers, a pandas Series or "
            f"DataFrame), got an array of shape {values.shape}"
        )
    return pd.DataFrame({column: values})


def read_forecaster(run_dir: Path, state: Any = None) -> dict[str, Any]:
    """``forecaster.json``'s series, checked; ``{}`` for a run whose report has not run."""
    path = run_dir / FORECASTER_FILE
    if not path.exists() and not (run_dir / rundir.METRICS).exists():
        return {}  # an unfinished run: the report that chooses them has not run yet
    saved = rundir.read_json(path, "the combination weights and intervals")
    series = saved.get("series") if isinstance(saved, dict) else None
    if not isinstance(series, dict):
        raise UserError(f"{path}: 'series' missing (the file is damaged)")
    for name, setting in series.items():
        combine.check_setting(path, name, setting)
    return series
