"""Where a series comes from: statsmodels' embedded data sets, or the user's file.

A :class:`Series` is a float array with an optional regular time index. Gaps inside a
series are interpolated linearly (and counted); missing values at its ends are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqsuite.errors import UserError
from seqsuite.number_formats import is_text
from seqsuite.table_files import find_column, numeric_column, read_table

TIME_NAMES = (
    "date",
    "datetime",
    "time",
    "timestamp",
    "ds",
    "month",
    "period",
    "year",
    "day",
    "week",
)


@dataclass
class Series:
    values: np.ndarray  # (time,) float64
    times: pd.DatetimeIndex | None  # same length, or None for plain steps
    freq: str | None  # pandas frequency alias when the index is regular ("MS", "W-SAT", ...)
    name: str
    filled: int = 0  # interior gaps interpolated
    start: int = 0  # index of the first value when this is the end of a longer series

    def __len__(self) -> int:
        return len(self.values)

    def future_times(self, steps: int) -> list[str]:
        """Labels of the ``steps`` points after the end (dates when the index is regular)."""
        if self.times is not None and self.freq:
            future = pd.date_range(self.times[-1], periods=steps + 1, freq=self.freq)[1:]
            return time_labels(future)
        return [str(self.start + len(self.values) + i) for i in range(steps)]

    def labels(self, start: int = 0, stop: int | None = None) -> list[str]:
        """Time labels of points ``start:stop`` (dates, or step numbers)."""
        stop = len(self.values) if stop is None else stop
        if self.times is not None:
            return time_labels(self.times[start:stop])
        return [str(self.start + i) for i in range(start, stop)]


def time_labels(times: pd.DatetimeIndex) -> list[str]:
    """Dates, with the time of day when the times have one (hourly data: ``2020-01-08
    13:00``), seconds when they have them, and the offset of times that carry a zone."""
    if (times == times.normalize()).all():
        form = "%Y-%m-%d"
    elif (times.second == 0).all():
        form = "%Y-%m-%d %H:%M"
    else:
        form = "%Y-%m-%d %H:%M:%S"
    if times.tz is not None:
        form += "%z"
    return [t.strftime(form) for t in times]


def _from_pandas(values: pd.Series, name: str) -> Series:
    """Drop missing ends, interpolate interior gaps, infer the frequency."""
    values = values.astype(float)
    valid = values.notna().to_numpy()
    if not valid.any():
        raise UserError(f"{name}: no numeric values")
    first, last = np.flatnonzero(valid)[[0, -1]]
    values = values.iloc[first : last + 1]
    filled = int(values.isna().sum())
    values = values.interpolate(method="linear")
    times = values.index if isinstance(values.index, pd.DatetimeIndex) else None
    return Series(values.to_numpy(dtype=float), times, infer_freq(times), name, filled)


def regular_grid(times: pd.DatetimeIndex) -> pd.DatetimeIndex | None:
    """The regular calendar a series with missing times lies on (a daily series with
    some days absent), or None: when the times have no frequency of their own, the one
    most runs of five consecutive times have, if every time is on it and at most a fifth
    of the calendar is missing (a long hole is not made up)."""
    if len(times) < 8 or infer_freq(times) is not None:
        return None
    starts = np.linspace(0, len(times) - 5, num=min(25, len(times) - 4)).astype(int)
    found = [f for f in (infer_freq(times[k : k + 5]) for k in starts) if f]
    if not found:
        return None
    freq = max(set(found), key=found.count)
    grid = pd.date_range(times[0], times[-1], freq=freq)
    if len(grid) > 1.25 * len(times) or not times.isin(grid).all():
        return None
    return grid


def infer_freq(times: pd.DatetimeIndex | None) -> str | None:
    """The pandas frequency alias of a regular index ("MS", "W-SAT"), else None."""
    if times is None or len(times) < 3:
        return None
    try:
        with pd.option_context("future.infer_freq_returns_offset", True):
            offset = pd.infer_freq(times)
    except (KeyError, pd.errors.OptionError):  # pandas before the option existed
        offset = pd.infer_freq(times)
    return getattr(offset, "freqstr", offset)


# -- embedded data sets (statsmodels ships them: offline, no download) --------------------


def _co2() -> pd.Series:
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean()  # weekly -> monthly means


def _sunspots() -> pd.Series:
    from statsmodels.datasets import sunspots

    data = sunspots.load_pandas().data
    index = pd.to_datetime(data["YEAR"].astype(int).astype(str), format="%Y")
    return pd.Series(data["SUNACTIVITY"].to_numpy(), index=pd.DatetimeIndex(index, freq="YS"))


def _nile() -> pd.Series:
    from statsmodels.datasets import nile

    data = nile.load_pandas().data
    index = pd.to_datetime(data["year"].astype(int).astype(str), format="%Y")
    return pd.Series(data["volume"].to_numpy(), index=pd.DatetimeIndex(index, freq="YS"))


def _elnino() -> pd.Series:
    from statsmodels.datasets import elnino

    data = elnino.load_pandas().data
    months = data.columns[1:]
    values = data[months].to_numpy().reshape(-1)  # year by year, January..December
    start = f"{int(data['YEAR'].iloc[0])}-01-01"
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"))


def _macrodata() -> pd.Series:
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data
    start = f"{int(data['year'].iloc[0])}-{3 * (int(data['quarter'].iloc[0]) - 1) + 1:02d}-01"
    return pd.Series(
        data["realgdp"].to_numpy(), index=pd.date_range(start, periods=len(data), freq="QS")
    )


NAMED = {
    "co2": (_co2, "Mauna Loa CO2 (ppm), weekly resampled to monthly, 1958-2001"),
    "sunspots": (_sunspots, "yearly sunspot activity, 1700-2008"),
    "nile": (_nile, "yearly Nile river flow at Aswan, 1871-1970"),
    "elnino": (_elnino, "monthly sea surface temperature, El Nino region, 1950-2010"),
    "macrodata": (_macrodata, "US real GDP, quarterly, 1959-2009"),
}


def load_named(name: str) -> Series:
    if name not in NAMED:
        import difflib

        close = difflib.get_close_matches(name, list(NAMED), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(f"--dataset {name!r}: unknown series; {hint}embedded: {', '.join(NAMED)}")
    return _from_pandas(NAMED[name][0](), name)


# -- the user's own files -------------------------------------------------------------


def _mostly_numeric(column: pd.Series) -> bool:
    """Numbers with a few stray entries still count (the stray ones are reported by row)."""
    if pd.api.types.is_numeric_dtype(column):
        return True
    parsed = pd.to_numeric(column, errors="coerce")
    return bool(parsed.notna().mean() >= 0.8)


def numeric_columns(frame: pd.DataFrame, exclude: list[str] = ()) -> list[str]:
    """The columns that may hold the values: mostly numbers, not named as times."""
    return [
        c
        for c in frame.columns
        if c not in exclude and c.lower() not in TIME_NAMES and _mostly_numeric(frame[c])
    ]


def _detect_time_column(frame: pd.DataFrame, value_column: str) -> str | None:
    candidates = [c for c in frame.columns if c != value_column]
    named = [c for c in candidates if c.lower() in TIME_NAMES]
    for column in named + [c for c in candidates if c not in named and is_text(frame[c])]:
        try:
            to_times(frame[column].astype(str))
        except (ValueError, TypeError, OverflowError):
            continue
        return column
    return None


def load_file(path: str | Path, column: str = "", time_column: str = "") -> Series:
    """A series from a CSV/TSV/JSON/Parquet file: ``column`` holds the values (default:
    the only numeric column), ``time_column`` the times (default: detected, or none)."""
    frame = read_table(path)
    if column:
        value_column = find_column(frame, column, path, "value", "task.column")
    else:
        numeric = numeric_columns(frame)
        if len(numeric) != 1:
            found = ", ".join(numeric) if numeric else "none" + text_values(frame)
            raise UserError(
                f"{path}: cannot tell which column holds the values (numeric columns: {found}); "
                "set it with --set task.column=NAME"
            )
        value_column = numeric[0]
    values = numeric_column(frame, value_column, path)
    if time_column:
        tcol: str | None = find_column(frame, time_column, path, "time", "task.time_column")
    else:
        tcol = _detect_time_column(frame, value_column)
    series = pd.Series(values)
    if tcol is not None:
        raw = frame[tcol]
        times = parse_times(raw, path, tcol)
        if times.duplicated().any():
            row = int(np.flatnonzero(times.duplicated().to_numpy())[0])
            raise UserError(
                f"{path}: time column {tcol!r}, data row {row + 1}: duplicate time {raw.iloc[row]!r}"
            )
        series.index = pd.DatetimeIndex(times)
        series = series.sort_index()
    return _from_pandas(series, Path(path).stem)


def text_values(frame: pd.DataFrame) -> str:
    """What the text columns that are not times hold, for an error that found no numbers:
    ``; 'revenue' holds text such as '$1,000.00'``."""
    shown = [
        f"{c!r} holds text such as {frame[c].dropna().astype(str).iloc[0]!r}"
        for c in frame.columns
        if c.lower() not in TIME_NAMES and is_text(frame[c]) and frame[c].notna().any()
    ]
    return "; " + ", ".join(shown[:3]) if shown else ""


#: a date written with its day and month first: 31/12/2020, 12/31/2020, 31.12.20
NUMERIC_DATE = r"^\s*(\d{1,2})([/.-])(\d{1,2})[/.-](?:\d{4}|\d{2})(?:$|[ T])"
#: the first and last this many times decide (a day over 12 shows within two weeks)
DATE_SAMPLE = 10_000


def day_first(raw: pd.Series) -> bool:
    """Whether dates such as 01/02/2020 put the day first: yes when some first field is
    over 12 (13/01/2020), no when some second field is (01/13/2020); when the column never
    tells, the reading under which the times fall on a regular calendar (ten days of hourly
    data, 01/02/2024 10:00 ... 10/02/2024 23:00, are hourly read day first and scattered
    over nine months read month first), then the field that never changes is the day
    (monthly data on the 1st: 01/11/2024), and failing that dotted dates (01.02.2020) are
    day first and slashed ones month first, as written in Europe and the United States.
    Each value parsed on its own would mix the two readings in one column and scramble
    the series' order."""
    seen = pd.concat([raw.iloc[:DATE_SAMPLE], raw.iloc[DATE_SAMPLE:].iloc[-DATE_SAMPLE:]])
    text = seen.dropna().astype(str)
    parts = text.str.extract(NUMERIC_DATE).dropna()
    if parts.empty:
        return False
    first, second = parts[0].astype(int), parts[2].astype(int)
    if (first > 12).any() != (second > 12).any():
        return bool((first > 12).any())
    regular = _regular_reading(text.loc[parts.index].iloc[:DATE_SAMPLE])
    if regular is not None:
        return regular
    if (first.nunique() == 1) != (second.nunique() == 1):  # monthly: the day stays (01)
        return bool(first.nunique() == 1)
    return bool((parts[1] == ".").all())


def _regular_reading(dates: pd.Series) -> bool | None:
    """True (day first) or False (month first) when exactly one reading of ``dates``
    lies on a regular calendar (every step alike, or a few steps missing); else None."""
    regular = []
    for first in (True, False):
        try:
            times = pd.DatetimeIndex(to_times(dates, dayfirst=first)).dropna()
        except (ValueError, TypeError, OverflowError):
            regular.append(False)
            continue
        times = times.unique().sort_values()
        regular.append(infer_freq(times) is not None or regular_grid(times) is not None)
    return regular[0] if regular[0] != regular[1] else None


def to_times(raw: pd.Series, **options: Any) -> pd.Series:
    """``pd.to_datetime`` of a column whose values may each have their own format; times
    whose UTC offset changes (``+01:00`` in winter, ``+02:00`` in summer) in UTC, where
    the steps between them stay regular."""
    try:
        return pd.to_datetime(raw, format="mixed", **options)
    except ValueError as err:
        if "utc=True" not in str(err):  # pandas: "Mixed timezones detected. Pass utc=True"
            raise
        return pd.to_datetime(raw, format="mixed", utc=True, **options)


def _text_times(raw: pd.Series) -> pd.Series:
    """Times written as text. Day-or-month-first dates (31/12/2020) are read by
    :func:`day_first`; the others (2020-12-31, 31 Dec 2020) as they are written, also in
    a column that mixes the two, where the day-first reading would turn 2015-03-01 into
    3 January."""
    text = raw.astype(str)
    numeric = text.str.match(NUMERIC_DATE)
    if not numeric.any() or numeric.all():
        return to_times(text, dayfirst=bool(numeric.any()) and day_first(raw))
    parts = [to_times(text[numeric], dayfirst=day_first(raw)), to_times(text[~numeric])]
    if len({str(part.dt.tz) for part in parts}) > 1:
        raise ValueError("some times carry a UTC offset and others do not")
    return pd.concat(parts).reindex(text.index)


def parse_times(raw: pd.Series, path: Any, column: str) -> pd.DatetimeIndex:
    """A time column as dates (a column of years read as years); one line naming the
    column and the row when a value is not a time or is missing."""
    if pd.api.types.is_integer_dtype(raw) and raw.between(1000, 3000).all():
        raw = raw.astype(str)  # a year column
    try:
        if is_text(raw):
            times = _text_times(raw)
        else:
            times = to_times(raw)
    except (ValueError, TypeError, OverflowError) as err:
        raise UserError(f"{path}: time column {column!r} is not dates/times ({err})") from None
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise UserError(f"{path}: time column {column!r}, data row {row + 1}: missing time")
    return pd.DatetimeIndex(times)
