"""Scores into pieces: MIDI read here (:mod:`.midi`), MusicXML, ABC and Humdrum through
music21; the Bach chorales ship with music21.

A :class:`Piece` is two small integer arrays in ticks of ``1/RES`` quarter note, which is
what the cache stores:

- ``melody``: the top voice (soprano) as (MIDI pitch or -1 for a rest, length);
- ``notes``: every note of every voice as (MIDI pitch, onset, duration).

Every file is checked before it is parsed: a regular file (never a FIFO or a device),
and at most ``[data] max_notes`` notes (MIDI: counted while reading, which stops at the
limit; music21's formats: an upper bound counted in the bytes, because music21 has no
way to stop early). A folder is listed without following links, up to ``max_files``
files, and its files are parsed in worker processes, each cached by path, size and time.
"""

from __future__ import annotations

import os
import re
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqsuite import cache
from seqsuite.config import DataSettings
from seqsuite.errors import UserError

from .files import is_regular, open_regular
from .midi import MidiError, read_midi

RES = 48  # ticks per quarter note: sixteenths, triplets and quintuplets of a beat
MIDI_SUFFIXES = {".mid", ".midi"}
SCORE_SUFFIXES = MIDI_SUFFIXES | {".xml", ".mxl", ".musicxml", ".abc", ".krn"}
BYTES_PER_NOTE = 2000  # a text score longer than this per allowed note is refused unread
VERSION = 2  # of the cached form


@dataclass
class Piece:
    """A parsed score (see the module doc); arrays are int64, times in ticks of 1/RES."""

    name: str
    melody: np.ndarray  # (m, 2): pitch or -1, length
    notes: np.ndarray  # (n, 3): pitch, onset, duration

    def to_cache(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "melody": torch.from_numpy(self.melody),
            "notes": torch.from_numpy(self.notes),
        }

    @classmethod
    def from_cache(cls, value: dict[str, Any]) -> Piece:
        return cls(str(value["name"]), value["melody"].numpy(), value["notes"].numpy())

    def quarters(self) -> np.ndarray:
        """(n, 3) float64 notes: pitch, onset, duration in quarter notes."""
        return self.notes / np.array([1.0, RES, RES])

    def end(self) -> float:
        """Where the last note ends, in quarter notes."""
        return float((self.notes[:, 1] + self.notes[:, 2]).max(initial=0)) / RES


class ScoreError(ValueError):
    """A file that cannot become a piece (the message says why); skipped in a folder."""


# -- one file --------------------------------------------------------------------------


def parse_file(path: Path, limits: DataSettings) -> Piece:
    """The piece in ``path``; :class:`ScoreError` (or a UserError for a FIFO, device or
    folder) when it cannot be read or passes a limit."""
    if path.suffix.lower() in MIDI_SUFFIXES:
        try:
            midi = read_midi(path, limits.max_notes)
        except MidiError as err:
            raise ScoreError(str(err)) from None
        piece = from_midi(path.stem, midi.notes, midi.ticks)
    else:
        _check_text_score(path, limits.max_notes)
        piece = _music21(path)
    if not len(piece.notes):
        raise ScoreError("no notes")
    return piece


def from_midi(name: str, notes: np.ndarray, ticks: int) -> Piece:
    """A piece from MIDI notes (pitch, onset tick, end tick, voice); the melody is the
    highest note at each onset of the first voice (track and channel) that has notes."""
    scaled = np.rint(notes[:, 1:3] * (RES / ticks)).astype(np.int64)
    rows = np.stack([notes[:, 0], scaled[:, 0], scaled[:, 1] - scaled[:, 0]], axis=1)
    keep = rows[:, 2] > 0
    rows, voices = rows[keep], notes[keep, 3]
    order = np.lexsort((rows[:, 0], rows[:, 1]))
    melody = np.zeros((0, 2), dtype=np.int64)
    if len(rows):
        top = rows[voices == voices[np.argmin(voices)]]
        melody = skyline(top[:, 0], top[:, 1], top[:, 1] + top[:, 2])
    return Piece(name, melody, rows[order].astype(np.int64))


def skyline(pitch: np.ndarray, onset: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(m, 2) melody of pitch (-1 rest) and length: the highest note at each onset, held
    until the next onset or its own end (then a rest until the next onset)."""
    order = np.lexsort((-pitch, onset))
    pitch, onset, end = pitch[order], onset[order], end[order]
    first = np.r_[True, onset[1:] != onset[:-1]]  # highest pitch of each onset
    pitch, onset, end = pitch[first], onset[first], end[first]
    following = np.r_[onset[1:], end[-1]]
    held = np.minimum(end, following) - onset
    gap = following - (onset + held)
    rows = []
    if onset[0] > 0:
        rows.append((-1, int(onset[0])))
    for p, h, g in zip(pitch, held, gap, strict=True):
        rows.append((int(p), int(h)))
        if g > 0:
            rows.append((-1, int(g)))
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def _music21(path: Path) -> Piece:
    import music21

    try:
        score = music21.converter.parse(str(path))
    except Exception as err:  # noqa: BLE001 - music21 raises many kinds of errors for bad files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ScoreError(f"cannot parse ({first[:200]})") from None
    return from_score(score, path.stem)


def from_score(score: Any, name: str) -> Piece:
    """A piece from a music21 score: the first part's top line and every part's notes."""
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    melody = []
    for element in parts[0].stripTies().flatten().notesAndRests:
        length = int(round(float(element.quarterLength) * RES))
        if length <= 0:  # grace notes
            continue
        if element.isRest:
            melody.append((-1, length))
        else:
            melody.append((max(p.midi for p in element.pitches), length))
    notes = []
    for part in parts:
        for element in part.stripTies().flatten().notes:
            onset = int(round(float(element.offset) * RES))
            length = int(round(float(element.quarterLength) * RES))
            if length > 0:
                notes += [(p.midi, onset, length) for p in element.pitches]
    return Piece(
        name,
        np.array(melody, dtype=np.int64).reshape(-1, 2),
        np.array(sorted(notes, key=lambda n: (n[1], n[0])), dtype=np.int64).reshape(-1, 3),
    )


NOTE_MARK = {
    ".abc": re.compile(rb"[A-Ga-gz]"),
    ".krn": re.compile(rb"[A-Ga-g]"),
}


def _check_text_score(path: Path, max_notes: int) -> None:
    """Refuse a MusicXML, ABC or Humdrum file that may hold more than ``max_notes``
    notes, from its bytes (an upper bound: every note needs its mark), before music21."""
    limit = BYTES_PER_NOTE * max_notes
    with open_regular(path) as handle:
        if path.suffix.lower() == ".mxl":
            chunks = _zipped(handle, limit, path)
        else:
            chunks = _read_chunks(handle, limit, path)
        mark = NOTE_MARK.get(path.suffix.lower(), re.compile(rb"<note[\s>]"))
        count, tail = 0, b""
        for chunk in chunks:
            count += len(mark.findall(tail + chunk)) - len(mark.findall(tail))
            tail = chunk[-16:]
            if count > max_notes:
                raise ScoreError(f"more than {max_notes:,} notes (data.max_notes)")


def _read_chunks(handle, limit: int, path: Path):
    read = 0
    while chunk := handle.read(1 << 20):
        read += len(chunk)
        if read > limit:
            raise ScoreError(
                f"larger than {limit:,} bytes ({BYTES_PER_NOTE:,} per note of data.max_notes)"
            )
        yield chunk


def _zipped(handle, limit: int, path: Path):
    """The bytes of every member of a compressed MusicXML (.mxl), inflated as read."""
    try:
        archive = zipfile.ZipFile(handle)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ScoreError(f"not a readable .mxl archive ({err})") from None
    read = 0
    for member in members:
        with archive.open(member) as inner:
            for chunk in _read_chunks(inner, limit - read, path):
                read += len(chunk)
                yield chunk


# -- the chorales and folders -------------------------------------------------------------


def chorales() -> tuple[list[Piece], bool]:
    """The Bach chorales of music21's corpus, parsed once and then cached."""
    import music21

    def parse() -> list[dict[str, Any]]:
        pieces = []
        for score in music21.corpus.chorales.Iterator(numberingSystem="bwv", returnType="stream"):
            name = str(score.metadata.title if score.metadata else len(pieces))
            pieces.append(from_score(score, name).to_cache())
        return pieces

    key = {"music21": music21.__version__, "version": VERSION}
    value, cached = cache.load_or_compute("music-chorales", key, parse)
    return [Piece.from_cache(v) for v in value], cached


def list_scores(root: Path, max_files: int) -> list[Path]:
    """Score files under ``root`` (links not followed), sorted; at most ``max_files``."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix.lower() in SCORE_SUFFIXES and is_regular(path) and not path.is_symlink():
                found.append(path)
                if len(found) > max_files:
                    raise UserError(f"{root}: more than {max_files:,} score files (data.max_files)")
    return found


def cache_key(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {
        "file": str(path.resolve()),
        "size": stat.st_size,
        "mtime": stat.st_mtime_ns,
        "version": VERSION,
    }


def parse_one(path: Path, limits: DataSettings) -> tuple[Piece | None, str]:
    """(piece, "") or (None, why it cannot be used); what a worker process runs."""
    try:
        return parse_file(path, limits), ""
    except (ScoreError, UserError, OSError) as err:
        return None, str(err)


class _NotCached(Exception):
    """Raised instead of parsing: :func:`cached` only looks."""


def _not_cached() -> Any:
    raise _NotCached


def cached(path: Path, limits: DataSettings) -> tuple[Piece | None, str] | None:
    """The cached parse of ``path`` if there is one (None if not)."""
    try:
        value, _ = cache.load_or_compute("music-file", cache_key(path), _not_cached)
    except _NotCached:
        return None
    except OSError as err:
        return None, str(err)
    piece = Piece.from_cache(value)
    if len(piece.notes) > limits.max_notes:  # parsed earlier under a higher limit
        return None, f"more than {limits.max_notes:,} notes (data.max_notes)"
    return piece, ""


def folder(
    root: Path, limits: DataSettings, workers: int, progress: Any
) -> tuple[list[Piece], list[tuple[str, str]]]:
    """Every score under ``root``, parsed in ``workers`` processes and cached per file;
    unusable files are listed with the reason. ``progress(done, total, skipped)`` is
    called as files finish."""
    files = list_scores(root, limits.max_files)
    if not files:
        raise UserError(
            f"{root}: no MIDI, MusicXML or ABC files ({', '.join(sorted(SCORE_SUFFIXES))})"
        )
    results: dict[int, tuple[Piece | None, str]] = {}
    todo = []
    for i, path in enumerate(files):  # the cache first: cheap, and no process needed
        found = cached(path, limits)
        if found is None:
            todo.append(i)
        else:
            results[i] = found
    tally = _Tally(len(files), progress)
    tally.add(results.values())
    for i, result in _parse_all([files[i] for i in todo], todo, limits, workers):
        results[i] = result
        if result[0] is not None:
            cache.load_or_compute("music-file", cache_key(files[i]), result[0].to_cache)
        tally.add([result])
    pieces = [results[i][0] for i in range(len(files)) if results[i][0] is not None]
    skipped = [(str(files[i]), results[i][1]) for i in range(len(files)) if results[i][0] is None]
    return pieces, skipped


def _parse_all(paths: list[Path], ids: list[int], limits: DataSettings, workers: int):
    """(id, result) per path as each finishes: in this process for a few files, else in
    ``workers`` forked processes (a fork shares the loaded libraries; a spawned worker
    would load PyTorch again, half a gigabyte each). Workers only parse; this process
    writes the cache."""
    if workers <= 1 or len(paths) < 2 * workers:
        for i, path in zip(ids, paths, strict=True):
            yield i, parse_one(path, limits)
        return
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {
            pool.submit(parse_one, path, limits): i for i, path in zip(ids, paths, strict=True)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()


class _Tally:
    """Counts finished and skipped files for the progress callback."""

    def __init__(self, total: int, progress: Any):
        self.total, self.progress, self.done, self.skipped = total, progress, 0, 0

    def add(self, results) -> None:
        for piece, _ in results:
            self.done += 1
            self.skipped += piece is None
        self.progress(self.done, self.total, self.skipped)


def progress_printer(console: Any, label: str, quiet: bool, every: float = 5.0):
    """A ``progress(done, total, skipped)`` that prints a line at most every ``every``
    seconds, and the last one if the whole took longer than that."""
    return _Printer(console, label, quiet, every)


class _Printer:
    def __init__(self, console: Any, label: str, quiet: bool, every: float):
        self.console, self.label, self.quiet, self.every = console, label, quiet, every
        self.started = self.last = time.perf_counter()

    def __call__(self, done: int, total: int, skipped: int) -> None:
        now = time.perf_counter()
        if (
            self.quiet
            or (now - self.last < self.every and done < total)
            or now - self.started < self.every
        ):
            return
        self.last = now
        self.console.print(
            f"[dim]{self.label}: {done:,}/{total:,} files ({skipped:,} skipped), {now - self.started:.0f} s[/]"
        )
