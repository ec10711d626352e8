"""Rolling-origin evaluation (backtesting): where the windows start, and the files that
record them (backtest.json, backtest.csv, plots/backtest.png)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from seqsuite import atomic, rundir
from seqsuite.errors import UserError
from seqsuite.plots import plt, save
from seqsuite.task import Context


def backtest_origins(
    test_origin: int,
    steps: int,
    windows: int,
    stride: int,
    lookback: int,
    names: tuple[str, str] = ("--windows", "--stride"),
) -> list[int]:
    """``windows`` origins, the last at ``test_origin``, ``stride`` (default ``steps``)
    apart; the first must leave ``lookback`` points of history. ``names`` are how errors
    name the two settings (the command's flags, or ``task.backtest_windows``)."""
    if windows < 1:
        raise UserError(f"{names[0]}: got {windows}, expected at least 1")
    stride = stride or steps
    if stride < 1:
        raise UserError(f"{names[1]}: got {stride}, expected at least 1")
    first = test_origin - (windows - 1) * stride
    if first < lookback + 2:
        most = (test_origin - lookback - 2) // stride + 1
        raise UserError(
            f"{names[0]} {windows} with stride {stride}: the first window would start at "
            f"step {first}, before the {lookback + 2} points of history needed; at most {most}"
        )
    return [first + k * stride for k in range(windows)]


def write_backtest(ctx: Context, rows: list[dict[str, Any]], primary: str) -> dict[str, Any]:
    """backtest.json (per window and mean metrics), backtest.csv (one row per window and
    model), plots/backtest.png (the primary metric per window and model)."""
    flat = []
    for row in rows:
        models = {"model": row["model"], **row["baselines"]}
        for name, metrics in models.items():
            flat.append(
                {
                    "origin": row["origin"],
                    "time": row["time"],
                    "in_sample": row["in_sample"],
                    "model": name,
                    **metrics,
                }
            )
    table = pd.DataFrame(flat)
    numeric = [c for c in table.columns if c not in ("origin", "time", "in_sample", "model")]
    mean = {
        name: {k: float(v) for k, v in group[numeric].mean(skipna=True).items()}
        for name, group in table.groupby("model", sort=False)
    }
    result = {"windows": rows, "mean": mean, "primary_metric": primary}
    atomic.write_json(ctx.path("backtest.json"), rundir.clean_json(result))
    atomic.write_text(ctx.path("backtest.csv"), table.to_csv(index=False))
    fig, ax = plt.subplots(figsize=(9, 4))
    for name, group in table.groupby("model", sort=False):
        style = {"color": "tab:red", "linewidth": 2} if name == "model" else {"linewidth": 1}
        ax.plot(group["time"], group[primary], marker="o", label=name, **style)
    ax.set_ylabel(primary)
    ax.set_title(f"backtest: {primary} per window ({len(rows)} origins)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.autofmt_xdate()
    save(fig, ctx.path("plots/backtest.png"))
    ctx.console.print(
        f"backtest over {len(rows)} windows: mean {primary} "
        + ", ".join(f"{n} {m.get(primary, np.nan):.3f}" for n, m in mean.items())
    )
    return result
