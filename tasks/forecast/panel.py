"""Many series from one file: long format (an id column), wide format (a column per
series), and past covariates (other numeric columns) beside each series.

A :class:`Panel` is a list of :class:`~.series.Series` with, for each, its covariates as a
(time, C) float array aligned with its values. One series without covariates is the
ordinary case and loads exactly as :func:`~.series.load_file` does.

- long: ``task.id_column`` names the column that tells the series apart; ``task.column``
  the values (default: the only numeric column left); ``task.time_column`` the times.
- wide: ``task.columns = [...]`` (or, with neither ``task.column`` nor an id column, every
  numeric column that is not a covariate) are the series, sharing the time column.
- ``task.covariates = [...]``: numeric columns read beside each series as past covariates
  (the model sees their past, and holds their last value beyond it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqsuite.errors import UserError
from seqsuite.table_files import find_column, numeric_column, read_table

from .series import (
    Series,
    _detect_time_column,
    infer_freq,
    numeric_columns,
    parse_times,
    regular_grid,
    text_values,
)


@dataclass
class Panel:
    series: list[Series]
    covariates: list[np.ndarray]  # per series (time, C) float64
    covariate_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.series)


def load_panel(path: str | Path, options: Any) -> Panel:
    """The series (and covariates) of ``path`` as ``options`` (the ``[task]`` section) says."""
    frame = read_table(path)
    covs = [find_column(frame, c, path, "covariate", "task.covariates") for c in options.covariates]
    id_col = (
        find_column(frame, options.id_column, path, "id", "task.id_column")
        if options.id_column
        else None
    )
    if id_col is not None:
        value = _value_column(frame, options.column, path, exclude=[id_col, *covs])
        time_col = _time_column(frame, options.time_column, path, value)
        groups = frame.groupby(id_col, sort=False)
        parts = [(str(name), group) for name, group in groups]
        return _assemble(parts, value, time_col, covs, path)
    columns = [find_column(frame, c, path, "value", "task.columns") for c in options.columns]
    if not columns and not options.column:
        columns = numeric_columns(frame, exclude=covs)
        if not columns:
            raise UserError(
                f"{path}: no numeric column to forecast{text_values(frame)}; "
                "set --set task.column=NAME"
            )
    if not columns:
        columns = [find_column(frame, options.column, path, "value", "task.column")]
    time_col = _time_column(frame, options.time_column, path, columns[0], exclude=covs)
    parts = [(c if len(columns) > 1 else Path(path).stem, frame) for c in columns]
    if len(columns) == 1:
        return _assemble(parts, columns[0], time_col, covs, path)
    series, covariates = [], []
    for name in columns:
        one = _assemble([(name, frame)], name, time_col, covs, path)
        series += one.series
        covariates += one.covariates
    return Panel(series, covariates, covs)


def _value_column(frame: pd.DataFrame, column: str, path: Any, exclude: list[str]) -> str:
    if column:
        return find_column(frame, column, path, "value", "task.column")
    numeric = numeric_columns(frame, exclude)
    if len(numeric) != 1:
        found = ", ".join(numeric) if numeric else "none"
        raise UserError(
            f"{path}: cannot tell which column holds the values (numeric columns: {found}); "
            "set it with --set task.column=NAME"
        )
    return numeric[0]


def _time_column(
    frame: pd.DataFrame, time_column: str, path: Any, value: str, exclude: list[str] = ()
) -> str | None:
    if time_column:
        return find_column(frame, time_column, path, "time", "task.time_column")
    rest = frame.drop(columns=[c for c in exclude if c in frame.columns])
    return _detect_time_column(rest, value)


def _assemble(
    parts: list[tuple[str, pd.DataFrame]],
    value: str,
    time_col: str | None,
    covs: list[str],
    path: Any,
) -> Panel:
    """Each part's values and covariates: sorted by time, missing ends of the values
    dropped, interior gaps interpolated, covariates filled from their neighbours."""
    series, covariates = [], []
    for name, part in parts:
        table = pd.DataFrame({"value": numeric_column(part, value, path)})
        for c in covs:
            table[c] = numeric_column(part, c, path)
        if time_col is not None:
            times = parse_times(part[time_col], path, time_col)
            if times.duplicated().any():
                row = int(np.flatnonzero(np.asarray(times.duplicated()))[0])
                raise UserError(
                    f"{path}: time column {time_col!r}: duplicate time {part[time_col].iloc[row]!r}"
                    + (f" in series {name!r}" if len(parts) > 1 else f", data row {row + 1}")
                )
            table.index = times
            table = table.sort_index()
            grid = regular_grid(table.index)
            if grid is not None:  # times missing from a regular calendar: filled below
                table = table.reindex(grid)
        valid = table["value"].notna().to_numpy()
        if not valid.any():
            raise UserError(f"{path}: series {name!r} has no numeric values")
        first, last = np.flatnonzero(valid)[[0, -1]]
        table = table.iloc[first : last + 1]
        filled = int(table["value"].isna().sum())
        table = table.interpolate(method="linear").ffill().bfill()
        for c in covs:
            if table[c].isna().all():  # nothing to fill from
                where = f" in series {name!r}" if len(parts) > 1 else ""
                raise UserError(
                    f"{path}: covariate {c!r} holds no numbers{where} (task.covariates)"
                )
        index = table.index if isinstance(table.index, pd.DatetimeIndex) else None
        series.append(
            Series(table["value"].to_numpy(dtype=float), index, infer_freq(index), name, filled)
        )
        covariates.append(table[covs].to_numpy(dtype=float).reshape(len(table), len(covs)))
    return Panel(series, covariates, covs)
