"""The Boulanger-Lewandowski piano-roll benchmark files (JSB, Nottingham, MuseData,
Piano-midi.de), read within the ``[data]`` limits into :class:`~.rolls.NoteRolls`.

``.mat``: ``traindata`` / ``validdata`` / ``testdata``, each a cell of (frames, 88) 0/1
matrices, read by :mod:`.matfile` one column at a time after the declared shapes are
checked against ``data.max_elements``. ``.pickle``: ``train`` / ``valid`` / ``test``, each
a list of pieces, each a list of frames, each a list of the MIDI notes sounding. The
unpickler accepts only lists, dicts and numbers (loading never runs code); its opcodes are
counted before anything is built, and the pieces are counted with every repeated reference
(a shared list costs nothing to unpickle but a copy per reference once it becomes frames),
both against ``data.max_pickle_nodes``.
"""

from __future__ import annotations

import itertools
import os
import pickle
import pickletools
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from seqsuite.config import DataSettings
from seqsuite.errors import UserError

from .files import is_regular, open_regular
from .matfile import MatError, MatReader
from .rolls import KEYS, LOW, NoteRolls, runs_of

SPLITS = ("train", "val", "test")
MAT_NAMES = {"train": "traindata", "val": "validdata", "test": "testdata"}
PICKLE_NAMES = {"train": "train", "val": "valid", "test": "test"}
SUFFIXES = (".mat", ".pickle", ".pkl")


def is_benchmark(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES and not path.is_dir()


def load_benchmark(path: Path, limits: DataSettings) -> dict[str, NoteRolls]:
    """{"train", "val", "test"} -> the split's rolls; a UserError names the file and
    what is wrong (or which limit it passes)."""
    if not is_regular(path):
        open_regular(path).close()  # raises the right error (missing, FIFO, device)
    if path.suffix.lower() == ".mat":
        splits = _load_mat(path, limits)
    else:
        splits = _load_pickle(path, limits)
    for split, rolls in splits.items():
        if not len(rolls):
            raise UserError(f"{path}: the {split} split holds no pieces")
    return splits


# -- .mat --------------------------------------------------------------------------------


def _load_mat(path: Path, limits: DataSettings) -> dict[str, NoteRolls]:
    wanted = {v: k for k, v in MAT_NAMES.items()}
    pieces: dict[str, list] = {}
    try:
        with open_regular(path) as handle:
            reader = MatReader(handle, set(wanted), limits.max_elements, limits.max_files)
            for matrix in reader.cells():
                if matrix.shape[1] != KEYS or matrix.shape[0] == 0:
                    raise UserError(
                        f"{path}: {matrix.variable}[{matrix.index}] has shape {matrix.shape}, "
                        f"expected (frames, {KEYS})"
                    )
                runs = _column_runs(matrix.columns, f"{path}: {matrix.variable}[{matrix.index}]")
                pieces.setdefault(wanted[matrix.variable], []).append((runs, matrix.shape[0]))
    except (MatError, OSError, EOFError, struct.error) as err:
        if isinstance(err, OSError) and err.filename:
            raise
        raise UserError(f"{path}: not a readable MATLAB file ({err})") from None
    missing = [MAT_NAMES[s] for s in SPLITS if s not in pieces]
    if missing:
        raise UserError(
            f"{path}: no pieces in {', '.join(missing)} (expected the cells traindata, "
            "validdata and testdata, each holding pieces)"
        )
    return {s: NoteRolls.from_runs(pieces[s]) for s in SPLITS}


def _column_runs(blocks, where: str) -> np.ndarray:
    """(n, 3) runs (key, first frame, end frame) from a matrix's 0/1 columns, in blocks."""
    runs, first_key = [], 0
    for block in blocks:
        bad = (block != 0) & (block != 1)
        if bad.any():
            frame, key = np.argwhere(bad)[0]
            raise UserError(
                f"{where}: holds {float(block[frame, key])!r} at frame {frame}, key {first_key + key}; expected 0 or 1"
            )
        found = runs_of(block)
        found[:, 0] += first_key
        runs.append(found)
        first_key += block.shape[1]
    return np.concatenate(runs) if runs else np.zeros((0, 3), dtype=np.int64)


# -- .pickle -----------------------------------------------------------------------------


class _ListsOnly(pickle.Unpickler):
    """Refuses every class: the benchmark pickles hold only lists, dicts and numbers."""

    def find_class(self, module: str, name: str):  # noqa: D401
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


class _Bounded:
    """A file that refuses to read past its end: a string declaring 4 GB is an error,
    never a 4 GB buffer."""

    def __init__(self, handle: BinaryIO, size: int):
        self.handle, self.left = handle, size

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.left
        if n > self.left:
            raise pickle.UnpicklingError(
                f"an element declares {n:,} bytes, more than the file holds"
            )
        data = self.handle.read(n)
        self.left -= len(data)
        return data

    def readline(self) -> bytes:
        line = self.handle.readline(self.left)
        self.left -= len(line)
        return line


def _unpickle(path: Path, limits: DataSettings) -> Any:
    """The pickle's object, after counting its opcodes against ``max_pickle_nodes``."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            for count, _ in enumerate(pickletools.genops(_Bounded(handle, size)), 1):
                if count > limits.max_pickle_nodes:
                    raise UserError(
                        f"{path}: more than {limits.max_pickle_nodes:,} pickle operations "
                        "(data.max_pickle_nodes)"
                    )
            handle.seek(0)
            return _ListsOnly(_Bounded(handle, size)).load()
        except UserError:
            raise
        except Exception as err:  # noqa: BLE001 - pickle raises many kinds for corrupt files
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"{path}: not a readable benchmark pickle ({first})") from None


def _load_pickle(path: Path, limits: DataSettings) -> dict[str, NoteRolls]:
    data = _unpickle(path, limits)
    if not isinstance(data, dict) or any(k not in data for k in PICKLE_NAMES.values()):
        raise UserError(f"{path}: expected a dict with train, valid and test")
    counter = _Counter(path, limits.max_pickle_nodes)
    for split in SPLITS:
        counter.split(data[PICKLE_NAMES[split]], PICKLE_NAMES[split])
    runs: dict[int, tuple[np.ndarray, int]] = {}  # by id: a repeated piece is converted once
    out = {}
    for split in SPLITS:
        name = PICKLE_NAMES[split]
        pieces = []
        for i, piece in enumerate(data[name]):
            if id(piece) not in runs:
                runs[id(piece)] = _frame_runs(piece, f"{path}: {name}[{i}]")
            pieces.append(runs[id(piece)])
        out[split] = NoteRolls.from_runs(pieces)
    return out


class _Counter:
    """Counts pieces, frames and notes with every reference (memoised per object, so a
    list shared a million times is walked once and counted a million times)."""

    def __init__(self, path: Path, limit: int):
        self.path, self.limit, self.total = path, limit, 0
        self.sizes: dict[int, int] = {}

    def split(self, pieces: Any, name: str) -> None:
        if not isinstance(pieces, list | tuple):
            raise UserError(
                f"{self.path}: {name} is a {type(pieces).__name__}, expected a list of pieces"
            )
        for i, piece in enumerate(pieces):
            self._add(1 + self._piece(piece, f"{name}[{i}]"))

    def _piece(self, piece: Any, where: str) -> int:
        if id(piece) in self.sizes:
            return self.sizes[id(piece)]
        if not isinstance(piece, list | tuple):
            raise UserError(
                f"{self.path}: {where} is a {type(piece).__name__}, expected a list of frames"
            )
        size = 0
        for t, frame in enumerate(piece):
            if not isinstance(frame, list | tuple):
                raise UserError(
                    f"{self.path}: {where}[{t}] is a {type(frame).__name__}, expected a list of MIDI notes"
                )
            size += 1 + len(frame)
            if size > self.limit:
                break
        self.sizes[id(piece)] = size
        return size

    def _add(self, size: int) -> None:
        self.total += size
        if self.total > self.limit:
            raise UserError(
                f"{self.path}: more than {self.limit:,} pieces, frames and notes counted with "
                "their repeated references (data.max_pickle_nodes)"
            )


def _frame_runs(piece: list, where: str) -> tuple[np.ndarray, int]:
    """Runs (key, first frame, end frame) and frame count of a piece given as frames of notes."""
    lengths = np.fromiter((len(f) for f in piece), dtype=np.int64, count=len(piece))
    try:
        notes = np.fromiter(
            itertools.chain.from_iterable(piece), dtype=np.float64, count=int(lengths.sum())
        )
    except (TypeError, ValueError):
        frame, value = next(
            (t, v)
            for t, f in enumerate(piece)
            for v in f
            if not isinstance(v, int | float) or isinstance(v, bool)
        )
        raise UserError(f"{where}[{frame}]: {value!r} is not a MIDI note number") from None
    bad = ~np.isfinite(notes) | (notes != np.round(notes)) | (notes < 0) | (notes > 127)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        frame = int(np.searchsorted(np.cumsum(lengths), at, side="right"))
        raise UserError(f"{where}[{frame}]: {float(notes[at])!r} is not a MIDI note number")
    frames = np.repeat(np.arange(len(piece)), lengths)
    keys = notes.astype(np.int64) - LOW
    on = (keys >= 0) & (keys < KEYS)
    roll_keys, roll_frames = keys[on], frames[on]
    if not len(roll_keys):
        return np.zeros((0, 3), dtype=np.int64), len(piece)
    # one cell per (key, frame); runs are consecutive frames of a key
    cells = np.unique(roll_keys * max(len(piece), 1) + roll_frames)
    key, frame = np.divmod(cells, max(len(piece), 1))
    begins = np.r_[True, (key[1:] != key[:-1]) | (frame[1:] != frame[:-1] + 1)]
    first = np.flatnonzero(begins)
    ends = np.r_[first[1:], len(cells)] - 1
    return np.stack([key[first], frame[first], frame[ends] + 1], axis=1), len(piece)
