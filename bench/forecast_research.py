"""Development-only research: component forecasts of seqsuite on the dev panel's
development windows (the test window of each series is cut off first), saved so that
combination rules can be compared without retraining.

    OMP_NUM_THREADS=1 .venv/bin/python bench/forecast_research.py --out /tmp/fc/dev.json

For each dev series (``bench/forecast_panel_data.py``): cut the last ``h`` points (the test
window, never read here), run ``seqsuite run forecast --data`` on the rest with
``task.horizon=h``; its own "test" window is then the development window. Records each
model's forecast on the development window and on the validation window before it.
"""

from __future__ import annotations

import argparse
import json
import os
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
import torch  # noqa: E402

import seqsuite  # noqa: E402

DEFAULT_PANEL = Path.home() / ".cache" / "seqsuite-bench" / "panel"


def theta(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    deseason = season > 1 and len(history) >= 2 * season
    fit = ThetaModel(
        history, period=season if deseason else 1, deseasonalize=deseason, method="auto"
    ).fit()
    return np.asarray(fit.forecast(steps), dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--panel", type=Path, default=DEFAULT_PANEL)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--role", default="dev")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from seqsuite.registry import get_task

    from seqsuite_tasks.forecast import baselines as classical  # noqa: F401

    manifest = pd.read_csv(args.panel / "manifest.csv")
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for row in manifest.itertuples():
        if row.role != args.role or (args.only and row.name not in args.only):
            continue
        frame = pd.read_csv(args.panel / f"{row.name}.csv").iloc[: -row.h]
        h = int(row.h)
        with tempfile.TemporaryDirectory() as root:
            cut = Path(root) / f"{row.name}.csv"
            frame.to_csv(cut, index=False)
            started = time.perf_counter()
            result = seqsuite.run(
                "forecast",
                data=str(cut),
                sets=[f"task.horizon={h}", *args.sets],
                quiet=True,
                runs_root=root,
            )
            seconds = time.perf_counter() - started
            table = pd.read_csv(result.run_dir / "forecast.csv")
            prepared, model = result.prepared, result.model
            task = get_task("forecast")
            y = prepared.extra["series"].values
            season = prepared.extra["season"]
            val_origin, _ = prepared.extra["origins"]["val"]
            from seqsuite.task import Context  # noqa: F401

            ctx = type("C", (), {})()
            ctx.device = torch.device("cpu")
            val_lstm = task.forecast(
                ctx,
                model,
                prepared.extra["transform"],
                prepared.extra["lookback"],
                y[:val_origin],
                h,
            )
        test_origin = len(y) - h
        entry = {
            "season": season,
            "seconds": seconds,
            "epochs": result.metrics["epochs"],
            "best_epoch": result.metrics["best_epoch"],
            "y": y.tolist(),
            "h": h,
            "m": int(row.m),
            "val": {"lstm": val_lstm.tolist()},
            "dev": {c: table[c].tolist() for c in table.columns if c not in ("time", "actual")},
        }
        for name in ("ets", "sarima", "drift", "naive", "seasonal_naive"):
            method = classical.BASELINES[name]
            kwargs = {"log": prepared.extra["transform"].log} if name in classical.TAKES_LOG else {}
            try:
                entry["val"][name] = method(y[:val_origin], h, season, **kwargs).tolist()
            except Exception as err:  # noqa: BLE001
                print(row.name, name, err, file=sys.stderr)
        for window, origin in (("val", val_origin), ("dev", test_origin)):
            try:
                entry[window]["theta"] = theta(y[:origin], h, season).tolist()
            except Exception as err:  # noqa: BLE001
                print(row.name, "theta", err, file=sys.stderr)
        results[row.name] = entry
        print(
            f"{row.name}: {seconds:.1f}s epochs {entry['epochs']} best {entry['best_epoch']}",
            file=sys.stderr,
        )
        args.out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
