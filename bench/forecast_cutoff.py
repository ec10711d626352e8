"""The combination's cutoff (``tasks/forecast/combine.py``, ``CUTOFF``) on the development
panel's development windows: each series' forecast recombined from its kept run with the
cutoff off and on, scored against the run's own seasonal naive.

    python bench/forecast_cutoff.py [--panel DIR] [--keep ROOT]

Runs ``seqsuite run forecast --data SERIES --set task.horizon=h`` (the defaults, as
``bench/forecast_panel.py`` runs them; one thread) on each development series with its
test window cut off (``dev``) and with two horizons cut off (``dev2``), keeping the run
directories under ``ROOT`` (a series already there is not run again), then recombines the
members' kept forecasts (``components.json``) with each cutoff: no training is repeated
and no test window is read.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import json  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import seqsuite  # noqa: E402
from seqsuite_tasks.forecast.combine import CUTOFF, combine, weights  # noqa: E402

PANEL = Path.home() / ".cache" / "seqsuite-bench" / "panel"
WINDOWS = {"dev": 1, "dev2": 2}


def keep_runs(panel: Path, root: Path) -> None:
    manifest = pd.read_csv(panel / "manifest.csv")
    development = manifest[(manifest.role == "dev") & (manifest.name != "taylor")]
    for window, cut in WINDOWS.items():
        for row in development.itertuples():
            out = root / window / row.name
            if (out / "metrics.json").exists():
                continue
            data = root / "data" / f"{window}-{row.name}.csv"
            data.parent.mkdir(parents=True, exist_ok=True)
            pd.read_csv(panel / f"{row.name}.csv").iloc[: -cut * int(row.h)].to_csv(
                data, index=False
            )
            sets = [f"task.horizon={int(row.h)}"]
            seqsuite.run("forecast", data=str(data), sets=sets, quiet=True, threads=1, out=out)
            print(window, row.name, flush=True)


def relative_errors(run: Path, cutoff: float) -> tuple[float, list[str]]:
    """MAE of the recombined forecast over seasonal naive's, and the members left out."""
    components = json.loads((run / "components.json").read_text())
    errors = {k: float(np.mean(np.abs(v))) for k, v in components["validation_errors"].items()}
    forecasts = {k: np.asarray(v, float) for k, v in components["forecasts"].items()}
    table = pd.read_csv(run / "forecast.csv")
    actual = table["actual"].to_numpy()
    weight = weights(errors, cutoff=cutoff)
    point = combine(forecasts, weight)
    naive = np.mean(np.abs(actual - table["seasonal_naive"].to_numpy()))
    return float(np.mean(np.abs(actual - point)) / naive), [k for k, w in weight.items() if w == 0]


def geomean(values: list[float]) -> float:
    return math.exp(float(np.mean(np.log(np.maximum(values, 1e-12)))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panel", type=Path, default=PANEL)
    parser.add_argument("--keep", type=Path, default=Path("runs/forecast-cutoff"))
    args = parser.parse_args()
    keep_runs(args.panel, args.keep)
    print(f"| window | series | geo-mean, no cutoff | geo-mean, cutoff {CUTOFF:g} | changed |")
    print("|---|---|---|---|---|")
    for window in WINDOWS:
        runs = sorted(p.parent for p in (args.keep / window).glob("*/components.json"))
        off = [relative_errors(run, math.inf)[0] for run in runs]
        on = [relative_errors(run, CUTOFF) for run in runs]
        changed = [
            f"{run.name} (without {', '.join(left)}: {a:.3f} -> {b:.3f})"
            for run, a, (b, left) in zip(runs, off, on, strict=True)
            if left
        ]
        print(
            f"| {window} | {len(runs)} | {geomean(off):.4f} | "
            f"{geomean([b for b, _ in on]):.4f} | {'; '.join(changed) or 'none'} |"
        )


if __name__ == "__main__":
    main()
