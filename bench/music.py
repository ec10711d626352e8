"""Music: the Nottingham and JSB Chorales piano-roll benchmarks, and the Bach-chorale
melody default.

    python bench/music.py [--minutes 15] [--sets nottingham jsb events] [--set KEY=VALUE ...] [--write]

Each benchmark writes its own section of docs/results.md (``music-nottingham``, ...), so
that each can be rerun alone under the shared benchmark lock.

Nottingham (694 / 173 / 170 tunes) and JSB Chorales (229 / 76 / 77) come as ``.mat`` files
in ``../shared/data/`` with their own train / valid / test splits; the figure is the
frame-level test NLL (the 88 Bernoulli terms summed per frame, averaged over frames) of the
best validation checkpoint within a wall-clock budget. Each run is a fresh
``seqsuite run`` process with one thread; its peak resident memory comes from the
operating system. Melodies: the default ``seqsuite run music`` (events).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BENCHMARKS = {
    "nottingham": (
        "Nottingham",
        DATA / "Nottingham.mat",
        # chosen on the validation split (docs/results.md): the tunes share their keys, and
        # random transpositions cost more than they gave within 15 minutes
        ["task.transpose=false"],
        [
            ("LSTM (Bai et al. 2018)", "3.29"),
            ("GRU (Bai et al. 2018)", "3.46"),
            ("TCN (Bai et al. 2018)", "3.07"),
        ],
    ),
    "jsb": (
        "JSB Chorales",
        DATA / "JSB_Chorales.mat",
        [],
        [
            ("LSTM (Bai et al. 2018)", "8.45"),
            ("GRU (Bai et al. 2018)", "8.43"),
            ("TCN (Bai et al. 2018)", "8.10"),
        ],
    ),
}


def run(args: list[str], out: Path) -> tuple[dict, float, float]:
    """Metrics, wall seconds and peak resident MB of ``seqsuite run music ARGS``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "seqsuite",
        "run",
        "music",
        *args,
        "--out",
        str(out),
        "--quiet",
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status:
        raise SystemExit(
            f"{' '.join(command)}: exit {status}\n{child.stderr.read().decode()[-3000:]}"
        )
    return json.loads((out / "metrics.json").read_text()), wall, usage.ru_maxrss / 1024


def benchmark_lines(key: str, minutes: float, sets: list[str], root: Path) -> list[str]:
    name, path, own, published = BENCHMARKS[key]
    piano = ["--set", "task.representation='pianoroll'"]
    extra = [a for s in [*own, *sets] for a in ("--set", s)]
    load = os.getloadavg()
    metrics, wall, peak = run(
        ["--data", str(path), *piano, "--time-budget", str(minutes * 60), *extra], root / key
    )
    m = metrics
    settings = ", ".join(f"`{s}`" for s in [*own, *sets]) or "the defaults"
    return [
        f"{name} piano rolls ({settings}), frame-level test NLL (held-out test split; lower is better):",
        "",
        "| model | test NLL | validation NLL | training | peak memory |",
        "|---|---|---|---|---|",
        f"| **seqsuite LSTM** ({m['params']:,} parameters) | **{m['test']['nll']:.3f}** | "
        f"{m['val']['nll']:.3f} | {m['train_seconds'] / 60:.1f} min, {m['epochs']} epochs (best "
        f"{m['best_epoch']}), stopped by {m['stop_reason']}; {m['timesteps_per_second']:,.0f} "
        f"frames/s; whole command {wall / 60:.1f} min | {peak:,.0f} MB |",
        f"| key frequencies (baseline) | {m['baselines']['key_frequencies']['nll']:.3f} | | | |",
        *[f"| {label} (published) | {value} | | | |" for label, value in published],
        "",
        f"Load average when it started: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores).",
        "",
    ]


def events_lines(root: Path) -> list[str]:
    events, wall, peak = run([], root / "events")
    return [
        "Bach chorale melodies (`seqsuite run music`, soprano line as events, test pieces held out):",
        "",
        "| model | nats per event | next-event accuracy % |",
        "|---|---|---|",
        f"| **seqsuite LSTM** | **{events['test']['nll']:.3f}** | **{100 * events['test']['accuracy']:.1f}** |",
        *[
            f"| {n} | {b['nll']:.3f} | {100 * b['accuracy']:.1f} |"
            for n, b in events["baselines"].items()
        ],
        "",
        f"Default run: {events['train_seconds'] / 60:.1f} min of training, {events['epochs']} "
        f"epochs, {wall / 60:.1f} min in all, {peak:,.0f} MB peak.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--sets", nargs="+", default=["nottingham", "jsb", "events"])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for key in args.sets:
            started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
            if key == "events":
                lines = events_lines(Path(folder))
            else:
                lines = benchmark_lines(key, args.minutes, args.overrides, Path(folder))
            sets = "".join(f" --set {s}" for s in args.overrides)
            minutes = "" if key == "events" else f" --minutes {args.minutes:g}"
            head = (
                f"Command: `python bench/music.py{minutes} --sets {key}{sets} --write` ({started})"
            )
            text = "\n".join([head, "", *lines]).rstrip()
            print(text, flush=True)
            if args.write:
                replace_section(f"music-{key}", text)


if __name__ == "__main__":
    main()
