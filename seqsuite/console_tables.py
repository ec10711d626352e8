"""Terminal tables: a model against its baselines, metric by metric."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table


def format_value(value: Any, kind: str = "") -> str:
    """A number as a table shows it: 4 significant digits, thousands separated for counts,
    ``kind="pct"`` for a signed percentage; a missing value is a dash."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "pct":
        return f"{100 * value:+.1f} %"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def metrics_table(
    title: str,
    rows: dict[str, dict[str, Any]],
    primary: str,
    higher_is_better: bool,
    width: int | None = None,
) -> Table:
    """One row per model, one column per metric, the primary metric first and its best
    value bold. Only the metrics that fit ``width`` (the terminal's) are shown, whole; the
    caption says how many more there are (``--json`` prints them, and the run's JSON files
    hold them), so no number is cut to "0.18…"."""
    import shutil

    columns: list[str] = []
    for metrics in rows.values():
        columns += [k for k in metrics if k not in columns]
    if primary in columns:
        columns.remove(primary)
        columns.insert(0, primary)
    width = width or shutil.get_terminal_size((100, 24)).columns
    name_width = max([len("model"), *map(len, rows)]) + 3
    shown = _columns_that_fit(columns, rows, width - name_width - 4)
    hidden = len(columns) - len(shown)
    caption = f"{hidden} more metric{'s' * (hidden > 1)}: --json shows all" if hidden else None
    table = Table(title=title, caption=caption)
    table.add_column("model", no_wrap=True)
    for column in shown:
        arrow = (" ↑" if higher_is_better else " ↓") if column == primary else ""
        table.add_column(column + arrow, justify="right", no_wrap=True)
    values = [m.get(primary) for m in rows.values() if isinstance(m.get(primary), int | float)]
    values = [v for v in values if not math.isnan(v)]
    best = (max(values) if higher_is_better else min(values)) if values else None
    for name, metrics in rows.items():
        cells = []
        for column in shown:
            text = format_value(metrics.get(column))
            if column == primary and best is not None and metrics.get(column) == best:
                text = f"[bold green]{text}[/]"
            cells.append(text)
        table.add_row(name, *cells)
    return table


def _columns_that_fit(columns: list[str], rows: dict[str, dict[str, Any]], room: int) -> list[str]:
    """The leading columns whose widest cell (header or value) fits in ``room``; always
    the first (the primary metric)."""
    shown: list[str] = []
    for column in columns:
        cells = [format_value(m.get(column)) for m in rows.values()]
        need = max([len(column) + 2, *map(len, cells)]) + 3  # padding and border
        if shown and need > room:
            break
        shown.append(column)
        room -= need
    return shown


def print_rows(console: Console, rows: list[dict[str, Any]], title: str = "") -> None:
    """Rows of dicts (predictions) as a table."""
    if not rows:
        return
    table = Table(title=title or None)
    columns = list(rows[0])
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(format_value(row.get(c)) for c in columns))
    console.print(table)
