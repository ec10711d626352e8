"""Writing notes as standard MIDI files (mido), atomically."""

from __future__ import annotations

import io
from pathlib import Path

from seqsuite import atomic

TICKS = 480  # per quarter note


def write_midi(
    path: str | Path, notes: list[tuple[int, float, float]], bpm: float = 90.0, velocity: int = 80
) -> None:
    """``notes``: (MIDI pitch, onset, duration) in quarter notes; one track, piano."""
    import mido

    events = []
    for pitch, onset, length in notes:
        start = int(round(onset * TICKS))
        events.append((start, 1, pitch))  # note_on after note_off at the same tick
        events.append((start + max(1, int(round(length * TICKS))), 0, pitch))
    events.sort()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.Message("program_change", program=0, time=0))
    now = 0
    for tick, on, pitch in events:
        track.append(
            mido.Message(
                "note_on" if on else "note_off",
                note=pitch,
                velocity=velocity if on else 0,
                time=tick - now,
            )
        )
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    song = mido.MidiFile(ticks_per_beat=TICKS)
    song.tracks.append(track)
    buffer = io.BytesIO()
    song.save(file=buffer)
    atomic.write_bytes(path, buffer.getvalue())


def read_midi(path: str | Path) -> tuple[list[tuple[int, float, float]], float]:
    """(pitch, onset, duration) in quarter notes, and the tempo in beats per minute."""
    import mido

    song = mido.MidiFile(str(path))
    bpm, now, sounding, notes = 120.0, 0, {}, []
    for message in mido.merge_tracks(song.tracks):
        now += message.time
        if message.type == "set_tempo":
            bpm = mido.tempo2bpm(message.tempo)
        elif message.type == "note_on" and message.velocity > 0:
            sounding[message.note] = now
        elif message.type in ("note_off", "note_on") and message.note in sounding:
            start = sounding.pop(message.note)
            notes.append(
                (message.note, start / song.ticks_per_beat, (now - start) / song.ticks_per_beat)
            )
    return sorted(notes, key=lambda n: (n[1], n[0])), bpm
