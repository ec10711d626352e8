"""Music: next-note models over melodies (events) or polyphonic piano rolls; MIDI out."""

from .task import MusicConfig, MusicTask

__all__ = ["MusicConfig", "MusicTask"]
