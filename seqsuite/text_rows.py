"""Reading rows of a text table one at a time, within the ``[data]`` limits.

Labelled text (a text column, a label column, maybe a split column) can be far larger
than memory; a whole-file reader (pandas) also holds every field of every row at once,
several times over. :func:`iter_rows` streams CSV / TSV and JSON lines row by row (a
JSON array or Parquet file is read whole, its row count still checked), so memory grows
with the longest row, not with the file. It refuses what is not a regular file (a FIFO
or device never ends), a field longer than ``data.max_line_chars`` and more than
``data.max_rows`` rows, each with one line naming the file and the limit.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import UserError
from .input_files import file_encoding, regular_file, undecodable
from .table_files import READERS, find_column, read_table

#: characters read to guess a CSV file's delimiter
SNIFF_CHARS = 65_536


def check_regular_file(path: Path) -> None:
    """A regular file (links followed), not empty; a FIFO, device or folder is refused."""
    regular_file(path)
    if path.stat().st_size == 0:
        raise UserError(f"{path}: file is empty")


def table_kind(path: Path) -> str:
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise UserError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; expected one of "
            + ", ".join(sorted(READERS))
        )
    return kind


def iter_rows(
    path: str | Path,
    columns: Sequence[tuple[str, str, str]],
    optional: Sequence[str] = (),
    *,
    max_rows: int,
    max_line_chars: int,
) -> Iterator[dict[str, Any]]:
    """Rows of ``path`` as ``{column: value}`` for the wanted columns only.

    ``columns``: (name, what, option) of each required column (what and option name it in
    the error when it is missing); ``optional``: columns read when present. A missing
    value is None; CSV values are strings, JSON values as they are.
    """
    path = Path(path)
    check_regular_file(path)
    kind = table_kind(path)
    if kind in ("csv", "tsv"):
        rows = _csv_rows(path, "\t" if kind == "tsv" else None, max_line_chars)
    elif kind == "jsonl":
        rows = _jsonl_rows(path, max_line_chars)
    else:
        rows = _whole_table_rows(path)
    yield from _checked(path, kind, rows, columns, optional, max_rows)


def _checked(
    path: Path,
    kind: str,
    rows: Iterator[dict[str, Any]],
    columns: Sequence[tuple[str, str, str]],
    optional: Sequence[str],
    max_rows: int,
) -> Iterator[dict[str, Any]]:
    """The wanted columns of each row; the header checked on the first row."""
    names: list[str] | None = None
    count = 0
    try:
        for row in rows:
            if names is None:
                names = _wanted(path, row, columns, optional)
            count += 1
            if count > max_rows:
                raise UserError(
                    f"{path}: more than {max_rows:,} rows (data.max_rows); "
                    "raise it with --set data.max_rows=N if you mean it"
                )
            yield {name: row.get(name) for name in names}
    except UnicodeDecodeError as err:
        encoding = err.encoding.upper().replace("-SIG", "").replace("_", "-")
        raise UserError(
            f"{path}: not valid {encoding} ({undecodable(path, err.encoding)}); save it as "
            "UTF-8, e.g. iconv -f latin1 -t utf-8"
        ) from None
    except (csv.Error, json.JSONDecodeError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"{path}: cannot read as {kind.upper()}: data row {count + 1}: {message}"
        ) from None
    if names is None:
        raise UserError(f"{path}: no rows")


def _wanted(
    path: Path,
    row: dict[str, Any],
    columns: Sequence[tuple[str, str, str]],
    optional: Sequence[str],
) -> list[str]:
    """The column names to keep, after checking the required ones exist."""
    import pandas as pd

    header = pd.DataFrame(columns=[str(c) for c in row])
    names = [find_column(header, name, path, what, option) for name, what, option in columns]
    return names + [c for c in optional if c in row and c not in names]


def _csv_rows(path: Path, delimiter: str | None, max_line_chars: int) -> Iterator[dict[str, Any]]:
    encoding = file_encoding(path)
    with _field_limit(max_line_chars), path.open(encoding=encoding, newline="") as handle:
        if delimiter is None:
            sample = handle.read(SNIFF_CHARS)
            handle.seek(0)
            delimiter = _guess_delimiter(sample)
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = _distinct([c.strip() for c in next(reader)])
        except StopIteration:
            return
        number = 0
        while True:
            number += 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                if "field limit" in str(err):  # csv stops at the limit: the field is longer
                    raise UserError(_too_long(path, number, max_line_chars)) from None
                raise
            if any(values[len(header) :]):  # "a, b,pos": the text's comma split it
                raise UserError(
                    f"{path}: data row {number} has {len(values)} fields, the header "
                    f'{len(header)}; quote a text that holds a {delimiter!r} ("a, b")'
                )
            if values:  # not a blank line
                yield dict(zip(header, (v if v != "" else None for v in values), strict=False))


def _distinct(names: list[str]) -> list[str]:
    """A header's names, a repeated one numbered as pandas numbers it (``text``,
    ``text.1``): the first column of a name is the one read, not the last."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def _too_long(path: Path, number: int, limit: int) -> str:
    return (
        f"{path}: data row {number} holds a field or line longer than data.max_line_chars "
        f"({limit:,} characters); raise it with --set data.max_line_chars=N if you mean it"
    )


@contextlib.contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """csv's field-size limit (process-wide) set for the duration of one read."""
    before = csv.field_size_limit()
    csv.field_size_limit(limit + 1)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _guess_delimiter(sample: str) -> str:
    """, ; | or tab, whichever the file uses (a one-column file has none: ",")."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _jsonl_rows(path: Path, max_line_chars: int) -> Iterator[dict[str, Any]]:
    with path.open(encoding=file_encoding(path)) as handle:
        number = 0
        while True:
            line = handle.readline(max_line_chars + 1)
            if not line:
                return
            number += 1
            if len(line) > max_line_chars and not line.endswith("\n"):
                raise UserError(_too_long(path, number, max_line_chars))
            if not line.strip():
                continue
            value = json.loads(line)
            if not isinstance(value, dict):
                raise json.JSONDecodeError("expected an object per line", line, 0)
            yield value


def _whole_table_rows(path: Path) -> Iterator[dict[str, Any]]:
    """JSON arrays and Parquet, read whole (their size is the file's)."""
    frame = read_table(path)
    for record in frame.to_dict("records"):
        yield {k: (None if _missing(v) else v) for k, v in record.items()}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def file_identity(path: str | Path) -> dict[str, Any]:
    """What says a file is unchanged: size and SHA-256 of its content (read in blocks)."""
    import hashlib

    path = Path(path)
    check_regular_file(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"size": os.path.getsize(path), "sha256": digest.hexdigest()}
