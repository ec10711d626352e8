"""The forecast task: transforms, metrics, baselines, data files, and the run end to end."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsuite import metrics
from seqsuite.errors import UserError
from seqsuite_tasks.forecast import baselines
from seqsuite_tasks.forecast.series import load_file, load_named
from seqsuite_tasks.forecast.transforms import (
    SeriesTransform,
    choose_season,
    detect_season,
    fit_transform,
    windows,
)

from .conftest import airpassengers

FAST = [
    "--epochs",
    "2",
    "--set",
    "task.baselines=['naive','seasonal_naive']",
    "--set",
    "task.combine=['theta']",
]
INTERVAL = {"coverage80", "msis", "wql", "rel_mase"}


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("lag, first", [(0, False), (0, True), (12, False), (12, True)])
def test_transform_inverse_recovers_the_series(log, lag, first):
    rng = np.random.default_rng(0)
    y = np.exp(np.cumsum(rng.normal(0.01, 0.1, 100)) + 5)
    transform = SeriesTransform(log=log, seasonal_lag=lag, first_diff=first).fit_scale(y[:70])
    z = transform.forward(y)
    assert np.isnan(z[: transform.offset]).all() and not np.isnan(z[transform.offset :]).any()
    np.testing.assert_allclose(transform.inverse(z[70:], y[:70]), y[70:], rtol=1e-9)


def _undo_step_by_step(transform: SeriesTransform, z: np.ndarray, history: np.ndarray):
    """The differencing undone one future point at a time: what ``inverse`` must equal."""
    e = z * transform.std + transform.mean
    s, m = list(transform.level(history)), transform.seasonal_lag
    d_prev = s[-1] - s[-1 - m] if m else s[-1]
    out = []
    for value in e:
        d = value + d_prev if transform.first_diff else value
        d_prev = d
        s.append(d + s[-m] if m else d)
        out.append(s[-1])
    return (np.exp(out) if transform.log else np.array(out)) * transform.unit


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("lag", [0, 1, 5, 12])
@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("steps", [1, 4, 13, 38])
def test_transform_inverse_equals_undoing_one_step_at_a_time(log, lag, first, steps):
    rng = np.random.default_rng(lag * 100 + steps)
    transform = SeriesTransform(log, lag, first, mean=0.3, std=1.7, unit=8.0)
    history, z = rng.uniform(1, 50, 60), rng.normal(0, 0.05, steps)
    got = transform.inverse(z, history)
    assert np.array_equal(got, _undo_step_by_step(transform, z, history))  # to the last bit


def test_transform_inverse_reads_only_the_end_of_the_history():
    """A forecast after a long series costs what one after a short series does: the
    history here declares 10**12 points (one stored value, no memory of its own)."""
    endless = np.lib.stride_tricks.as_strided(np.array([5.0]), shape=(10**12,), strides=(0,))
    transform = SeriesTransform(log=True, seasonal_lag=12, first_diff=True)
    got = transform.inverse(np.zeros(24), endless)
    np.testing.assert_allclose(got, np.full(24, 5.0))


def test_scale_is_fitted_on_the_training_part_only():
    y = np.concatenate([np.zeros(50), np.full(50, 100.0)]) + np.arange(100) % 3
    transform = SeriesTransform(log=False, seasonal_lag=0, first_diff=False).fit_scale(y[:50])
    assert transform.mean == pytest.approx(y[:50].mean())


def test_auto_decisions_on_air_passengers():
    y = pd.read_csv(airpassengers())["passengers"].to_numpy(dtype=float)
    assert detect_season(y[:96]) == 12
    transform, _ = fit_transform(y[:96], 12, "auto", "auto")
    assert transform.log and transform.seasonal_lag == 12 and not transform.first_diff


@pytest.mark.parametrize(
    ("freq", "season"),
    [("MS", 12), ("ME", 12), ("BMS", 12), ("BME", 12), ("QS-OCT", 4),
     ("QE-DEC", 4), ("BQS-JAN", 4), ("YE-DEC", 1), ("W-SUN", 52), ("D", 7), ("B", 5),
     ("h", 24), ("2h", 12), ("30min", 48), ("5min", 288)],
)  # fmt: skip
def test_calendar_season_of_every_pandas_frequency(freq, season):
    from seqsuite_tasks.forecast.series import infer_freq
    from seqsuite_tasks.forecast.transforms import season_from_freq

    times = pd.date_range("2000-01-01", periods=60, freq=freq)
    assert season_from_freq(infer_freq(times)) == season


def test_a_calendar_season_longer_than_the_data_gives_way_to_the_autocorrelation():
    y = pd.read_csv(airpassengers())["passengers"].to_numpy(dtype=float)
    assert choose_season("MS", y[:96]) == (12, None)
    assert choose_season(None, y[:96]) == (12, None)
    season, note = choose_season("min", y[:96])  # a day of minutes: 1440 steps
    assert season == 12 and "1440" in note and "task.season" in note


def test_windows_pair_inputs_with_the_following_targets():
    z = np.arange(20, dtype=float)
    x, y = windows(z, start=2, end=15, lookback=4, horizon=3)
    assert x[0].tolist() == [2, 3, 4, 5] and y[0].tolist() == [6, 7, 8]
    assert y[-1][-1] == 14 and len(x) == 15 - 2 - 4 - 3 + 1


def test_point_metrics_on_known_values():
    actual, predicted = np.array([100.0, 200.0]), np.array([110.0, 180.0])
    history = np.array([1.0, 3.0, 2.0, 4.0])  # naive in-sample MAE = 5/3
    m = metrics.point_errors(actual, predicted, history, season=1)
    assert m["mae"] == pytest.approx(15)
    assert m["rmse"] == pytest.approx(np.sqrt((100 + 400) / 2))
    assert m["mape"] == pytest.approx(10)
    zero = metrics.point_errors(np.array([0.0, 3.0]), np.array([0.5, 2.0]), history, season=1)
    assert math.isnan(zero["mape"]) and zero["smape"] > 0  # not the one nonzero point's 33 %
    assert m["smape"] == pytest.approx(100 * (20 / 210 + 40 / 380) / 2)
    assert m["mase"] == pytest.approx(15 / (5 / 3))


def test_baselines_reproduce_the_published_air_passenger_figures():
    """Last 24 months held out: seasonal naive 15.5 %, SARIMA on logs 8.5 %, Holt-Winters 6.4 %."""
    y = pd.read_csv(airpassengers())["passengers"].to_numpy(dtype=float)
    history, actual = y[:120], y[120:]

    def mape(forecast):
        return metrics.mape(actual, forecast)

    assert mape(baselines.seasonal_naive(history, 24, 12)) == pytest.approx(15.5, abs=0.05)
    assert mape(baselines.sarima(history, 24, 12, log=True)) == pytest.approx(8.5, abs=0.1)
    assert mape(baselines.ets(history, 24, 12)) == pytest.approx(6.4, abs=0.1)


def test_drift_baseline_is_exact_on_a_seasonal_series_with_a_steady_trend():
    t = np.arange(60)
    y = 50 + 0.5 * t + 5 * np.sin(2 * np.pi * t / 12)
    np.testing.assert_allclose(baselines.drift(y[:48], 12, 12), y[48:], atol=1e-9)
    np.testing.assert_allclose(
        baselines.drift(np.exp(y[:48] / 50), 12, 12, log=True), np.exp(y[48:] / 50)
    )


@pytest.mark.parametrize("season", [1, 4])
def test_every_classical_member_forecasts_a_constant_as_that_constant(season):
    """A stuck sensor: statsmodels' Theta fit of 60 sevens forecast 12.8."""
    history = np.full(60, 7.0)
    for name, method in baselines.BASELINES.items():
        kwargs = {"log": False} if name in baselines.TAKES_LOG else {}
        np.testing.assert_allclose(
            method(history, 6, season, **kwargs), 7.0, atol=1e-6, err_msg=name
        )


def test_embedded_series_load_offline():
    co2 = load_named("co2")
    assert co2.freq == "MS" and len(co2) == 526 and not np.isnan(co2.values).any()
    for name in ("sunspots", "nile", "elnino", "macrodata"):
        assert len(load_named(name)) > 50


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".parquet"])
def test_user_files_in_every_format(tmp_path, suffix):
    frame = pd.DataFrame(
        {
            "month": pd.date_range("2000-01-01", periods=40, freq="MS").strftime("%Y-%m"),
            "sales": np.arange(40.0),
        }
    )
    path = tmp_path / f"s{suffix}"
    {
        ".csv": lambda: frame.to_csv(path, index=False),
        ".tsv": lambda: frame.to_csv(path, sep="\t", index=False),
        ".json": lambda: frame.to_json(path, orient="records"),
        ".parquet": lambda: frame.to_parquet(path),
    }[suffix]()
    series = load_file(path)
    assert series.values.tolist() == list(np.arange(40.0)) and series.freq == "MS"


@pytest.mark.parametrize(
    "text, written",
    [
        # a spreadsheet's CSV: quoted thousands separators
        ('month,sales\n2000-01,"1,037"\n2000-02,"12,345.5"\n2000-03,12\n', [1037, 12345.5, 12]),
        # a European CSV: semicolons and decimal commas, dots grouping thousands
        ("month;sales\n2000-01;101,25\n2000-02;1.234,5\n2000-03;12\n", [101.25, 1234.5, 12]),
        # fits both readings: the delimiter decides
        ('month,sales\n2000-01,"1,234"\n2000-02,"5,678"\n2000-03,"9,000"\n', [1234, 5678, 9000]),
        ("month;sales\n2000-01;1,234\n2000-02;5,678\n2000-03;9,000\n", [1.234, 5.678, 9.0]),
        # tabs: the column tells (a group after a leading zero; a whole number of 4 digits)
        ("month\tsales\n2000-01\t0,125\n2000-02\t5,678\n2000-03\t12\n", [0.125, 5.678, 12]),
        ("month\tsales\n2000-01\t1,234\n2000-02\t5678\n2000-03\t12\n", [1.234, 5678, 12]),
        # dots with three decimals and no whole numbers: decimals
        ("month;sales\n2000-01;1.234\n2000-02;5.678\n2000-03;9.001\n", [1.234, 5.678, 9.001]),
    ],
)
def test_numbers_written_for_people_are_read_as_numbers(tmp_path, text, written):
    from seqsuite.table_files import read_table

    path = tmp_path / "s.csv"
    path.write_text(text)
    frame = read_table(path)
    assert frame["sales"].dtype == float
    np.testing.assert_allclose(frame["sales"].to_numpy(), written)
    assert frame["month"].tolist() == ["2000-01", "2000-02", "2000-03"]


@pytest.mark.parametrize(
    "text",
    [
        # a spreadsheet's tab-separated copy: thousands commas or decimal commas?
        "month\tsales\n2000-01\t604\n2000-02\t3,379\n2000-03\t3,599\n",
        # semicolons, whole numbers with dots: dots grouping thousands or decimal points?
        "month;sales\n2000-01;604\n2000-02;3.379\n2000-03;3.599\n",
    ],
)
def test_numbers_that_read_both_ways_are_refused(tmp_path, text):
    """Either reading of 3,379 is a thousand times off if it is the wrong one."""
    from seqsuite.table_files import read_table

    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(UserError, match=r"s\.csv: column 'sales': '3.379' may be 3379 or 3\.379"):
        read_table(path)


def test_a_delimiter_at_the_end_of_every_line_adds_no_column(tmp_path):
    """Excel's `date,sales,`: the empty column was a second series, 'Unnamed: 2'."""
    path = tmp_path / "export.csv"
    rows = "".join(f"2015-{m:02d}-01,{100 + m}.5,\n" for m in range(1, 13))
    path.write_text("date,sales,\n" + rows)
    series = load_file(path)
    assert series.values.tolist() == [100.5 + m for m in range(1, 13)] and series.freq == "MS"


def test_text_with_commas_stays_text(tmp_path):
    from seqsuite.table_files import read_table

    path = tmp_path / "t.csv"
    path.write_text('text,label\n"a great film, truly",pos\n"1,5 stars",neg\n"3,000",pos\n')
    frame = read_table(path)
    assert frame["text"].tolist() == ["a great film, truly", "1,5 stars", "3,000"]


def test_a_european_csv_forecasts(tmp_path):
    """A semicolon file with decimal commas used to stop with "no numeric column"."""
    rows = [
        f"{2000 + i // 12}-{i % 12 + 1:02d}-01;{1000 + i + 10 * np.sin(i / 2):.2f}".replace(
            ".", ","
        )
        for i in range(72)
    ]
    path = tmp_path / "umsatz.csv"
    path.write_text("datum;umsatz\n" + "\n".join(rows))
    series = load_file(path)
    assert series.freq == "MS" and series.values[1] == pytest.approx(1005.79, abs=1e-9)


@pytest.mark.parametrize(
    "written, first",
    [
        (["01/02/2020", "13/02/2020"], True),  # a day over 12 first
        (["02/01/2020", "02/13/2020"], False),  # a day over 12 second
        (["01/11/2024", "01/12/2024", "01/01/2025"], True),  # monthly: the day stays
        (["11/01/2024", "12/01/2024", "01/01/2025"], False),  # monthly, month first
        (["01.02.2020", "02.03.2020"], True),  # never tells: dots, as in Europe
        (["01/02/2020", "02/03/2020"], False),  # never tells: slashes, as in the US
        (["2020-01-02", "2020-01-13"], False),  # ISO dates are not guessed at
    ],
)
def test_which_dates_put_the_day_first(written, first):
    from seqsuite_tasks.forecast.series import day_first

    assert day_first(pd.Series(written)) is first


def test_day_first_dates_keep_the_series_in_order(tmp_path):
    """Parsed one by one, 01/02/2020 became 2 January beside 13 February: the series was
    reordered and its daily season lost."""
    days = pd.date_range("2020-01-01", periods=60, freq="D")
    values = np.arange(60.0)
    path = tmp_path / "visits.csv"
    path.write_text(
        "Date,Visitors\n"
        + "\n".join(f"{d:%d/%m/%Y},{v}" for d, v in zip(days, values, strict=True))
    )
    series = load_file(path)
    assert series.freq == "D" and series.values.tolist() == values.tolist()


@pytest.mark.parametrize("style", ["%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"])
def test_ten_days_of_hourly_dates_are_read_on_their_calendar(tmp_path, style):
    """No day over 12 and the month never changes: only the hourly calendar tells (the
    month used to be taken for the day, and the series spread over nine months)."""
    hours = pd.date_range("2024-02-01", periods=240, freq="h")
    path = tmp_path / "load.csv"
    path.write_text("time,load\n" + "".join(f"{t:{style}},{k}\n" for k, t in enumerate(hours)))
    series = load_file(path)
    assert series.freq == "h" and series.times.equals(hours)


def test_iso_dates_beside_day_first_ones_keep_their_own_reading(tmp_path):
    """One day-first date made the whole column day first: 2015-03-01 became 3 January."""
    months = pd.date_range("2015-01-01", periods=40, freq="MS")
    rows = [f"{t:%Y-%m-%d}" if k % 2 else f"{t:%d/%m/%Y}" for k, t in enumerate(months)]
    path = tmp_path / "sales.csv"
    path.write_text("date,sales\n" + "".join(f"{r},{k}\n" for k, r in enumerate(rows)))
    series = load_file(path)
    assert series.freq == "MS" and series.values.tolist() == list(range(40))


def test_text_where_numbers_were_expected_is_shown(tmp_path):
    path = tmp_path / "revenue.csv"
    path.write_text(
        "date,revenue\n" + "\n".join(f'2020-{m:02d},"$1,{m}00.00"' for m in range(1, 13))
    )
    with pytest.raises(UserError, match="'revenue' holds text such as '\\$1,100.00'"):
        load_file(path)


def write_csv(path: Path, values, column="value", times=True) -> Path:
    frame = pd.DataFrame({column: values})
    if times:
        frame.insert(
            0,
            "date",
            pd.date_range("2000-01-01", periods=len(values), freq="MS").strftime("%Y-%m-%d"),
        )
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda p: write_csv(p, np.arange(100.0), column="sales").parent / "nope.csv",
            "file not found",
        ),
        (lambda p: (p.write_text(""), p)[1], "file is empty"),
        (lambda p: (p.write_bytes(b"\x00\xff\xfe" * 50), p)[1], "looks like a binary file"),
        (lambda p: write_csv(p, ["1", "2", "x"] + ["3"] * 97), "data row 3: 'x' is not a number"),
        (lambda p: write_csv(p, [1.0, np.inf] + [1.0] * 98), "data row 2: infinite value"),
        (lambda p: write_csv(p, np.arange(20.0)), "too short for lookback"),
    ],
)
def test_bad_data_is_one_clear_line_and_exit_2(cli, tmp_path, make, message):
    path = make(tmp_path / "bad.csv")
    result = cli("run", "forecast", "--data", str(path), "--out", "r", *FAST)
    assert result.code == 2, result.err
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert not Path("r").exists()


def test_a_series_too_short_for_the_default_horizon_is_told_one_that_fits(cli, tmp_path):
    rng = np.random.default_rng(0)
    path = write_csv(tmp_path / "yearly.csv", 100 + np.cumsum(rng.normal(1, 1, 47)))
    result = cli("run", "forecast", "--data", str(path), "--out", "r", *FAST)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    fits = re.search(r"--set task\.horizon=(\d+)` fits", result.err)
    assert fits, result.err
    again = cli(
        "run", "forecast", "--data", str(path), "--out", "r2",
        "--set", f"task.horizon={fits[1]}", "--set", "task.combine=[]", *FAST,
    )  # fmt: skip
    assert again.code == 0, again.err
    # a monthly series: a shorter horizon leaves room for a season, whose look-back and
    # differencing then need more points (43 was suggested for 100, then 36 for 43)
    monthly = cli(
        "run", "forecast", "--data", str(airpassengers()), "--out", "m",
        "--set", "task.horizon=100", *FAST,
    )  # fmt: skip
    fits = re.search(r"--set task\.horizon=(\d+)` fits", monthly.err)
    assert monthly.code == 2 and fits, monthly.err
    again = cli(
        "run", "forecast", "--data", str(airpassengers()), "--out", "m2",
        "--set", f"task.horizon={fits[1]}", "--set", "task.combine=[]", *FAST,
    )  # fmt: skip
    assert again.code == 0, again.err


def test_misspelled_column_names_the_nearest(cli, tmp_path):
    path = write_csv(tmp_path / "s.csv", np.arange(100.0), column="sales")
    result = cli("run", "forecast", "--data", str(path), "--set", "task.column=sale", *FAST)
    assert result.code == 2 and "did you mean 'sales'" in result.err


def test_forecast_run_end_to_end_then_predict_and_eval(cli, tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(120)
    values = 100 + t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 120)
    path = write_csv(tmp_path / "s.csv", values)
    result = cli(
        "run", "forecast", "--data", str(path), "--out", "r", "--set", "task.horizon=12", *FAST
    )
    assert result.code == 0, result.err
    run = Path("r")
    for name in ("forecast.csv", "plots/forecast.png", "plots/loss.png"):
        assert (run / name).exists(), name
    m = json.loads((run / "metrics.json").read_text())
    assert set(m["test"]) == {"mae", "rmse", "smape", "mape", "mase"} | INTERVAL
    assert set(m["baselines"]) == {"naive", "seasonal_naive"}
    assert all(set(b) == set(m["test"]) for b in m["baselines"].values())
    model = m["model"]
    assert model == "lstm+theta"  # the LSTM combined with the classical members it could fit
    table = pd.read_csv(run / "forecast.csv")
    assert list(table.columns) == [
        "time",
        "actual",
        model,
        "naive",
        "seasonal_naive",
        f"{model}_q0.1",
        f"{model}_q0.5",
        f"{model}_q0.9",
    ]
    assert len(table) == 12
    assert (table[f"{model}_q0.1"] <= table[model]).all() and (
        table[model] <= table[f"{model}_q0.9"]
    ).all()
    weights = json.loads((run / "components.json").read_text())["weights"]
    assert set(weights) == {"lstm", "theta"} and sum(weights.values()) == pytest.approx(1)
    assert table["time"].iloc[0] == "2009-01-01"

    (run / "forecast.csv").unlink()  # predict needs only the saved run state
    predicted = cli("predict", "r", "--option", "horizon=5", "--json")
    assert predicted.code == 0, predicted.err
    rows = json.loads(predicted.out)
    assert [r["time"] for r in rows] == [
        "2010-01-01",
        "2010-02-01",
        "2010-03-01",
        "2010-04-01",
        "2010-05-01",
    ]
    assert all(np.isfinite(r["forecast"]) for r in rows)
    assert all(r["q0.1"] <= r["forecast"] == r["q0.5"] <= r["q0.9"] for r in rows)
    assert rows[-1]["q0.9"] - rows[-1]["q0.1"] > rows[0]["q0.9"] - rows[0]["q0.1"]

    evaluated = cli("eval", "r", "--json")
    assert evaluated.code == 0
    again = json.loads(evaluated.out)["test"]
    for key in ("mase", "msis", "wql", "coverage80"):  # intervals too
        assert again[key] == pytest.approx(m["test"][key], rel=1e-6), key
    saved = json.loads((run / "forecaster.json").read_text())
    for setting in saved["series"].values():  # as a run of another version chose them
        setting["widths"] = {q: 3 * w for q, w in setting["widths"].items()}
    (run / "forecaster.json").write_text(json.dumps(saved))
    wider = json.loads(cli("eval", "r", "--json").out)["test"]
    assert wider["mase"] == pytest.approx(m["test"]["mase"], rel=1e-6)  # the same point forecast
    assert wider["msis"] != pytest.approx(m["test"]["msis"])  # scored with the widths it serves


@pytest.mark.slow
def test_default_run_beats_seasonal_naive_and_ets(cli):
    """`seqsuite run forecast` as the README gives it (co2): MASE below seasonal naive and ETS."""
    result = cli("run", "forecast", "--out", "r", "--quiet")
    assert result.code == 0, result.err
    m = json.loads(Path("r/metrics.json").read_text())
    assert m["test"]["mase"] < m["baselines"]["seasonal_naive"]["mase"]
    assert m["test"]["mase"] < m["baselines"]["ets"]["mase"]


def test_quick_preset_sits_under_the_users_settings(cli, tmp_path):
    data = write_csv(tmp_path / "s.csv", 100 + np.sin(np.arange(120) / 3))
    result = cli("run", "forecast", "--data", str(data), "--out", "r", "--quick", *FAST)
    assert result.code == 0, result.err
    config = tomllib.loads(Path("r/config.toml").read_text())
    assert config["train"]["patience"] == 10  # from the quick preset
    assert config["train"]["epochs"] == 2  # --epochs wins over the preset


def test_combination_weights_favour_the_smaller_validation_error():
    from seqsuite_tasks.forecast.combine import combine, weights

    w = weights({"lstm": 1.0, "ets": 2.0, "theta": float("nan")}, power=2, shrink=0.0)
    assert set(w) == {"lstm", "ets"} and w["lstm"] == pytest.approx(0.8)
    shrunk = weights({"lstm": 1.0, "ets": 2.0}, power=2, shrink=1.0)
    assert shrunk == {"lstm": 0.5, "ets": 0.5}
    exact = weights({"lstm": 0.0, "ets": 2.0}, shrink=0.0)
    assert exact["lstm"] == 1.0
    combined = combine({"lstm": np.array([1.0, 1.0]), "ets": np.array([3.0, 5.0])}, w)
    np.testing.assert_allclose(combined, [1.4, 1.8])


def test_a_member_far_worse_on_validation_gets_no_weight():
    from seqsuite_tasks.forecast.combine import weights

    blown = weights({"lstm": 2.0, "ets": 1e5, "sarima": 1.0, "theta": 3.0})
    assert blown["ets"] == 0.0 and sum(blown.values()) == pytest.approx(1.0)
    assert blown["theta"] > 0.1  # within 10x of the best: keeps its equal share
    exact = weights({"lstm": 0.0166, "ets": 0.0, "sarima": 0.0, "theta": 0.0})
    assert exact["lstm"] == 0.0 and exact["ets"] == pytest.approx(1 / 3)
    level = weights({"lstm": 1.0, "ets": 9.0}, shrink=1.0)  # 9x: still a member
    assert level == {"lstm": 0.5, "ets": 0.5}


def test_an_outlier_that_blows_up_ets_costs_it_its_share_of_the_forecast(cli, tmp_path):
    rng = np.random.default_rng(0)
    values = 100 + 10 * np.sin(2 * np.pi * np.arange(120) / 12) + rng.normal(0, 1, 120)
    values[60] = 1e6  # one old outlier, far from the test window
    data = write_csv(tmp_path / "outlier.csv", values)
    sets = ["--set", "task.combine=['ets']", "--set", "task.baselines=['seasonal_naive']"]
    result = cli("run", "forecast", "--data", str(data), "--out", "r", "--epochs", "1", *sets)
    assert result.code == 0, result.err
    components = json.loads(Path("r/components.json").read_text())
    errors = {k: np.mean(np.abs(v)) for k, v in components["validation_errors"].items()}
    assert errors["ets"] > 100 * errors["lstm"]  # the fit the outlier blew up
    assert components["weights"] == {"lstm": 1.0, "ets": 0.0}  # was 0.15 of a 10^5 error


def test_calibration_forecasts_run_at_most_a_test_length_through_the_val_window():
    from seqsuite_tasks.forecast.data import make_item
    from seqsuite_tasks.forecast.series import Series

    y = np.arange(100, dtype=float) + 1
    transform = SeriesTransform(log=False, seasonal_lag=0, first_diff=False).fit_scale(y[:70])

    def origins(val: int) -> list[tuple[int, int]]:
        series = Series(y, None, None, "s")
        item = make_item(series, transform, np.zeros((100, 0)), [], 12, val, {})
        return item.calibration_origins()

    assert origins(12) == [(76, 12), (82, 6)]  # start and middle, each to the end
    assert origins(5) == [(83, 5), (85, 3)]
    assert origins(36) == [(52, 12), (58, 12), (64, 12), (70, 12), (76, 12), (82, 6)]


def test_conformal_interval_covers_its_share_of_calibration_scores():
    from seqsuite_tasks.forecast import intervals

    scores = np.arange(1.0, 101.0)  # 1..100
    assert intervals.half_width(scores, 0.8) == 81.0  # ceil(101 * 0.8) = 81st smallest
    q = intervals.quantile_forecasts(np.zeros(4), scores, [0.1, 0.5, 0.9])
    # 80 % central interval, calibrated at 83 % (MARGIN): ceil(101 * 0.83) = the 84th
    np.testing.assert_allclose(q[0.9], 84.0 * np.sqrt([1, 2, 3, 4]))
    np.testing.assert_allclose(q[0.1], -q[0.9])
    assert (q[0.5] == 0).all()
    m = intervals.interval_metrics(np.array([0.0, 200.0, 0.0, 0.0]), q, scale=1.0)
    assert m["coverage80"] == 0.75


def test_mase_is_defined_for_a_constant_series_and_huge_values():
    from seqsuite_tasks.forecast.scoring import point_metrics

    flat = np.full(50, 7.0)
    m = point_metrics(np.full(5, 7.0), np.full(5, 8.0), flat, season=12)
    assert m["mase"] == pytest.approx(1 / 7)  # scale falls back to the mean level
    huge = 1e307 * (1 + 0.01 * np.sin(np.arange(60)))
    m = point_metrics(huge[50:], huge[50:] * 1.001, huge[:50], season=1)
    assert np.isfinite(m["mase"]) and m["mase"] > 0 and np.isfinite(m["rmse"])


@pytest.mark.parametrize("kind", ["constant", "huge"])
def test_hostile_series_give_defined_mase_for_every_model(cli, tmp_path, kind):
    t = np.arange(80)
    values = np.full(80, 5.0) if kind == "constant" else 1e307 * (1 + 0.1 * np.sin(t / 2))
    path = write_csv(tmp_path / "s.csv", values)
    result = cli(
        "run", "forecast", "--data", str(path), "--out", "r", "--set", "task.horizon=6", *FAST
    )
    assert result.code == 0, result.err
    m = json.loads(Path("r/metrics.json").read_text())
    scores = [m["test"]["mase"], *(b["mase"] for b in m["baselines"].values())]
    assert all(isinstance(s, float) and np.isfinite(s) for s in scores), scores
    if kind == "huge":
        assert any(s > 0 for s in scores)


def test_backtest_over_rolling_origins_from_run_and_cli(cli, tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(120)
    path = write_csv(
        tmp_path / "s.csv", 50 + 5 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 120)
    )
    sets = ["--set", "task.horizon=6", "--set", "task.backtest_windows=3"]
    result = cli("run", "forecast", "--data", str(path), "--out", "r", *sets, *FAST)
    assert result.code == 0, result.err
    record = json.loads(Path("r/backtest.json").read_text())
    assert [w["origin"] for w in record["windows"]] == [102, 108, 114]
    assert set(record["mean"]) == {"model", "naive", "seasonal_naive"}
    assert Path("r/plots/backtest.png").exists()
    again = cli("backtest", "r", "--windows", "4", "--stride", "2", "--json")
    assert again.code == 0, again.err
    strict = json.loads(again.out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    windows = strict["windows"]
    assert [w["origin"] for w in windows] == [108, 110, 112, 114]
    table = pd.read_csv("r/backtest.csv")
    assert len(table) == 4 * 3 and set(table["model"]) == {"model", "naive", "seasonal_naive"}
    too_many = cli("backtest", "r", "--windows", "500")
    assert too_many.code == 2 and "at most" in too_many.err


def test_window_split_gives_the_materialised_windows_batch_by_batch():
    import torch

    z = np.arange(40, dtype=np.float32)
    expected_x, expected_y = windows(z, start=3, end=35, lookback=5, horizon=4)
    from seqsuite_tasks.forecast.window_split import WindowSplit

    split = WindowSplit(torch.from_numpy(z)[:, None], torch.arange(8, 32), 5, 4)
    assert split.size == len(expected_x) and split.num_batches(8) == -(-len(expected_x) // 8)
    batches = list(split.batches(8))
    x = torch.cat([b["x"] for b in batches]).squeeze(-1).numpy()  # (windows, lookback)
    y = torch.cat([b["y"] for b in batches]).numpy()
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)
    shuffled = list(split.batches(8, shuffle=True, generator=torch.Generator().manual_seed(0)))
    index = torch.cat([b["index"] for b in shuffled])
    assert sorted(index.tolist()) == list(range(split.size))


def panel_frame(series: int = 3, points: int = 60) -> pd.DataFrame:
    """Long format: id, month, value (a season and a level per series), a covariate."""
    rng = np.random.default_rng(2)
    t = np.arange(points)
    rows = []
    for k in range(series):
        temp = 10 + 5 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, points)
        value = (
            (k + 1) * 100 + 10 * np.sin(2 * np.pi * t / 12) + 2 * temp + rng.normal(0, 1, points)
        )
        months = pd.date_range("2015-01-01", periods=points, freq="MS").strftime("%Y-%m-%d")
        rows.append(pd.DataFrame({"id": f"s{k}", "month": months, "value": value, "temp": temp}))
    return pd.concat(rows, ignore_index=True)


def test_long_panel_with_covariates_trains_one_global_model(cli, tmp_path):
    path = tmp_path / "long.csv"
    panel_frame().to_csv(path, index=False)
    sets = ["--set", "task.id_column=id", "--set", "task.covariates=['temp']"]
    sets += ["--set", "task.calendar=true", "--set", "task.horizon=6"]
    result = cli("run", "forecast", "--data", str(path), "--out", "r", *sets, *FAST)
    assert result.code == 0, result.err
    m = json.loads(Path("r/metrics.json").read_text())
    assert m["data"]["series"] == 3 and np.isfinite(m["test"]["rel_mase"])
    state = json.loads(Path("r/task_state.json").read_text())
    assert state["spec"]["features"] == 1 + 1 + 2  # value, temp, month sin/cos
    assert [s["name"] for s in state["state"]["series"]] == ["s0", "s1", "s2"]
    table = pd.read_csv("r/forecast.csv")
    assert list(table["series"].unique()) == ["s0", "s1", "s2"] and len(table) == 18
    per_series = pd.read_csv("r/series_metrics.csv")
    assert list(per_series["series"]) == ["s0", "s1", "s2"]
    rows = json.loads(cli("predict", "r", "--option", "horizon=3", "--json").out)
    assert [r["series"] for r in rows] == ["s0"] * 3 + ["s1"] * 3 + ["s2"] * 3
    assert rows[0]["time"] == "2020-01-01"
    assert all(r["q0.1"] <= r["forecast"] <= r["q0.9"] for r in rows)
    levels = [np.mean([r["forecast"] for r in rows if r["series"] == s]) for s in ("s0", "s2")]
    assert levels[1] > levels[0] + 100  # per-series scaling keeps each series' level
    one = cli("predict", "r", "--option", "horizon=2", "--option", "series=s1", "--json")
    assert one.code == 0, one.err
    assert [r["series"] for r in json.loads(one.out)] == ["s1", "s1"]
    unknown = cli("predict", "r", "--option", "series=s9")
    assert unknown.code == 2 and "s9" in unknown.err
    for empty in (["--option", "series="], [""]):  # not "every series" in silence
        blank = cli("predict", "r", *empty)
        assert blank.code == 2 and "series '': an empty name" in blank.err


def test_wide_panel_takes_every_numeric_column_as_a_series(cli, tmp_path):
    long = panel_frame(series=2)
    wide = long.pivot(index="month", columns="id", values="value").reset_index()
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    result = cli(
        "run", "forecast", "--data", str(path), "--out", "r", "--set", "task.horizon=6", *FAST
    )
    assert result.code == 0, result.err
    assert json.loads(Path("r/metrics.json").read_text())["data"]["series"] == 2
    chosen = cli(
        "run",
        "forecast",
        "--data",
        str(path),
        "--out",
        "r2",
        "--set",
        "task.horizon=6",
        "--set",
        "task.columns=['s1']",
        *FAST,
    )
    assert chosen.code == 0, chosen.err
    assert pd.read_csv("r2/forecast.csv").shape[0] == 6  # one series: no series column


def test_panel_errors_name_the_option(cli, tmp_path):
    path = tmp_path / "long.csv"
    panel_frame().to_csv(path, index=False)
    bad_id = cli("run", "forecast", "--data", str(path), "--set", "task.id_column=idd", *FAST)
    assert bad_id.code == 2 and "task.id_column" in bad_id.err and "'id'" in bad_id.err
    bad_cov = cli(
        "run",
        "forecast",
        "--data",
        str(path),
        "--set",
        "task.id_column=id",
        "--set",
        "task.covariates=['tmp']",
        *FAST,
    )
    assert bad_cov.code == 2 and "task.covariates" in bad_cov.err


def test_sarima_is_skipped_with_a_note_for_long_seasons(cli, tmp_path):
    t = np.arange(150)
    path = write_csv(tmp_path / "s.csv", 50 + 5 * np.sin(2 * np.pi * t / 24) + t * 0.1)
    sets = ["--set", "task.season=24", "--set", "task.lookback=12", "--set", "task.horizon=6"]
    sets += ["--set", "task.baselines=['naive','sarima']", "--set", "task.combine=['sarima']"]
    result = cli("run", "forecast", "--data", str(path), "--out", "r", "--epochs", "2", *sets)
    assert result.code == 0, result.err
    m = json.loads(Path("r/metrics.json").read_text())
    assert set(m["baselines"]) == {"naive"}
    assert any("sarima: skipped, season 24" in note for note in m["data"]["notes"])
    assert set(json.loads(Path("r/components.json").read_text())["weights"]) == {"lstm"}


def test_backtest_windows_that_do_not_fit_are_refused_before_training(cli):
    result = cli("run", "forecast", "--set", "task.backtest_windows=1000", "--out", "bt")
    assert result.code == 2 and "task.backtest_windows 1000" in result.err
    assert "at most" in result.err and not Path("bt/metrics.json").exists()


def test_an_overflowing_forecast_and_an_odd_series_name_are_the_users_input():
    """A horizon of 100,000 steps or values near the largest float made every member
    infinite: a bare ValueError (HTTP 500, exit 1); a list as a series name the same."""
    from seqsuite.errors import FieldError
    from seqsuite_tasks.forecast import combine, serving

    with pytest.raises(UserError, match="no finite forecast"):
        combine.combine({"lstm": np.array([1.0, np.inf])}, {"lstm": 1.0})
    one = Loaded({"series": [{"name": "sales"}]})
    for name in ([1], {"a": 1}, 3):
        with pytest.raises(FieldError, match="expected a series name"):
            serving._saved(one, name)
    assert serving._saved(one, "sales") == serving._saved(one, None) == {"name": "sales"}
    two = Loaded({"series": [{"name": "a"}, {"name": "b"}]})
    assert serving._saved(two, "b") == {"name": "b"}
    with pytest.raises(FieldError, match="expected one of the run's series: a, b"):
        serving._saved(two, None)


class Loaded:
    """A loaded run's context as the serving hooks read it: its state, and what is made
    from that state (``Context.derived``)."""

    def __init__(self, state):
        self.state = state

    def derived(self, key, make):
        return make(self.state)


def test_a_covariate_without_numbers_is_one_line_and_hourly_times_keep_their_hour(cli, tmp_path):
    """An empty covariate column ended in a traceback (NaN in the run's state, exit 1);
    hourly data was labelled with its date alone, every hour of a day the same."""
    frame = panel_frame(series=1).drop(columns="id").assign(temp=np.nan)
    frame.to_csv(tmp_path / "empty.csv", index=False)
    covs = ["--set", "task.covariates=['temp']", "--set", "task.horizon=6"]
    empty = cli(
        "run", "forecast", "--data", str(tmp_path / "empty.csv"), "--out", "e", *covs, *FAST
    )
    assert empty.code == 2 and "covariate 'temp' holds no numbers" in empty.err
    hours = pd.date_range("2024-03-01", periods=240, freq="h")
    load = 10 + np.sin(2 * np.pi * np.arange(240) / 24)
    pd.DataFrame({"time": hours, "load": load}).to_csv(tmp_path / "hourly.csv", index=False)
    run = cli("run", "forecast", "--data", str(tmp_path / "hourly.csv"), "--out", "h", *FAST)
    assert run.code == 0, run.err
    rows = json.loads(cli("predict", "h", "--option", "horizon=2", "--json").out)
    assert [r["time"] for r in rows] == ["2024-03-11 00:00", "2024-03-11 01:00"]
    assert pd.read_csv("h/forecast.csv")["time"].iloc[-1] == "2024-03-10 23:00"


def test_missing_days_are_put_back_on_the_calendar_and_filled(cli, tmp_path):
    """A daily series with 30 days absent had no frequency: its weekly season was lost
    (6 instead of 7) and its forecast labelled with step numbers. A long hole is not made up."""
    days = pd.date_range("2023-01-01", periods=200, freq="D")
    sales = 100 + 10 * np.sin(2 * np.pi * np.arange(200) / 7)
    keep = np.ones(200, bool)
    keep[np.random.default_rng(0).choice(np.arange(10, 190), 30, replace=False)] = False
    frame = pd.DataFrame({"date": days[keep].strftime("%Y-%m-%d"), "sales": sales[keep]})
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    run = cli("run", "forecast", "--data", str(tmp_path / "gaps.csv"), "--out", "g", *FAST)
    assert run.code == 0, run.err
    assert "30 missing times or values filled by interpolation" in run.out.replace("\n", " ")
    assert json.loads(Path("g/task_state.json").read_text())["state"]["season"] == 7
    rows = json.loads(cli("predict", "g", "--option", "horizon=2", "--json").out)
    assert [r["time"] for r in rows] == ["2023-07-20", "2023-07-21"]
    from seqsuite_tasks.forecast.series import regular_grid

    hole = days[:50].append(days[150:])  # 100 days missing of 200: not made up
    assert regular_grid(hole) is None and len(regular_grid(days[keep])) == 200


def test_times_whose_offset_changes_at_daylight_saving_are_read_in_utc(cli, tmp_path):
    """ISO times with +01:00 in winter and +02:00 in summer: the time column was dropped
    in silence (steps for times, a season of 7 for hourly data)."""
    hours = pd.date_range("2024-03-28", periods=240, freq="h", tz="Europe/Berlin")
    load = 10 + np.sin(2 * np.pi * np.arange(240) / 24)
    stamps = [t.isoformat() for t in hours]
    assert stamps[0].endswith("+01:00") and stamps[-1].endswith("+02:00")
    pd.DataFrame({"time": stamps, "load": load}).to_csv(tmp_path / "dst.csv", index=False)
    run = cli("run", "forecast", "--data", str(tmp_path / "dst.csv"), "--out", "d", *FAST)
    assert run.code == 0, run.err
    assert json.loads(Path("d/task_state.json").read_text())["state"]["season"] == 24
    rows = json.loads(cli("predict", "d", "--option", "horizon=1", "--json").out)
    assert rows[0]["time"] == (hours[-1] + pd.Timedelta(hours=1)).tz_convert("UTC").strftime(
        "%Y-%m-%d %H:%M%z"
    )


def test_one_zero_after_the_training_part_turns_auto_logs_off(cli, tmp_path):
    """A multiplicative series (auto takes logs) with one zero month in its test part was
    refused: "has values <= 0, but the run models log values"."""
    t = np.arange(144)
    values = (100 + 2 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12))
    values[-5] = 0
    path = write_csv(tmp_path / "units.csv", values)
    result = cli("run", "forecast", "--data", str(path), "--out", "r", *FAST)
    assert result.code == 0, result.err
    state = json.loads(Path("r/task_state.json").read_text())["state"]
    assert state["series"][0]["transform"]["log"] is False
    values[-5] = values[-6]
    positive = write_csv(tmp_path / "positive.csv", values)
    result = cli("run", "forecast", "--data", str(positive), "--out", "p", *FAST)
    state = json.loads(Path("p/task_state.json").read_text())["state"]
    assert result.code == 0 and state["series"][0]["transform"]["log"] is True
    zero = cli("predict", "p", "--data", str(path), "--option", "horizon=3")
    assert zero.code == 2 and "units: value 0 at point 140 of 144" in zero.err
    assert "--set task.log=off" in zero.err


@pytest.mark.parametrize(
    "setting, words",
    [
        ({"weights": {"lstm": float("inf")}, "widths": {}}, "weight of 'lstm' is inf"),
        ({"weights": {"lstm": 1}, "widths": {"0.9": float("nan")}}, "width of '0.9' is nan"),
        ({"weights": {"lstm": 1}, "widths": {"0.9": -0.5}}, "width of '0.9' is -0.5"),
        ({"weights": {"lstm": 0, "ets": 0}, "widths": {}}, "no member weighs more than 0"),
        ({"weights": {"lstm": 1, "bogus": 1}, "widths": {}}, "'bogus': not a member"),
        ({"weights": {"lstm": "1"}, "widths": {}}, "weight of 'lstm' is '1'"),
        ({"weights": {"lstm": 1}, "widths": {"1.5": 0.1}}, "expected a quantile"),
        ({"weights": [1]}, "expected 'weights' and 'widths'"),
    ],
)
def test_an_edited_forecaster_file_is_refused_naming_what_is_wrong(setting, words):
    """An infinite weight answered NaN with exit 0; all zeros, an unknown member or a
    string weight gave tracebacks."""
    from seqsuite_tasks.forecast.combine import check_setting

    with pytest.raises(UserError, match=re.escape(words)):
        check_setting("forecaster.json", "co2", setting)
    check_setting("f", "co2", {"weights": {"lstm": 0.2, "ets": 0.8}, "widths": {"0.5": None}})
