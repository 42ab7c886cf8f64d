"""Packed tables: the per-function tables of ``.wasmtime.info`` as rows of u32 words.

Loading an artifact reads these tables every time, and they grow with the number of
functions; decoding them record by record was the largest part of a load. Each table
(``FunctionTable``, ``NameTable``, ``TrampolineTable`` in ``schema``) is stored (in the section and in memory) as little-endian u32 rows of a fixed
width, read in bulk into an ``array``; a record object is built only when one is asked
for (``table[i]``, iteration), and the runtime reads whole columns instead
(``column``), which are array slices made in C.

A table compares equal to any sequence of the same records, so code that builds a
``CompiledModuleInfo`` from tuples (the compiler, tests) and code that decodes one agree.
"""

from __future__ import annotations

import array
import operator
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import ClassVar, Generic, Self, TypeVar, cast, overload

R = TypeVar("R")

#: the array type code of a 32-bit unsigned word on this platform ("I" almost everywhere)
_U32 = "I" if array.array("I").itemsize == 4 else "L"
_BIG_ENDIAN = sys.byteorder == "big"
_M32 = 0xFFFFFFFF


def u32_words(raw: bytes | memoryview) -> array.array[int]:
    """``raw`` (a multiple of 4 bytes) read as little-endian u32 words."""
    words = array.array(_U32)
    words.frombytes(raw)
    if _BIG_ENDIAN:
        words.byteswap()
    return words


def pack_u32_words(values: Iterable[int]) -> bytes:
    """``values`` as little-endian u32 words; ``ValueError`` if one does not fit."""
    words = array.array(_U32)
    for v in values:
        if not 0 <= v <= _M32:
            raise ValueError(f"{v:#x} does not fit in 32 bits")
        words.append(v)
    if _BIG_ENDIAN:
        words.byteswap()
    return words.tobytes()


class PackedTable(Sequence[R], Generic[R]):
    """A read-only sequence of fixed-width records stored as rows of u32 words."""

    __slots__ = ("_words",)

    #: u32 words per record
    WIDTH: ClassVar[int]

    def __init__(self, words: array.array[int]) -> None:
        if len(words) % self.WIDTH:
            raise ValueError(f"{len(words)} words do not make rows of {self.WIDTH}")
        self._words = words

    @classmethod
    def of(cls, records: Iterable[R]) -> Self:
        """The table holding ``records`` (returned as is if it already is one of this kind)."""
        if type(records) is cls:
            return cast(Self, records)
        return cls(u32_words(pack_u32_words(w for r in records for w in cls._row(r))))

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> Self:
        """The table encoded in ``raw`` (``ValueError`` if it is not a whole number of rows
        or holds a row no record has)."""
        if len(raw) % (4 * cls.WIDTH):
            raise ValueError(f"{len(raw)} bytes do not make rows of {cls.WIDTH} u32 words")
        table = cls(u32_words(raw))
        table._validate()
        return table

    def to_bytes(self) -> bytes:
        """The encoding ``from_bytes`` reads: the rows, little-endian."""
        if not _BIG_ENDIAN:
            return self._words.tobytes()
        words = array.array(_U32, self._words)
        words.byteswap()
        return words.tobytes()

    def column(self, k: int) -> array.array[int]:
        """Word ``k`` of every row, in order."""
        return self._words[k :: self.WIDTH]

    @staticmethod
    def _row(record: R) -> tuple[int, ...]:
        raise NotImplementedError

    def _record(self, i: int) -> R:
        raise NotImplementedError

    def _validate(self) -> None:
        """Raise ``ValueError`` for a row that stands for no record."""

    def __len__(self) -> int:
        return len(self._words) // self.WIDTH

    @overload
    def __getitem__(self, i: int) -> R: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[R, ...]: ...

    def __getitem__(self, i: int | slice) -> R | tuple[R, ...]:
        n = len(self)
        if isinstance(i, slice):
            return tuple(self._record(j) for j in range(*i.indices(n)))
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{type(self).__name__} index {i} out of range")
        return self._record(i)

    def __iter__(self) -> Iterator[R]:
        return (self._record(j) for j in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedTable) and type(other) is type(self):
            return self._words == other._words
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(map(operator.eq, self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"
