"""``--json``: standard output holds the JSON and nothing else.

Why: a plugin that prints in a hook, or a C library that writes to file descriptor 1,
would put its line before the JSON, and ``seqsuite run TASK --json > out.json`` would not
be JSON. While the command works, both Python's ``sys.stdout`` and descriptor 1 point
at standard error; the JSON is printed after.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def kept_for_json(active: bool) -> Iterator[None]:
    """Within the block, standard output goes to standard error when ``active``."""
    if not active:
        yield
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no descriptor 1 (a closed stdout): Python's stream is enough
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
