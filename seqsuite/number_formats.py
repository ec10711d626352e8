"""Numbers written for people in a text table: thousands separators and decimal commas.

Why: a spreadsheet saved as CSV writes ``"1,037"`` (a quoted thousands separator) or, in
much of Europe, ``101,23`` in a semicolon-separated file. pandas reads both as text, and
a forecast of such a file used to stop with "no numeric column". A text column is read
as numbers only when every value of it is a number in one of these two ways:

- thousands commas: ``1,037`` ``-12,345.5`` (and plain ``12`` ``12.5``);
- a decimal comma: ``101,23`` ``1.234,5`` (dots group thousands; plain ``12`` ``1.234``).

A column that fits both (``1,234`` and nothing else) follows the file: in a
comma-separated file the comma of a quoted value groups thousands; in a semicolon- or
tab-separated file it is the decimal comma. Anything else stays text, so a value that is
not a number is still reported with its row by whoever needs a number.
"""

from __future__ import annotations

import re

import pandas as pd

THOUSANDS_COMMA = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[+-]?\d+(?:\.\d+)?")
DECIMAL_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")
#: values tried before a column is read whole: text columns fail within the first few
SAMPLE = 1000


def is_text(column: pd.Series) -> bool:
    """Whether pandas holds ``column`` as text: ``object`` before pandas 3, ``str`` since."""
    return column.dtype == object or isinstance(column.dtype, pd.StringDtype)


def as_numbers(column: pd.Series, delimiter: str) -> pd.Series | None:
    """``column`` as float64 when it is text holding numbers written with separators
    (see the module's docstring), else None."""
    if not is_text(column):
        return None
    head = _stripped(column.iloc[: 10 * SAMPLE]).iloc[:SAMPLE]  # text fails within these
    if head.empty or not head.str.contains(",", regex=False).any():
        return None
    style = _style(head, delimiter)
    text = _stripped(column) if style else None
    if style is None or _style(text, delimiter) != style:
        return None
    if style == "thousands":
        text = text.str.replace(",", "", regex=False)
    else:
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    return numbers.reindex(column.index)  # empty cells: NaN


def _stripped(column: pd.Series) -> pd.Series:
    """The non-empty values of a text column, stripped (non-strings as they print)."""
    text = column.dropna().astype(str).str.strip()
    return text[text != ""]


def _style(text: pd.Series, delimiter: str) -> str | None:
    """``thousands``, ``decimal`` or None for these non-empty stripped values."""
    thousands = bool(text.str.fullmatch(THOUSANDS_COMMA).all())
    decimal = bool(text.str.fullmatch(DECIMAL_COMMA).all())
    if thousands and decimal:
        return "thousands" if delimiter == "," else "decimal"
    return "thousands" if thousands else "decimal" if decimal else None
