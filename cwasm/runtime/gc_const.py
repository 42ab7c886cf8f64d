"""GC's allocating constant instructions (``struct.new``, ``struct.new_default``,
``array.new``, ``array.new_default``, ``array.new_fixed``) in globals' initializers and
element segments, evaluated at instantiation into the store's heap with the layouts of
``cwasm.abi.gc_layout``."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING

from cwasm.abi.gc_layout import ARRAY_LENGTH, array_layout, storage_size, struct_layout
from cwasm.errors import CwasmError
from cwasm.wasm.gc_types import ArrayType, FieldType, StructType
from cwasm.wasm.types import ConstOpKind

if TYPE_CHECKING:
    from cwasm.runtime.gc_heap import GcHeap
    from cwasm.wasm.gc_types import CompositeType


def _put(address: int, field: FieldType, bits: int) -> None:
    """Store a value's raw bits into a field at ``address`` (little-endian, truncated to
    the field's storage)."""
    size = storage_size(field)
    data = (bits & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    ctypes.memmove(address, data, size)


def allocator(
    heap: GcHeap, types: tuple[CompositeType, ...], type_ids: list[int]
) -> Callable[[ConstOpKind, int, list[int]], int]:
    """The ``allocate`` callback of ``evaluate_const_expr`` for a module's types
    (``type_ids``: their engine ids), allocating in ``heap``."""

    def allocate(kind: ConstOpKind, value: int, stack: list[int]) -> int:
        index = value & 0xFFFF_FFFF
        t = types[index]
        if kind in (ConstOpKind.STRUCT_NEW, ConstOpKind.STRUCT_NEW_DEFAULT):
            assert type(t) is StructType
            lay = struct_layout(t)
            n = len(t.fields)
            values = stack[len(stack) - n :] if kind == ConstOpKind.STRUCT_NEW else [0] * n
            if kind == ConstOpKind.STRUCT_NEW:
                del stack[len(stack) - n :]
            obj = _new(heap, type_ids[index], lay.size, False)
            for f, off, bits in zip(t.fields, lay.offsets, values, strict=True):
                if bits:
                    _put(obj + off, f, bits)
            return obj
        assert type(t) is ArrayType
        alay = array_layout(t)
        fill = 0
        if kind == ConstOpKind.ARRAY_NEW_FIXED:
            n = value >> 32
            elems = stack[len(stack) - n :]
            del stack[len(stack) - n :]
        else:
            n = stack.pop()
            fill = stack.pop() if kind == ConstOpKind.ARRAY_NEW else 0
            elems = []
        if n > alay.max_length():
            raise CwasmError("allocation size too large")
        obj = _new(heap, type_ids[index], alay.size(n), True)
        ctypes.c_uint32.from_address(obj + ARRAY_LENGTH).value = n
        start = obj + alay.elements_offset
        if fill:  # one element's bytes, repeated (never a list of ``n`` values)
            size, stride = storage_size(t.element), alay.element_size
            one = (fill & ((1 << (8 * size)) - 1)).to_bytes(size, "little").ljust(stride, b"\0")
            ctypes.memmove(start, one * n, stride * n)
        for i, bits in enumerate(elems):
            if bits:
                _put(start + i * alay.element_size, t.element, bits)
        return obj

    return allocate


def _new(heap: GcHeap, type_id: int, size: int, is_array: bool) -> int:
    obj = heap.allocate(type_id, size, is_array)
    if not obj:
        raise CwasmError("GC heap out of memory")
    return obj
