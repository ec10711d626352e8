"""The shared classification path: class order, label encoding, prediction rows."""

from __future__ import annotations

import numpy as np
import pytest

from seqsuite.classify import (
    choose_split,
    encode_labels,
    label_text,
    order_classes,
    prediction_rows,
)
from seqsuite.errors import UserError


def test_natural_order_puts_numbers_and_number_words_by_value():
    digits = ["eight", "five", "four", "nine", "one", "seven", "six", "three", "two", "zero"]
    assert order_classes(digits) == [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
    ]
    assert order_classes(["10", "9", "-1", "2.5"]) == ["-1", "2.5", "9", "10"]
    assert order_classes(["item10", "item2", "Item1", "beta"]) == [
        "beta",
        "Item1",
        "item2",
        "item10",
    ]


def test_other_label_orders():
    labels = ["pos", "neg", "10", "9", "neg"]
    assert order_classes(labels, "alphabetical") == ["10", "9", "neg", "pos"]
    assert order_classes(labels, "first_seen") == ["pos", "neg", "10", "9"]


def test_encode_labels_uses_a_saved_runs_classes_and_refuses_unknown_labels():
    encoded = encode_labels(["b", "a", "b"], "d.csv")
    assert encoded.classes == ["a", "b"] and encoded.index.tolist() == [1, 0, 1]
    again = encode_labels(["b"], "new.csv", saved=["b", "a"])
    assert again.classes == ["b", "a"] and again.index.tolist() == [0]
    with pytest.raises(UserError, match=r"new.csv: labels \['c'\] are not among"):
        encode_labels(["a", "c"], "new.csv", saved=["a", "b"])
    with pytest.raises(UserError, match="single class"):
        encode_labels(["a", "a"], "d.csv")


def test_prediction_rows_name_the_most_likely_class_and_every_probability():
    probs = np.array([[0.2, 0.8], [0.9, 0.1]])
    rows = prediction_rows(probs, ["neg", "pos"], [{"text": "x"}, {"text": "y"}], every_class=True)
    assert rows[0] == {
        "text": "x",
        "label": "pos",
        "probability": 0.8,
        "p(neg)": 0.2,
        "p(pos)": 0.8,
    }
    assert rows[1]["label"] == "neg" and "p(pos)" in rows[1]
    assert "p(neg)" not in prediction_rows(probs, ["neg", "pos"], [{}, {}])[0]


def test_labels_are_read_as_written_but_a_whole_decimal_is_its_integer():
    where = "f.csv: data row 3"
    assert [label_text(v, where) for v in ("01", " pos ", "None", "NA", "nan")] == [
        "01", "pos", "None", "NA", "nan",
    ]  # fmt: skip
    assert [label_text(v, where) for v in ("1.0", "-2.00", 1.0, 3, 2.5, True)] == [
        "1", "-2", "1", "3", "2.5", "true",
    ]  # fmt: skip
    assert [label_text(v, where) for v in (None, float("nan"), "", "  ")] == [None] * 4
    with pytest.raises(UserError, match=r"f.csv: data row 3: a label is list \['neg'\]"):
        label_text(["neg"], where)


def test_a_partly_filled_split_column_trains_on_its_blank_rows():
    labels = np.array([0, 1] * 50)
    given = ["test"] * 20 + [None] * 80
    parts = choose_split(given, labels, 0.1, 0.1, seed=0, where="f.csv")
    assert parts["test"] == list(range(20))  # as given: never trained on
    assert len(parts["val"]) == 10 and not set(parts["val"]) & set(range(20))
    assert sorted(parts["train"] + parts["val"]) == list(range(20, 100))
    carved = choose_split([None] * 100, labels, 0.1, 0.1, seed=0, where="f.csv")
    assert len(carved["test"]) == 10  # no row says: all are split
