"""Numbers written for people in a text table: thousands separators and decimal commas.

Why: a spreadsheet saved as CSV writes ``"1,037"`` (a quoted thousands separator) or, in
much of Europe, ``101,23`` in a semicolon-separated file. pandas reads both as text, and
a forecast of such a file used to stop with "no numeric column". A text column is read
as numbers only when every value of it is a number in one of these two ways:

- thousands commas: ``1,037`` ``-12,345.5`` (and plain ``12`` ``12.5``);
- a decimal comma: ``101,23`` ``1.234,5`` (dots group thousands; plain ``12`` ``1.234``).

A column that fits both (``1,234`` beside plain ``604``) is told by its own values first:
a group after a leading zero (``0,125``) or a plain whole number of four digits or more
(``1234``, which a writer of thousands commas would group) means a decimal comma. Then by
the file: in a comma-separated file the comma of a quoted value groups thousands, in a
semicolon-separated one it is the decimal comma. A tab-separated column that still fits
both is refused (:class:`AmbiguousNumbers`): spreadsheets in both conventions write tabs,
and guessing would make ``3,379`` a thousand times too small or too large.

Whole numbers with dots in a semicolon- or tab-separated file (``604`` beside ``3.379``)
are the same question the other way round (European dots grouping thousands, or decimal
points): pandas reads them as decimals, and :func:`dotted_thousands` says when a column
could as well be the other.

Anything else stays text, so a value that is not a number is still reported with its
row by whoever needs a number.
"""

from __future__ import annotations

import re

import pandas as pd

THOUSANDS_COMMA = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[+-]?\d+(?:\.\d+)?")
DECIMAL_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")
#: values tried before a column is read whole: text columns fail within the first few
SAMPLE = 1000
#: dots grouping thousands: 3.379, 12.345.678
DOTTED_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+")


class AmbiguousNumbers(ValueError):
    """A column whose numbers read as well with thousands separators as with decimal
    separators: ``example`` is one such value, ``readings`` its two readings."""

    def __init__(self, example: str, readings: tuple[float, float]):
        super().__init__(example)
        self.example, self.readings = example, readings


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
        return _either(text, delimiter)
    return "thousands" if thousands else "decimal" if decimal else None


def _either(text: pd.Series, delimiter: str) -> str:
    """The style of a column that fits both (see the module's docstring)."""
    grouped = text.str.contains(",", regex=False)
    leading_zero = text[grouped].str.match(r"[+-]?0,").any()
    long_plain = text[~grouped].str.fullmatch(r"[+-]?\d{4,}").any()
    if leading_zero or long_plain or delimiter == ";":
        return "decimal"
    if delimiter == "," or not grouped.any():
        return "thousands"
    example = text[grouped].iloc[0]
    as_thousands = float(example.replace(",", ""))
    raise AmbiguousNumbers(example, (as_thousands, float(example.replace(",", "."))))


def dotted_thousands(text: pd.Series) -> str | None:
    """A value of this column of numbers pandas read as decimals (``text``: as written)
    that may as well be dots grouping thousands: when every value with a dot is one
    (``3.379``, three digits after each dot) and whole numbers are among them (``604``)
    at least a tenth of the time, as a European spreadsheet writes thousands; real
    decimals written to three places are whole by chance one time in a thousand."""
    text = _stripped(text)
    dotted = text.str.contains(".", regex=False)
    if not dotted.any() or dotted.all() or (~dotted).mean() < 0.1:
        return None
    if not text[dotted].str.fullmatch(DOTTED_THOUSANDS).all():
        return None
    if not text[~dotted].str.fullmatch(r"[+-]?\d+").all():
        return None
    return str(text[dotted].iloc[0])
