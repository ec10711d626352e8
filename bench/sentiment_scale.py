"""Sentiment's data path at 1x, 10x and 100x a base size: wall time and peak memory.

    python bench/sentiment_scale.py [--base-rows 10000] [--scales 1 10 100] [--long-row-chars 0] [--write]

For each scale, a CSV of ``scale x base-rows`` labelled texts (words drawn from a
Zipf-like vocabulary, 20 words a text, like MR) is written, then a fresh process runs
what ``seqsuite run sentiment --data FILE`` does before the model: read the file within
the ``[data]`` limits, tokenize into the memory-mapped store, count the vocabulary, make
the splits, and draw every training batch once (one epoch of the data pipeline, no
model). It prints its own wall time and peak resident memory (``ru_maxrss``); a second
process then does the same from the warm cache. ``--long-row-chars N`` appends one text
of N characters (issue 17's 60 MB row).

:func:`measure` is what ``bench/scale.py`` calls: ``measure(rows, long_row_chars=0)``
returns ``{"rows", "file_mb", "cold_s", "cold_peak_mb", "warm_s", "warm_peak_mb",
"truncated"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import command_line, replace_section  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
started = time.perf_counter()
from rich.console import Console
from seqsuite import config as configs
from seqsuite.registry import get_task
from seqsuite.task import Context
task = get_task("sentiment")
sets = ["data.max_line_chars=%d" % int(sys.argv[2])]
config = configs.resolve(task, sets=sets, flags={"run": {"data": sys.argv[1], "dataset": ""}})
ctx = Context(config=config, device=torch.device("cpu"), console=Console(quiet=True), quiet=True)
prepared = task.prepare(ctx)
batches = sum(1 for _ in prepared.train.batches(64, shuffle=True, generator=torch.Generator()))
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "truncated": prepared.info["examples_truncated"],
    "batches": batches,
}))
"""


def write_data(path: Path, rows: int, long_row_chars: int = 0, seed: int = 0) -> None:
    """``rows`` texts of 20 words (a 20,000-word Zipf vocabulary) and pos/neg labels."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(20_000)])
    weights = 1 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    with path.open("w", encoding="utf-8") as handle:
        handle.write("text,label\n")
        for start in range(0, rows, 10_000):
            n = min(10_000, rows - start)
            drawn = words[rng.choice(len(words), size=(n, 20), p=weights)]
            labels = rng.integers(0, 2, n)
            handle.writelines(
                f"{' '.join(text)},{'pos' if y else 'neg'}\n"
                for text, y in zip(drawn, labels, strict=True)
            )
        if long_row_chars:
            handle.write("word " * (long_row_chars // 5) + ",pos\n")


def _child(path: Path, cache: Path, max_line_chars: int) -> dict:
    env = {**os.environ, "SEQSUITE_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(max_line_chars)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(rows: int, long_row_chars: int = 0) -> dict:
    """Cold (empty cache) and warm wall time and peak memory of the data path."""
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "texts.csv"
        write_data(path, rows, long_row_chars)
        limit = max(10_000_000, long_row_chars + 1)
        cold = _child(path, Path(root) / "cache", limit)
        warm = _child(path, Path(root) / "cache", limit)
        return {
            "rows": rows,
            "file_mb": path.stat().st_size / 2**20,
            "cold_s": cold["seconds"],
            "cold_peak_mb": cold["peak_mb"],
            "warm_s": warm["seconds"],
            "warm_peak_mb": warm["peak_mb"],
            "truncated": cold["truncated"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-rows", type=int, default=10_000)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--long-row-chars", type=int, default=0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    lines = [
        command_line(
            "sentiment_scale.py",
            f"--base-rows {args.base_rows} --scales {' '.join(map(str, args.scales))}"
            + (f" --long-row-chars {args.long_row_chars}" if args.long_row_chars else ""),
            [],
        ),
        "",
        "| scale | rows | file MB | cold s | cold peak MB | warm s | warm peak MB | truncated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scale in args.scales:
        m = measure(scale * args.base_rows, args.long_row_chars)
        lines.append(
            f"| {scale}x | {m['rows']:,} | {m['file_mb']:.1f} | {m['cold_s']:.1f} | "
            f"{m['cold_peak_mb']:.0f} | {m['warm_s']:.1f} | {m['warm_peak_mb']:.0f} | {m['truncated']} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section("sentiment-scale", text)


if __name__ == "__main__":
    main()
