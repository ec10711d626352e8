"""Threads on a shared machine: each task's quick preset alone and two at once, with
PyTorch's default threads against seqsuite's own choice.

    python bench/threads.py [--tasks forecast,sentiment] [--repeats 3] [--write]

For each task and each way of choosing threads, the same ``seqsuite run TASK --quick`` runs
alone, then twice at the same moment (two processes). The figure is the training time
(``train_seconds`` in metrics.json; data preparation is the same either way) as a median
over the repeats, and the slowdown of a run beside another over the same run alone.
Targets (issue 14): two at once each <= 1.6x alone with seqsuite's choice; alone no slower
than with PyTorch's default. The last column is the floor of the first target: two runs on
two cores have one core each, so neither can finish before one thread alone would.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import command_line, replace_section  # noqa: E402

TASKS = ["forecast", "sentiment", "music", "speech", "textgen"]


def torch_default_threads() -> int:
    """What a fresh PyTorch process uses on this machine without being told."""
    code = "import torch; print(torch.get_num_threads())"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    return int(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout
    )


def start(task: str, folder: Path, threads: int | None, sets: list[str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "seqsuite", "run", task, "--quick", "--quiet", "--json"]
    command += ["--out", str(folder)]
    if threads:
        command += ["--threads", str(threads)]
    for pair in sets:
        command += ["--set", pair]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def finish(child: subprocess.Popen) -> dict:
    out, err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"a run failed: {err.strip().splitlines()[-1:]}")
    return json.loads(out)


def measure(
    task: str, threads: int | None, together: int, root: Path, sets: list[str]
) -> list[dict]:
    """``together`` identical runs started at once; their metrics."""
    children = [
        start(task, root / f"{task}-{threads}-{together}-{k}-{time.time_ns()}", threads, sets)
        for k in range(together)
    ]
    return [finish(child) for child in children]


def bench_task(
    task: str, repeats: int, default: int, root: Path, sets: list[str], default_pairs: bool = True
) -> dict:
    """Median training seconds alone and two at once, for PyTorch's default and for auto.
    Without ``default_pairs`` the default is timed alone only (two default runs at once
    oversubscribe the cores and take 15-40x as long: minutes per pair)."""
    row: dict = {"task": task}
    for label, threads in (("default", default), ("auto", None)):
        alone, pair, chosen = [], [], set()
        for _ in range(repeats):
            solo = measure(task, threads, 1, root, sets)[0]
            alone.append(solo["train_seconds"])
            chosen.add(solo["threads"])
            if label == "default" and not default_pairs:
                continue
            both = measure(task, threads, 2, root, sets)
            pair.append(max(m["train_seconds"] for m in both))
            chosen.update(m["threads"] for m in both)
        together = statistics.median(pair) if pair else float("nan")
        row[label] = {
            "alone": statistics.median(alone),
            "pair": together,
            "slowdown": together / statistics.median(alone),
            "threads": sorted(chosen),
        }
        print(
            f"{task:10s} {label:8s} alone {row[label]['alone']:7.2f} s  two at once "
            f"{row[label]['pair']:7.2f} s ({row[label]['slowdown']:.2f}x)  threads {sorted(chosen)}",
            flush=True,
        )
    row["solo_ratio"] = row["auto"]["alone"] / row["default"]["alone"]
    # the floor of "two at once": each run then has one CPU, so it cannot beat one thread alone
    one = [measure(task, 1, 1, root, sets)[0]["train_seconds"] for _ in range(repeats)]
    row["one_thread"] = statistics.median(one) / row["auto"]["alone"]
    print(
        f"{task:10s} one thread alone {statistics.median(one):7.2f} s "
        f"({row['one_thread']:.2f}x auto alone)",
        flush=True,
    )
    return row


def _seconds(value: float) -> str:
    return "not run" if value != value else f"{value:.2f} s"


def _ratio(value: float) -> str:
    return "" if value != value else f"{value:.2f}x"


def table(rows: list[dict], default: int) -> str:
    lines = [
        f"| task | PyTorch default ({default} threads): alone | two at once, each | slowdown "
        "| seqsuite's choice: alone | two at once, each | slowdown | threads chosen | alone: auto / default | one thread alone / auto alone (the floor) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, a = r["default"], r["auto"]
        lines.append(
            f"| {r['task']} | {d['alone']:.2f} s | {_seconds(d['pair'])} | {_ratio(d['slowdown'])} "
            f"| {a['alone']:.2f} s | {a['pair']:.2f} s | **{a['slowdown']:.2f}x** "
            f"| {', '.join(map(str, a['threads']))} | {r['solo_ratio']:.2f} | {r['one_thread']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], dest="sets", help="TASK.KEY=VALUE")
    parser.add_argument(
        "--no-default-pairs",
        action="store_true",
        help="time PyTorch's default threads alone only (its pairs take minutes each)",
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    default = torch_default_threads()
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            sets = [s.split(".", 1)[1] for s in args.sets if s.startswith(task + ".")]
            rows.append(
                bench_task(task, args.repeats, default, Path(tmp), sets, not args.no_default_pairs)
            )
    body = "\n".join(
        [
            command_line(
                "threads.py",
                f"--tasks {args.tasks} --repeats {args.repeats}"
                + (" --no-default-pairs" if args.no_default_pairs else ""),
                args.sets,
            ),
            "",
            f"Measured {date.today()} on {os.cpu_count()} CPUs (load average before: "
            f"{load[0]:.1f}, after: {os.getloadavg()[0]:.1f}); training seconds of "
            '`seqsuite run TASK --quick`, median of the repeats; "two at once" is the slower of '
            "two identical runs started together.",
            "",
            table(rows, default),
        ]
    )
    print(body)
    if args.write:
        replace_section("threads", body)


if __name__ == "__main__":
    main()
