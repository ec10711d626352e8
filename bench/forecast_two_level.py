"""Development research: would the classical members be weighted better on more windows?

    python bench/forecast_two_level.py ROOT [--windows 1 2 3 4]

Reads the kept default runs of ``bench/forecast_recombine.py`` (``ROOT/s0-dev``,
``ROOT/s0-dev2``: development windows only). The LSTM can only be judged on the validation
window (earlier windows are its training data), but ETS, SARIMA and Theta are refitted at
each origin and can be judged out of sample on several earlier windows. A two-level
combination: the classical members weighted among themselves by their errors on
``K`` test-length windows ending at the test origin (every half test length; ``K = 1`` is
the validation window alone), then the LSTM and that classical combination weighted by
their validation errors, each level with the default rule (error^-2, 30 % equal weights).
Prints, per ``K`` and window, what ``bench/forecast_recombine.py`` prints for the default.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from forecast_recombine import PEERS, geomean, read_run

from seqsuite_tasks.forecast.combine import combine, weights
from seqsuite_tasks.forecast.predicting import classical_forecast

PANEL = Path.home() / ".cache" / "seqsuite-bench" / "panel"
DROP = {"dev": 1, "dev2": 2}
CLASSICAL = ("ets", "sarima", "theta")


class Quiet:
    """What ``classical_forecast`` needs of a context: a console for its notes."""

    class console:  # noqa: N801 - stands in for rich's Console
        @staticmethod
        def print(*_: object) -> None:
            pass


def earlier_errors(
    y: np.ndarray, origin: int, h: int, windows: int, season: int, log: bool
) -> list[dict[str, np.ndarray]]:
    """Each classical member's errors on the test-length windows before the validation
    window, per origin (every h // 2, ``windows - 1`` windows' worth, newest first),
    skipping origins where any member cannot be fitted."""
    stride = max(1, h // 2)
    out = []
    for j in range(1, 2 * (windows - 1) + 1):
        start = origin - h - j * stride
        if start < max(2 * season + 2, 10):
            break
        forecasts = {
            name: classical_forecast(Quiet, name, y[:start], h, season, log) for name in CLASSICAL
        }
        if all(f is not None for f in forecasts.values()):
            out.append({name: y[start : start + h] - f for name, f in forecasts.items()})
    return out


def joined(per_origin: list[dict[str, np.ndarray]], windows: int) -> dict[str, np.ndarray]:
    """The errors of the origins that ``windows`` windows cover."""
    kept = per_origin[: 2 * (windows - 1)]
    return {n: np.concatenate([o[n] for o in kept]) if kept else np.zeros(0) for n in CLASSICAL}


def two_level(components: dict, earlier: dict) -> np.ndarray:
    forecasts = {k: np.asarray(v) for k, v in components["forecasts"].items()}
    val = {k: np.asarray(v) for k, v in components["validation_errors"].items()}
    members = [m for m in CLASSICAL if m in forecasts and m in val]
    mae = {m: float(np.mean(np.abs(np.concatenate([val[m], earlier[m]])))) for m in members}
    inner = weights(mae)
    classical = combine({m: forecasts[m] for m in members}, inner)
    classical_val = sum(inner[m] * val[m] for m in members)
    outer = weights(
        {
            "lstm": float(np.mean(np.abs(val["lstm"]))),
            "classical": float(np.mean(np.abs(classical_val))),
        }
    )
    return combine({"lstm": forecasts["lstm"], "classical": classical}, outer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--windows", type=int, nargs="*", default=[1, 2, 3, 4])
    args = parser.parse_args()
    manifest = pd.read_csv(PANEL / "manifest.csv").set_index("name")
    series = sorted(p.name for p in (args.root / "s0-dev").iterdir())
    print(
        "| classical members judged on | "
        + " | ".join(f"{w}: geo-mean, vs best, worst ×, > 1.5×" for w in DROP)
        + " |"
    )
    print("|---|" + "---|" * len(DROP))
    results = {k: [] for k in args.windows}
    for window, drop in DROP.items():
        peers = json.loads(
            (Path(tempfile.gettempdir()) / f"seqsuite-peers-dev-{window}.json").read_text()
        )
        rows = {k: ([], []) for k in args.windows}
        stats = {p: [] for p in PEERS}
        for name in series:
            h = int(manifest.loc[name, "h"])
            y = pd.read_csv(PANEL / f"{name}.csv")["value"].to_numpy(dtype=float)[: -drop * h]
            components, table = read_run(args.root, "s0", window, name)
            state = json.loads((args.root / f"s0-{window}" / name / "task_state.json").read_text())[
                "state"
            ]
            log, season = state["series"][0]["transform"]["log"], int(state["season"])
            actual = table["actual"].to_numpy()
            naive = np.mean(np.abs(actual - np.asarray(peers[name]["seasonal_naive"]["forecast"])))
            theirs = {
                p: np.mean(np.abs(actual - np.asarray(peers[name][p]["forecast"]))) / naive
                for p in PEERS
            }
            for p in PEERS:
                stats[p].append(theirs[p])
            per_origin = earlier_errors(y, len(y) - h, h, max(args.windows), season, log)
            for k in args.windows:
                earlier = joined(per_origin, k)
                rel = np.mean(np.abs(actual - two_level(components, earlier))) / naive
                rows[k][0].append(rel)
                rows[k][1].append(rel / min(theirs.values()))
        best = min(geomean(v) for v in stats.values())
        for k in args.windows:
            rel, ratio = rows[k]
            results[k].append(
                f"{geomean(rel):.3f}, {geomean(rel) / best - 1:+.1%}, {max(ratio):.2f}, {sum(r > 1.5 for r in ratio)}"
            )
    for k in args.windows:
        label = "the validation window" if k == 1 else f"{k} windows"
        print(f"| {label} | " + " | ".join(results[k]) + " |")


if __name__ == "__main__":
    main()
