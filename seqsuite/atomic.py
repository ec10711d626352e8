"""Safe file writes: atomic, never through a link or into something that is not a file.

Everything is written to a temporary file in the destination folder, flushed to disk,
then renamed over the destination (``os.replace`` is atomic on POSIX and Windows), so a
reader sees the old file or the new one, never a torn one. Because a rename replaces
whatever the path names, the destination is checked first: a symbolic link, a device,
a FIFO or a folder there is refused (a ``UserError``), so ``--out /dev/null`` or a link
planted in a run directory can never be replaced. New files get the mode the umask
allows (as ``open`` would give), not the temporary file's 0600.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from .errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()


def check_target(path: str | os.PathLike) -> None:
    """Refuse a destination that exists and is not a regular file (links included)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise UserError(f"{path}: is a symbolic link; seqsuite never writes through links")
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UserError(f"{path}: is {kind}; give the name of a new or regular file")


def folder_inside(root: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """``root / relative``, made where missing, each folder below ``root`` checked: a link
    planted in a run directory (``model/``, ``export/``, ``samples/`` pointing at the
    user's own files) is refused rather than written through. ``root`` itself may be
    reached through links the user made."""
    folder = Path(root)
    for part in Path(relative).parts:
        folder = folder / part
        if folder.is_symlink():
            raise UserError(f"{folder}: is a symbolic link; seqsuite never writes through links")
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{folder}: is not a folder")
    Path(root, relative).mkdir(parents=True, exist_ok=True)
    return Path(root, relative)


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(fileobj)`` on a temporary file, then move it to ``path``."""
    path = Path(path)
    check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        check_target(path)  # nothing swapped in while we wrote
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    write_atomic(path, lambda handle: handle.write(data))


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def write_csv(
    path: str | os.PathLike, rows: Iterable[dict[str, Any]], columns: list[str] | None = None
) -> None:
    """Rows of dicts as CSV; the columns are ``columns`` or every key in order of first use."""
    rows = list(rows)
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())
