"""Seeded stratified and group splits, and the classification path's choice between a
given split and a carved one."""

from __future__ import annotations

import numpy as np
import pytest

from seqsuite.classify import choose_split, groups_apart
from seqsuite.errors import UserError
from seqsuite.splits import group_split, stratified_split


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


def test_without_a_split_in_any_row_the_split_is_stratified():
    labels = np.array([0, 1] * 50)
    blank = [None] * 100
    assert choose_split(blank, labels, 0.1, 0.1, 5, "d") == stratified_split(labels, 0.1, 0.1, 5)
    assert choose_split(None, labels, 0.1, 0.1, 5, "d") == stratified_split(labels, 0.1, 0.1, 5)
    partial = ["train"] * 99 + [None]  # the blank row is a training row too
    parts = choose_split(partial, labels, 0.1, 0.1, 5, "d")
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == list(range(100))
    assert len(parts["val"]) == len(parts["test"]) == 10


def test_a_given_split_without_training_rows_is_a_user_error():
    with pytest.raises(UserError, match="d.csv: the given split has no train rows"):
        choose_split(["test", "val"], np.array([0, 1]), 0.1, 0.1, 0, "d.csv")


def test_a_group_split_keeps_every_group_in_one_split_near_its_share_and_is_seeded():
    groups = [f"s{k}" for k in range(10) for _ in range(30)]  # ten speakers, 30 rows each
    parts = group_split(groups, 0.1, 0.2, seed=1)
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == list(range(300))
    assert groups_apart(parts, groups)
    assert len(parts["val"]) == 30 and len(parts["test"]) == 60  # one speaker, two
    assert group_split(groups, 0.1, 0.2, seed=1) == parts != group_split(groups, 0.1, 0.2, 2)


def test_a_group_split_gives_every_part_a_group_or_refuses():
    # one big group: validation still gets one whole group, and training keeps one
    assert group_split(["a"] * 90 + ["b"] * 5 + ["c"] * 5, 0.1, 0.1, 0) is not None
    parts = group_split(["a"] * 5 + ["b"] * 5 + ["c"] * 5, 0.1, 0.1, 0)
    assert all(len(rows) == 5 for rows in parts.values())
    assert group_split(["a"] * 5 + ["b"] * 5, 0.1, 0.1, 0) is None  # three parts, two groups
    assert group_split(["a"] * 5 + ["b"] * 5, 0.1, 0.0, 0) is not None  # two parts


def test_validation_carved_from_training_holds_whole_speakers_when_speakers_are_known():
    speakers = [s for s in "abcdef" for _ in range(20)]
    labels = np.array([0, 1] * 60)
    given = ["test" if s == "f" else "train" for s in speakers]
    parts = choose_split(given, labels, 0.1, 0.1, seed=0, where="d.csv", groups=speakers)
    assert parts["test"] == list(range(100, 120))
    assert len({speakers[r] for r in parts["val"]}) == 1 and len(parts["val"]) == 20
    assert groups_apart(parts, speakers)
    # one training row whose speaker is unknown: stratified by label, as without speakers
    unknown = [None] + speakers[1:]
    assert choose_split(given, labels, 0.1, 0.1, 0, "d", unknown) == choose_split(
        given, labels, 0.1, 0.1, 0, "d"
    )
    assert not groups_apart(choose_split(given, labels, 0.1, 0.1, 0, "d"), speakers)


def test_without_a_given_split_both_parts_hold_whole_speakers():
    speakers = [s for s in "abcdefghij" for _ in range(10)]
    parts = choose_split(None, np.array([0, 1] * 50), 0.1, 0.1, 3, "d", speakers)
    assert groups_apart(parts, speakers)
    assert len(parts["val"]) == len(parts["test"]) == 10


def test_a_given_test_part_that_shares_speakers_with_training_keeps_validation_stratified():
    # an official split testing the training speakers: validation follows it
    speakers = [s for s in "abcdef" for _ in range(20)]
    labels = np.array([0, 1] * 60)
    given = ["test" if k % 10 == 0 else "train" for k in range(120)]
    grouped = choose_split(given, labels, 0.1, 0.1, 0, "d", speakers)
    assert grouped == choose_split(given, labels, 0.1, 0.1, 0, "d")
