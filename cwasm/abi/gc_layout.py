"""The layout of GC objects in a store's heap (docs/gc.md): the one source of truth the
compiler (``struct.*`` / ``array.*`` code) and the runtime (allocation, the collector,
Python's view of objects) both read.

Every object starts with an 8-byte header: the engine type id of its struct or array
type (u32, ``OBJ_TYPE_ID``) and a u32 of collector bits (``OBJ_GC_BITS``). Objects are
8-aligned, and their sizes are multiples of 8.

* A struct's fields follow the header in declaration order, each at its natural
  alignment (at most 8: a ``v128`` field is 8-aligned and read with ``align 8``); the
  packed ``i8`` and ``i16`` take 1 and 2 bytes, every reference 8 (one word).
* The collector bits start as ``GC_BIT_ARRAY`` for an array, 0 for a struct.
* An array has its length (u32, ``ARRAY_LENGTH``) after the header, then its elements
  from ``elements_offset``: 12 for elements of at most 4 bytes, else 16.

``StructLayout`` and ``ArrayLayout`` are computed from a type's definition alone, so a
layout is the same for equivalent types of any two modules (the engine's type registry
keys the per-type table by the canonical id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cwasm.wasm.gc_types import I8, I16, ArrayType, FieldType, StructType
from cwasm.wasm.types import ValType

#: bytes of an object's header, and the offsets of its two u32s
OBJ_HEADER_SIZE: Final = 8
OBJ_TYPE_ID: Final = 0
OBJ_GC_BITS: Final = 4
#: the collector bit that marks an array (``ref.test`` of ``struct`` / ``array``)
GC_BIT_ARRAY: Final = 1
#: an array's u32 length, after the header
ARRAY_LENGTH: Final = 8
#: every object's alignment (and the granule of object sizes)
OBJ_ALIGN: Final = 8
#: the most elements an array may have: its size must fit the u32 length and the
#: allocator's u32 size (Wasmtime's limit is the heap; this one is cwasm's)
MAX_ARRAY_BYTES: Final = 1 << 31

#: the bytes each storage type takes in an object
_STORAGE_SIZE: Final[dict[int, int]] = {
    I8: 1,
    I16: 2,
    ValType.I32: 4,
    ValType.F32: 4,
    ValType.I64: 8,
    ValType.F64: 8,
    ValType.V128: 16,
}
#: the bytes of a reference field (one word)
REF_SIZE: Final = 8


def storage_size(field: FieldType) -> int:
    """The bytes a field (or an array element) of this storage type takes."""
    return _STORAGE_SIZE.get(int(field.storage), REF_SIZE)


def storage_align(field: FieldType) -> int:
    """The alignment of such a field within an object (its size, at most 8)."""
    return min(storage_size(field), OBJ_ALIGN)


def is_ref_field(field: FieldType) -> bool:
    """Whether the field holds a reference (a word the collector may follow)."""
    return int(field.storage) not in _STORAGE_SIZE


def _align(n: int, a: int) -> int:
    return (n + a - 1) & -a


@dataclass(frozen=True, slots=True)
class StructLayout:
    """Where a struct type's fields live: ``size`` bytes in all (header included, a
    multiple of 8), field ``i`` at ``offsets[i]``; ``ref_offsets`` are the offsets of the
    reference fields, for the collector."""

    size: int
    offsets: tuple[int, ...]
    ref_offsets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ArrayLayout:
    """An array type's elements: ``element_size`` bytes each from ``elements_offset``;
    ``element_is_ref`` when the collector follows them."""

    element_size: int
    elements_offset: int
    element_is_ref: bool

    def size(self, length: int) -> int:
        """The bytes of an array of ``length`` elements (a multiple of 8)."""
        return _align(self.elements_offset + self.element_size * length, OBJ_ALIGN)

    def max_length(self) -> int:
        """The most elements an array of this type may have (``MAX_ARRAY_BYTES``)."""
        return (MAX_ARRAY_BYTES - self.elements_offset) // self.element_size


def struct_layout(st: StructType) -> StructLayout:
    """The layout of struct type ``st``: fields in order, each naturally aligned."""
    at = OBJ_HEADER_SIZE
    offsets: list[int] = []
    refs: list[int] = []
    for f in st.fields:
        at = _align(at, storage_align(f))
        offsets.append(at)
        if is_ref_field(f):
            refs.append(at)
        at += storage_size(f)
    return StructLayout(_align(at, OBJ_ALIGN), tuple(offsets), tuple(refs))


def array_layout(at: ArrayType) -> ArrayLayout:
    """The layout of array type ``at``."""
    size = storage_size(at.element)
    start = _align(ARRAY_LENGTH + 4, storage_align(at.element))
    return ArrayLayout(size, start, is_ref_field(at.element))


# --- root areas (docs/gc.md, "Wasm frames") ---
# A frame's root area: the previous area (the chain's next link, from
# ``STORE_GC_ROOTS``), the number of slots filled at the last call, then the slots.
#: offset of the previous area's address
ROOTS_PREV: Final = 0
#: offset of the number of live slots (an i64)
ROOTS_COUNT: Final = 8
#: offset of the first slot (one reference word each)
ROOTS_SLOTS: Final = 16
