"""MATLAB 5 ``.mat`` cells of numeric matrices, read column by column within limits.

A general reader (``scipy.io.loadmat``) inflates and allocates every array a file
declares before anyone can look at its shape: a 1.7 MB compressed file can declare
gigabytes. This reader walks the file's elements itself (the format is a sequence of
tagged elements, MATLAB's "MAT-File Format" document), checks each matrix's declared
shape against the caller's element limit *before* reading its data, and hands the data
over a block of columns at a time, so memory stays at one block whatever the file says.
Only what the piano-roll benchmarks use is accepted: cells of real 2-D numeric matrices.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

MATRIX, COMPRESSED = 14, 15
CELL, SPARSE, CHAR = 1, 5, 4
NUMERIC_CLASSES = set(range(6, 16))  # double, single, int8 ... uint64
DTYPES = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    9: "f8",
    12: "i8",
    13: "u8",
}
CHUNK = 1 << 16
BLOCK = 1 << 22  # numbers per block of columns handed over


class MatError(ValueError):
    """Not a MAT file this reader accepts, or one over a limit (the message says which)."""


@dataclass
class Matrix:
    """A matrix of a cell: its variable, position in the cell, shape (rows, columns), and
    ``columns``, which yields (rows, k) float64 blocks of consecutive columns and must be
    used up (or left) before the next matrix is asked for."""

    variable: str
    index: int
    shape: tuple[int, int]
    columns: Iterator[np.ndarray]


class _Raw:
    """The file's bytes as they are."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle

    def read(self, n: int) -> bytes:
        data = self.handle.read(n)
        if len(data) < n:
            raise MatError("the file ends inside an element (truncated)")
        return data

    def skip(self, n: int) -> None:
        self.handle.seek(n, 1)


class _Inflated:
    """A compressed element's bytes, inflated as they are read (never more than asked)."""

    def __init__(self, handle: BinaryIO, size: int):
        self.handle, self.left = handle, size
        self.inflate = zlib.decompressobj()
        self.pending = b""

    def read(self, n: int) -> bytes:
        parts, want = [], n
        while want:
            if not self.pending:
                self.pending = self.inflate.unconsumed_tail or self._more()
            try:
                piece = self.inflate.decompress(self.pending, min(want, CHUNK))
            except zlib.error as err:
                raise MatError(f"a compressed element is corrupt ({err})") from None
            self.pending = self.inflate.unconsumed_tail
            if not piece and not self.pending and (self.left == 0 or self.inflate.eof):
                raise MatError("a compressed element ends early (truncated)")
            parts.append(piece)
            want -= len(piece)
        return b"".join(parts)

    def _more(self) -> bytes:
        data = self.handle.read(min(CHUNK, self.left))
        if self.left and not data:  # the file ends before the element does
            raise MatError("the file ends inside a compressed element (truncated)")
        self.left -= len(data)
        return data

    def skip(self, n: int) -> None:
        while n:
            n -= len(self.read(min(n, CHUNK)))


class MatReader:
    """Reads the cells named in ``wanted`` from a level-5 MAT file (see the module doc).

    ``max_elements`` bounds the numbers of all matrices together, ``max_matrices`` the
    number of matrices in the cells; both are checked from the declared shapes first.
    """

    def __init__(self, handle: BinaryIO, wanted: set[str], max_elements: int, max_matrices: int):
        self.handle, self.wanted = handle, wanted
        self.max_elements, self.max_matrices = max_elements, max_matrices
        self.elements = self.matrices = 0
        self.order = "<"

    def cells(self) -> Iterator[Matrix]:
        """Every matrix of the wanted cells, in file order."""
        header = self.handle.read(128)
        if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
            raise MatError("not a MATLAB 5 file (v7.3/HDF5 and v4 files are not read)")
        self.order = "<" if header[126:128] == b"IM" else ">"
        if struct.unpack(self.order + "H", header[124:126])[0] == 0x0200:
            raise MatError("a MATLAB v7.3 (HDF5) file, not read; save it with save(..., '-v7')")
        while True:
            tag = self.handle.read(8)
            if len(tag) < 8:
                return
            kind, size = struct.unpack(self.order + "II", tag)
            if kind == COMPRESSED:
                start = self.handle.tell()
                stream = _Inflated(self.handle, size)
                yield from self._variable(stream, *self._tag(stream))
                self.handle.seek(start + size)
            elif kind == MATRIX:
                start = self.handle.tell()
                yield from self._variable(_Raw(self.handle), kind, size)
                self.handle.seek(start + size + (-size % 8))
            else:
                self.handle.seek(size + (-size % 8), 1)

    def _tag(self, stream) -> tuple[int, int]:
        """(type, bytes) of the next element; the small-element form carries its 4 bytes."""
        first, second = struct.unpack(self.order + "II", stream.read(8))
        if first >> 16:  # small data element: type and size packed in the first word
            if first >> 16 > 4:
                raise MatError(f"a small data element declares {first >> 16} bytes (at most 4)")
            self._small = second.to_bytes(4, "little" if self.order == "<" else "big")
            return first & 0xFFFF, first >> 16
        self._small = None
        return first, second

    def _data(self, stream, size: int) -> bytes:
        if self._small is not None:
            return self._small[:size]
        data = stream.read(size)
        stream.skip(-size % 8)
        return data

    def _header(self, stream) -> tuple[int, list[int], str]:
        """Class, dimensions and name of a matrix element."""
        _, size = self._tag(stream)
        flags_data = self._data(stream, size)
        if len(flags_data) < 4:
            raise MatError(f"an array's flags hold {len(flags_data)} bytes, expected 8")
        flags = struct.unpack(self.order + "I", flags_data[:4])[0]
        _, size = self._tag(stream)
        if size > 4 * 32 or size % 4:
            raise MatError(f"an array declares {size // 4} dimensions")
        dims = list(struct.unpack(f"{self.order}{size // 4}i", self._data(stream, size)))
        _, size = self._tag(stream)
        if size > 1024:
            raise MatError("an array name is longer than 1024 bytes")
        name = self._data(stream, size).decode("ascii", "replace")
        if flags & 0x0800:
            raise MatError(f"{name or 'an array'}: complex numbers are not supported")
        return flags & 0xFF, dims, name

    def _variable(self, stream, kind: int, size: int) -> Iterator[Matrix]:
        if kind != MATRIX or size == 0:
            return
        cls, dims, name = self._header(stream)
        if name not in self.wanted:
            return
        if cls != CELL:
            raise MatError(f"{name}: expected a cell array of matrices")
        count = int(np.prod(dims, dtype=np.float64))
        if self.matrices + count > self.max_matrices:
            raise MatError(
                f"{name}: {count:,} pieces declared, over the limit of {self.max_matrices:,} (data.max_files)"
            )
        self.matrices += count
        for index in range(count):
            kind, size = self._tag(stream)
            yield from self._matrix(stream, name, index, kind, size)

    def _matrix(self, stream, name: str, index: int, kind: int, size: int) -> Iterator[Matrix]:
        where = f"{name}[{index}]"
        if kind != MATRIX:
            raise MatError(f"{where}: expected a matrix element")
        if size == 0:
            yield Matrix(name, index, (0, 0), iter(()))
            return
        cls, dims, _ = self._header(stream)
        if cls == SPARSE or cls not in NUMERIC_CLASSES:
            raise MatError(f"{where}: expected a dense numeric matrix (MATLAB class {cls})")
        if len(dims) != 2 or min(dims) < 0:
            raise MatError(f"{where}: has shape {tuple(dims)}, expected (frames, keys)")
        elements = dims[0] * dims[1]
        if self.elements + elements > self.max_elements:
            raise MatError(
                f"{where}: declares {elements:,} numbers, {self.elements + elements:,} in all, over the "
                f"limit of {self.max_elements:,} (data.max_elements)"
            )
        self.elements += elements
        kind, size = self._tag(stream)
        dtype = DTYPES.get(kind)
        if dtype is None or size != elements * np.dtype(dtype).itemsize:
            raise MatError(
                f"{where}: its data ({size} bytes of type {kind}) do not match its shape {tuple(dims)}"
            )
        columns = self._columns(stream, dims, dtype, size, self._small)
        matrix = Matrix(name, index, (dims[0], dims[1]), columns)
        yield matrix
        for _ in matrix.columns:  # whatever the caller did not read
            pass

    def _columns(
        self, stream, dims: list[int], dtype: str, size: int, small: bytes | None
    ) -> Iterator[np.ndarray]:
        """Column-major data as (rows, k) float64 blocks of whole columns, at most
        ``BLOCK`` numbers each (MATLAB stores the columns one after another)."""
        rows, width = dims
        per_block = max(1, BLOCK // max(rows, 1))
        itemsize = np.dtype(dtype).itemsize
        for first in range(0, width, per_block):
            count = min(per_block, width - first)
            if small is not None:
                raw = small[first * rows * itemsize : (first + count) * rows * itemsize]
            else:
                raw = stream.read(rows * count * itemsize)
            if len(raw) != rows * count * itemsize:
                raise MatError(f"a matrix's data end after {len(raw)} of its bytes")
            block = np.frombuffer(raw, dtype=self.order + dtype).astype(np.float64)
            yield block.reshape(count, rows).T
        if small is None:
            stream.skip(-size % 8)
