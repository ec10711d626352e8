"""The one exception type for mistakes a user can fix.

The CLI turns a :class:`UserError` into exit code 2 and a single line on stderr, so
its message must say *what* is wrong and *where* (file, field, line) and what was
expected. Anything else that escapes is a bug (exit code 1).
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input, data or usage: reported as one line, exit code 2."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the best checkpoint so far is kept."""


class FieldError(UserError):
    """A field of a request or an option is wrong; ``field`` names it (``seqsuite serve``
    answers 422 with it, the CLI prints the one line as for any :class:`UserError`)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def install_extra(extra: str) -> str:
    """How to add an optional extra: seqsuite is not on PyPI, where ``seqsuite[...]``
    would fetch somebody else's package, so from where it was installed."""
    return f"pip install '.[{extra}]' in seqsuite's checkout, or 'seqsuite-*.whl[{extra}]'"
