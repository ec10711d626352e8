"""Forecast quality against the classical baselines and the published figures.

    python bench/forecast.py [--seeds 5] [--write]

Runs `seqsuite run forecast` (the embedded default, co2) and the air-passengers benchmark
(last 24 months held out, `../shared/data/airpassengers.csv`) with seeds 0..N-1, each with
the task's defaults: nothing here is tuned on the test window. Prints the median, min
and max of the model's test metrics (the LSTM combined with ETS, SARIMA and Theta) beside the baselines (deterministic) and the published
figures, and with --write replaces the forecast section of docs/results.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
warnings.filterwarnings("ignore")

import seqsuite  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AIR = ROOT.parent / "shared" / "data" / "airpassengers.csv"
PUBLISHED_AIR = {"seasonal_naive": 15.5, "sarima": 8.5, "ets": 6.4}  # MAPE %, shared/data/README.md


def run_seeds(seeds: int, **kwargs) -> list[tuple[dict, float]]:
    results = []
    with tempfile.TemporaryDirectory() as root:
        for seed in range(seeds):
            started = time.perf_counter()
            result = seqsuite.run("forecast", seed=seed, quiet=True, runs_root=root, **kwargs)
            results.append((result.metrics, time.perf_counter() - started))
            print(
                f"  seed {seed}: mase {result.metrics['test']['mase']:.3f} "
                f"mape {result.metrics['test']['mape']:.2f} %",
                file=sys.stderr,
            )
    return results


def spread(values: list[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def table(results: list[tuple[dict, float]], published: dict[str, float] | None) -> str:
    metrics = [m for m, _ in results]
    lines = [
        "| model | MASE | MAPE % | sMAPE % | RMSE |" + (" published MAPE % |" if published else ""),
        "|---|---|---|---|---|" + ("---|" if published else ""),
    ]
    lstm = {k: [m["test"][k] for m in metrics] for k in ("mase", "mape", "smape", "rmse")}
    extra = " – |" if published else ""
    lines.append(
        f"| **seqsuite** (LSTM + ETS/SARIMA/Theta combination; median of {len(metrics)} seeds, min–max) | {spread(lstm['mase'], 3)} | "
        f"{spread(lstm['mape'], 2)} | {spread(lstm['smape'], 2)} | {spread(lstm['rmse'], 3)} |{extra}"
    )
    for name, b in metrics[0]["baselines"].items():
        ref = (
            f" {published[name]} |"
            if published and name in published
            else (" – |" if published else "")
        )
        lines.append(
            f"| {name} | {b['mase']:.3f} | {b['mape']:.2f} | {b['smape']:.2f} | {b['rmse']:.3f} |{ref}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update docs/results.md")
    args = parser.parse_args()

    print("co2 (default run)", file=sys.stderr)
    co2 = run_seeds(args.seeds)
    sections = [
        "### Default series: `seqsuite run forecast` (co2, monthly, last 24 months held out)",
        "",
        table(co2, None),
        "",
        f"Wall time of one default run (training, evaluation, baselines, report) on this machine: "
        f"median {statistics.median(t for _, t in co2):.1f} s over {len(co2)} runs; "
        f"epochs run: {[m['epochs'] for m, _ in co2]}, best epochs: {[m['best_epoch'] for m, _ in co2]}.",
    ]
    if AIR.exists():
        print("air passengers", file=sys.stderr)
        air = run_seeds(args.seeds, data=str(AIR))
        sections += [
            "",
            "### Air passengers, last 24 months held out (`../shared/data/airpassengers.csv`)",
            "",
            table(air, PUBLISHED_AIR),
            "",
            f"Target: MAPE ≤ 6.4 % (Holt-Winters), aim < 5 %. "
            f"seqsuite median MAPE {statistics.median(m['test']['mape'] for m, _ in air):.2f} %.",
        ]
    text = "\n".join(sections)
    print(text)
    if args.write:
        command = f"python bench/forecast.py --seeds {args.seeds} --write"
        replace_section("forecast", f"Command: `{command}`\n\n{text}")


if __name__ == "__main__":
    main()
