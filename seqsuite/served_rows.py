"""``predict`` rows as ``seqsuite serve`` answers them, for the kinds of rows tasks share.

A classifier's ``predict`` gives one row per input: what it was (``text``, ``file``), the
``label``, its ``probability`` and, with ``--option probabilities=true``, a ``p(CLASS)``
column per class. Over HTTP the input is the client's own, so it is left out, and the
per-class columns become one ``probabilities`` object.
"""

from __future__ import annotations

from typing import Any

#: row keys that name the input (a temporary file's path means nothing to a client)
INPUT_KEYS = ("text", "file")


def class_answer(row: dict[str, Any]) -> dict[str, Any]:
    """One classifier row -> ``{"label", "probability", "probabilities"?, "error"?}``."""
    answer: dict[str, Any] = {}
    probabilities = {}
    for key, value in row.items():
        if key.startswith("p(") and key.endswith(")"):
            probabilities[key[2:-1]] = value
        elif key not in INPUT_KEYS and not (key == "error" and not value):
            answer[key] = value
    if probabilities:
        answer["probabilities"] = probabilities
    return answer


def split_answers(rows: list[dict[str, Any]], counts: list[int]) -> list[dict[str, Any]]:
    """Rows for several requests' inputs, in order -> ``{"predictions": [...]}`` each."""
    answers, start = [], 0
    for count in counts:
        answers.append({"predictions": [class_answer(r) for r in rows[start : start + count]]})
        start += count
    return answers
