"""Development research on kept panel runs: other combination weights, seed ensembles, a
refit LSTM and interval margins, recomputed from the runs' ``components.json`` without
training again.

    for w in dev dev2; do
      python bench/forecast_panel.py --role dev --window $w --keep ROOT/s0-$w
      python bench/forecast_panel.py --role dev --window $w --keep ROOT/s1-$w --set run.seed=1
      python bench/forecast_panel.py --role dev --window $w --keep ROOT/s2-$w --set run.seed=2
      python bench/forecast_panel.py --role dev --window $w --keep ROOT/refit-$w --set train.refit=true
    done
    python bench/forecast_recombine.py ROOT

Only development windows (``dev``: the test window cut off; ``dev2``: two horizons cut
off) are read: this is where defaults are chosen. Each row is a geometric mean of MASE
relative to seasonal naive over the series, the change against the best single
statsforecast model on that panel, the worst series' ratio to the best of the three and
how many series are worse than 1.5x it.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from seqsuite_tasks.forecast.combine import weights
from seqsuite_tasks.forecast.intervals import half_width

PEERS = ("AutoETS", "AutoARIMA", "AutoTheta")
WINDOWS = ("dev", "dev2")
SEEDS = ("s0", "s1", "s2")


def geomean(values: list[float]) -> float:
    return math.exp(float(np.mean(np.log(np.maximum(values, 1e-12)))))


def read_run(root: Path, run: str, window: str, series: str) -> tuple[dict, pd.DataFrame]:
    folder = root / f"{run}-{window}" / series
    components = json.loads((folder / "components.json").read_text())
    return components, pd.read_csv(folder / "forecast.csv")


def recombined(
    root: Path,
    window: str,
    series: str,
    power: float = 2.0,
    shrink: float = 0.3,
    seeds: tuple[str, ...] = ("s0",),
    lstm_run: str | None = None,
    members: tuple[str, ...] | None = None,
) -> np.ndarray:
    """One series' forecast: the classical members of seed 0's run, the LSTM averaged over
    ``seeds`` (or taken from ``lstm_run``, weighted by seed 0's validation errors)."""
    components, _ = read_run(root, "s0", window, series)
    forecasts = {k: np.asarray(v) for k, v in components["forecasts"].items()}
    errors = {k: np.asarray(v) for k, v in components["validation_errors"].items()}
    runs = [read_run(root, s, window, series)[0] for s in seeds]
    forecasts["lstm"] = np.mean([r["forecasts"]["lstm"] for r in runs], axis=0)
    errors["lstm"] = np.mean([r["validation_errors"]["lstm"] for r in runs], axis=0)
    if lstm_run:
        forecasts["lstm"] = np.asarray(
            read_run(root, lstm_run, window, series)[0]["forecasts"]["lstm"]
        )
    mae = {k: float(np.mean(np.abs(e))) for k, e in errors.items() if not members or k in members}
    weight = weights(mae, power, shrink)
    return sum(weight[k] * forecasts[k] for k in weight)


def score(root: Path, window: str, series: list[str], **variant) -> tuple[float, float, float, int]:
    peers = json.loads(
        (Path(tempfile.gettempdir()) / f"seqsuite-peers-dev-{window}.json").read_text()
    )
    rel, ratio, stats = [], [], {p: [] for p in PEERS}
    for name in series:
        actual = read_run(root, "s0", window, name)[1]["actual"].to_numpy()
        naive = np.mean(np.abs(actual - np.asarray(peers[name]["seasonal_naive"]["forecast"])))
        ours = np.mean(np.abs(actual - recombined(root, window, name, **variant))) / naive
        theirs = {
            p: np.mean(np.abs(actual - np.asarray(peers[name][p]["forecast"]))) / naive
            for p in PEERS
        }
        rel.append(ours)
        ratio.append(ours / min(theirs.values()))
        for p in PEERS:
            stats[p].append(theirs[p])
    best = min(geomean(v) for v in stats.values())
    return geomean(rel), geomean(rel) / best - 1, max(ratio), sum(r > 1.5 for r in ratio)


def coverage(root: Path, window: str, run: str, series: list[str], margin: float) -> float:
    """Mean 80 % coverage with another interval margin (tasks/forecast/intervals.py)."""
    covered = []
    for name in series:
        components, table = read_run(root, run, window, name)
        label = next(c for c in table.columns if c.endswith("_q0.1"))[: -len("_q0.1")]
        point, actual = table[label].to_numpy(), table["actual"].to_numpy()
        calibration = components["calibration"]
        scores = np.abs(calibration["errors"]) / np.sqrt(calibration["leads"])
        width = half_width(scores, 0.8 + margin) * np.sqrt(np.arange(1, len(point) + 1))
        covered.append(np.mean((actual >= point - width) & (actual <= point + width)))
    return float(np.mean(covered))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    args = parser.parse_args()
    series = sorted(p.name for p in (args.root / "s0-dev").iterdir())
    variants = {
        "default (power 2, 30 % equal weights)": {},
        "LSTM alone": {"members": ("lstm",)},
        "ETS, SARIMA, Theta without the LSTM": {"members": ("ets", "sarima", "theta")},
        "LSTM: mean of 3 seeds": {"seeds": SEEDS},
        "LSTM alone: mean of 3 seeds": {"seeds": SEEDS, "members": ("lstm",)},
        "LSTM refitted on train+val": {"lstm_run": "refit"},
        "LSTM refitted alone": {"lstm_run": "refit", "members": ("lstm",)},
    }
    for power in (1, 2, 3):
        for shrink in (0.0, 0.5, 1.0):
            variants[f"power {power}, {shrink:.0%} equal weights"] = {
                "power": power,
                "shrink": shrink,
            }
    print(
        "| variant | "
        + " | ".join(f"{w}: geo-mean, vs best, worst ×, > 1.5×" for w in WINDOWS)
        + " |"
    )
    print("|---|" + "---|" * len(WINDOWS))
    for name, variant in variants.items():
        cells = []
        for window in WINDOWS:
            gm, change, worst, over = score(args.root, window, series, **variant)
            cells.append(f"{gm:.3f}, {change:+.1%}, {worst:.2f}, {over}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print(
        "| interval margin | "
        + " | ".join(f"{s} {w}" for s in SEEDS for w in WINDOWS)
        + " | mean |"
    )
    print("|---|" + "---|" * (len(SEEDS) * len(WINDOWS) + 1))
    for margin in (0.0, 0.03, 0.045, 0.05):
        values = [coverage(args.root, w, s, series, margin) for s in SEEDS for w in WINDOWS]
        print(
            f"| {margin:.3f} | "
            + " | ".join(f"{v:.1%}" for v in values)
            + f" | {np.mean(values):.1%} |"
        )


if __name__ == "__main__":
    main()
