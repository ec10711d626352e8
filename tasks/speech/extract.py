"""From the user's recordings, or from synthesised speech, to a store of log-mel frames
(:mod:`seqsuite.frame_store`): one memory-mapped file of all frames plus offsets.

A store of files is keyed by the listing (each file's path, size and modification time,
hashed as it is read) and every setting that changes the frames. When a listing changes
(a file added, one re-recorded), the frames of the files that did not change are copied
from the store last built for the same data and settings, so only the new or changed
files are read and analysed again.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

from seqsuite import atomic, frame_store
from seqsuite.cache import cache_dir, key_hash
from seqsuite.config import DataSettings
from seqsuite.frame_store import FrameStore, Item

from .audio import BadAudio, check_long_enough, read_clip
from .data import Recording
from .features import FeatureSettings, LogMel
from .synth import DIGITS, utterances

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
NO_SPLIT = -1


def identity(path: Path) -> tuple[str, int, int]:
    """(path, size, mtime in ns): what says a file is unchanged; (path, -1, -1) if it
    cannot be examined."""
    try:
        info = path.stat()
    except OSError:
        return str(path), -1, -1
    return str(path), info.st_size, info.st_mtime_ns


def identity_code(ident: tuple[str, int, int]) -> int:
    """A file's identity as one int64 (for finding unchanged files in an older store)."""
    digest = hashlib.sha256("\0".join(map(str, ident)).encode()).digest()
    return int.from_bytes(digest[:8], "little", signed=True)


def extract_item(path: Path, extractor: LogMel, limits: DataSettings, keep_seconds: float) -> Item:
    """One file's log-mel frames, or why there are none."""
    s = extractor.settings
    try:
        clip = read_clip(path, s.sample_rate, limits, keep_seconds)
        check_long_enough(clip, s.sample_rate, s.window)
    except (BadAudio, OSError) as err:
        return Item(None, error=str(err) or type(err).__name__, name=str(path))
    return Item(
        extractor(clip.samples),
        seconds=len(clip.samples) / s.sample_rate,
        truncated=clip.truncated,
        name=str(path),
    )


class FileSource:
    """The items of a listing, reusing the frames of unchanged files from ``previous``."""

    def __init__(
        self,
        recordings: list[Recording],
        codes: np.ndarray,
        settings: FeatureSettings,
        limits: DataSettings,
        keep_seconds: float,
        previous: FrameStore | None,
    ):
        self.recordings, self.codes = recordings, codes
        self.extractor = LogMel(settings)
        self.limits, self.keep_seconds = limits, keep_seconds
        self.previous = previous
        self.extracted = 0  # files read and analysed (the rest were copied)

    def items(self) -> Iterator[Item]:
        old = self._previous_rows()
        for rec, code in zip(self.recordings, self.codes, strict=True):
            row = old.get(int(code))
            if row is not None:
                yield self._copied(row, str(rec.path))
                continue
            self.extracted += 1
            yield extract_item(rec.path, self.extractor, self.limits, self.keep_seconds)

    def _previous_rows(self) -> dict[int, int]:
        """Identity code -> row of the previous store, for its rows that have frames."""
        store = self.previous
        if store is None or "identity" not in store.columns:
            return {}
        usable = store.lengths > 0
        codes = store.columns["identity"]
        return {int(c): int(r) for r, c in enumerate(codes) if usable[r]}

    def _copied(self, row: int, name: str) -> Item:
        store = self.previous
        return Item(
            np.array(store.example(row)),
            seconds=float(store.seconds[row]),
            truncated=bool(store.truncated_rows[row]),
            name=name,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {"identity": self.codes}


def files_store(
    recordings: list[Recording],
    data: str | Path,
    settings: FeatureSettings,
    limits: DataSettings,
    keep_seconds: float,
) -> tuple[FrameStore, bool, int]:
    """The store of ``recordings`` (listed by ``data``). Returns it, whether it came whole
    from the cache, and how many files were read and analysed."""
    idents = [identity(rec.path) for rec in recordings]
    codes = np.fromiter((identity_code(i) for i in idents), np.int64, len(idents))
    digest = hashlib.sha256(codes.tobytes()).hexdigest()
    del idents
    settings_key = {
        "features": settings.to_state(),
        "keep_seconds": keep_seconds,
        "limits": [limits.min_sample_rate, limits.max_sample_rate, limits.max_audio_seconds],
    }
    key = {"data": "files", "listing": digest, "files": len(recordings), **settings_key}
    latest = cache_dir() / "speech-latest" / key_hash({"data": str(data), **settings_key})
    previous = _latest_store(latest, key, settings.n_mels)
    source = FileSource(recordings, codes, settings, limits, keep_seconds, previous)
    store, cached = frame_store.load_or_build(
        "speech-frames", key, source.items, settings.n_mels, source.arrays
    )
    atomic.write_text(latest, str(store.folder))
    return store, cached, source.extracted


def _latest_store(pointer: Path, key: dict, width: int) -> FrameStore | None:
    """The store last built for the same data and settings (None if none is readable, or
    if ``key``'s own store exists: then nothing needs copying)."""
    if (frame_store.store_path("speech-frames", key, width) / "meta.json").exists():
        return None
    try:
        return FrameStore(Path(pointer.read_text(encoding="utf-8").strip()))
    except (OSError, ValueError, KeyError):
        return None


class SynthSource:
    """Synthesised ``words``, one utterance at a time, remembering each one's word (its
    index in ``words``), split and voice (and the first one's audio, for the report)."""

    def __init__(
        self,
        words: tuple[str, ...],
        voices: tuple[int, int, tuple[str, ...]],
        settings: FeatureSettings,
        keep: float,
    ):
        self.words = words
        self.seed, self.speakers, self.splits = voices
        self.extractor = LogMel(settings)
        self.keep = keep
        self.labels: list[int] = []
        self.split_codes: list[int] = []
        self.voices: list[str] = []
        self.example = np.zeros(0, np.float32)

    def items(self, takes: int = 1) -> Iterator[Item]:
        s = self.extractor.settings
        made = utterances(self.words, self.seed, self.speakers, takes, s.sample_rate, self.splits)
        for u in made:
            kept = (
                u.audio[: int(self.keep * s.sample_rate)] if math.isfinite(self.keep) else u.audio
            )
            if not len(self.example):
                self.example = kept
            self.labels.append(self.words.index(u.label))
            self.split_codes.append(SPLIT_CODES[u.split])
            self.voices.append(u.speaker)
            yield Item(
                self.extractor(kept),
                seconds=len(kept) / s.sample_rate,
                truncated=len(kept) < len(u.audio),
                name=f"{u.speaker}: {u.label}",
            )

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "label": np.array(self.labels, np.int32),
            "split": np.array(self.split_codes, np.int8),
            "voice": np.array(self.voices, dtype="U64"),
            "example_audio": self.example.astype(np.float32),
        }


def synth_store(
    seed: int, speakers: int, takes: int, settings: FeatureSettings, keep_seconds: float
) -> tuple[FrameStore, bool]:
    """The synthesised digits (the default data set): words, splits and voices as its
    columns; validation and test voices are variants training never hears."""
    key = {
        "data": "digits-v2",
        "seed": seed,
        "speakers": speakers,
        "takes": takes,
        "keep_seconds": keep_seconds,
        "features": settings.to_state(),
    }
    source = SynthSource(DIGITS, (seed, speakers, ("test", "val", "train")), settings, keep_seconds)
    return frame_store.load_or_build(
        "speech-frames", key, partial(source.items, takes), settings.n_mels, source.arrays
    )


def words_store(
    words: tuple[str, ...], seed: int, voices: int, settings: FeatureSettings, keep_seconds: float
) -> tuple[FrameStore, bool]:
    """``words`` spoken once by each of ``voices`` training voices of eSpeak NG."""
    key = {
        "data": "words-v1",
        "words": list(words),
        "seed": seed,
        "voices": voices,
        "keep_seconds": keep_seconds,
        "features": settings.to_state(),
    }
    source = SynthSource(words, (seed, voices, ("train",)), settings, keep_seconds)
    return frame_store.load_or_build(
        "speech-frames", key, source.items, settings.n_mels, source.arrays
    )
