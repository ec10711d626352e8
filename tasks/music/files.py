"""Opening the user's files: only regular files, never a FIFO or a device.

Opening a FIFO for reading waits for a writer that may never come, and a device such as
``/dev/zero`` streams forever; both are refused before a byte is read, naming the path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from seqsuite.errors import UserError


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for binary reading (links followed) if it is a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)  # non-blocking: a FIFO must not hang the open itself
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO or a device)"
            raise UserError(f"{path}: is {kind}; expected a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular(path: Path) -> bool:
    """Whether ``path`` is a regular file (links followed), without opening it."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False
