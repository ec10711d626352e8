"""Piano rolls: frames of 88 keys (MIDI 21-108), and the Boulanger-Lewandowski files.

The benchmark files come as MATLAB ``.mat`` (``traindata``/``validdata``/``testdata``,
each a list of T x 88 binary matrices) or as ``.pickle`` (``train``/``valid``/``test``,
each a list of pieces, each a list of frames, each a list of the MIDI notes sounding).
Reading a pickle never runs code from it: only lists and numbers are accepted.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from seqsuite.errors import UserError

LOW, KEYS = 21, 88


def roll_from_notes(notes: list[tuple[int, float, float]], step: float) -> np.ndarray:
    """(frames, 88) uint8 from (pitch, onset, duration) notes, sampled every ``step`` quarters."""
    end = max((onset + length for _, onset, length in notes), default=0.0)
    frames = max(1, int(np.ceil(end / step - 1e-9)))
    roll = np.zeros((frames, KEYS), dtype=np.uint8)
    for pitch, onset, length in notes:
        key = pitch - LOW
        if 0 <= key < KEYS:
            first = int(round(onset / step))
            last = max(first + 1, int(round((onset + length) / step)))
            roll[first:last, key] = 1
    return roll


def shifts(roll: np.ndarray) -> list[int]:
    """The transpositions (-6..+5 semitones) that keep every sounding key on the keyboard."""
    sounding = np.flatnonzero(roll.any(axis=0))
    if not len(sounding):
        return [0]
    return [s for s in range(-6, 6) if sounding[0] + s >= 0 and sounding[-1] + s < KEYS]


def shift(roll: np.ndarray, semitones: int) -> np.ndarray:
    """The roll transposed by ``semitones`` (keys pushed off the keyboard must be silent)."""
    return np.roll(roll, semitones, axis=1)


class _ListsOnly(pickle.Unpickler):
    """Refuses every class: the benchmark pickles hold only lists, dicts and numbers."""

    def find_class(self, module: str, name: str):  # noqa: D401
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_benchmark(path: Path) -> dict[str, list[np.ndarray]]:
    """{"train", "val", "test"} -> lists of (frames, 88) uint8 rolls."""
    if path.suffix.lower() == ".mat":
        import scipy.io

        try:
            data = scipy.io.loadmat(str(path))
        except Exception as err:  # noqa: BLE001 - scipy raises many types for corrupt files
            raise UserError(
                f"{path}: not a readable MATLAB file ({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})"
            ) from None
        names = {"train": "traindata", "val": "validdata", "test": "testdata"}
        missing = [n for n in names.values() if n not in data]
        if missing:
            raise UserError(
                f"{path}: missing {', '.join(missing)} (expected traindata, validdata, testdata)"
            )
        splits = {}
        for split, key in names.items():
            pieces = [np.asarray(piece, dtype=np.uint8) for piece in np.ravel(data[key])]
            bad = [i for i, p in enumerate(pieces) if p.ndim != 2 or p.shape[1] != KEYS]
            if bad:
                raise UserError(
                    f"{path}: {key}[{bad[0]}] has shape {pieces[bad[0]].shape}, expected (frames, {KEYS})"
                )
            splits[split] = pieces
        return splits
    try:
        with path.open("rb") as handle:
            data = _ListsOnly(handle).load()
    except Exception as err:  # noqa: BLE001
        raise UserError(
            f"{path}: not a readable benchmark pickle ({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})"
        ) from None
    names = {"train": "train", "val": "valid", "test": "test"}
    if not isinstance(data, dict) or any(k not in data for k in names.values()):
        raise UserError(f"{path}: expected a dict with train, valid and test")
    splits = {}
    for split, key in names.items():
        pieces = []
        for piece in data[key]:
            roll = np.zeros((len(piece), KEYS), dtype=np.uint8)
            for t, frame in enumerate(piece):
                for note in frame:
                    if LOW <= int(note) < LOW + KEYS:
                        roll[t, int(note) - LOW] = 1
            pieces.append(roll)
        splits[split] = pieces
    return splits


def is_benchmark(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".mat", ".pickle", ".pkl")


def notes_from_roll(roll: np.ndarray) -> list[tuple[int, int, int]]:
    """(MIDI pitch, first frame, frames held) for every run of an active key."""
    notes = []
    for key in range(roll.shape[1]):
        active = np.flatnonzero(roll[:, key])
        if not len(active):
            continue
        breaks = np.flatnonzero(np.diff(active) > 1)
        starts = np.concatenate([[active[0]], active[breaks + 1]])
        ends = np.concatenate([active[breaks], [active[-1]]])
        notes += [(LOW + key, int(s), int(e - s + 1)) for s, e in zip(starts, ends, strict=True)]
    return sorted(notes, key=lambda n: (n[1], n[0]))


def as_lists(value: Any) -> Any:  # pragma: no cover - helper for writing test fixtures
    return value.tolist() if isinstance(value, np.ndarray) else value
