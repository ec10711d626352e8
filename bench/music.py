"""Music: the JSB Chorales piano-roll benchmark and the Bach-chorale melody default.

    python bench/music.py [--minutes 15] [--write] [--set KEY=VALUE ...]

JSB: ``../shared/data/JSB_Chorales.mat`` with its own train / valid / test split
(229 / 76 / 77 chorales, quarter-note frames); frame-level test NLL (the 88 Bernoulli
terms summed per frame, averaged over frames), the best validation checkpoint within
a wall-clock budget. Melodies: the default ``seqsuite run music`` (events).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import seqsuite  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import command_line, replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
JSB = ROOT.parent / "shared" / "data" / "JSB_Chorales.mat"
PUBLISHED = [
    ("LSTM (Bai et al. 2018)", "8.45"),
    ("GRU (Bai et al. 2018)", "8.43"),
    ("TCN (Bai et al. 2018)", "8.10"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="for the JSB run")
    parser.add_argument("--skip-events", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        jsb = seqsuite.run(
            "music",
            data=str(JSB),
            sets=["task.representation='pianoroll'", *args.sets],
            time_budget=args.minutes * 60,
            out=Path(root) / "jsb",
            quiet=True,
        ).metrics
        jsb_wall = time.perf_counter() - started
        events = None
        if not args.skip_events:
            started = time.perf_counter()
            events = seqsuite.run("music", out=Path(root) / "events", quiet=True).metrics
            events_wall = time.perf_counter() - started

    lines = [
        command_line("music.py", f"--minutes {args.minutes:g}", args.sets),
        "",
        "JSB Chorales piano rolls, frame-level test NLL (lower is better):",
        "",
        "| model | test NLL | training |",
        "|---|---|---|",
        f"| **seqsuite LSTM** ({jsb['params']:,} parameters) | **{jsb['test']['nll']:.3f}** | "
        f"{jsb['train_seconds'] / 60:.1f} min, {jsb['epochs']} epochs (best {jsb['best_epoch']}), stopped by {jsb['stop_reason']}; whole command {jsb_wall / 60:.1f} min |",
        f"| key frequencies (baseline) | {jsb['baselines']['key_frequencies']['nll']:.3f} | |",
        *[f"| {name} (published) | {value} | |" for name, value in PUBLISHED],
    ]
    if events:
        lines += [
            "",
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
            f"Default run: {events['train_seconds'] / 60:.1f} min of training, {events_wall / 60:.1f} min in all.",
        ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section("music", text)


if __name__ == "__main__":
    main()
