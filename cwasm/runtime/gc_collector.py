"""The collector of a store's GC heap (docs/gc.md, "Collection"): non-moving mark-sweep.

``collect(heap)``:

1. **Walk** every chunk from its start: objects (their size from the engine type of
   their header, ``cwasm.abi.gc_layout``) and free runs (a header of type id
   ``FREE_ID`` whose second u32 is the run's size in words) tile each chunk exactly.
   The walk gives the set of object starts: a word is followed only if it is one, so a
   stale or foreign word (a funcref in a root slot, an arena word) is never read as an
   object.
2. **Mark** from the roots (``GcHeap.root_words``): the root areas chained from
   ``STORE_GC_ROOTS``, the store's reference tables and globals, the instances'
   evaluated element segments, the exception arena, and the objects Python holds
   (``GcHeap.pinned``, counted by live ``AnyRef``s), through each object's reference
   fields.
3. **Sweep**: each maximal run of dead objects and free runs becomes one zeroed free
   run; a chunk with nothing live is released. The free runs become the allocator's.

Everything here is Python; its cost per object is in docs/gc.md.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Final

from cwasm.abi.gc_layout import (
    ARRAY_LENGTH,
    OBJ_GC_BITS,
    OBJ_TYPE_ID,
    array_layout,
    struct_layout,
)
from cwasm.errors import CwasmError
from cwasm.wasm.gc_types import ArrayType, StructType

if TYPE_CHECKING:
    from cwasm.runtime.gc_heap import GcHeap

#: the type id in a free run's header
FREE_ID: Final = 0xFFFF_FFFF

#: per engine type id: (size in bytes, reference field offsets) for a struct, or
#: (-element size, elements offset, element is a reference) for an array
Shape = tuple[Any, ...]


def shape(heap: GcHeap, type_id: int) -> Shape:
    """The collector's view of engine type ``type_id`` (cached per heap)."""
    got = heap.shapes.get(type_id)
    if got is None:
        try:
            ct = heap.types.composite_type(type_id)
        except IndexError:
            raise CwasmError(f"corrupt GC heap: no type {type_id}") from None
        if type(ct) is StructType:
            lay = struct_layout(ct)
            got = (lay.size, lay.ref_offsets)
        elif type(ct) is ArrayType:
            alay = array_layout(ct)
            got = (-alay.element_size, alay.elements_offset, alay.element_is_ref)
        else:
            raise CwasmError(f"corrupt GC heap: type {type_id} is not a struct or array")
        heap.shapes[type_id] = got
    return got


def format_free(address: int, size: int) -> None:
    """Write a free run's header at ``address`` (``size`` bytes, a multiple of 8)."""
    header = (ctypes.c_uint32 * 2).from_address(address)
    header[OBJ_TYPE_ID // 4] = FREE_ID
    header[OBJ_GC_BITS // 4] = size // 8


def _walk(heap: GcHeap, start: int, length: int, u32: memoryview) -> list[tuple[int, int]]:
    """(offset, size) of every object and free run of the chunk at ``start``; a free
    run's size is negative."""
    out: list[tuple[int, int]] = []
    at = 0
    shapes = heap.shapes
    while at < length:
        tid = u32[at >> 2]
        if tid == FREE_ID:
            size = u32[(at >> 2) + 1] * 8
        else:
            sh = shapes.get(tid) or shape(heap, tid)
            if sh[0] >= 0:
                size = sh[0]
            else:
                n = u32[(at + ARRAY_LENGTH) >> 2]
                size = (sh[1] + (-sh[0]) * n + 7) & ~7
        if size <= 0:
            raise CwasmError(f"corrupt GC heap at {start + at:#x}")
        out.append((at, -size if tid == FREE_ID else size))
        at += size
    if at != length:
        raise CwasmError(f"corrupt GC heap: chunk at {start:#x} overruns")
    return out


def collect(heap: GcHeap) -> int:
    """Collect ``heap``: the bytes of live objects after it."""
    heap.retire_run()
    chunks = heap.chunk_list()
    walks: list[list[tuple[int, int]]] = []
    starts: dict[int, int] = {}  # object address -> size
    for chunk, start, length in chunks:
        u32 = memoryview(chunk).cast("B").cast("I")
        objects = _walk(heap, start, length, u32)
        walks.append(objects)
        for off, size in objects:
            if size > 0:
                starts[start + off] = size
    marked: set[int] = set()
    stack = [w for w in heap.root_words() if w in starts]
    shapes = heap.shapes
    while stack:
        a = stack.pop()
        if a in marked:
            continue
        marked.add(a)
        tid = ctypes.c_uint32.from_address(a).value
        sh = shapes[tid]
        if sh[0] >= 0:
            for off in sh[1]:
                word = ctypes.c_uint64.from_address(a + off).value
                if word in starts and word not in marked:
                    stack.append(word)
        elif sh[2]:
            n = ctypes.c_uint32.from_address(a + ARRAY_LENGTH).value
            if n:
                words = (ctypes.c_uint64 * n).from_address(a + sh[1])
                stack.extend(w for w in words if w in starts and w not in marked)
    live = 0
    free: list[tuple[int, int]] = []
    keep: list[int] = []
    for k, ((_chunk, start, length), objects) in enumerate(zip(chunks, walks, strict=True)):
        run = -1  # start offset of the current free run
        chunk_live = 0
        for off, size in objects:
            if size > 0 and start + off in marked:
                chunk_live += size
                if run >= 0:
                    _free_run(start + run, off - run, free)
                    run = -1
            elif run < 0:
                run = off
        if chunk_live == 0:
            continue  # released below
        keep.append(k)
        live += chunk_live
        if run >= 0:
            _free_run(start + run, length - run, free)
    heap.keep_chunks(keep)
    # the largest runs last: the allocator pops them first
    free.sort(key=lambda r: r[1])
    heap.free_runs = free
    heap.live = live
    heap.collections += 1
    return live


def _free_run(address: int, size: int, free: list[tuple[int, int]]) -> None:
    ctypes.memset(address, 0, size)
    format_free(address, size)
    free.append((address, size))
