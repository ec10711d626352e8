"""Seeded splits of labelled examples into train / val / test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def stratified_split(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[int]]:
    """Row indices per split, each class divided in the same proportions (seeded).

    Every class with at least three examples has one in each split; a rarer class goes
    to training first.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rng.shuffle(rows)
        n = len(rows)
        n_test = max(1, round(n * test_fraction)) if test_fraction > 0 and n >= 3 else 0
        n_val = max(1, round(n * val_fraction)) if val_fraction > 0 and n >= 3 else 0
        parts["test"] += rows[:n_test].tolist()
        parts["val"] += rows[n_test : n_test + n_val].tolist()
        parts["train"] += rows[n_test + n_val :].tolist()
    return {name: sorted(rows) for name, rows in parts.items()}


def group_split(
    groups: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[int]] | None:
    """Row indices per split with each group (a speaker, an author) wholly in one split,
    so that validation and test judge groups never trained on. The groups are shuffled
    (seeded) and dealt to test, then validation: each takes one group, then more while
    that brings its row count nearer its share. None when there are too few groups for
    one in every split that needs rows and one left to train on."""
    distinct = sorted(set(groups))
    wanted = [(name, f) for name, f in (("test", test_fraction), ("val", val_fraction)) if f > 0]
    if len(distinct) < len(wanted) + 1:
        return None
    sizes = Counter(groups)
    queue = [distinct[i] for i in np.random.default_rng(seed).permutation(len(distinct))]
    split_of: dict[str, str] = {}
    for left, (name, fraction) in enumerate(wanted):
        target, taken = fraction * len(groups), 0
        reserve = len(wanted) - left  # one group for each later split, one for training
        while len(queue) > reserve:
            size = sizes[queue[0]]
            if taken and abs(taken + size - target) >= abs(taken - target):
                break
            split_of[queue.pop(0)] = name
            taken += size
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for row, group in enumerate(groups):
        parts[split_of.get(group, "train")].append(row)
    return parts
