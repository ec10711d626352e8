"""Text read in bounded pieces: a file, a folder of ``*.txt`` files, or text already in
memory (an embedded corpus), decoded block by block so that memory stays flat however
large the corpus is.

Every file is checked before a byte of it is used (:func:`seqsuite.input_files.regular_file`:
FIFOs and devices are refused), a folder may list at most ``[data] max_files`` files, and
a line may hold at most ``[data] max_line_chars`` characters. Decoding honours a
byte-order mark (UTF-8, UTF-16, UTF-32), else expects UTF-8; a binary or mis-encoded file
is refused with the byte where it went wrong. Line ends are read as Python's text files
read them (``\r\n`` and ``\r`` become ``\n``): a Windows file is the same text as its
Unix copy, not one with a ``\r`` token before every line end. The files of a folder are read in sorted
order, joined by a blank line.

:func:`line_chunks` cuts the decoded text into chunks that end at line ends (so that no
word is cut in two) and into contiguous parts (train / validation / test) at the first
line end after given character positions.
"""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .input_files import regular_file, text_encoding

#: bytes read at a time
BLOCK_BYTES = 1 << 20
#: between two files of a folder
SEPARATOR = "\n\n"
#: characters per chunk handed to a tokenizer (chunks end at a line end)
CHUNK_CHARS = 1 << 18
#: how far past a split position a line end is looked for before the split cuts a line
LINE_SEARCH = 10_000


@dataclass
class ReadStats:
    """What reading found: characters in all and the longest line."""

    chars: int = 0
    longest_line: int = 0


@dataclass(frozen=True)
class TextSource:
    """One file (``path``) or one text held in memory (``text``), named for messages."""

    name: str
    path: Path | None = None
    text: str | None = None

    def size(self) -> int:
        """Bytes to read (for progress bars)."""
        if self.path is not None:
            return self.path.stat().st_size
        return len(self.text.encode("utf-8"))

    def blocks(self) -> Iterator[bytes]:
        if self.path is None:
            data = self.text.encode("utf-8")
            for start in range(0, len(data), BLOCK_BYTES):
                yield data[start : start + BLOCK_BYTES]
            return
        try:
            with regular_file(self.path).open("rb") as handle:
                while block := handle.read(BLOCK_BYTES):
                    yield block
        except OSError as err:
            raise UserError(f"{self.path}: cannot read ({err.strerror})") from None


def list_sources(path: str | Path, max_files: int) -> tuple[list[TextSource], str]:
    """The sources of ``--data PATH`` (a file, or the ``*.txt`` files of a folder, sorted)
    and a name for the data set."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found")
    if not path.is_dir():
        return [TextSource(str(path), regular_file(path))], path.stem
    files = []
    for entry in path.rglob("*.txt"):
        if entry.is_dir():
            continue
        files.append(entry)
        if len(files) > max_files:
            raise UserError(
                f"{path}: holds more than {max_files:,} .txt files ([data] max_files); "
                "raise it with --set data.max_files=N"
            )
    if not files:
        raise UserError(f"{path}: folder holds no .txt files")
    return [TextSource(str(f), regular_file(f)) for f in sorted(files)], path.name


def content_key(sources: Iterable[TextSource]) -> str:
    """SHA-256 of the sources' bytes, read in blocks: the same text gives the same key
    wherever the file lies and whatever its modification time says."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(b"\x00source\x00")
        for block in source.blocks():
            digest.update(block)
    return digest.hexdigest()


class _Decoder:
    """Decodes one source's blocks, checking encoding, binary content and line length."""

    def __init__(self, source: TextSource, max_line_chars: int):
        self.source, self.max_line_chars = source, max_line_chars
        self.decoder = None
        self.consumed = 0  # bytes given to the decoder so far
        self.line = 0  # characters of the line not yet ended
        self.longest = 0
        self.printable = False  # anything but white space seen

    def decode(self, block: bytes, final: bool = False) -> str:
        if self.decoder is None:
            encoding = text_encoding(block[:4])
            if encoding is None and b"\x00" in block[:8192]:
                raise UserError(
                    f"{self.source.name}: looks like a binary file, expected UTF-8 text"
                )
            self.encoding = encoding or "utf-8"
            self.decoder = io.IncrementalNewlineDecoder(
                codecs.getincrementaldecoder(self.encoding)("strict"), translate=True
            )
        pending = self.decoder.getstate()[0]
        try:
            text = self.decoder.decode(block, final)
        except UnicodeDecodeError as err:
            data = pending + block
            where = self.consumed - len(pending) + err.start
            raise UserError(
                f"{self.source.name}: not valid {self.encoding.upper().replace('-SIG', '')} "
                f"(byte {where}: {data[err.start : err.start + 1]!r}); convert it, "
                "e.g. iconv -f latin1 -t utf-8"
            ) from None
        self.consumed += len(block)
        self._check_lines(text)
        self.printable = self.printable or bool(text.strip())
        return text

    def _check_lines(self, text: str) -> None:
        lines = text.split("\n")
        longest = self.line + len(lines[0])
        if len(lines) > 1:
            longest = max(longest, max(map(len, lines[1:])))
            self.line = len(lines[-1])
        else:
            self.line = longest
        self.longest = max(self.longest, longest)
        if longest > self.max_line_chars:
            raise UserError(
                f"{self.source.name}: a line of more than {self.max_line_chars:,} characters "
                f"(before byte {self.consumed:,}; [data] max_line_chars); raise it with "
                "--set data.max_line_chars=N if the text is meant to be so"
            )


def decoded_blocks(
    sources: Iterable[TextSource],
    max_line_chars: int,
    progress: Callable[[int], None] | None = None,
    stats: ReadStats | None = None,
) -> Iterator[str]:
    """The sources' text, block by block, a blank line between sources. ``progress`` is
    told the bytes read after each block; ``stats`` gathers what was read."""
    stats = stats if stats is not None else ReadStats()
    for i, source in enumerate(sources):
        if i:
            stats.chars += len(SEPARATOR)
            yield SEPARATOR
        decoder = _Decoder(source, max_line_chars)
        for block in source.blocks():
            text = decoder.decode(block)
            if progress:
                progress(len(block))
            stats.chars += len(text)
            if text:
                yield text
        if tail := decoder.decode(b"", final=True) if decoder.decoder else "":
            stats.chars += len(tail)
            yield tail
        stats.longest_line = max(stats.longest_line, decoder.longest)
        if not decoder.printable:
            raise UserError(f"{source.name}: file is empty")


def read_stats(
    sources: Iterable[TextSource],
    max_line_chars: int,
    progress: Callable[[int], None] | None = None,
) -> ReadStats:
    """Read everything once (every check of :func:`decoded_blocks` included) and count."""
    stats = ReadStats()
    for _ in decoded_blocks(sources, max_line_chars, progress, stats):
        pass
    return stats


def split_positions(chars: int, fractions: Iterable[float]) -> list[int]:
    """Where the parts after the first begin, for parts taking ``fractions`` of the text
    at its end (e.g. validation 0.05 then test 0.05 -> two positions)."""
    fractions = list(fractions)
    positions, tail = [], sum(fractions)
    for fraction in fractions:
        positions.append(chars - round(chars * tail))
        tail -= fraction
    return positions


def line_chunks(
    blocks: Iterable[str], cuts: list[int], size: int = CHUNK_CHARS
) -> Iterator[tuple[int, str]]:
    """``(part, text)`` chunks of about ``size`` characters that end at a line end.

    Part ``k + 1`` begins at the first line end at or after character ``cuts[k]`` (within
    :data:`LINE_SEARCH` characters; else exactly there). A line longer than a few chunks
    is cut at a space, or anywhere if it has none. No chunk spans two parts.
    """
    chunker = _Chunker(size)
    for part, text in _parts(blocks, cuts):
        yield from chunker.add(part, text)
    yield from chunker.flush()


def _parts(blocks: Iterable[str], cuts: list[int]) -> Iterator[tuple[int, str]]:
    """``(part, text)`` pieces of the blocks, none spanning two parts."""
    buffer, start, part = "", 0, 0  # start: where the buffer begins in the text
    for block in [*blocks, None]:
        final = block is None
        buffer += block or ""
        while part < len(cuts) and start + len(buffer) > cuts[part]:
            at = max(0, cuts[part] - start)
            newline = buffer.find("\n", at, at + LINE_SEARCH)
            if newline < 0 and not final and len(buffer) < at + LINE_SEARCH:
                break  # the line end may be in the next block
            end = newline + 1 if newline >= 0 else at
            if end:
                yield part, buffer[:end]
            buffer, start, part = buffer[end:], start + end, part + 1
        keep = 0 if part >= len(cuts) else max(0, len(buffer) - max(0, cuts[part] - start))
        if len(buffer) > keep:  # all but what the next cut still has to look at
            yield part, buffer[: len(buffer) - keep]
            start += len(buffer) - keep
            buffer = buffer[len(buffer) - keep :]


class _Chunker:
    """Cuts one part's pieces into chunks of about ``size`` characters at line ends."""

    def __init__(self, size: int):
        self.size, self.part, self.buffer = size, 0, ""

    def add(self, part: int, text: str) -> Iterator[tuple[int, str]]:
        if part != self.part:
            yield from self.flush()
            self.part = part
        self.buffer += text
        while (end := self._end()) is not None:
            yield self.part, self.buffer[:end]
            self.buffer = self.buffer[end:]

    def flush(self) -> Iterator[tuple[int, str]]:
        if self.buffer:
            yield self.part, self.buffer
        self.buffer = ""

    def _end(self) -> int | None:
        """Where the next chunk ends: after the last line end within ``size``, or a
        longer line's first (None: not enough text yet)."""
        if len(self.buffer) < self.size:
            return None
        newline = self.buffer.rfind("\n", 0, self.size)
        if newline < 0:
            newline = self.buffer.find("\n", self.size, 4 * self.size)
        if newline >= 0:
            return newline + 1
        if len(self.buffer) < 4 * self.size:
            return None
        space = self.buffer.rfind(" ", 0, 4 * self.size)
        return space + 1 if space >= 0 else 4 * self.size
