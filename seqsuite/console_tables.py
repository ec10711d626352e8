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
) -> Table:
    """One row per model, one column per metric; the best value of the primary metric is bold."""
    columns: list[str] = []
    for metrics in rows.values():
        columns += [k for k in metrics if k not in columns]
    if primary in columns:
        columns.remove(primary)
        columns.insert(0, primary)
    table = Table(title=title)
    table.add_column("model")
    for column in columns:
        table.add_column(
            column
            + (
                " ↑"
                if column == primary and higher_is_better
                else " ↓"
                if column == primary
                else ""
            ),
            justify="right",
        )
    values = [m.get(primary) for m in rows.values() if isinstance(m.get(primary), int | float)]
    values = [v for v in values if not math.isnan(v)]
    best = (max(values) if higher_is_better else min(values)) if values else None
    for name, metrics in rows.items():
        cells = []
        for column in columns:
            text = format_value(metrics.get(column))
            if column == primary and best is not None and metrics.get(column) == best:
                text = f"[bold green]{text}[/]"
            cells.append(text)
        table.add_row(name, *cells)
    return table


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
