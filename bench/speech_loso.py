"""Voices never heard: leave-one-speaker-out on the Free Spoken Digit Dataset.

    python bench/speech_loso.py [--folds 0,1,2,3,4,5] [--set KEY=VALUE ...] [--write]

FSDD (``../shared/data/fsdd/recordings/{digit}_{speaker}_{index}.wav``, 8 kHz, 6 speakers x
10 digits x 50). Fold i holds speaker i out entirely as the test speaker; speaker i+1 is
the validation speaker (early stopping and the best epoch are chosen on that voice), the
other four train. Each fold is one ``seqsuite run speech --data fold.csv`` with the
manifest ``path,label,split`` and, unless ``--set`` says otherwise, the task's defaults
(the recipe chosen on validation speakers with ``bench/speech_recipes.py``). The six test
accuracies, their mean and the worst go into docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd  # noqa: E402

import seqsuite  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import command_line, replace_section  # noqa: E402
from speech_recipes import FSDD, SPEAKERS, fold_speakers  # noqa: E402


def fold_manifest(fold: int, folder: Path) -> Path:
    """``path,label,split,speaker`` for fold ``fold``: its test speaker's 500 recordings
    as ``test``, its validation speaker's as ``val``, the rest ``train``."""
    test, val = fold_speakers(fold)
    rows = []
    for path in sorted(FSDD.glob("*.wav")):
        digit, speaker, _ = path.stem.split("_")
        split = "test" if speaker == test else "val" if speaker == val else "train"
        rows.append({"path": str(path), "label": digit, "split": split, "speaker": speaker})
    out = folder / f"fold{fold}.csv"
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


def run_fold(fold: int, folder: Path, sets: list[str]) -> dict:
    manifest = fold_manifest(fold, folder)
    started = time.perf_counter()
    result = seqsuite.run(
        "speech", data=str(manifest), sets=sets, out=folder / f"run{fold}", quiet=True
    )
    metrics = result.metrics
    test, val = fold_speakers(fold)
    row = {
        "fold": fold,
        "test_speaker": test,
        "val_speaker": val,
        "test_accuracy": metrics["test"]["accuracy"],
        "val_accuracy": metrics["val"]["accuracy"] if "val" in metrics else float("nan"),
        "logreg_accuracy": metrics["baselines"]["mfcc_stats_logreg"]["accuracy"],
        "epochs": metrics["epochs"],
        "best_epoch": metrics.get("best_epoch"),
        "train_seconds": metrics["train_seconds"],
        "wall_seconds": time.perf_counter() - started,
    }
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| fold | test speaker (held out) | validation speaker | test accuracy % "
        "| validation accuracy % | mfcc_stats_logreg % | epochs (best) | training |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['fold']} | {r['test_speaker']} | {r['val_speaker']} | "
            f"**{100 * r['test_accuracy']:.1f}** | {100 * r['val_accuracy']:.1f} | "
            f"{100 * r['logreg_accuracy']:.1f} | {r['epochs']} ({r['best_epoch']}) | "
            f"{r['train_seconds'] / 60:.1f} min |"
        )
    tests = [r["test_accuracy"] for r in rows]
    logreg = [r["logreg_accuracy"] for r in rows]
    minutes = sum(r["train_seconds"] for r in rows) / 60 / len(rows)
    lines.append(
        f"| **mean** | | | **{100 * sum(tests) / len(tests):.1f}** "
        f"(worst {100 * min(tests):.1f}) | "
        f"{100 * sum(r['val_accuracy'] for r in rows) / len(rows):.1f} | "
        f"{100 * sum(logreg) / len(logreg):.1f} | | {minutes:.1f} min per fold |"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", default=",".join(str(k) for k in range(len(SPEAKERS))))
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--keep", help="keep the run directories in this folder")
    args = parser.parse_args()
    folds = [int(k) for k in args.folds.split(",")]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("SEQSUITE_CACHE", str(folder / "cache"))
        rows = [run_fold(fold, folder, args.sets) for fold in folds]
    options = f"--folds {args.folds}" if args.folds != parser.get_default("folds") else ""
    body = "\n".join(
        [
            command_line("speech_loso.py", options, args.sets).replace("  ", " "),
            "",
            f"Measured {date.today()} on 2 CPU cores, one thread (load average {load:.1f} "
            "before). Held-out data: each fold's test speaker is never heard in training and "
            "never used to choose anything; the recipe was chosen on validation speakers only "
            "(`bench/speech_recipes.py`, below).",
            "",
            *table(rows),
        ]
    )
    print(body)
    if args.write:
        replace_section("speech-loso", body)


if __name__ == "__main__":
    main()
