"""The command line's one error boundary: every way a command can end, as an exit code.

- :class:`~seqsuite.errors.UserError`: the user's input or usage is wrong -> exit 2 and
  its one line.
- What the environment or the input itself causes: ``OSError`` (a missing, unreadable or
  full file system, a path under ``/proc``), ``UnicodeError``, ``MemoryError``,
  ``RecursionError`` (absurdly nested input) and ``OverflowError`` (a number too large)
  -> exit 2 and one line naming the path or the kind of problem. No traceback.
- Typer's usage errors (a missing argument, a value of the wrong type) -> their message
  and code 2; Ctrl-C -> 130.
- Anything else is a bug: exit 1 with its traceback, never hidden.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from .errors import UserError

ENVIRONMENT_ERRORS = (OSError, UnicodeError, MemoryError, RecursionError, OverflowError)


def describe(err: BaseException) -> str:
    """One line for an environment error: what happened, and to which path."""
    if isinstance(err, OSError):
        path = err.filename if err.filename is not None else ""
        reason = err.strerror or os.strerror(err.errno) if err.errno else str(err)
        if err.errno == errno.ENOSPC:
            reason = "no space left on the device; free some space or choose another --out"
        elif err.errno in (errno.EACCES, errno.EPERM):
            reason = "permission denied"
        if path and _in_cache(str(path)):
            reason += " (seqsuite's cache: set SEQSUITE_CACHE to a writable folder)"
        return f"{path}: {reason}" if path else f"{reason or type(err).__name__}"
    if isinstance(err, UnicodeError):
        return f"text is not valid in its encoding ({err}); save it as UTF-8"
    if isinstance(err, MemoryError):
        return (
            "out of memory; use a smaller input or lower the data.max_* limits or train.batch_size"
        )
    if isinstance(err, RecursionError):
        return "input is nested too deeply to read (a config or data file with thousands of levels)"
    return f"a number is too large ({err})"


def _in_cache(path: str) -> bool:
    """Whether ``path`` is the cache folder, one of its parents or inside it."""
    from .cache import cache_dir

    cache = os.path.abspath(cache_dir())
    path = os.path.abspath(path)
    return path == cache or cache.startswith(path + os.sep) or path.startswith(cache + os.sep)


def call(command: Callable[[], Any]) -> int:
    """Run ``command`` and return the process's exit code (printing the one line)."""
    try:
        code = command()
    except UserError as err:
        return _fail(str(err))
    except typer.Exit as err:
        return _said(err.exit_code)
    except typer.TyperException as err:  # usage errors: a missing argument, a bad value
        if type(err).__name__ == "NoArgsIsHelpError":  # bare ``seqsuite``: help was shown
            return 0
        _fail(usage_line(err))
        return getattr(err, "exit_code", 2)
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        return 130
    except ENVIRONMENT_ERRORS as err:
        return _fail(describe(err))
    return _said(code if isinstance(code, int) else 0)


def _said(code: int) -> int:
    """``code``, saying "interrupted" for 130: recent typer turns a Ctrl-C inside a
    command into that exit code, returned without a word."""
    if code == 130:
        print("interrupted", file=sys.stderr)
    return code


def usage_line(err: Exception) -> str:
    """A usage error as one line that says where help is."""
    message = err.format_message() if hasattr(err, "format_message") else str(err)
    ctx = getattr(err, "ctx", None)
    where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
    return f"{message}{where}"


def _fail(message: str) -> int:
    line = " ".join(message.split()) or "failed"
    print(f"error: {line}", file=sys.stderr)
    return 2
