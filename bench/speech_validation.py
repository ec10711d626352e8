"""What a speech run should stop on: a voice it never trains on, or its own voices.

    python bench/speech_validation.py [--folds 2,0,1] [--log FILE]

A user with recordings of a few speakers can set one speaker aside to tell when to stop
(``split=val`` for that speaker's rows), or give only ``train``/``test`` rows and let the
run carve its validation part out of the training recordings (``task.val_fraction``,
stratified by label: voices it also trains on). The first judges the epoch on an unheard
voice but trains on one voice fewer. Which serves an unheard voice better is decided
here on development data only (FSDD, ``../shared/data/fsdd``): development fold i leaves
out the final benchmark's test speaker i entirely (``bench/speech_loso.py`` fold i) and
scores both ways on speaker i+1, never heard in training and never used to choose an
epoch:

- ``speaker``: three speakers train, speaker i+2 is the validation voice;
- ``pooled``: those four speakers train, the validation part carved from them.

Rows (test accuracy on speaker i+1, epochs, time) are printed and appended to the log.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd  # noqa: E402
from speech_recipes import SPEAKERS, recordings, report, run_folder  # noqa: E402

WAYS = ("speaker", "pooled")


def manifest(fold: int, way: str, folder: Path) -> Path:
    """Development fold ``fold``'s manifest for one way of validating: speaker ``fold``
    left out, speaker ``fold + 1`` the test voice, and speaker ``fold + 2`` either the
    validation voice (``speaker``) or one of the training voices (``pooled``)."""
    left_out = SPEAKERS[fold]
    scored = SPEAKERS[(fold + 1) % len(SPEAKERS)]
    stopper = SPEAKERS[(fold + 2) % len(SPEAKERS)]
    rows = []
    for r in recordings():
        if r["speaker"] == left_out:
            continue
        if r["speaker"] == scored:
            split = "test"
        elif r["speaker"] == stopper and way == "speaker":
            split = "val"
        else:
            split = "train"
        rows.append({**r, "split": split})
    out = folder / f"dev{fold}-{way}.csv"
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


def run(fold: int, way: str, folder: Path, sets: list[str]) -> dict:
    import seqsuite

    started = time.perf_counter()
    data = manifest(fold, way, folder)
    result = seqsuite.run(
        "speech", data=str(data), sets=sets, out=folder / f"{way}{fold}", quiet=True
    )
    metrics = result.metrics
    return {
        "way": way,
        "fold": fold,
        "scored_speaker": SPEAKERS[(fold + 1) % len(SPEAKERS)],
        "accuracy": metrics["test"]["accuracy"],
        "val_accuracy": metrics["val"]["accuracy"],
        "epochs": metrics["epochs"],
        "best_epoch": metrics.get("best_epoch"),
        "train_seconds": metrics["train_seconds"],
        "seconds": round(time.perf_counter() - started, 1),
        "sets": sets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", default="2,0,1")
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--log", default="speech_validation.jsonl")
    parser.add_argument("--keep", help="keep the run directories in this folder")
    args = parser.parse_args()
    with run_folder(args.keep) as folder:
        for fold in (int(k) for k in args.folds.split(",")):
            for way in args.ways.split(","):
                report(run(fold, way, folder, args.sets), args.log)


if __name__ == "__main__":
    main()
