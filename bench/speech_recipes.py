"""Choosing the speech recipe for voices never heard, on validation speakers only.

    python bench/speech_recipes.py --recipe base= --recipe warp=task.warp=0.1 [--folds 0,1]

FSDD (``../shared/data/fsdd``: 6 speakers x 10 digits x 50) in development folds: fold i
sets speaker i aside as the test speaker of the final leave-one-speaker-out benchmark
(``bench/speech_loso.py``) and never reads it; speaker i+1 is the validation speaker,
the other four train. Each recipe (``name=KEY=VALUE;KEY=VALUE``: ``--set`` pairs) is one
``seqsuite run speech`` on a manifest of the five speakers (``path,label,split,speaker``;
the test split a run needs repeats the validation speaker) and is scored by its
validation accuracy on the validation speaker at the epoch early stopping chose. With
``--unknown-speaker`` the run is also evaluated on the validation speaker without the
speaker column (``seqsuite eval --data``: the training data's statistics, as ``predict``
normalises a file of an unknown speaker). Rows are appended to a JSON-lines log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd  # noqa: E402

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"
if not FSDD.exists():
    FSDD = Path("/work/shared/data/fsdd/recordings")
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def fold_speakers(fold: int) -> tuple[str, str]:
    """(test speaker, validation speaker) of fold ``fold``, as bench/speech_loso.py."""
    return SPEAKERS[fold], SPEAKERS[(fold + 1) % len(SPEAKERS)]


def recordings() -> list[dict]:
    rows = []
    for path in sorted(FSDD.glob("*.wav")):
        digit, speaker, _ = path.stem.split("_")
        rows.append({"path": str(path), "label": digit, "speaker": speaker})
    return rows


def dev_manifests(fold: int, folder: Path) -> tuple[Path, Path]:
    """The fold's development manifest (its test speaker left out; the validation
    speaker as ``val``, the rest ``train``) and the validation speaker alone, without
    the speaker column."""
    test, val = fold_speakers(fold)
    rows = [
        {**r, "split": "val" if r["speaker"] == val else "train"}
        for r in recordings()
        if r["speaker"] != test
    ]
    alone = [{"path": r["path"], "label": r["label"]} for r in rows if r["split"] == "val"]
    # the run needs a test split: the validation speaker again (its score is not used),
    # so that training holds the same recordings as in the final folds
    rows += [{**r, "split": "test"} for r in rows if r["split"] == "val"]
    dev, unknown = folder / f"dev{fold}.csv", folder / f"val{fold}.csv"
    pd.DataFrame(rows).to_csv(dev, index=False)
    pd.DataFrame(alone).to_csv(unknown, index=False)
    return dev, unknown


def run_recipe(name: str, sets: list[str], fold: int, folder: Path, unknown: bool) -> dict:
    import seqsuite

    dev, alone = dev_manifests(fold, folder)
    started = time.perf_counter()
    out = folder / f"{name}-{fold}"
    result = seqsuite.run("speech", data=str(dev), sets=sets, out=out, quiet=True)
    history = pd.read_csv(out / "history.csv")
    row = {
        "recipe": name,
        "sets": sets,
        "fold": fold,
        "val_speaker": fold_speakers(fold)[1],
        "val_accuracy": result.metrics["val"]["accuracy"],
        "best_epoch": result.metrics["best_epoch"],
        "epochs": result.metrics["epochs"],
        "curve": [round(v, 4) for v in history["val_accuracy"]],
        "train_seconds": result.metrics["train_seconds"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    if unknown:
        row["val_accuracy_unknown_speaker"] = seqsuite.evaluate(out, data=str(alone), quiet=True)[
            "test"
        ]["accuracy"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", required=True, help="name=K=V;K=V")
    parser.add_argument("--folds", default="0,1,2,3,4,5")
    parser.add_argument("--unknown-speaker", action="store_true")
    parser.add_argument("--log", default="docs/speech_recipes.jsonl")
    parser.add_argument("--keep", help="keep the run directories in this folder")
    args = parser.parse_args()
    with run_folder(args.keep) as folder:
        for text in args.recipe:
            name, _, body = text.partition("=")
            sets = [pair for pair in body.split(";") if pair]
            for fold in (int(k) for k in args.folds.split(",")):
                report(run_recipe(name, sets, fold, folder, args.unknown_speaker), args.log)


@contextlib.contextmanager
def run_folder(keep: str | None) -> Iterator[Path]:
    """Where the runs (and the feature cache) go: ``keep``, or a folder deleted after."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("SEQSUITE_CACHE", str(folder / "cache"))
        yield folder


def report(row: dict, log_path: str) -> None:
    """One run's row: printed, and appended to the JSON-lines log."""
    print(json.dumps(row), flush=True)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
