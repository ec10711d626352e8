"""Text generation on tiny-shakespeare: validation loss against wall-clock time, and
generation speed with and without carrying the recurrent state.

    python bench/textgen.py [--minutes 20] [--write] [-- extra seqsuite run options]

Protocol (char-rnn / nanoGPT): ``../shared/data/tinyshakespeare.txt``, first 90 % train,
last 10 % validation (reported as test too), character level, the textgen task's
defaults (its preset for this kind of corpus) and a wall-clock budget. Prints the
curve of validation nats/char against elapsed time, the baselines, and generation
speed at batch 1: tokens per second when the state is carried (what `generate` does)
against re-reading the whole prefix for every new character.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch  # noqa: E402

import seqsuite  # noqa: E402
from seqsuite import assembly  # noqa: E402
from seqsuite.plots import plt, save  # noqa: E402
from seqsuite.token_lm import generate, generate_rerunning_prefix  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import RESULTS, replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


def generation_speed(
    run_dir: Path, lengths=(100, 300), repeats: int = 3
) -> list[tuple[int, float, float]]:
    model = assembly.load(run_dir, quiet=True).model
    model.to("cpu")
    prompt = [2]
    rows = []
    for length in lengths:
        fast, slow = [], []
        for repeat in range(repeats):
            started = time.perf_counter()
            generate(model, prompt, length, seed=repeat)
            fast.append(length / (time.perf_counter() - started))
            started = time.perf_counter()
            generate_rerunning_prefix(model, prompt, length, seed=repeat)
            slow.append(length / (time.perf_counter() - started))
        rows.append((length, statistics.median(fast), statistics.median(slow)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--out", default="", help="run directory (default: a temporary one)")
    parser.add_argument("sets", nargs="*", help="extra --set KEY=VALUE pairs")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found")

    # a wall-clock budget, not the default's fixed number of steps
    sets = ["task.val_fraction=0.1", "task.test_fraction=0", "train.max_steps=0", *args.sets]
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out or Path(scratch) / "run")
        started = time.perf_counter()
        result = seqsuite.run(
            "textgen", data=str(DATA), sets=sets, time_budget=args.minutes * 60, out=out
        )
        wall = time.perf_counter() - started
        rows = list(csv.DictReader((out / "history.csv").open()))
        speed = generation_speed(out)
        metrics = result.metrics

        elapsed = [float(r["elapsed"]) / 60 for r in rows]
        val = [float(r["val_nll"]) for r in rows]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(elapsed, val, marker=".", label="seqsuite LSTM (validation)")
        ax.axhline(1.47, color="grey", linestyle="--", label="nanoGPT Transformer, GPU (1.47)")
        ax.axhline(
            metrics["baselines"]["kneser_ney_5gram"]["nll"],
            color="tab:green",
            linestyle=":",
            label="Kneser-Ney 5-gram",
        )
        ax.set_xlabel("wall-clock minutes (training + validation)")
        ax.set_ylabel("validation nats / char")
        ax.set_ylim(1.3, 2.2)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title("tiny-shakespeare, character level, 2 CPU cores")
        save(fig, RESULTS.parent / "textgen_curve.png")

    best = min(val)
    lines = [
        f"Command: `python bench/textgen.py --minutes {args.minutes:g}{' ' + ' '.join(args.sets) if args.sets else ''} --write`"
        f" (textgen defaults: {result.metrics['params']:,} parameters, precision {metrics['precision']})",
        "",
        "| model | validation nats/char | bits/char |",
        "|---|---|---|",
        f"| **seqsuite LSTM**, best checkpoint after {args.minutes:g} min | **{metrics['test']['nll']:.3f}** | {metrics['test']['bpc']:.3f} |",
    ]
    for name, b in metrics["baselines"].items():
        lines.append(f"| {name} | {b['nll']:.3f} | {b['bpc']:.3f} |")
    lines += [
        "| nanoGPT Transformer on a GPU (reference) | 1.47 | |",
        "| nanoGPT small CPU config (reference) | 1.88 | |",
        "",
        f"Training stopped by: {metrics['stop_reason']}; {metrics['epochs']} validation rounds, "
        f"{metrics['timesteps_per_second']:.0f} characters/s (median over rounds); whole command {wall / 60:.1f} min.",
        "",
        "Validation loss against wall-clock time (`docs/textgen_curve.png`):",
        "",
        "| minutes | "
        + " | ".join(f"{e:.1f}" for e in elapsed[:: max(1, len(elapsed) // 12)])
        + " |",
        "|---|" + "---|" * len(elapsed[:: max(1, len(elapsed) // 12)]),
        "| val nats/char | "
        + " | ".join(f"{v:.3f}" for v in val[:: max(1, len(val) // 12)])
        + " |",
        "",
        f"Best validation {best:.3f} nats/char at {elapsed[val.index(best)]:.1f} min.",
        "",
        "![validation loss against time](textgen_curve.png)",
        "",
        "Generation speed at batch 1 on CPU (median of 3; characters per second):",
        "",
        "| new characters | state carried (`generate`) | prefix re-read for each character | ratio |",
        "|---|---|---|---|",
    ]
    for length, fast, slow in speed:
        lines.append(f"| {length} | {fast:.0f} | {slow:.0f} | {fast / slow:.1f}× |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section("textgen", text)


if __name__ == "__main__":
    torch.set_num_threads(os.cpu_count() or 2)
    main()
