"""Seeded stratified splits, and the classification path's choice between a given split
and a stratified one."""

from __future__ import annotations

import numpy as np
import pytest

from seqsuite.classify import choose_split
from seqsuite.errors import UserError
from seqsuite.splits import stratified_split


def test_stratified_split_keeps_class_shares_and_is_seeded():
    labels = np.array([0] * 80 + [1] * 20)
    parts = stratified_split(labels, 0.1, 0.1, seed=3)
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == list(range(100))
    assert (labels[parts["test"]] == 1).sum() == 2 and len(parts["test"]) == 10
    assert (
        stratified_split(labels, 0.1, 0.1, seed=3)
        == parts
        != stratified_split(labels, 0.1, 0.1, seed=4)
    )


def test_a_complete_given_split_is_kept_as_it_is():
    labels = np.array([0, 1] * 10)
    given = ["train"] * 14 + ["val"] * 3 + ["test"] * 3
    parts = choose_split(given, labels, 0.1, 0.1, seed=0, where="d.csv")
    assert parts == {
        "train": list(range(14)),
        "val": [14, 15, 16],
        "test": [17, 18, 19],
    }


def test_a_missing_validation_part_is_carved_from_training_stratified():
    labels = np.array([0] * 60 + [1] * 40)
    given = ["test"] * 10 + ["train"] * 90
    parts = choose_split(given, labels, 0.1, 0.1, seed=0, where="d.csv")
    assert parts["test"] == list(range(10))
    assert len(parts["val"]) == 10 and not set(parts["val"]) & set(parts["train"])
    assert sorted(parts["train"] + parts["val"]) == list(range(10, 100))
    assert (labels[parts["val"]] == 1).sum() == 4  # the classes' shares of training


def test_without_a_split_for_every_row_the_split_is_stratified():
    labels = np.array([0, 1] * 50)
    partial = ["train"] * 99 + [None]
    assert choose_split(partial, labels, 0.1, 0.1, 5, "d") == stratified_split(labels, 0.1, 0.1, 5)
    assert choose_split(None, labels, 0.1, 0.1, 5, "d") == stratified_split(labels, 0.1, 0.1, 5)


def test_a_given_split_without_training_rows_is_a_user_error():
    with pytest.raises(UserError, match="d.csv: the given split has no train rows"):
        choose_split(["test", "val"], np.array([0, 1]), 0.1, 0.1, 0, "d.csv")
