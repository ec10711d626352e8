"""Scores into notes: music21 parses MusicXML, MIDI and ABC; the Bach chorales ship with it.

A parsed piece is kept as plain lists, which is what the cache stores:

- ``melody``: the top voice (soprano) as (MIDI pitch or -1 for a rest, quarter lengths);
- ``notes``: every note of every voice as (MIDI pitch, onset, duration) in quarter lengths.

Parsing the 371 chorales takes about half a minute; afterwards they come from the cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqsuite import cache
from seqsuite.errors import UserError

SCORE_SUFFIXES = {".mid", ".midi", ".xml", ".mxl", ".musicxml", ".abc", ".krn"}


def _piece(score: Any, name: str) -> dict[str, Any]:
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    top = parts[0].stripTies()
    melody = []
    for element in top.flatten().notesAndRests:
        length = float(element.quarterLength)
        if length <= 0:  # grace notes
            continue
        if element.isRest:
            melody.append((-1, length))
        elif element.isChord:
            melody.append((max(p.midi for p in element.pitches), length))
        else:
            melody.append((element.pitch.midi, length))
    notes = []
    for part in parts:
        for element in part.stripTies().flatten().notes:
            onset, length = float(element.offset), float(element.quarterLength)
            if length <= 0:
                continue
            for pitch in element.pitches:
                notes.append((pitch.midi, onset, length))
    return {"name": name, "melody": melody, "notes": notes}


def chorales() -> tuple[list[dict[str, Any]], bool]:
    """The Bach chorales of music21's corpus, parsed once and then cached."""
    import music21

    def parse() -> list[dict[str, Any]]:
        pieces = []
        for score in music21.corpus.chorales.Iterator(numberingSystem="bwv", returnType="stream"):
            name = str(score.metadata.title if score.metadata else len(pieces))
            pieces.append(_piece(score, name))
        return pieces

    return cache.load_or_compute(
        "music-chorales", {"music21": music21.__version__, "version": 1}, parse
    )


def parse_file(path: Path) -> dict[str, Any]:
    import music21

    try:
        score = music21.converter.parse(str(path))
    except Exception as err:  # noqa: BLE001 - music21 raises many kinds of errors for bad files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"cannot parse ({first})") from None
    piece = _piece(score, path.stem)
    if not piece["notes"]:
        raise ValueError("no notes")
    return piece


def folder(root: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str]], bool]:
    """Every score file under ``root`` (cached per file); unusable files are listed."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SCORE_SUFFIXES)
    if not files:
        raise UserError(
            f"{root}: no MIDI, MusicXML or ABC files ({', '.join(sorted(SCORE_SUFFIXES))})"
        )
    pieces, skipped, all_cached = [], [], True
    for path in files:
        stat = path.stat()
        key = {
            "file": str(path.resolve()),
            "size": stat.st_size,
            "mtime": stat.st_mtime_ns,
            "version": 1,
        }
        try:
            piece, cached = cache.load_or_compute(
                "music-file", key, lambda path=path: parse_file(path)
            )
        except ValueError as err:
            skipped.append((str(path), str(err)))
            continue
        all_cached &= cached
        pieces.append(piece)
    return pieces, skipped, all_cached
