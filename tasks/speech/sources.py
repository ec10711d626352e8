"""What a speech run reads: the user's recordings (a folder or a manifest) or the
synthesised digits, as a frame store plus what the listing says of each row (label,
given split, speaker), and eSpeak NG voices saying the labels, to join training."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqsuite.errors import UserError
from seqsuite.frame_store import FrameSplit, FrameStore

from . import data as recordings
from .extract import SPLIT_CODES, files_store, synth_store, words_store
from .features import FeatureSettings
from .synth import DIGITS

NAMED = {"digits": "the ten digits, synthesised by eSpeak NG over many accents and voices"}
SPLIT_NAMES = {code: name for name, code in SPLIT_CODES.items()}


@dataclass
class Loaded:
    """A store and what the listing says of its rows."""

    store: FrameStore
    labels: list[str]  # per row
    splits: list[str | None] | None  # per row, or None when the data gives no split
    speakers: list[str | None]  # per row (None: not said)
    name: str  # the data set's name
    where: str  # how errors name the data
    cached: bool
    example_source: str | None = None  # the first usable row's file (drawn in the report)
    paths: list[str] | None = None  # per row, the file read (None: synthesised)

    def usable(self) -> np.ndarray:
        """Rows with frames; if none, one line with the first reasons."""
        rows = self.store.usable
        if not len(rows):
            errors = self.store.errors(limit=3)
            reasons = "; ".join(f"{name}: {why}" for _, name, why in errors)
            raise UserError(
                f"{self.where}: no usable audio ({self.store.meta['failed']} files "
                f"skipped: {reasons})"
            )
        return rows


def load(ctx, settings: FeatureSettings, dataset: str) -> Loaded:
    """``--data`` (a folder or manifest) or the named data set ``dataset``."""
    run, o = ctx.config.run, ctx.options
    if not run.data:
        return _digits(dataset, ctx.seed, o, settings)
    found = recordings.load(run.data, ctx.config.data.confine, ctx.config.data.max_files)
    store, cached, _ = files_store(found, run.data, settings, ctx.config.data, o.max_seconds)
    splits = [rec.split for rec in found]
    usable = store.usable
    return Loaded(
        store,
        [rec.label for rec in found],
        None if any(s is None for s in splits) else splits,
        [rec.speaker for rec in found],
        Path(run.data).name,
        run.data,
        cached,
        str(found[usable[0]].path) if len(usable) else None,
        [str(rec.path) for rec in found],
    )


def _digits(name: str, seed: int, o, settings: FeatureSettings) -> Loaded:
    if name not in NAMED:
        raise UserError(f"--dataset {name!r}: unknown; embedded: {', '.join(NAMED)}")
    store, cached = synth_store(seed, o.speakers, o.takes, settings, o.max_seconds)
    labels = [DIGITS[k] for k in store.columns["label"]]
    splits = [SPLIT_NAMES.get(int(c)) for c in store.columns["split"]]
    return Loaded(
        store, labels, splits, [str(v) for v in store.columns["voice"]], name, name, cached
    )


def spoken_text(label: str) -> str | None:
    """What eSpeak NG should say for a class label: the label itself when it looks like
    a word or a number ("yes", "0", "left turn"); None for labels such as "_unknown_"."""
    text = label.replace("_", " ").strip()
    if label.startswith("_") or not re.fullmatch(r"[A-Za-z0-9' -]{1,40}", text):
        return None
    return text


def synthesised(
    classes: list[str], voices: int, seed: int, settings: FeatureSettings, keep_seconds: float
) -> tuple[FrameSplit, list[str]] | None:
    """Each speakable class label said by ``voices`` eSpeak NG voices, as a split (class
    indices as labels), and the voice of each row (None when nothing is to be said)."""
    spoken = {k: spoken_text(c) for k, c in enumerate(classes)}
    words = tuple(text for text in spoken.values() if text)
    if not voices or not words:
        return None
    store, _ = words_store(words, seed, voices, settings, keep_seconds)
    to_class = np.array([k for k, text in spoken.items() if text])
    rows = store.usable
    split = FrameSplit(store, rows, to_class[store.columns["label"][rows]])
    return split, [f"eSpeak NG {v}" for v in store.columns["voice"][rows]]
