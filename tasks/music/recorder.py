"""Keeping what generation made: the MIDI file is rewritten as notes come, and once more
when generation ends, also when it is stopped (SIGTERM, Ctrl-C).

A million steps take minutes; an interrupted command must not lose them. The file on disk
is refreshed whenever the time since the last write is ten times what that write took
(at least every ``every`` seconds), so writing costs at most a tenth of the time and a
``kill -9`` loses only the last stretch; a SIGTERM or SIGINT only raises a flag that the
generation loop reads after each step, and the notes so far are written before the
command ends as interrupted.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from .midi import write_midi

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Recorder:
    """Collects notes (pitch, onset, duration in quarter notes) into the MIDI file ``path``.

    Use as a context manager around the generation loop; read :attr:`stopped` after each
    step. On leaving, the file is written in full and the signal handlers restored.
    """

    def __init__(self, path: Path, bpm: float, every: float = 5.0):
        self.path, self.bpm, self.every = path, bpm, every
        self.notes: list[tuple[int, float, float]] = []
        self.stopped = False
        self.written_at, self.write_seconds = time.perf_counter(), 0.0
        self.previous: dict[int, object] = {}

    def __enter__(self) -> Recorder:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self.previous[number] = signal.signal(number, self._stop)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        if self.notes:
            self.write()

    def _stop(self, number: int, frame) -> None:  # noqa: ARG002 - the signal API
        self.stopped = True

    def add(self, notes: list[tuple[int, float, float]]) -> None:
        self.notes.extend(notes)
        now = time.perf_counter()
        if self.notes and now - self.written_at >= max(self.every, 10 * self.write_seconds):
            self.write()

    def write(self) -> None:
        started = time.perf_counter()
        write_midi(self.path, self.notes, bpm=self.bpm)
        self.written_at = time.perf_counter()
        self.write_seconds = self.written_at - started
