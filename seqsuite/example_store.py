"""Labelled texts stored once as token ids in memory-mapped files, batched from there.

Holding a large text set as Python strings, then as token lists, then as one padded
tensor costs tens of times the file. Here each example is tokenized once, as it is
read, cut at the length limit, and only its token ids are kept: appended to one flat
``int32`` file read back through a memory map, with the offsets where each example
starts. Tokens are numbered by first appearance in the data (the *types*); a run's
vocabulary is a table from type to vocabulary id (``remap``), so one store serves every
vocabulary, split and seed. Batches are gathered and padded one at a time
(:class:`TokenSplit`), grouped by length like :class:`~seqsuite.batches.ArraySplit`.

The store sits in the cache (``SEQSUITE_CACHE``), in a folder named by the hash of its
key (the data's content and every tokenizer setting), written to a temporary folder and
renamed into place, so a second run reads it without tokenizing, and a torn build is
never read.
"""

from __future__ import annotations

import json
import shutil
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import atomic
from .batches import Batch, GatheredSplit
from .cache import building_folder, cache_dir, key_hash, publish
from .vocab import Vocabulary

FORMAT = 1
NO_SPLIT = -1
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
#: a tokenizer: (text, most tokens kept) -> (the tokens, whether the text had more)
Tokenizer = Callable[[str, int], tuple[list[str], bool]]


@dataclass
class Example:
    """One labelled text as a data source yields it (text None when missing)."""

    text: str | None
    label: str
    split: str | None = None


class StoreBuilder:
    """Takes examples one by one; writes the token ids to disk as they come."""

    FLUSH = 1 << 20  # token ids buffered before a write

    def __init__(self, folder: Path, tokenize: Tokenizer, max_length: int):
        self.folder = folder
        self.tokenize, self.max_length = tokenize, max_length
        self.types: dict[str, int] = {}
        self.labels: dict[str, int] = {}
        self.offsets, self.label_ids, self.splits = array("q", [0]), array("i"), array("b")
        self.buffer = array("i")
        self.truncated = 0
        folder.mkdir(parents=True)
        self.ids_file = (folder / "ids.i32").open("wb")

    def add(self, example: Example) -> None:
        tokens, more = self.tokenize(example.text, self.max_length) if example.text else ([], False)
        self.truncated += more
        types = self.types
        for token in tokens:
            self.buffer.append(types.setdefault(token, len(types)))
        self.offsets.append(self.offsets[-1] + len(tokens))
        self.label_ids.append(self.labels.setdefault(example.label, len(self.labels)))
        self.splits.append(SPLIT_CODES[example.split] if example.split else NO_SPLIT)
        if len(self.buffer) >= self.FLUSH:
            self._flush()

    def _flush(self) -> None:
        self.buffer.tofile(self.ids_file)
        self.buffer = array("i")

    def finish(self, meta: dict[str, Any]) -> None:
        self._flush()
        self.ids_file.close()
        np.save(self.folder / "offsets.npy", np.frombuffer(self.offsets, dtype=np.int64))
        np.save(self.folder / "labels.npy", np.frombuffer(self.label_ids, dtype=np.int32))
        np.save(self.folder / "splits.npy", np.frombuffer(self.splits, dtype=np.int8))
        atomic.write_json(
            self.folder / "meta.json",
            {
                **meta,
                "format": FORMAT,
                "examples": len(self.label_ids),
                "tokens": int(self.offsets[-1]),
                "truncated": self.truncated,
                "max_length": self.max_length,
                "types": list(self.types),
                "label_names": list(self.labels),
            },
        )

    def abandon(self) -> None:
        self.ids_file.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class ExampleStore:
    """A finished store, memory-mapped. Arrays are per example unless said otherwise."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.offsets = np.load(folder / "offsets.npy")
        self.lengths = np.diff(self.offsets)  # tokens kept per example
        tokens = int(self.offsets[-1])
        self.ids = (  # all token ids, one after the other (types)
            np.memmap(folder / "ids.i32", dtype=np.int32, mode="r", shape=(tokens,))
            if tokens
            else np.zeros(0, np.int32)
        )
        self.label_ids = np.load(folder / "labels.npy")  # index into label_names
        self.split_codes = np.load(folder / "splits.npy")  # SPLIT_CODES, or NO_SPLIT
        self.types: list[str] = self.meta["types"]
        self.label_names: list[str] = self.meta["label_names"]

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def truncated(self) -> int:
        """Examples that had more tokens than the store's ``max_length``."""
        return int(self.meta["truncated"])

    def labels(self, rows: np.ndarray) -> list[str]:
        return [self.label_names[i] for i in self.label_ids[rows]]

    def splits(self, rows: np.ndarray) -> list[str | None] | None:
        """Each row's given split, or None when the data gives none."""
        codes = self.split_codes[rows]
        if (codes == NO_SPLIT).all():
            return None
        names = {v: k for k, v in SPLIT_CODES.items()}
        return [names.get(int(c)) for c in codes]

    def token_ids(self, rows: np.ndarray) -> np.ndarray:
        """The type ids of ``rows``, concatenated (in the order of ``rows``)."""
        starts, lengths = self.offsets[rows], self.lengths[rows]
        if not len(rows) or not lengths.sum():
            return np.zeros(0, np.int32)
        shift = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return self.ids[shift + np.arange(int(lengths.sum()))]

    def type_counts(self, rows: np.ndarray, chunk: int = 100_000) -> np.ndarray:
        """How often each type occurs in ``rows`` (types,), read ``chunk`` rows at a time."""
        counts = np.zeros(len(self.types), np.int64)
        for start in range(0, len(rows), chunk):
            ids = self.token_ids(rows[start : start + chunk])
            counts += np.bincount(ids, minlength=len(self.types))
        return counts

    def fingerprints(self, rows: np.ndarray, chunk: int = 100_000) -> np.ndarray:
        """(rows,) a 64-bit hash of each row's kept tokens, in order (equal texts, as
        tokenised, hash equal), ``chunk`` rows at a time: 8 bytes per row, so that
        duplicates between splits can be counted in a corpus of millions."""
        out = np.zeros(len(rows), np.uint64)
        longest = int(self.lengths.max()) if self.size else 0
        powers = np.cumprod(np.full(max(longest, 1), 1_000_003, np.uint64), dtype=np.uint64)
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            lengths = self.lengths[part]
            ids = self.token_ids(part).astype(np.uint64) + np.uint64(1)
            position = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            terms = ids * powers[position] if len(ids) else ids
            sums = np.zeros(len(part), np.uint64)
            nonempty = lengths > 0
            if nonempty.any():
                sums[nonempty] = np.add.reduceat(terms, (np.cumsum(lengths) - lengths)[nonempty])
            out[start : start + len(part)] = sums ^ lengths.astype(np.uint64)
        return out

    def repeated_in(self, rows: np.ndarray, reference: np.ndarray) -> int:
        """How many of ``rows`` hold a text also in ``reference`` (e.g. test texts that
        were trained on: a score on them says little about new text)."""
        if not len(rows) or not len(reference):
            return 0
        return int(np.isin(self.fingerprints(rows), self.fingerprints(reference)).sum())

    def texts(self, rows: np.ndarray) -> Iterator[str]:
        """The kept tokens of each row joined by spaces (for feature baselines)."""
        for row in rows:
            start = self.offsets[row]
            yield " ".join(self.types[t] for t in self.ids[start : start + self.lengths[row]])

    def vocabulary(
        self, rows: np.ndarray, min_freq: int, max_size: int, lowercase: bool
    ) -> Vocabulary:
        """A word vocabulary of the types in ``rows`` (e.g. the training split)."""
        counts = self.type_counts(rows)
        seen = {self.types[t]: int(counts[t]) for t in np.flatnonzero(counts)}
        return Vocabulary.from_counts(seen, "word", min_freq, max_size, lowercase)

    def remap(self, index: dict[str, int], unknown: int) -> np.ndarray:
        """(types,) vocabulary id of each type; ``unknown`` for types not in ``index``."""
        return np.fromiter((index.get(t, unknown) for t in self.types), np.int64, len(self.types))


def load_or_build(
    kind: str,
    key: dict[str, Any],
    examples: Callable[[], Iterable[Example]],
    tokenize: Tokenizer,
    max_length: int,
    root: Path | None = None,
) -> tuple[ExampleStore, bool]:
    """The store for ``key`` (data identity + tokenizer settings), built from
    ``examples()`` if the cache has none. Returns it and whether it came from the cache."""
    final = (
        (root or cache_dir()) / kind / key_hash({**key, "max_length": max_length, "format": FORMAT})
    )
    if (final / "meta.json").exists():
        try:
            return ExampleStore(final), True
        except (OSError, ValueError, KeyError):
            shutil.rmtree(final, ignore_errors=True)  # a foreign or damaged entry: rebuilt
    building = building_folder(final)
    builder = StoreBuilder(building, tokenize, max_length)
    try:
        for example in examples():
            builder.add(example)
        builder.finish({"key": json.dumps(key, sort_keys=True, default=str)})
    except BaseException:
        builder.abandon()
        raise
    publish(building, final)
    return ExampleStore(final), False


class TokenSplit(GatheredSplit):
    """Examples ``rows`` of a store as a trainer split: batches of ``key`` (batch,
    longest) vocabulary ids padded with 0, ``lengths`` (on the CPU), ``label`` and
    ``index`` (positions in the split), bucketed by length when shuffled or not."""

    stateful = False

    def __init__(
        self,
        store: ExampleStore,
        rows: np.ndarray,
        remap: np.ndarray,
        labels: np.ndarray | None,
        key: str = "tokens",
        device: torch.device | str = "cpu",
    ):
        self.store, self.rows, self.remap, self.key = store, np.asarray(rows, np.int64), remap, key
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels, np.int64))
        self.lengths = torch.from_numpy(store.lengths[self.rows].astype(np.int64))
        self.device = torch.device(device)
        self.size = len(self.rows)
        self.timesteps = int(self.lengths.sum())

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, name: str) -> Tensor:
        return {"label": self.labels, "lengths": self.lengths}[name]

    def to(self, device: torch.device | str) -> TokenSplit:
        return TokenSplit(self.store, self.rows, self.remap, self.labels, self.key, device)

    def batch(self, index: Tensor) -> Batch:
        """The examples at split positions ``index``, padded to the longest of them."""
        positions = index.numpy()
        lengths = self.lengths[index]
        counts = lengths.numpy()
        tokens = np.zeros((len(positions), max(1, int(counts.max(initial=0)))), np.int64)
        for k, row in enumerate(self.rows[positions]):
            start = self.store.offsets[row]
            tokens[k, : counts[k]] = self.remap[self.store.ids[start : start + counts[k]]]
        batch: Batch = {
            "index": index,
            self.key: torch.from_numpy(tokens).to(self.device),
            "lengths": lengths,
        }
        if self.labels is not None:
            batch["label"] = self.labels[index].to(self.device)
        return batch
