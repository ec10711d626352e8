"""Choosing sentiment's default recipe on validation data only (MR and the tweets).

    python bench/sentiment_recipes.py --data mr|tweets --seeds 1 --recipe NAME=KEY=VALUE,KEY=VALUE ...

For each recipe and seed: one ``seqsuite run sentiment`` (the split the task makes), its
validation accuracy, and the bag-of-words baseline (the task's own ``bow_logreg``) fitted
on the same training rows and scored on the same validation rows. Test figures are not
looked at here; ``bench/sentiment_mr.py`` reports them once a default is chosen.
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

import torch  # noqa: E402

import seqsuite  # noqa: E402
from seqsuite.metrics import classification  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from sentiment_mr import load_mr  # noqa: E402


def bow_on_validation(prepared, seed: int) -> float:
    """The task's bag-of-words baseline, fitted on training rows, scored on validation."""
    from seqsuite_tasks.sentiment.baselines import bag_of_words

    store, rows, labels = prepared.data["store"], prepared.data["rows"], prepared.data["labels"]
    model = bag_of_words(seed).fit(list(store.texts(rows["train"])), labels[rows["train"]])
    predicted = model.predict(list(store.texts(rows["val"])))
    return classification(labels[rows["val"]], predicted, len(prepared.data["classes"]))["accuracy"]


def run_recipe(
    sets: list[str], seed: int, data: str | None, root: str
) -> tuple[float, float, float]:
    started = time.perf_counter()
    result = seqsuite.run("sentiment", data=data, seed=seed, sets=sets, quiet=True, runs_root=root)
    seconds = time.perf_counter() - started
    return result.metrics["val"]["accuracy"], bow_on_validation(result.prepared, seed), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["mr", "tweets"], default="mr")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--recipe", action="append", default=[], help="NAME=KEY=VALUE,KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        data = None
        sets_common = []
        if args.data == "mr":
            data = str(Path(root) / "mr.csv")
            load_mr().to_csv(data, index=False)
            sets_common = ["task.val_fraction=0.1", "task.test_fraction=0.1"]
        for recipe in args.recipe or ["default="]:
            name, _, settings = recipe.partition("=")
            sets = sets_common + [s for s in settings.split(",") if s]
            found = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                val, bow, seconds = run_recipe(sets, seed, data, root)
                found.append((val, bow))
                print(
                    f"{args.data} {name} seed {seed}: val {100 * val:.2f} bow {100 * bow:.2f} "
                    f"({seconds:.0f} s)",
                    flush=True,
                )
            gain = statistics.mean(v - b for v, b in found)
            print(f"{args.data} {name}: mean val - bow = {100 * gain:+.2f} points", flush=True)


if __name__ == "__main__":
    main()
