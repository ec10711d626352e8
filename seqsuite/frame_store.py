"""Variable-length sequences of fixed-width float frames (audio features, piano rolls)
stored once in one memory-mapped file, with the offsets where each sequence starts.

Holding thousands of utterances as arrays, then as one padded tensor, costs memory that
grows with the data (and with its longest example). Here each example is computed once,
as its source is read, and appended to ``frames.f32`` ((total frames, width) float32,
read back through a memory map); per example only its offset, its kept duration and
whether it was cut are kept in memory. An example that could not be computed keeps its
row with no frames, and its reason goes to ``errors.tsv``, so rows stay aligned with the
listing they came from. Batches are gathered and padded one at a time
(:class:`FrameSplit`), examples of similar length together.

The store sits in the cache (``SEQSUITE_CACHE``) in a folder named by the hash of its key
(the sources' identity and every setting that changes the frames), is built in a
temporary folder and renamed into place: a second run maps it without recomputing, and
a torn build is never read.
"""

from __future__ import annotations

import json
import shutil
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import atomic
from .batches import Batch, GatheredSplit
from .cache import building_folder, cache_dir, key_hash, publish

FORMAT = 1


@dataclass
class Item:
    """One example as its source yields it: frames (time, width), or the reason why not."""

    frames: np.ndarray | None
    seconds: float = 0.0  # duration kept (seconds of audio, say)
    truncated: bool = False  # the source held more than was kept
    error: str = ""  # why there are no frames
    name: str = ""  # what to call the source in the list of errors (a path)


class StoreBuilder:
    """Takes items one by one; appends their frames to disk as they come."""

    FLUSH = 1 << 22  # float32 values buffered before a write (16 MB)

    def __init__(self, folder: Path, width: int):
        self.folder, self.width = folder, width
        self.offsets, self.seconds, self.cut = array("q", [0]), array("f"), array("b")
        self.buffer: list[np.ndarray] = []
        self.buffered = 0
        folder.mkdir(parents=True)
        self.frames_file = (folder / "frames.f32").open("wb")
        self.errors_file = (folder / "errors.tsv").open("w", encoding="utf-8")
        self.failed = 0

    def add(self, item: Item) -> None:
        frames = item.frames
        if frames is None or not len(frames):
            self.failed += 1
            reason = (item.error or "no frames").replace("\t", " ").replace("\n", " ")
            name = item.name.replace("\t", " ").replace("\n", " ")
            self.errors_file.write(f"{len(self.seconds)}\t{name}\t{reason}\n")
            frames = np.zeros((0, self.width), np.float32)
        elif frames.ndim != 2 or frames.shape[1] != self.width:
            raise ValueError(f"frames of shape {frames.shape}; expected (time, {self.width})")
        self.offsets.append(self.offsets[-1] + len(frames))
        self.seconds.append(item.seconds if len(frames) else 0.0)
        self.cut.append(bool(item.truncated and len(frames)))
        if len(frames):
            self.buffer.append(np.ascontiguousarray(frames, np.float32))
            self.buffered += frames.size
            if self.buffered >= self.FLUSH:
                self._flush()

    def _flush(self) -> None:
        for frames in self.buffer:
            frames.tofile(self.frames_file)
        self.buffer, self.buffered = [], 0

    def finish(self, meta: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
        """Close the files; ``arrays`` are extra per-example arrays (labels, splits)."""
        self._flush()
        self.frames_file.close()
        self.errors_file.close()
        np.save(self.folder / "offsets.npy", np.frombuffer(self.offsets, dtype=np.int64))
        np.save(self.folder / "seconds.npy", np.frombuffer(self.seconds, dtype=np.float32))
        np.save(self.folder / "truncated.npy", np.frombuffer(self.cut, dtype=np.int8))
        for name, values in (arrays or {}).items():
            np.save(self.folder / f"column-{name}.npy", values, allow_pickle=False)
        atomic.write_json(
            self.folder / "meta.json",
            {
                **meta,
                "format": FORMAT,
                "width": self.width,
                "examples": len(self.seconds),
                "frames": int(self.offsets[-1]),
                "failed": self.failed,
                "truncated": int(sum(self.cut)),
                "columns": sorted(arrays or {}),
            },
        )

    def abandon(self) -> None:
        self.frames_file.close()
        self.errors_file.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class FrameStore:
    """A finished store, memory-mapped. Arrays are per example (row)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{folder}: store format {self.meta.get('format')}")
        self.width = int(self.meta["width"])
        self.offsets = np.load(folder / "offsets.npy")
        self.lengths = np.diff(self.offsets)  # frames kept per example; 0 = unusable
        self.seconds = np.load(folder / "seconds.npy")
        self.truncated_rows = np.load(folder / "truncated.npy").astype(bool)
        total = int(self.offsets[-1])
        self.frames = (  # (total frames, width), every example one after the other
            np.memmap(folder / "frames.f32", np.float32, "r", shape=(total, self.width))
            if total
            else np.zeros((0, self.width), np.float32)
        )
        self.columns = {
            name: np.load(folder / f"column-{name}.npy", allow_pickle=False)
            for name in self.meta.get("columns", [])
        }

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def usable(self) -> np.ndarray:
        """Rows with frames."""
        return np.flatnonzero(self.lengths > 0)

    def example(self, row: int) -> np.ndarray:
        """(time, width) frames of one row (a view into the map)."""
        return self.frames[self.offsets[row] : self.offsets[row + 1]]

    def errors(self, limit: int | None = None) -> list[tuple[int, str, str]]:
        """(row, name, reason) of the rows without frames, at most ``limit`` of them."""
        out = []
        with (self.folder / "errors.tsv").open(encoding="utf-8") as lines:
            for line in lines:
                if limit is not None and len(out) >= limit:
                    break
                row, name, reason = line.rstrip("\n").split("\t", 2)
                out.append((int(row), name, reason))
        return out

    def summaries(
        self, rows: np.ndarray, transform: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """(len(rows), k): ``transform`` of each row's frames, one row at a time."""
        return np.stack([transform(np.asarray(self.example(r))) for r in rows])


def store_path(kind: str, key: dict[str, Any], width: int, root: Path | None = None) -> Path:
    """Where the store for ``key`` is (or will be)."""
    return (root or cache_dir()) / kind / key_hash({**key, "width": width, "format": FORMAT})


def load_or_build(
    kind: str,
    key: dict[str, Any],
    items: Callable[[], Iterable[Item]],
    width: int,
    arrays: Callable[[], dict[str, np.ndarray]] | None = None,
    root: Path | None = None,
) -> tuple[FrameStore, bool]:
    """The store for ``key``, built from ``items()`` (then ``arrays()``, per-example
    columns known once the items are done) if the cache has none. Returns it and
    whether it came from the cache."""
    final = store_path(kind, key, width, root)
    if (final / "meta.json").exists():
        try:
            return FrameStore(final), True
        except (OSError, ValueError, KeyError):
            shutil.rmtree(final, ignore_errors=True)  # a foreign or damaged entry: rebuilt
    final.parent.mkdir(parents=True, exist_ok=True)
    building = building_folder(final)
    builder = StoreBuilder(building, width)
    try:
        for item in items():
            builder.add(item)
        builder.finish(
            {"key": json.dumps(key, sort_keys=True, default=str)}, arrays() if arrays else None
        )
    except BaseException:
        builder.abandon()
        raise
    publish(building, final)
    return FrameStore(final), False


class FrameSplit(GatheredSplit):
    """Rows of one or more stores (of the same width) as a trainer split: batches of
    ``key`` (batch, longest, width) frames padded with 0, ``lengths`` (on the CPU),
    ``label`` (given labels) and ``index`` (positions in the split), examples of similar
    length batched together. ``which`` says which of ``stores`` each row is in (default:
    the first); :meth:`joined` puts splits one after another.

    ``groups`` and ``tables``: each row's group (an int) and, by name, a tensor with one
    entry per group; each batch then also holds ``name: table[groups of its rows]`` (a
    speaker's statistics, say), so that memory holds one int per row, not one entry."""

    stateful = False

    def __init__(
        self,
        stores: FrameStore | Sequence[FrameStore],
        rows: np.ndarray,
        labels: np.ndarray | None = None,
        key: str = "x",
        device: torch.device | str = "cpu",
        which: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        tables: dict[str, Tensor] | None = None,
    ):
        self.stores = [stores] if isinstance(stores, FrameStore) else list(stores)
        self.groups = None if groups is None else np.asarray(groups)
        self.tables = tables or {}
        self.rows, self.key = np.asarray(rows, np.int64), key
        self.which = np.zeros(len(self.rows), np.int8) if which is None else np.asarray(which)
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels, np.int64))
        counts = np.zeros(len(self.rows), np.int64)
        for k, store in enumerate(self.stores):
            mine = self.which == k
            counts[mine] = store.lengths[self.rows[mine]]
        self.lengths = torch.from_numpy(counts)
        self.width = self.stores[0].width
        self.device = torch.device(device)
        self.size = len(self.rows)
        self.timesteps = int(self.lengths.sum())

    @classmethod
    def joined(cls, splits: Sequence[FrameSplit]) -> FrameSplit:
        """The rows of ``splits``, one split after another (labels must all be given;
        groups, if any, index the first split's tables)."""
        stores, which = [], []
        for split in splits:
            offset = len(stores)
            stores += split.stores
            which.append(split.which + offset)
        first = splits[0]
        groups = None
        if first.groups is not None:
            groups = np.concatenate([s.groups for s in splits])
        return cls(
            stores,
            np.concatenate([s.rows for s in splits]),
            np.concatenate([s.labels.numpy() for s in splits]),
            first.key,
            first.device,
            np.concatenate(which).astype(np.int16),
            groups,
            first.tables,
        )

    def with_groups(self, groups: np.ndarray, tables: dict[str, Tensor]) -> FrameSplit:
        """The same rows, each in ``groups[row position]``, with ``tables``."""
        return FrameSplit(
            self.stores, self.rows, self.labels, self.key, self.device, self.which, groups, tables
        )

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, name: str) -> Tensor:
        return {"label": self.labels, "lengths": self.lengths}[name]

    def to(self, device: torch.device | str) -> FrameSplit:
        return FrameSplit(
            self.stores,
            self.rows,
            self.labels,
            self.key,
            device,
            self.which,
            self.groups,
            self.tables,
        )

    def batch(self, index: Tensor) -> Batch:
        """The examples at split positions ``index``, padded to the longest of them."""
        positions = index.numpy()
        lengths = self.lengths[index]
        counts = lengths.numpy()
        longest = max(1, int(counts.max(initial=0)))
        frames = np.zeros((len(positions), longest, self.width), np.float32)
        chosen = zip(self.which[positions], self.rows[positions], strict=True)
        for k, (store, row) in enumerate(chosen):
            frames[k, : counts[k]] = self.stores[store].example(row)
        batch: Batch = {
            "index": index,
            self.key: torch.from_numpy(frames).to(self.device),
            "lengths": lengths,
        }
        if self.labels is not None:
            batch["label"] = self.labels[index].to(self.device)
        if self.groups is not None:
            rows = torch.from_numpy(self.groups[positions].astype(np.int64))
            for name, table in self.tables.items():
                batch[name] = table[rows].to(self.device)
        return batch
