"""Data at scale: wall time and peak memory of each task at 1x, 10x and 100x a base size.

    python bench/scale.py [--tasks textgen,sentiment,speech,music,forecast] [--scales 1,10,100] [--write]

Each task gets synthetic data of a realistic shape (text, labelled sentences, one-second
recordings, piano rolls, a series), made once per size, and one ``seqsuite run`` in a
subprocess with a small model and a fixed number of training steps (``train.max_steps``),
so that what grows with the data is reading, preparing, caching and evaluating it. The
process's own peak resident memory comes from ``os.wait4``. Targets (issue 17): time grows
at most linearly (the 100x run takes at most ~100x the 1x run); the peak at 100x is at most
twice the peak at 1x.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

SMALL = ["--set", "backbone.hidden_size=16", "--set", "backbone.num_layers=1"]
SMALL += [
    "--set",
    "train.max_steps=20",
    "--set",
    "train.time_budget=0",
    "--set",
    "train.eval_every=0",
]
WORDS = (
    "the a of film good bad plot actor scene story long short dull fine great poor music".split()
)


def text_data(scale: int, folder: Path) -> tuple[Path, list[str], str]:
    """1 MB of word-like text per unit of scale."""
    rng = np.random.default_rng(0)
    path = folder / "corpus.txt"
    with path.open("w") as handle:
        for _ in range(scale * 10):
            words = rng.choice(WORDS, 20_000)
            handle.write(" ".join(words) + ".\n")
    return (
        path,
        ["--set", "task.sample_length=10", "--set", "task.ngram_order=2"],
        f"{path.stat().st_size / 1e6:.0f} MB",
    )


def sentiment_data(scale: int, folder: Path) -> tuple[Path, list[str], str]:
    """10,000 labelled sentences per unit of scale."""
    rng = np.random.default_rng(0)
    path = folder / "reviews.csv"
    with path.open("w") as handle:
        handle.write("text,label\n")
        for _ in range(scale * 10_000):
            label = rng.integers(2)
            words = rng.choice(WORDS, rng.integers(5, 30))
            handle.write(
                " ".join(words)
                + (" great" if label else " dull")
                + f",{'pos' if label else 'neg'}\n"
            )
    return path, [], f"{scale * 10_000:,} rows"


def speech_data(scale: int, folder: Path) -> tuple[Path, list[str], str]:
    """20 one-second recordings (two words) per unit of scale, 16 kHz."""
    import soundfile

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    for k in range(scale * 20):
        label = ("yes", "no")[k % 2]
        tone = 0.3 * np.sin(2 * np.pi * (300 if label == "yes" else 500) * t) + 0.01 * rng.normal(
            size=t.size
        )
        path = folder / "words" / label / f"{k}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, tone.astype(np.float32), 16000)
    return folder / "words", [], f"{scale * 20:,} files"


def music_data(scale: int, folder: Path) -> tuple[Path, list[str], str]:
    """Benchmark-format piano rolls: 20 training pieces of ~200 frames per unit of scale."""
    rng = np.random.default_rng(0)

    def piece() -> list[list[int]]:
        return [[int(k) for k in rng.choice(range(40, 90), 3, replace=False)] for _ in range(200)]

    rolls = {
        "train": [piece() for _ in range(scale * 20)],
        "valid": [piece() for _ in range(scale * 4)],
        "test": [piece() for _ in range(scale * 4)],
    }
    path = folder / "rolls.pickle"
    path.write_bytes(pickle.dumps(rolls))
    return path, ["--set", "task.representation='pianoroll'"], f"{scale * 28 * 200:,} frames"


def forecast_data(scale: int, folder: Path) -> tuple[Path, list[str], str]:
    """10,000 points of an hourly series per unit of scale."""
    n = scale * 10_000
    t = np.arange(n)
    values = 100 + 10 * np.sin(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 1, n)
    path = folder / "series.csv"
    buffer = io.StringIO()
    np.savetxt(buffer, values, fmt="%.3f")
    path.write_text("value\n" + buffer.getvalue())
    return path, ["--set", "task.season=24", "--set", "task.horizon=24"], f"{n:,} points"


MAKERS = {
    "textgen": text_data,
    "sentiment": sentiment_data,
    "speech": speech_data,
    "music": music_data,
    "forecast": forecast_data,
}


def run_once(task: str, data: Path, extra: list[str], work: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one ``seqsuite run`` on ``data``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEQSUITE_CACHE": str(work / "cache")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    command = [sys.executable, "-m", "seqsuite", "run", task, "--data", str(data), "--quiet"]
    command += ["--out", str(work / f"run-{time.time_ns()}"), *SMALL, *extra]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{task} failed: {child.stderr.read().decode()[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def bench(task: str, scales: list[int]) -> list[dict]:
    rows = []
    for scale in scales:
        with tempfile.TemporaryDirectory() as tmp:
            data, extra, size = MAKERS[task](scale, Path(tmp))
            seconds, peak = run_once(task, data, extra, Path(tmp))
        rows.append(
            {"task": task, "scale": scale, "size": size, "seconds": seconds, "peak_mb": peak}
        )
        print(f"{task:10s} {scale:4d}x {size:>16s} {seconds:8.1f} s {peak:8.0f} MB", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| task | scale | data | wall s | peak MB | time / 1x | peak / 1x |",
        "|---|---|---|---|---|---|---|",
    ]
    base = {}
    for r in rows:
        first = base.setdefault(r["task"], r)
        lines.append(
            f"| {r['task']} | {r['scale']}x | {r['size']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} "
            f"| {r['seconds'] / first['seconds']:.1f} | {r['peak_mb'] / first['peak_mb']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(MAKERS))
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    load = os.getloadavg()[0]
    rows = [row for task in args.tasks.split(",") for row in bench(task, scales)]
    body = "\n".join(
        [
            f"Command: `python bench/scale.py --tasks {args.tasks} --scales {args.scales} --write`",
            "",
            f"Measured {date.today()} (load average {load:.1f} before). Synthetic data of each "
            "task's shape; a 16-unit model and 20 training steps, so what grows is reading, "
            "preparing, caching and evaluating the data; peak resident memory of the process.",
            "",
            table(rows),
        ]
    )
    print(body)
    if args.write:
        replace_section("scale", body)


if __name__ == "__main__":
    main()
