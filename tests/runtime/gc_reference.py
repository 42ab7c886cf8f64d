"""A reference collector in Python, for tests: the walk and the mark of docs/gc.md
("Collection") written plainly, to compare the native routine's results with
(``test_gc_native.py``). It reads a heap and changes nothing.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from cwasm.abi.gc_collect import FREE_ID
from cwasm.abi.gc_layout import (
    ARRAY_LENGTH,
    ROOTS_COUNT,
    ROOTS_PREV,
    ROOTS_SLOTS,
    array_layout,
    struct_layout,
)
from cwasm.runtime.anyref import HOST_SHIFT, HOST_TAG, is_host_word
from cwasm.runtime.gc_heap import GcHeap
from cwasm.wasm.gc_types import ArrayType, StructType


@dataclass(frozen=True)
class Layout:
    """What a heap holds: its objects (address -> size) and free runs (address -> size)."""

    objects: dict[int, int]
    free: dict[int, int]


def _u32(address: int) -> int:
    return ctypes.c_uint32.from_address(address).value


def _u64(address: int) -> int:
    return ctypes.c_uint64.from_address(address).value


def object_size(heap: GcHeap, address: int) -> int:
    """The bytes of the object at ``address`` (its type from the engine's registry)."""
    ct = heap.types.composite_type(_u32(address))
    if type(ct) is StructType:
        return struct_layout(ct).size
    assert type(ct) is ArrayType
    return array_layout(ct).size(_u32(address + ARRAY_LENGTH))


def references(heap: GcHeap, address: int) -> list[int]:
    """The words of the object's reference fields or elements."""
    ct = heap.types.composite_type(_u32(address))
    if type(ct) is StructType:
        return [_u64(address + off) for off in struct_layout(ct).ref_offsets]
    assert type(ct) is ArrayType
    lay = array_layout(ct)
    if not lay.element_is_ref:
        return []
    n = _u32(address + ARRAY_LENGTH)
    return [_u64(address + lay.elements_offset + 8 * i) for i in range(n)]


def walk(heap: GcHeap) -> Layout:
    """Every object and free run of every chunk (the current run must be retired)."""
    objects: dict[int, int] = {}
    free: dict[int, int] = {}
    for _chunk, start, length in heap.chunk_list():
        at = start
        while at < start + length:
            if _u32(at) == FREE_ID:
                size = _u32(at + 4) * 8
                free[at] = size
            else:
                size = object_size(heap, at)
                objects[at] = size
            assert size > 0
            at += size
        assert at == start + length
    return Layout(objects, free)


def area_words(heap: GcHeap) -> list[int]:
    """The live slots of the frames' root areas."""
    out: list[int] = []
    area = heap.root_area_head()
    while area:
        out.extend(_u64(area + ROOTS_SLOTS + 8 * k) for k in range(_u64(area + ROOTS_COUNT)))
        area = _u64(area + ROOTS_PREV)
    return out


def mark(heap: GcHeap, layout: Layout) -> tuple[set[int], set[int]]:
    """The objects reachable from the heap's roots, and the host words (externrefs)
    those objects hold."""
    marked: set[int] = set()
    hosts: set[int] = set()
    stack = [w for w in [*heap.root_words(), *area_words(heap)] if w in layout.objects]
    while stack:
        a = stack.pop()
        if a in marked:
            continue
        marked.add(a)
        for w in references(heap, a):
            if w in layout.objects:
                stack.append(w)
            elif w and is_host_word(w) and (w >> HOST_SHIFT) < heap.handle_bound():
                hosts.add(w)
    assert all(w & ((1 << HOST_SHIFT) - 1) == HOST_TAG for w in hosts)
    return marked, hosts


def snapshot(layout: Layout, addresses: set[int]) -> dict[int, bytes]:
    """The bytes of the objects at ``addresses``."""
    return {a: ctypes.string_at(a, layout.objects[a]) for a in addresses}
