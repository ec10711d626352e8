"""Sentiment test figures: the default against bag-of-words, and transfer, on MR or the tweets.

    python bench/sentiment_mr.py [--data mr|tweets] [--seeds 3] [--pretrain-minutes 15] [--write]

Protocol: MR is ``../shared/data/rt-polarity.{pos,neg}`` (latin-1) with a seeded
stratified split, 10 % test and 10 % validation (early stopping) per seed; the tweets are
the embedded default with the task's own split. Per seed: test accuracy of the default
run beside the bag-of-words logistic regression on the same split (the run's
``bow_logreg``). The default was chosen on validation data (``bench/sentiment_recipes.py``);
the test figures here are looked at once.

Transfer (MR only, ``--pretrain-minutes`` > 0): a bidirectional word language model
(``seqsuite run bilm``) is trained on unlabelled text that holds no test sentence of any
seed: the embedded tweets and King James Bible verses plus the MR sentences outside every
seed's test split (ULMFiT's target-text stage, done in the same run). The same classifier
then starts from it (``--init-from``) and is compared with itself from scratch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

import seqsuite  # noqa: E402
from seqsuite.splits import stratified_split  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import command_line, replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (main), or beside the worktrees' folder
DATA = next(
    (p / "shared" / "data" for p in (ROOT.parent, ROOT.parents[1]) if (p / "shared").is_dir()),
    ROOT.parent / "shared" / "data",
)
PUBLISHED = [
    ("Kim (2014) CNN-rand", "76.1"),
    ("NBSVM bigrams (Wang & Manning 2012)", "79.4"),
    ("Kim (2014) CNN-static, word2vec", "81.0"),
]
SPLIT = ["task.val_fraction=0.1", "task.test_fraction=0.1"]


def load_mr() -> pd.DataFrame:
    rows = []
    for name, label in (("pos", "positive"), ("neg", "negative")):
        for line in (DATA / f"rt-polarity.{name}").read_bytes().decode("latin-1").splitlines():
            if line.strip():
                rows.append({"text": line.strip(), "label": label})
    return pd.DataFrame(rows)


def pretraining_text(mr: pd.DataFrame, seeds: int) -> tuple[str, int]:
    """MR sentences that are in no seed's test split (the split the task makes)."""
    labels = np.array([0 if lab == "negative" else 1 for lab in mr["label"]])
    held_out = set()
    for seed in range(seeds):
        held_out |= set(stratified_split(labels, 0.1, 0.1, seed)["test"])
    kept = [t for i, t in enumerate(mr["text"]) if i not in held_out]
    return "\n".join(kept) + "\n", len(kept)


def run_seeds(data: str | None, seeds: int, sets: list[str], root: str, **kwargs) -> list[dict]:
    results = []
    for seed in range(seeds):
        started = time.perf_counter()
        result = seqsuite.run(
            "sentiment", data=data, seed=seed, sets=sets, quiet=True, runs_root=root, **kwargs
        )
        m = result.metrics
        m["wall_seconds"] = time.perf_counter() - started
        print(
            f"  seed {seed}: {m['test']['accuracy']:.4f} (bow {m['baselines']['bow_logreg']['accuracy']:.4f}) "
            f"{m['wall_seconds']:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        results.append(m)
    return results


def describe(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * spread:.1f} ({', '.join(f'{100 * v:.1f}' for v in values)})"


def accuracies(runs: list[dict], key: str = "") -> list[float]:
    return [m["baselines"][key]["accuracy"] if key else m["test"]["accuracy"] for m in runs]


def pretrain(
    root: str, mr: pd.DataFrame, seeds: int, minutes: float, lm_sets: list[str]
) -> tuple[Path, str]:
    """A bidirectional LM on tweets + KJV + MR's non-test sentences; its run and a line."""
    text, kept = pretraining_text(mr, seeds)
    corpus = Path(root) / "mr_unlabelled.txt"
    corpus.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    lm = seqsuite.run(
        "bilm",
        data=str(corpus),
        sets=["task.corpora=['tweets','kjv']", *lm_sets],
        time_budget=minutes * 60,
        out=Path(root) / "lm",
        quiet=True,
    )
    line = (
        f"Pretraining: `seqsuite run bilm --data mr_unlabelled.txt --set task.corpora=['tweets','kjv']"
        f"{''.join(' --set ' + s for s in lm_sets)} --time-budget {minutes * 60:g}` on the embedded tweets, "
        f"the KJV verses and the {kept:,} MR sentences outside every seed's test split (unlabelled); "
        f"{lm.metrics['params']:,} parameters, {(time.perf_counter() - started) / 60:.1f} min, "
        f"{lm.metrics['epochs']} epochs, validation perplexity {lm.metrics['val']['perplexity']:.1f}."
    )
    print(line, file=sys.stderr, flush=True)
    return Path(root) / "lm", line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["mr", "tweets"], default="mr")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--pretrain-minutes", type=float, default=0, help="0 skips transfer")
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], help="for every classifier run"
    )
    parser.add_argument("--lm-set", dest="lm_sets", action="append", default=[])
    parser.add_argument("--transfer-set", dest="transfer_sets", action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        data, sets = None, list(args.sets)
        if args.data == "mr":
            mr = load_mr()
            data = str(Path(root) / "mr.csv")
            mr.to_csv(data, index=False)
            sets = SPLIT + sets
        print(f"{args.data}: the default, from scratch", file=sys.stderr, flush=True)
        scratch = run_seeds(data, args.seeds, sets, root)
        bow = accuracies(scratch, "bow_logreg")
        gain = statistics.mean(accuracies(scratch)) - statistics.mean(bow)
        minutes = statistics.mean(m["wall_seconds"] for m in scratch) / 60
        rows = [
            (
                "seqsuite sentiment default" + (f" (`{' '.join(args.sets)}`)" if args.sets else ""),
                describe(accuracies(scratch)),
            ),
            ("bag-of-words logistic regression (same splits)", describe(bow)),
        ]
        notes = [
            f"Default minus bag-of-words: **{100 * gain:+.1f} points** (mean of {args.seeds} seeds); "
            f"one default run took {minutes:.1f} min on average (train + evaluate + baselines)."
        ]
        if args.pretrain_minutes and args.data == "mr":
            lm, line = pretrain(root, mr, args.seeds, args.pretrain_minutes, args.lm_sets)
            print("the same classifier from the pretrained BiLM", file=sys.stderr, flush=True)
            tuned = run_seeds(data, args.seeds, sets + args.transfer_sets, root, init_from=str(lm))
            transfer_gain = statistics.mean(accuracies(tuned)) - statistics.mean(
                accuracies(scratch)
            )
            rows.insert(
                1,
                (
                    f"the same, from the pretrained BiLM (`--init-from`{''.join(' ' + s for s in args.transfer_sets)})",
                    describe(accuracies(tuned)),
                ),
            )
            notes += [line, f"Transfer minus from scratch: **{100 * transfer_gain:+.1f} points**."]
    lines = [
        command_line(
            "sentiment_mr.py",
            f"--data {args.data} --seeds {args.seeds} --pretrain-minutes {args.pretrain_minutes:g}",
            args.sets,
        )
        + f" ({time.strftime('%Y-%m-%d')}; held-out test splits, looked at once)",
        "",
        f"| model | test accuracy %, mean ± sd over {args.seeds} seeds (each) |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in rows],
        *(
            [f"| {name} (published) | {value} |" for name, value in PUBLISHED]
            if args.data == "mr"
            else []
        ),
        "",
        *notes,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section("sentiment" if args.data == "mr" else "sentiment-tweets", text)


if __name__ == "__main__":
    main()
