"""Pretrained word vectors (word2vec, GloVe, fastText) matched to a vocabulary.

Formats, told apart by their content:

- text: one word and its numbers per line, separated by spaces. word2vec and fastText
  (``.vec``) files start with a line ``COUNT DIM``; GloVe files have none.
- binary word2vec (``.bin``): the line ``COUNT DIM``, then per word its bytes, a space,
  and ``DIM`` little-endian float32 numbers (a line break between entries is allowed).

Only the vectors of the vocabulary's words are kept (a word missing exactly is looked
up lower-cased, then matched by its lower-cased form: the first such word in the file,
the most frequent where the file is sorted by frequency), so memory is the vocabulary's
size times the dimension whatever the file's. Reading is bounded: at most
``data.max_rows`` vectors, lines of at most ``data.max_line_chars`` characters, a
dimension of at most :data:`MAX_DIM`, words of at most :data:`MAX_WORD_BYTES` bytes.

A name ``owner/name`` (or ``owner/name/file``) that is not a local file is fetched from
the Hugging Face Hub with ``huggingface_hub`` where the machine is online.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import UserError
from .text_rows import check_regular_file

MAX_DIM = 4096
MAX_WORD_BYTES = 1000
VECTOR_SUFFIXES = (".vec", ".txt", ".bin", ".w2v")


@dataclass
class MatchedVectors:
    """Vectors for a vocabulary: ``matrix`` (vocabulary, dim) float32, zeros where
    ``found`` (vocabulary,) is False."""

    matrix: np.ndarray
    found: np.ndarray
    dim: int
    read: int  # vectors read from the file

    @property
    def found_count(self) -> int:
        return int(self.found.sum())


def match(
    source: str | Path,
    tokens: Sequence[str],
    max_rows: int,
    max_line_chars: int,
    skip: int = 2,
) -> MatchedVectors:
    """The vectors of ``tokens`` (a vocabulary; its first ``skip`` entries, padding and
    unknown, are never looked up) from ``source``, a file or a Hub name."""
    path = resolve(source)
    check_regular_file(path)
    wanted = {t: i for i, t in enumerate(tokens) if i >= skip}
    folded: dict[str, list[int]] = {}
    for token, i in wanted.items():
        folded.setdefault(token.lower(), []).append(i)
    matrix: np.ndarray | None = None
    exact = np.zeros(len(tokens), bool)
    by_case = np.zeros(len(tokens), bool)
    read = 0
    for word, vector in _entries(path, max_rows, max_line_chars):
        read += 1
        if matrix is None:
            matrix = np.zeros((len(tokens), len(vector)), np.float32)
        if len(vector) != matrix.shape[1]:
            raise UserError(
                f"{path}: vector {read} ({word!r}) has {len(vector)} numbers, the first had {matrix.shape[1]}"
            )
        if not np.isfinite(vector).all():  # training would diverge on it, far from the cause
            raise UserError(f"{path}: vector {read} ({word!r}) holds NaN or infinite values")
        if word in wanted and not exact[wanted[word]]:
            matrix[wanted[word]] = vector
            exact[wanted[word]] = by_case[wanted[word]] = True
        for i in folded.get(word.lower(), ()):
            if not by_case[i]:
                matrix[i], by_case[i] = vector, True
    if matrix is None:
        raise UserError(f"{path}: holds no word vectors")
    return MatchedVectors(matrix, by_case, matrix.shape[1], read)


def resolve(source: str | Path) -> Path:
    """A local file, or a Hub name fetched with huggingface_hub."""
    path = Path(source)
    if path.exists() or str(source).count("/") < 1 or str(source).startswith((".", "/")):
        return path
    return _from_hub(str(source))


def _from_hub(name: str) -> Path:
    parts = name.split("/")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        import huggingface_hub as hub

        if not filename:
            files = [f for f in hub.list_repo_files(repo) if f.endswith(VECTOR_SUFFIXES)]
            if not files:
                raise UserError(
                    f"task.embeddings {name}: the Hub repository has no {'/'.join(VECTOR_SUFFIXES)} file; name one as owner/name/FILE"
                )
            filename = sorted(files)[0]
        return Path(hub.hf_hub_download(repo, filename))
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - offline, missing repository, network
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"task.embeddings {name}: not a local file, and not loadable from the Hugging Face Hub "
            f"({first}); offline, give the path of a vectors file"
        ) from None


def _entries(path: Path, max_rows: int, max_line_chars: int) -> Iterator[tuple[str, np.ndarray]]:
    with path.open("rb") as handle:
        first = handle.readline(max_line_chars + 1)
        header = _header(first, path)
        binary = header is not None and _looks_binary(handle)
        if header is None:
            handle.seek(0)
        count = header[0] if header else max_rows
        if count > max_rows:
            raise UserError(
                f"{path}: declares {count:,} vectors, over data.max_rows ({max_rows:,}); "
                "raise it with --set data.max_rows=N if you mean it"
            )
        if binary:
            yield from _binary_entries(handle, path, count, header[1])
        else:
            yield from _text_entries(handle, path, max_rows, max_line_chars, int(bool(header)))


def _header(line: bytes, path: Path) -> tuple[int, int] | None:
    """(count, dim) from a ``COUNT DIM`` first line, or None when the file has none."""
    fields = line.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        return None
    count, dim = int(fields[0]), int(fields[1])
    if not 1 <= dim <= MAX_DIM:
        raise UserError(f"{path}: the header declares dimension {dim}; expected 1 to {MAX_DIM}")
    return count, dim


def _looks_binary(handle: BinaryIO) -> bool:
    """Binary vectors hold bytes that no text line does (NUL and other controls)."""
    where = handle.tell()
    sample = handle.read(4096)
    handle.seek(where)
    return any(b < 9 or 13 < b < 32 for b in sample)


def _binary_entries(
    handle: BinaryIO, path: Path, count: int, dim: int
) -> Iterator[tuple[str, np.ndarray]]:
    size = 4 * dim
    for number in range(1, count + 1):
        word = bytearray()
        while True:
            byte = handle.read(1)
            if not byte:
                raise UserError(f"{path}: ends inside vector {number} of {count:,}")
            if byte == b" ":
                break
            if byte != b"\n" or word:
                word += byte
            if len(word) > MAX_WORD_BYTES:
                raise UserError(
                    f"{path}: vector {number}: a word longer than {MAX_WORD_BYTES} bytes"
                )
        data = handle.read(size)
        if len(data) < size:
            raise UserError(f"{path}: ends inside vector {number} of {count:,}")
        yield word.decode("utf-8", errors="replace"), np.frombuffer(data, "<f4").copy()


def _text_entries(
    handle: BinaryIO, path: Path, max_rows: int, max_line_chars: int, lines_before: int
) -> Iterator[tuple[str, np.ndarray]]:
    number, read = lines_before, 0
    while True:
        line = handle.readline(max_line_chars + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line_chars:
            raise UserError(
                f"{path}: line {number} is longer than data.max_line_chars ({max_line_chars:,})"
            )
        read += 1
        if read > max_rows:
            raise UserError(f"{path}: more than {max_rows:,} vectors (data.max_rows)")
        fields = line.rstrip().split(b" ")
        if len(fields) < 2 or not fields[0]:
            continue
        try:
            vector = np.array(fields[1:], dtype=np.float64)  # 1e39 read, then refused
        except ValueError:
            raise UserError(f"{path}: line {number}: not a word followed by numbers") from None
        if len(vector) > MAX_DIM:
            raise UserError(f"{path}: line {number}: {len(vector)} numbers, over {MAX_DIM}")
        if np.isfinite(vector).all() and np.abs(vector).max() > np.finfo(np.float32).max:
            vector[:] = np.inf  # past float32: refused as infinite by the caller
        yield fields[0].decode("utf-8", errors="replace"), vector.astype(np.float32)
