"""Time and peak memory of a forecast run as the series grows: 10^4 .. 10^7 points.

    OMP_NUM_THREADS=1 python bench/forecast_scale.py [--sizes 4 5 6 7] [--write]

For each size a CSV with one ``value`` column (a daily-like cycle of 24 steps plus noise,
written with 4 decimals: 10^7 rows is about 80 MB) is read (1) alone, by the forecast
task's loader, and (2) by a whole ``seqsuite run forecast`` with a 20-second training
budget (training windows are cut per batch, never materialised; classical models fit the
last 5,000 points). Each runs in its own process under ``/usr/bin/time``, whose maximum
resident set size is the peak memory. Growth should be no faster than linear.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

PYTHON = sys.executable
SEQSUITE = str(Path(sys.executable).with_name("seqsuite"))


def make_csv(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    chunk = 1_000_000
    with path.open("w") as handle:
        handle.write("value\n")
        for start in range(0, n, chunk):
            t = np.arange(start, min(n, start + chunk))
            v = 100 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, len(t))
            handle.write("\n".join(f"{x:.4f}" for x in v) + "\n")


def measured(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of ``command`` in its own process."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "MAXRSS %M", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command}: exit {done.returncode}\n{done.stderr[-2000:]}")
    rss = int(re.findall(r"MAXRSS (\d+)", done.stderr)[-1]) / 1024
    return seconds, rss, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[4, 5, 6, 7])
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        help="extra KEY=VALUE for the runs (e.g. the cheap baselines only)",
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for exponent in args.sizes:
            n = 10**exponent
            csv = Path(folder) / f"s{exponent}.csv"
            make_csv(csv, n)
            size_mb = csv.stat().st_size / 2**20
            read_s, read_mb, _ = measured(
                [
                    PYTHON,
                    "-c",
                    "import sys; from seqsuite_tasks.forecast.series import load_file; "
                    "print(len(load_file(sys.argv[1])))",
                    str(csv),
                ]
            )
            out = Path(folder) / f"run{exponent}"
            run_s, run_mb, stdout = measured(
                [
                    SEQSUITE,
                    "run",
                    "forecast",
                    "--data",
                    str(csv),
                    "--out",
                    str(out),
                    "--json",
                    "--epochs",
                    "1",
                    "--time-budget",
                    str(args.budget),
                    "--set",
                    "task.horizon=24",
                    "--set",
                    "task.season=24",
                ]
            )
            metrics = json.loads(stdout)
            rows.append(
                {
                    "n": n,
                    "csv_mb": size_mb,
                    "read_s": read_s,
                    "read_mb": read_mb,
                    "run_s": run_s,
                    "run_mb": run_mb,
                    "mase": metrics["test"]["mase"],
                    "windows": metrics.get("samples_per_second"),
                }
            )
            print(rows[-1], file=sys.stderr, flush=True)
    lines = [
        f"Command: `OMP_NUM_THREADS=1 python bench/forecast_scale.py --sizes {' '.join(map(str, args.sizes))}"
        + "".join(f" --set {s}" for s in args.sets)
        + " --write` "
        f"({time.strftime('%Y-%m-%d')}; synthetic series; training budget {args.budget:g} s)",
        "",
        "| points | CSV MB | read: s | read: peak MB | whole run: s | whole run: peak MB | test MASE |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['csv_mb']:.1f} | {r['read_s']:.1f} | {r['read_mb']:.0f} | "
            f"{r['run_s']:.1f} | {r['run_mb']:.0f} | {r['mase']:.3f} |"
        )
    body = "\n".join(lines)
    print(body)
    if args.write:
        replace_section("forecast-scale", body)


if __name__ == "__main__":
    main()
