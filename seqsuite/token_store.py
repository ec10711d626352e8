"""A corpus tokenised once, in chunks, into a memory-mapped file in the cache.

    store, cached = token_store.open_or_build(sources, PieceTable("char"), (0.05, 0.05))
    train = store.parts[0]              # token offsets [start, stop) and characters
    window = store.ids[train.start : train.start + 1000]   # read from disk on demand

Building reads the text twice in bounded blocks: once to check it and count its
characters (which fixes where the contiguous parts begin: the first line end after each
fraction of the characters), once to tokenise it chunk by chunk, appending raw ids to
``ids.bin`` (uint16 while the ids fit, widened to uint32 once if they do not). Memory
stays flat whatever the corpus size, beyond the encoder's table of distinct pieces.

The entry is keyed by the text's content (SHA-256 of its bytes, streamed; not its path or
modification time, which can stay the same while the text changes, or change while it
stays the same), the encoder's settings and the fractions. It is built in a temporary
folder and renamed into place, so a reader never sees half an entry; an entry that does
not match its description is built again. Nothing in it is code: JSON and raw integers.

Layout of ``<cache>/tokens/<key>/``: ``ids.bin`` (the raw ids), ``meta.json`` (parts,
chunk marks, dtype), ``pieces.json`` (raw id -> piece, for encoders that number pieces).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import atomic, cache, text_source
from .errors import UserError
from .text_source import (
    TextSource,
    content_key,
    decoded_blocks,
    line_chunks,
    read_stats,
    split_positions,
)

FORMAT = 2  # 2: line ends translated (\r\n -> \n) when read
#: tokens counted or copied at a time
BLOCK_TOKENS = 1 << 22


class Encoder(Protocol):
    """Text to raw ids: a :class:`~seqsuite.vocab.PieceTable` or a BPE vocabulary."""

    #: raw id -> piece, or None when raw ids are already the model's ids
    pieces: list[str] | None

    def settings(self) -> dict[str, Any]: ...

    def encode_array(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class Part:
    """A contiguous part of the corpus: tokens ``[start, stop)``, ``chars`` characters."""

    start: int
    stop: int
    chars: int

    @property
    def tokens(self) -> int:
        return self.stop - self.start


class TokenStore:
    """An opened entry: ``ids`` (a read-only memmap), ``parts``, ``pieces``."""

    def __init__(self, folder: Path, meta: dict[str, Any]):
        self.folder, self.meta = folder, meta
        self.tokens = int(meta["tokens"])
        dtype = np.dtype(meta["dtype"])
        path = folder / "ids.bin"
        if path.stat().st_size != self.tokens * dtype.itemsize:
            raise ValueError("ids.bin does not hold the tokens meta.json counts")
        self.ids = (
            np.memmap(path, dtype=dtype, mode="r", shape=(self.tokens,))
            if self.tokens
            else np.zeros(0, dtype=dtype)
        )
        self.parts = [Part(*map(int, p)) for p in meta["parts"]]
        #: (chunks, 2) cumulative characters and tokens at the end of each chunk
        self.marks = np.asarray(meta["marks"], dtype=np.int64).reshape(-1, 2)
        self.chars = int(meta["chars"])
        self.longest_line = int(meta["longest_line"])
        pieces = folder / "pieces.json"
        self.pieces: list[str] | None = (
            json.loads(pieces.read_text(encoding="utf-8")) if pieces.exists() else None
        )

    @classmethod
    def open(cls, folder: Path) -> TokenStore | None:
        """The entry in ``folder``, or None if it is missing or damaged."""
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                return None
            return cls(folder, meta)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def read(self, start: int, stop: int) -> np.ndarray:
        """(stop - start,) int64 raw ids, read from disk."""
        return np.asarray(self.ids[start:stop], dtype=np.int64)

    def counts(self, start: int, stop: int, size: int) -> np.ndarray:
        """(size,) int64: how often each raw id occurs in ``[start, stop)``, counted in
        blocks."""
        total = np.zeros(size, dtype=np.int64)
        for a in range(start, stop, BLOCK_TOKENS):
            block = self.ids[a : min(stop, a + BLOCK_TOKENS)]
            total += np.bincount(block, minlength=size)[:size]
        return total

    def prefix(self, index: int, max_tokens: int) -> Part:
        """The start of part ``index``, cut at a chunk end, of at most ``max_tokens``
        tokens (at least one chunk); the whole part when it is short enough or
        ``max_tokens`` is 0."""
        part = self.parts[index]
        if not max_tokens or part.tokens <= max_tokens:
            return part
        chars, tokens = self.marks[:, 0], self.marks[:, 1]
        inside = (tokens > part.start) & (tokens <= part.stop)
        fits = inside & (tokens <= part.start + max_tokens)
        row = np.flatnonzero(fits)[-1] if fits.any() else np.flatnonzero(inside)[0]
        chars_before = int(self.meta["part_chars_start"][index])
        return Part(part.start, int(tokens[row]), int(chars[row]) - chars_before)


def store_key(sources: Sequence[TextSource], encoder: Encoder, fractions: Sequence[float]) -> dict:
    """What an entry depends on."""
    return {
        "format": FORMAT,
        "content": content_key(sources),
        "encoder": encoder.settings(),
        "fractions": [float(f) for f in fractions],
        "chunk_chars": text_source.CHUNK_CHARS,
        "line_search": text_source.LINE_SEARCH,
    }


def open_or_build(
    sources: Sequence[TextSource],
    encoder: Encoder,
    fractions: Sequence[float],
    *,
    max_line_chars: int,
    quiet: bool = True,
    console: Any = None,
) -> tuple[TokenStore, bool]:
    """The store of ``sources`` tokenised by ``encoder`` with parts for ``fractions``
    (see :func:`~seqsuite.text_source.split_positions`); built if the cache lacks it.
    Returns it and whether it came from the cache."""
    key = store_key(sources, encoder, fractions)
    folder = cache.cache_dir() / "tokens" / cache.key_hash(key)
    store = TokenStore.open(folder)
    if store is not None:
        _check_lines(store, sources, max_line_chars)
        return store, True
    total = sum(s.size() for s in sources)
    if console is not None and not quiet and total > 10_000_000:
        console.print(f"tokenising {total / 1e6:,.0f} MB into {folder.parent} (once)")
    with progress_bar(2 * total, "tokenising", quiet) as advance:
        stats = read_stats(sources, max_line_chars, advance)
        cuts = split_positions(stats.chars, fractions)
        key_meta = {"key": key, "longest_line": stats.longest_line}
        _build(folder, key_meta, sources, encoder, cuts, max_line_chars, advance)
    store = TokenStore.open(folder)
    if store is None:
        raise UserError(f"{folder}: the token cache just written cannot be read back")
    return store, False


def _check_lines(store: TokenStore, sources: Sequence[TextSource], limit: int) -> None:
    if store.longest_line > limit:
        raise UserError(
            f"{sources[0].name}: a line of {store.longest_line:,} characters, more than "
            f"[data] max_line_chars {limit:,}; raise it with --set data.max_line_chars=N"
        )


def _build(
    folder: Path,
    extra: dict,
    sources: Sequence[TextSource],
    encoder: Encoder,
    cuts: list[int],
    max_line_chars: int,
    advance: Callable[[int], None],
) -> None:
    """Tokenise into a temporary folder beside ``folder``, then rename it into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = cache.building_folder(folder)  # leftovers of killed builds of this entry removed
    try:
        temp.mkdir()
        meta = _tokenise(temp, sources, encoder, cuts, max_line_chars, advance)
        if encoder.pieces is not None:
            atomic.write_text(temp / "pieces.json", json.dumps(encoder.pieces, ensure_ascii=False))
        atomic.write_json(temp / "meta.json", {**meta, **extra})
        if TokenStore.open(folder) is None:  # else another process built it meanwhile
            _remove(folder)  # a damaged entry, if any
            try:
                os.rename(temp, folder)
            except OSError:  # another process renamed theirs in between: keep theirs
                if TokenStore.open(folder) is None:
                    raise
    except OSError as err:
        raise UserError(
            f"{folder.parent}: cannot write the token cache ({err.strerror or err}); "
            "free some space or point SEQSUITE_CACHE elsewhere"
        ) from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _tokenise(
    folder: Path,
    sources: Sequence[TextSource],
    encoder: Encoder,
    cuts: list[int],
    max_line_chars: int,
    advance: Callable[[int], None],
) -> dict[str, Any]:
    """Write ``ids.bin``; return the entry's description (parts, marks, dtype)."""
    writer = _IdWriter(folder / "ids.bin")
    starts: list[tuple[int, int]] = []  # (token, char) where each part begins
    marks: list[tuple[int, int]] = []
    chars = 0
    blocks = decoded_blocks(sources, max_line_chars, advance)
    try:
        for part, text in line_chunks(blocks, cuts, text_source.CHUNK_CHARS):
            while len(starts) <= part:
                starts.append((writer.count, chars))
            writer.write(encoder.encode_array(text))
            chars += len(text)
            marks.append((chars, writer.count))
    finally:
        writer.close()
    while len(starts) <= len(cuts):
        starts.append((writer.count, chars))
    ends = starts[1:] + [(writer.count, chars)]
    parts = [(s[0], e[0], e[1] - s[1]) for s, e in zip(starts, ends, strict=True)]
    return {
        "format": FORMAT,
        "tokens": writer.count,
        "dtype": writer.dtype.name,
        "chars": chars,
        "parts": parts,
        "part_chars_start": [s[1] for s in starts],
        "marks": marks,
    }


class _IdWriter:
    """Appends ids to a file as uint16, rewriting it as uint32 the first time an id does
    not fit (once at most)."""

    def __init__(self, path: Path):
        self.path, self.dtype, self.count = path, np.dtype(np.uint16), 0
        self.handle = path.open("wb")

    def write(self, ids: np.ndarray) -> None:
        if len(ids) and self.dtype == np.uint16 and int(ids.max()) > 0xFFFF:
            self._widen()
        self.handle.write(ids.astype(self.dtype, copy=False).tobytes())
        self.count += len(ids)

    def _widen(self) -> None:
        self.handle.close()
        wide = self.path.with_suffix(".wide")
        with self.path.open("rb") as narrow, wide.open("wb") as out:
            while block := narrow.read(2 * BLOCK_TOKENS):
                out.write(np.frombuffer(block, dtype=np.uint16).astype(np.uint32).tobytes())
        os.replace(wide, self.path)
        self.dtype = np.dtype(np.uint32)
        self.handle = self.path.open("ab")

    def close(self) -> None:
        self.handle.close()


@contextlib.contextmanager
def progress_bar(total: int, label: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A function to call with the bytes done: a rich progress bar on stderr when a person
    watches (a terminal, not ``--quiet``), else nothing."""
    if quiet or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
