"""Piano rolls of 88 keys (MIDI 21-108), kept as note runs and made dense per batch.

A dense roll costs 88 numbers a frame whether or not anything sounds; padded to the
longest piece and copied for every transposition, the 694 Nottingham tunes took
12 GB. :class:`NoteRolls` keeps each piece as its runs of sounding keys (key, first
frame, end frame): a few numbers per note. :meth:`NoteRolls.window` makes the dense
frames of a batch (any window of any piece, transposed on the way) only when it is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

LOW, KEYS = 21, 88
SHIFTS = range(-6, 6)  # transpositions: every key once, the original in the middle


def ranges(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All integers of the ranges [start, stop) concatenated, and each one's range number."""
    counts = np.maximum(stops - starts, 0)
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    return np.arange(counts.sum()) - first[owner] + starts[owner], owner


@dataclass
class NoteRolls:
    """Several pieces' piano rolls as note runs, sorted by piece.

    keys:    (notes,) int8, 0-87 (key 0 is MIDI note 21)
    starts:  (notes,) int64, first frame of the run
    stops:   (notes,) int64, frame after the last
    offsets: (pieces + 1,) int64: piece i's runs are ``offsets[i]:offsets[i + 1]``
    frames:  (pieces,) int64, each piece's length in frames
    """

    keys: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    offsets: np.ndarray
    frames: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def from_runs(cls, pieces: list[tuple[np.ndarray, int]]) -> NoteRolls:
        """From (runs (n, 3) of key, start, stop; frames) per piece; overlapping runs of a
        key (two voices on one pitch) are merged, so a frame's key is counted once."""
        counts = [len(r) for r, _ in pieces]
        runs = (
            np.concatenate([r for r, _ in pieces]).astype(np.int64)
            if sum(counts)
            else np.zeros((0, 3), dtype=np.int64)
        )
        piece = np.repeat(np.arange(len(pieces)), counts)
        keys, starts, stops, piece = _merge(runs[:, 0], runs[:, 1], runs[:, 2], piece)
        offsets = np.searchsorted(piece, np.arange(len(pieces) + 1))
        frames = np.array([f for _, f in pieces], dtype=np.int64)
        return cls(keys.astype(np.int8), starts, stops, offsets.astype(np.int64), frames)

    @classmethod
    def from_dense(cls, rolls: list[np.ndarray]) -> NoteRolls:
        """From (frames, 88) 0/1 arrays."""
        return cls.from_runs([(runs_of(r), len(r)) for r in rolls])

    def piece(self, i: int) -> np.ndarray:
        """Piece ``i`` as a dense (frames, 88) uint8 roll (tests, small prompts)."""
        roll = self.window([i], [0], [int(self.frames[i])], [0])
        return roll[0].numpy().astype(np.uint8)

    def window(self, pieces, starts, stops, shifts) -> torch.Tensor:
        """(batch, longest window, 88) float32: frames ``starts[b]:stops[b]`` of piece
        ``pieces[b]`` transposed by ``shifts[b]`` semitones; zeros past a window's end and
        for frames before 0. Only the runs of the batch's pieces are touched."""
        pieces, starts, stops, shifts = (
            np.asarray(v, dtype=np.int64) for v in (pieces, starts, stops, shifts)
        )
        width = int((stops - starts).max(initial=0))
        out = torch.zeros(len(pieces), max(width, 0), KEYS)
        index, row = ranges(self.offsets[pieces], self.offsets[pieces + 1])
        first = np.maximum(self.starts[index], starts[row]) - starts[row]
        last = np.minimum(self.stops[index], stops[row]) - starts[row]
        keys = self.keys[index].astype(np.int64) + shifts[row]
        keep = (last > first) & (keys >= 0) & (keys < KEYS)
        time, cell = ranges(first[keep], last[keep])
        rows, keys = row[keep][cell], keys[keep][cell]
        out[torch.from_numpy(rows), torch.from_numpy(time), torch.from_numpy(keys)] = 1.0
        return out

    def key_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Each piece's lowest and highest sounding key ((0, 87) for a silent piece)."""
        low = np.full(len(self), KEYS - 1, dtype=np.int64)
        high = np.zeros(len(self), dtype=np.int64)
        piece = np.repeat(np.arange(len(self)), np.diff(self.offsets))
        np.minimum.at(low, piece, self.keys)
        np.maximum.at(high, piece, self.keys)
        silent = np.diff(self.offsets) == 0
        low[silent], high[silent] = 0, KEYS - 1
        return low, high

    def shift_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per piece, the lowest and highest transposition in -6..+5 that keeps every
        sounding key on the keyboard (0 and 0 for a silent piece)."""
        low, high = self.key_range()
        lo = np.maximum(SHIFTS[0], -low)
        hi = np.minimum(SHIFTS[-1], KEYS - 1 - high)
        silent = np.diff(self.offsets) == 0
        lo[silent], hi[silent] = 0, 0
        return lo, hi

    def key_frames(self) -> np.ndarray:
        """(88,) frames in which each key sounds, over all pieces."""
        return np.bincount(
            self.keys.astype(np.int64), weights=self.stops - self.starts, minlength=KEYS
        )


def _merge(keys, starts, stops, piece):
    """Runs sorted by (piece, key, start) with overlapping or touching runs joined."""
    order = np.lexsort((starts, keys, piece))
    keys, starts, stops, piece = keys[order], starts[order], stops[order], piece[order]
    if not len(keys):
        return keys, starts, stops, piece
    group = piece * KEYS + keys
    new_group = np.r_[True, group[1:] != group[:-1]]
    # running end of the runs so far, restarted at each (piece, key): offset groups apart
    span = int(stops.max()) + 1
    reach = np.maximum.accumulate(stops + group * span) - group * span
    begins = new_group | np.r_[True, starts[1:] > reach[:-1]]
    first = np.flatnonzero(begins)
    ends = np.maximum.reduceat(stops, first)
    return keys[first], starts[first], ends, piece[first]


def runs_of(roll: np.ndarray) -> np.ndarray:
    """(n, 3) key, first frame, end frame of every run of an active key in a (frames, 88) roll."""
    active = np.asarray(roll) != 0
    padded = np.zeros((active.shape[0] + 2, active.shape[1]), dtype=np.int8)
    padded[1:-1] = active
    change = np.diff(padded, axis=0).T  # (keys, frames + 1): +1 where a run starts, -1 after it
    keys, begins = np.nonzero(change == 1)
    _, ends = np.nonzero(change == -1)
    return np.stack([keys, begins, ends], axis=1).astype(np.int64)


def runs_from_notes(notes: np.ndarray, step: float) -> tuple[np.ndarray, int]:
    """Runs and frame count of (n, 3) notes (MIDI pitch, onset, duration in quarter notes)
    sampled every ``step`` quarters; notes off the piano are dropped."""
    if not len(notes):
        return np.zeros((0, 3), dtype=np.int64), 1
    notes = np.asarray(notes, dtype=np.float64)
    first = np.rint(notes[:, 1] / step).astype(np.int64)
    last = np.maximum(first + 1, np.rint((notes[:, 1] + notes[:, 2]) / step).astype(np.int64))
    keys = notes[:, 0].astype(np.int64) - LOW
    on = (keys >= 0) & (keys < KEYS)
    frames = max(
        1, int(np.ceil((notes[:, 1] + notes[:, 2]).max() / step - 1e-9)), int(last.max(initial=0))
    )
    return np.stack([keys[on], first[on], last[on]], axis=1), frames


def notes_from_roll(roll: np.ndarray) -> list[tuple[int, int, int]]:
    """(MIDI pitch, first frame, frames held) for every run of an active key, by onset."""
    runs = runs_of(roll)
    runs = runs[np.lexsort((runs[:, 0], runs[:, 1]))]
    return [(LOW + int(k), int(s), int(e - s)) for k, s, e in runs]
