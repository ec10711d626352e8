"""Spoken digits: the Free Spoken Digit Dataset with its official split, feature speed
and the cache, and the synthesised default.

    python bench/speech.py [--minutes 10] [--write] [--set KEY=VALUE ...]

FSDD: ``../shared/data/fsdd/recordings/{digit}_{speaker}_{index}.wav``; index 0-4 of each
speaker and digit is the test set (300 files); validation is carved (stratified, seeded)
from the rest. The benchmark writes the manifest, runs the speech task's defaults with a
wall-clock budget, and times feature preparation cold (empty cache) and warm.
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

import pandas as pd  # noqa: E402

import seqsuite  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import RESULTS, command_line, replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FSDD = ROOT.parent / "shared" / "data" / "fsdd" / "recordings"


def manifest(folder: Path) -> Path:
    rows = []
    for path in sorted(FSDD.glob("*.wav")):
        digit, speaker, index = path.stem.split("_")
        rows.append(
            {
                "path": str(path),
                "label": digit,
                "split": "test" if int(index) <= 4 else "train",
                "speaker": speaker,
            }
        )
    out = folder / "fsdd.csv"
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="for the FSDD run")
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="time feature preparation only (rewrites that line of the section)",
    )
    args = parser.parse_args()

    from seqsuite_tasks.speech.task import SpeechTask

    with tempfile.TemporaryDirectory() as root:
        os.environ["SEQSUITE_CACHE"] = str(Path(root) / "cache")
        csv = manifest(Path(root))
        # feature preparation, cold then warm (the task's own prepare, as a run does it)
        import torch
        from rich.console import Console

        from seqsuite import config as configs
        from seqsuite.task import Context

        task = SpeechTask()
        timings = []
        for _ in range(2):
            cfg = configs.resolve(
                task, sets=args.sets, flags={"run": {"data": str(csv), "dataset": ""}}
            )
            ctx = Context(
                config=cfg, device=torch.device("cpu"), console=Console(quiet=True), quiet=True
            )
            started = time.perf_counter()
            prepared = task.prepare(ctx)
            timings.append(time.perf_counter() - started)
        audio_seconds = float(prepared.data["store"].seconds.sum())
        preparation = (
            f"FSDD feature preparation ({audio_seconds / 60:.1f} min of audio, read + resample + log-mel): "
            f"cold {timings[0]:.1f} s ({audio_seconds / timings[0]:.0f} s of audio per s), warm from the cache "
            f"{timings[1]:.2f} s: {timings[0] / timings[1]:.0f}× faster."
        )
        if args.prepare_only:
            print(preparation)
            if args.write:
                text = RESULTS.read_text(encoding="utf-8").split("<!-- speech:start -->")[1]
                old = next(line for line in text.splitlines() if line.startswith("FSDD feature"))
                replace_section(
                    "speech",
                    text.split("<!-- speech:end -->")[0]
                    .strip()
                    .replace(
                        old, f"{preparation} (`python bench/speech.py --prepare-only --write`)"
                    ),
                )
            return

        started = time.perf_counter()
        result = seqsuite.run(
            "speech",
            data=str(csv),
            sets=args.sets,
            time_budget=args.minutes * 60,
            out=Path(root) / "fsdd",
            quiet=True,
        )
        wall = time.perf_counter() - started
        fsdd = result.metrics

        started = time.perf_counter()
        digits = seqsuite.run("speech", out=Path(root) / "digits", quiet=True).metrics
        digits_wall = time.perf_counter() - started

    lines = [
        command_line("speech.py", f"--minutes {args.minutes:g}", args.sets),
        "",
        "| data | model | test accuracy % | macro F1 | training | published |",
        "|---|---|---|---|---|---|",
        f"| FSDD, official split (300 test files) | **seqsuite BiLSTM** ({fsdd['params']:,} parameters) | "
        f"**{100 * fsdd['test']['accuracy']:.2f}** | {fsdd['test']['macro_f1']:.4f} | "
        f"{fsdd['train_seconds'] / 60:.1f} min, {fsdd['epochs']} epochs (best {fsdd['best_epoch']}), stopped by {fsdd['stop_reason']} | |",
    ]
    for name, b in fsdd["baselines"].items():
        lines.append(f"| | {name} | {100 * b['accuracy']:.2f} | {b['macro_f1']:.4f} | | |")
    lines += [
        "| | BiLSTM on 39 MFCCs (published) | 98.4 | | | 98.4 |",
        f"| synthesised digits (`seqsuite run speech`, its defaults; unseen voices) | **seqsuite BiLSTM** | **{100 * digits['test']['accuracy']:.2f}** | "
        f"{digits['test']['macro_f1']:.4f} | {digits['train_seconds'] / 60:.1f} min; whole run {digits_wall / 60:.1f} min | |",
    ]
    for name, b in digits["baselines"].items():
        lines.append(f"| | {name} | {100 * b['accuracy']:.2f} | {b['macro_f1']:.4f} | | |")
    lines += ["", f"{preparation} The whole FSDD command took {wall / 60:.1f} min."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section("speech", text)


if __name__ == "__main__":
    main()
