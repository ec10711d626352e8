"""Standard MIDI files, read and written here in a few lines of byte handling.

Reading walks the file once and keeps only the notes, so memory and time follow the
notes a file holds, not the ticks it declares: a 45-byte file whose one delta time says
"half a year later" is a number here, never an allocation, and a file with more notes
than ``[data] max_notes`` stops being read the moment it passes the limit (a general
MIDI library builds an object per message of the whole file first, and music21 then
takes minutes on a large one). Percussion (channel 10) has no pitch and is left out.

Writing encodes the notes straight to bytes (one track, piano), so a million generated
notes cost megabytes, not a million message objects.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from seqsuite import atomic

from .files import open_regular

TICKS = 480  # per quarter note, in the files written here
DRUMS = 9  # channel 10, counted from 0
DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


class MidiError(ValueError):
    """The bytes are not a MIDI file this reader accepts (the message says why)."""


@dataclass
class MidiNotes:
    """A file's notes: (n, 4) int64 rows of pitch, onset tick, end tick, voice (track x 16
    + channel); ``ticks``
    per quarter note; ``bpm`` of the first tempo (120 when the file sets none)."""

    notes: np.ndarray
    ticks: int
    bpm: float

    def quarters(self) -> list[tuple[int, float, float]]:
        """(pitch, onset, duration) in quarter notes, sorted by onset then pitch."""
        rows = self.notes[np.lexsort((self.notes[:, 0], self.notes[:, 1]))]
        return [(int(p), a / self.ticks, (b - a) / self.ticks) for p, a, b, _ in rows]


# -- reading ---------------------------------------------------------------------------


def read_midi(path: str | Path, max_notes: int) -> MidiNotes:
    """The notes of a MIDI file; :class:`MidiError` if it is malformed or holds more than
    ``max_notes`` notes. One track is in memory at a time."""
    with open_regular(Path(path)) as handle:
        return parse_stream(handle, max_notes)


def parse(data: bytes, max_notes: int) -> MidiNotes:
    """The notes of MIDI ``data`` (see :func:`read_midi`)."""
    return parse_stream(io.BytesIO(data), max_notes)


def parse_stream(handle: BinaryIO, max_notes: int) -> MidiNotes:
    header = handle.read(14)
    if header[:4] != b"MThd" or len(header) < 14:
        raise MidiError("not a MIDI file (no MThd header)")
    length, _fmt, _tracks, division = struct.unpack(">IHHH", header[4:14])
    if length < 6:
        raise MidiError(f"header length {length}, expected 6")
    if division & 0x8000:
        raise MidiError("SMPTE time division is not supported (expected ticks per quarter note)")
    if division == 0:
        raise MidiError("0 ticks per quarter note")
    size = handle.seek(0, 2)
    if 8 + length > size:
        raise MidiError(f"its header declares {length:,} bytes, more than the file's {size:,}")
    handle.seek(8 + length)
    reader, track = _Tracks(max_notes), 0
    while len(chunk := handle.read(8)) == 8:
        kind, size = chunk[:4], struct.unpack(">I", chunk[4:])[0]
        if kind == b"MTrk":
            reader.track(memoryview(handle.read(size)), track)  # a short read: the file's end
            track += 1
        else:
            handle.seek(size, 1)
    if track == 0:
        raise MidiError("no track (MTrk) chunk")
    notes = np.array(reader.notes, dtype=np.int64).reshape(-1, 4)
    return MidiNotes(notes, division, 60_000_000 / reader.tempo if reader.tempo else 120.0)


class _Tracks:
    """Walks track chunks, pairing note-ons with note-offs (first on, first off)."""

    def __init__(self, max_notes: int):
        self.max_notes = max_notes
        self.notes: list[tuple[int, int, int, int]] = []
        self.tempo = 0

    def track(self, body: memoryview, number: int) -> None:
        at, now, status, sounding = 0, 0, 0, {}
        end = len(body)
        while at < end:
            delta, at = _vlq(body, at)
            now += delta
            if at >= end:
                break
            byte = body[at]
            if byte >= 0x80:
                at += 1
                if byte < 0xF0:
                    status = byte
            elif not status:
                raise MidiError(f"track {number + 1}: data byte without a status byte")
            else:
                byte = status  # running status: the data starts here
            if byte == 0xFF:
                at = self._meta(body, at, number, now)
            elif byte in (0xF0, 0xF7):
                length, at = _vlq(body, at)
                at += length
            elif byte >= 0xF0:
                raise MidiError(
                    f"track {number + 1}: status byte {byte:#04x} is not allowed in a file"
                )
            else:
                kind, channel = byte & 0xF0, byte & 0x0F
                if at + DATA_BYTES[kind] > end:
                    break
                if kind in (0x80, 0x90) and channel != DRUMS:
                    pitch, velocity = body[at], body[at + 1]
                    if pitch > 127 or velocity > 127:
                        raise MidiError(f"track {number + 1}: a note's data byte is over 127")
                    on = kind == 0x90 and velocity > 0
                    self._note(sounding, (channel, pitch), now, on, number * 16 + channel)
                at += DATA_BYTES[kind]
        for (channel, pitch), onsets in sounding.items():  # never released: held to the end
            for onset in onsets:
                self._add(pitch, onset, now, number * 16 + channel)

    def _meta(self, body: memoryview, at: int, number: int, now: int) -> int:
        if at >= len(body):
            return at
        kind = body[at]
        length, at = _vlq(body, at + 1)
        if kind == 0x51 and length == 3 and at + 3 <= len(body):
            tempo = int.from_bytes(body[at : at + 3], "big")
            if tempo == 0:
                raise MidiError(
                    f"track {number + 1}: tempo 0 at tick {now} (a tempo must be positive)"
                )
            self.tempo = self.tempo or tempo
        return at + length

    def _note(self, sounding: dict, key: tuple[int, int], now: int, on: bool, voice: int) -> None:
        if on:
            sounding.setdefault(key, []).append(now)
        elif sounding.get(key):
            self._add(key[1], sounding[key].pop(0), now, voice)

    def _add(self, pitch: int, onset: int, end: int, voice: int) -> None:
        if len(self.notes) >= self.max_notes:
            raise MidiError(f"more than {self.max_notes:,} notes (data.max_notes)")
        self.notes.append((pitch, onset, max(end, onset), voice))


def _vlq(data: memoryview, at: int) -> tuple[int, int]:
    """A variable-length quantity (at most four bytes) at ``at``; the value and the next position."""
    value = 0
    for count in range(4):
        if at >= len(data):
            return value, at
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at
        if count == 3:
            break
    raise MidiError("a variable-length number longer than four bytes")


# -- writing ---------------------------------------------------------------------------


def midi_bytes(
    notes: list[tuple[int, float, float]], bpm: float = 90.0, velocity: int = 80
) -> bytes:
    """A type-0 MIDI file of ``notes``: (MIDI pitch, onset, duration) in quarter notes."""
    events = []
    for pitch, onset, length in notes:
        start = int(round(onset * TICKS))
        events.append((start, 1, pitch))  # at the same tick a note-off comes first
        events.append((start + max(1, int(round(length * TICKS))), 0, pitch))
    events.sort()
    tempo = max(1, min(0xFFFFFF, int(round(60_000_000 / bpm))))
    track = bytearray(b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big") + b"\x00\xc0\x00")
    now = 0
    for tick, on, pitch in events:
        track += _vlq_bytes(tick - now)
        track += bytes((0x90 if on else 0x80, pitch, velocity if on else 0))
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def write_midi(
    path: str | Path, notes: list[tuple[int, float, float]], bpm: float = 90.0, velocity: int = 80
) -> None:
    """``notes``: (MIDI pitch, onset, duration) in quarter notes; written atomically."""
    atomic.write_bytes(path, midi_bytes(notes, bpm, velocity))


def _vlq_bytes(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))
