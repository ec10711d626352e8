"""Opening the user's files safely, before any reader touches them.

A path given as data must lead to a regular file (or, where a task reads folders, a
folder): a FIFO would block a reader forever and a device such as ``/dev/zero`` never
ends, so both are refused with one line, also when reached through a link; so is a file
whose size says 0 but which reads on (``/proc/self/pagemap``). Text is
decoded with its byte-order mark honoured (UTF-8, UTF-16, UTF-32), so a UTF-16 file is
read as the text it is, not called binary.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from .errors import UserError

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def resolved(path: str | Path) -> Path:
    """``path`` made absolute with its links followed; a loop of links is one clear line
    (Python raises RuntimeError or OSError for it, depending on the version)."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as err:
        raise UserError(f"{path}: cannot follow its links ({err})") from None


def regular_file(path: str | Path, what: str = "file") -> Path:
    """``path`` if it is (or links to) a regular file; otherwise one clear line."""
    path = Path(path)
    try:
        info = os.stat(path)  # follows links: a link to /dev/zero is a device
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found") from None
    except OSError as err:
        raise UserError(f"{path}: cannot open ({err.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{path}: is a folder; expected a {what}")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
        raise UserError(f"{path}: is {kind}, not a regular file; give a file that holds the data")
    if info.st_size == 0 and _has_content(path):
        raise UserError(
            f"{path}: a system file (its size says 0, yet it reads on, as /proc and /sys files "
            "do); copy what you need into a regular file"
        )
    return path


def _has_content(path: Path) -> bool:
    """Whether a file whose size is 0 still reads (a /proc or /sys file may never end)."""
    try:
        with open(path, "rb") as handle:
            return bool(handle.read(1))
    except OSError:
        return False


def text_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark announces, or None (then UTF-8 is expected)."""
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    return None


def decode_text(data: bytes, path: str | Path) -> str:
    """Bytes of a text file as text: BOM-announced UTF-16/32, else UTF-8; binary refused."""
    encoding = text_encoding(data[:4])
    if encoding is None and b"\x00" in data[:8192]:
        raise UserError(f"{path}: looks like a binary file, expected UTF-8 text")
    try:
        return data.decode(encoding or "utf-8")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{path}: not valid {encoding or 'UTF-8'} (byte {err.start}: "
            f"{data[err.start : err.start + 1]!r}); convert it, e.g. iconv -f latin1 -t utf-8"
        ) from None


def file_encoding(path: str | Path) -> str:
    """The encoding to read a text file with: what its byte-order mark announces (UTF-16
    and UTF-32 as Excel's "Unicode text" writes them), else UTF-8 (a UTF-8 mark skipped)."""
    with open(path, "rb") as handle:
        return text_encoding(handle.read(4)) or "utf-8-sig"


def undecodable(path: str | Path, encoding: str) -> str:
    """Where ``path`` stops being ``encoding``, for an error line: the line, the byte
    offset and the byte (read in blocks: the file may be large)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    consumed, lines = 0, 1
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as err:
                data = pending + block
                lines += data[: err.start].decode(encoding, errors="ignore").count("\n")
                where = consumed - len(pending) + err.start
                return f"line {lines}, byte {where}: {data[err.start : err.start + 1]!r}"
            consumed += len(block)
            lines += text.count("\n")
    return "at its end"
