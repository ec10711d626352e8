"""The ``seqsuite`` command's entry point, kept free of heavy imports.

Importing the CLI imports PyTorch, which takes seconds; Ctrl-C in those seconds would
print Python's traceback of the import. Here it ends the command as an interrupt anywhere
else does: one line, exit code 130.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    cli_main()
