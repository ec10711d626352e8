"""Paths named inside the user's data (a manifest's rows, files in label folders).

A manifest written by someone else can point anywhere: ``../../etc/passwd`` or a link out
of the folder. With ``[data] confine = true`` every listed path must resolve (links
followed) inside the data's own folder; the refusal names the file, the row and the path.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError
from .input_files import resolved


def resolve_listed(base: Path, listed: str | Path, *, confine: bool, where: str) -> Path:
    """``listed`` relative to ``base``, resolved; refused if ``confine`` and it leaves ``base``.

    ``where`` says where the path was found, e.g. ``"fsdd.csv: data row 3"``. A path
    written on Windows (``clips\\a.wav``) is read with ``/`` when no file has the name
    as written.
    """
    listed = windows_separators(base, str(listed))
    if not confine:  # no file-system calls (but for backslashes): thousands of rows stay fast
        return Path(os.path.normpath(os.path.abspath(base / listed)))
    path = resolved(base / listed)
    if not path.is_relative_to(resolved(base)):
        raise UserError(
            f"{where}: {str(listed)!r} leads outside {base} (refused: [data] confine = true)"
        )
    return path


def windows_separators(base: Path, listed: str) -> str:
    """``listed`` with ``\\`` read as ``/`` where the manifest was written on Windows: the
    path holds backslashes and no ``/``, and nothing exists under the name as written."""
    if os.sep == "/" and "\\" in listed and "/" not in listed and not (base / listed).exists():
        return listed.replace("\\", "/")
    return listed
