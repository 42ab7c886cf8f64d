"""The contract of the native collector (docs/gc.md, "Collection"): the routine every
artifact of a module with struct or array types carries, and the control block the
runtime hands it.

The compiler emits ``GC_COLLECT_SYMBOL`` (``cwasm.compile.gc_collector``), ``i64
(ptr ctl)``; the runtime (``cwasm.runtime.gc_collector``) finds it in the artifact's
symbol table, fills a control block of u64 words at the ``CTL_*`` offsets below with
pointers to memory it owns (ctypes arrays), and calls it. The routine marks from the
roots and sweeps; it returns the bytes of live objects after it, or ``COLLECT_CORRUPT``
when a chunk does not parse (``CTL_ERROR_AT`` is then the address).

Which words are objects: a root word may be stale (a root-area slot of an earlier call
site, an arena word) or not a GC reference at all (a funcref), so it is followed only
when it is an object start, which the routine learns by walking the chunk the word
falls in (once per collection, filling the chunk's object-start bitmap). A word in a
live object's reference field or element is, by validation, null, an ``i31``, a host
word, a funcref or exnref (outside every chunk) or a live object: it is followed when it
lies inside a chunk.

Inputs:

* the shape table: two u64 per engine type id (``SHAPE_WORDS``). A struct's first word
  is its size in bytes, its second ``first << 32 | count``: its reference fields' byte
  offsets are ``count`` u32s of the reference-offset table from index ``first``. An
  array's first word is ``SHAPE_ARRAY | element size | elements offset <<
  SHAPE_OFFSET_SHIFT``, with ``SHAPE_REFS`` when its elements are references. 0 is a
  type id with no object (a function type): meeting it in a header is corruption.
* the chunks, sorted by address: ``CHUNK_WORDS`` u64 each, zeroed but for
  ``CHUNK_START``, ``CHUNK_BYTES`` and ``CHUNK_STARTS`` (room for a bitmap of one bit
  per 8 bytes of the chunk, ``starts_words(bytes)`` u64s); the routine sets
  ``CHUNK_WALKED`` when it has filled the bitmap and ``CHUNK_LIVE`` to the chunk's live
  bytes.
* the root words (tables, globals, element segments, the exception arena, objects
  Python holds) and the head of the frames' root-area chain (``STORE_GC_ROOTS``), which
  the routine walks itself (``gc_layout.ROOTS_*``).
* the mark stack, of ``CTL_STACK_CAP`` words: when it is full an object is marked but
  not pushed, and once the stack is empty the routine walks the chunks with live objects
  again for marked objects and scans them (``CTL_OVERFLOWS`` counts those walks).
* the host-handle bitmap: for every word ``handle << 2 | 2`` (an externref, docs/gc.md
  "reference word") in a live object's reference fields or elements, with ``handle <
  CTL_NUM_HANDLES``, the routine sets bit ``handle``, so that the externref collector
  keeps those host objects.

Outputs: ``CHUNK_LIVE`` per chunk; the free runs of ``MIN_LISTED_FREE`` bytes or more,
``(address, bytes)`` pairs, up to ``CTL_FREE_CAP`` of them (more are left in the heap
unlisted until the next sweep). The routine sweeps only chunks with live objects: each
maximal sequence of dead objects and free runs becomes one free run (``FREE_ID`` header,
its size in words in the second u32, the rest zero); a chunk with nothing live is left as
it is, for the runtime to release.

An object being marked has ``GC_BIT_MARK`` in its header's collector bits; the sweep
clears it, so no object is marked outside a collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from cwasm.wasm.gc_types import ArrayType, StructType

#: the routine's symbol in an artifact
GC_COLLECT_SYMBOL: Final = "cwasm_gc_collect"
#: the routine's result when a chunk does not parse
COLLECT_CORRUPT: Final = -1

#: the type id in a free run's header (its second u32 is the run's size in words)
FREE_ID: Final = 0xFFFF_FFFF
#: the collector bit of an object marked live (``gc_layout.GC_BIT_ARRAY`` is bit 0)
GC_BIT_MARK: Final = 2
#: the smallest free run the sweep lists for the allocator
MIN_LISTED_FREE: Final = 512

# --- the control block: u64 words at these byte offsets ---
CTL_SHAPES: Final = 0
CTL_NUM_SHAPES: Final = 8
CTL_REF_OFFSETS: Final = 16
CTL_CHUNKS: Final = 24
CTL_NUM_CHUNKS: Final = 32
CTL_STACK: Final = 40
CTL_STACK_CAP: Final = 48
CTL_ROOTS: Final = 56
CTL_NUM_ROOTS: Final = 64
CTL_ROOT_AREAS: Final = 72
CTL_HANDLES: Final = 80
CTL_NUM_HANDLES: Final = 88
CTL_FREE: Final = 96
CTL_FREE_CAP: Final = 104
#: outputs: free runs listed, mark-stack overflow walks, the corrupt address
CTL_NUM_FREE: Final = 112
CTL_OVERFLOWS: Final = 120
CTL_ERROR_AT: Final = 128
#: the routine's own state: the mark stack's depth, the overflow flag, the corruption
#: flag (set by a chunk walk) and the chunk record last found
CTL_STACK_LEN: Final = 136
CTL_OVERFLOW: Final = 144
CTL_CORRUPT: Final = 152
CTL_LAST_CHUNK: Final = 160
#: bytes of the control block
CTL_SIZE: Final = 168

# --- the shape table ---
SHAPE_WORDS: Final = 2
SHAPE_ARRAY: Final = 1 << 63
SHAPE_REFS: Final = 1 << 32
SHAPE_OFFSET_SHIFT: Final = 16
#: mask of an array shape's element size and (after the shift) elements offset
SHAPE_FIELD_MASK: Final = 0xFFFF

# --- a chunk record ---
CHUNK_START: Final = 0
CHUNK_BYTES: Final = 8
CHUNK_STARTS: Final = 16
CHUNK_LIVE: Final = 24
CHUNK_WALKED: Final = 32
CHUNK_WORDS: Final = 5


def starts_words(chunk_bytes: int) -> int:
    """The u64s of a chunk's object-start bitmap (one bit per 8 bytes)."""
    return (chunk_bytes + 511) >> 9


def carries_collector(types: Sequence[object]) -> bool:
    """Whether a module with these types (``ModuleRecord.types``) has struct or array
    types, so that its artifact carries the routine (the only modules that allocate)."""
    return any(type(ct) in (StructType, ArrayType) for ct in types)
