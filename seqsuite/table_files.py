"""Reading the user's tabular files (CSV, TSV, JSON, JSON lines, Parquet) with clear errors.

Every failure becomes a :class:`UserError` that names the file and, where it applies,
the column and what was expected.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .input_files import regular_file, text_encoding, undecodable
from .number_formats import AmbiguousNumbers, as_numbers, dotted_thousands

#: columns a table may have: one per series in a wide panel (more series belong in long
#: format, one row per id, time and value); a 14 MB CSV of a million columns took pandas
#: and the per-column checks minutes and gigabytes
MAX_COLUMNS = 20_000

READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def read_table(path: str | Path, as_text: bool = False) -> pd.DataFrame:
    """A data frame from ``path``, chosen by its extension. ``as_text``: CSV / TSV cells
    stay the strings they are ("01" is not 1, "NA" and "None" are not missing; only an
    empty cell is), for columns of names and labels."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir():
        raise UserError(f"{path}: is a folder; expected a file ({', '.join(sorted(READERS))})")
    regular_file(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise UserError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; expected one of "
            + ", ".join(sorted(READERS))
        )
    if path.stat().st_size == 0:
        raise UserError(f"{path}: file is empty")
    if kind != "parquet":
        with path.open("rb") as handle:
            head = handle.read(8192)
        encoding = text_encoding(head)
        if encoding is None and b"\x00" in head:
            raise UserError(f"{path}: looks like a binary file, expected {kind.upper()} text")
    delimiter = _delimiter(path) if kind == "csv" else "\t"
    if kind in ("csv", "tsv"):
        _check_width(path, delimiter)
    try:
        if kind in ("csv", "tsv"):
            text = {"dtype": str, "keep_default_na": False, "na_values": [""]} if as_text else {}
            frame = pd.read_csv(path, sep=delimiter, encoding=encoding, **text)
        elif kind == "json":
            frame = _read_json(path)
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True, encoding=encoding)
        else:
            frame = pd.read_parquet(path)
    except UserError:
        raise
    except UnicodeDecodeError:  # pandas' offset is within its buffer: find the real place
        name = (encoding or "utf-8").upper().replace("-SIG", "")
        raise UserError(
            f"{path}: not valid {name} ({undecodable(path, encoding or 'utf-8')}); "
            "save it as UTF-8, e.g. iconv -f latin1 -t utf-8"
        ) from None
    except Exception as err:  # noqa: BLE001 - pandas raises many types for bad files
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: cannot read as {kind.upper()}: {message}") from None
    if len(frame.columns) and frame.empty:
        raise UserError(
            f"{path}: a header line and no rows (the first line of a {kind.upper()} file names "
            "its columns; the rows follow it)"
        )
    if frame.empty or len(frame.columns) == 0:
        raise UserError(f"{path}: no rows")
    if len(frame.columns) > MAX_COLUMNS:
        raise _too_wide(path, len(frame.columns))
    if kind in ("csv", "tsv"):
        frame = _without_trailing_empty_columns(frame)
    frame.columns = [str(c).strip() for c in frame.columns]
    if kind in ("csv", "tsv") and not as_text:
        for name in frame.select_dtypes(exclude="number").columns:  # numbers are read
            try:
                numbers = as_numbers(frame[name], delimiter)
            except AmbiguousNumbers as err:
                raise _ambiguous(path, name, err.example, *err.readings) from None
            if numbers is not None:  # "1,037" or "101,23": numbers written for people
                frame[name] = numbers
        if delimiter != ",":
            _refuse_dotted_thousands(path, frame, delimiter, encoding)
    return frame


def _without_trailing_empty_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Without the nameless, empty columns that a delimiter at the end of every line makes
    (``date,sales,``, as spreadsheets export): pandas names them ``Unnamed: 2``, and they
    would be taken for a second series or refused by a name the file never wrote."""
    empty = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    return frame.drop(columns=empty) if empty and len(empty) < len(frame.columns) else frame


def _refuse_dotted_thousands(path: Path, frame: pd.DataFrame, delimiter: str, encoding) -> None:
    """A semicolon- or tab-separated column that pandas read as decimals but may be whole
    numbers with dots grouping thousands (``604`` beside ``3.379``) is refused: read the
    one way or the other, it is a thousand times off. Only columns whose values all have
    at most three decimals and include whole numbers are read again as text."""
    for name in frame.select_dtypes(include="float").columns:
        values = frame[name].dropna().to_numpy()
        whole = values == np.round(values)
        if not len(values) or whole.all() or whole.mean() < 0.1:
            continue
        if not np.allclose(values * 1000, np.round(values * 1000), rtol=0, atol=1e-6):
            continue
        written = pd.read_csv(  # the header's names were stripped since
            path, sep=delimiter, encoding=encoding, dtype=str,
            usecols=lambda column, name=name: str(column).strip() == name,
        ).iloc[:, 0]  # fmt: skip
        example = dotted_thousands(written)
        if example is not None:
            raise _ambiguous(path, name, example, float(example.replace(".", "")), float(example))


def _ambiguous(path: Path, column: str, example: str, one: float, other: float) -> UserError:
    return UserError(
        f"{path}: column {column!r}: {example!r} may be {one:g} or {other:g} (a thousands "
        "separator or a decimal one) and the column does not tell; write its numbers "
        f"without thousands separators ({one:g}) or with a decimal point ({other:g})"
    )


def _check_width(path: Path, delimiter: str) -> None:
    """Refuse a header line of more than :data:`MAX_COLUMNS` fields before pandas reads
    the file (quoted delimiters counted too: an upper bound, read in 1 MB blocks)."""
    fields = 1
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            line_end = block.find(b"\n")
            fields += block.count(delimiter.encode(), 0, None if line_end < 0 else line_end)
            if fields > MAX_COLUMNS * 2 or line_end >= 0:  # quoted commas: leave those to pandas
                break
    if fields > MAX_COLUMNS * 2:
        raise _too_wide(path, fields)


def _too_wide(path: Path, columns: int) -> UserError:
    return UserError(
        f"{path}: {columns:,} columns or more; at most {MAX_COLUMNS:,} (many series belong in "
        "long format: one row per series id, time and value)"
    )


def _delimiter(path: Path) -> str:
    """, ; | or tab, whichever the file uses (a one-column file has none: ",")."""
    import csv

    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        sample = handle.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_json(path: Path) -> pd.DataFrame:
    """A JSON list of records, or an object of columns, or JSON lines."""
    try:
        return pd.read_json(path)
    except ValueError:
        return pd.read_json(path, lines=True)


def find_column(frame: pd.DataFrame, name: str, path: str | Path, what: str, option: str) -> str:
    """The column called ``name``; the error names the nearest existing column."""
    if name in frame.columns:
        return name
    columns = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UserError(
        f"{path}: no {what} column {name!r} ({option}); {hint}columns: {', '.join(columns)}"
    )


def numeric_column(frame: pd.DataFrame, column: str, path: str | Path) -> np.ndarray:
    """Column values as float64; a non-numeric or infinite entry is an error naming its row."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    suspect = np.flatnonzero((values.isna() & raw.notna()).to_numpy())  # text only here
    bad = suspect[(raw.iloc[suspect].astype(str).str.strip() != "").to_numpy()]
    if len(bad):
        row = int(bad[0])
        raise UserError(
            f"{path}: column {column!r}, data row {row + 1}: {raw.iloc[row]!r} is not a number"
        )
    array = values.to_numpy(dtype=float)
    if np.isinf(array).any():
        row = int(np.flatnonzero(np.isinf(array))[0])
        raise UserError(f"{path}: column {column!r}, data row {row + 1}: infinite value")
    return array
