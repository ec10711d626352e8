"""The loop both peer scripts share: each series of the panel forecast by a function of
``(training values, season, horizon)`` that returns ``{model: result}``, the results kept
in a JSON file so that a series already there is not fitted again.

Plain numpy and pandas: imported by ``bench/forecast_peers.py`` and
``bench/forecast_neural_peers.py``, each in its own bench-only environment.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_PANEL = Path.home() / ".cache" / "seqsuite-bench" / "panel"

Forecaster = Callable[[np.ndarray, int, int], dict[str, dict]]


def main(forecast: Forecaster, description: str) -> None:
    """``--panel``, ``--drop K`` (the last ``K * h`` points removed first), ``--only``,
    ``--skip``, ``--role``, ``--out``: run ``forecast`` on each chosen series."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    parser.add_argument("--drop", type=int, default=0)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--skip", nargs="*", default=[])
    parser.add_argument("--role", default=None, help="dev or heldout (default: both)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    manifest = pd.read_csv(args.panel / "manifest.csv")
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for row in manifest.itertuples():
        skip = (args.only and row.name not in args.only) or (args.role and row.role != args.role)
        if skip or row.name in args.skip or row.name in results:
            continue
        values = pd.read_csv(args.panel / f"{row.name}.csv")["value"].to_numpy(dtype=float)
        if args.drop:
            values = values[: -args.drop * row.h]
        results[row.name] = forecast(values[: -row.h], int(row.m), int(row.h))
        args.out.write_text(json.dumps(results))
        times = {k: round(v.get("seconds", -1), 2) for k, v in results[row.name].items()}
        print(row.name, times, flush=True)
