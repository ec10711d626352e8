"""Writing measured figures into docs/results.md, between section markers."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results.md"


def replace_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->``
    (a section not there yet is added at the end)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8")
    if start not in text:
        text = f"{text.rstrip()}\n\n{start}\n{end}\n"
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    path.write_text(f"{before}{start}\n{body}\n{end}{after}", encoding="utf-8")


def command_line(script: str, options: str, sets: list[str]) -> str:
    """The ``Command: `...` `` line a section starts with, ``--set`` pairs included."""
    return (
        f"Command: `python bench/{script} {options}{''.join(f' --set {s}' for s in sets)} --write`"
    )
