"""The collector of a store's GC heap (docs/gc.md, "Collection"): non-moving mark-sweep,
run by the native routine every artifact of a module with struct or array types carries
(``cwasm.abi.gc_collect`` is the contract, ``cwasm.compile.gc_collector`` the code).

``NativeCollector.collect(heap)`` hands the routine, in memory it owns:

* the shape of every engine type id registered so far (filled as the engine's type
  registry grows): a struct's size and reference-field offsets, an array's element size,
  elements offset and whether its elements are references;
* the chunks (sorted by address) and an object-start bitmap for each;
* the root words Python knows (``GcHeap.root_words``: reference tables and globals, the
  instances' element segments, the exception arena, the objects ``AnyRef``s pin) and the
  head of the frames' root-area chain, which the routine walks itself;
* the mark stack, and a bitmap of the store's externref handles, in which the routine
  reports every host word it finds in a live object (``GcHeap.held_handles``).

It then hands the chunks with live objects and the listed free runs to the heap
(``GcHeap.after_collection``), which keeps some of the chunks with nothing live as free
runs and releases the others. A store whose instances come
from several GC artifacts uses the routine of the first one instantiated: they are the
same code.
"""

from __future__ import annotations

import ctypes
from array import array
from typing import TYPE_CHECKING, Any, Final

from cwasm.abi import gc_collect as gcc
from cwasm.abi.gc_layout import OBJ_GC_BITS, OBJ_TYPE_ID, array_layout, struct_layout
from cwasm.errors import CwasmError
from cwasm.obj.constants import ELF_TEXT
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.integrity import SEAL_SIZE
from cwasm.runtime.anyref import HOST_SHIFT, HOST_TAG
from cwasm.wasm.gc_types import ArrayType, StructType

if TYPE_CHECKING:
    from cwasm.obj.artifact import Artifact
    from cwasm.runtime.gc_heap import GcHeap

#: the type id in a free run's header (the contract's)
FREE_ID: Final = gcc.FREE_ID
#: the mark stack's words, unless a test sets ``NativeCollector.stack_capacity``
DEFAULT_STACK_CAPACITY: Final = 1 << 15

_ROUTINE = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)


def routine_offset(artifact: Artifact) -> int:
    """The offset in ``.text`` of the artifact's collector routine, checked (an artifact of
    a module with struct or array types must carry it: ``CorruptArtifactError`` if not)."""
    sym = artifact.elf.find_symbols((gcc.GC_COLLECT_SYMBOL,)).get(gcc.GC_COLLECT_SYMBOL)
    if sym is None:
        raise CorruptArtifactError(
            "the artifact of a module with struct or array types lacks the GC collector "
            f"{gcc.GC_COLLECT_SYMBOL} (compiled by an older cwasm: compile it again)"
        )
    text = artifact.elf.section(ELF_TEXT)
    if (
        text is None
        or sym.shndx != text.index
        or not (0 <= sym.value < sym.value + max(sym.size, 1) <= artifact.text_size - SEAL_SIZE)
    ):
        raise CorruptArtifactError(f"the GC collector at {sym.value:#x} lies outside the code")
    return int(sym.value)


def format_free(address: int, size: int) -> None:
    """Write a free run's header at ``address`` (``size`` bytes, a multiple of 8)."""
    header = (ctypes.c_uint32 * 2).from_address(address)
    header[OBJ_TYPE_ID // 4] = FREE_ID
    header[OBJ_GC_BITS // 4] = size // 8


def _u64s(n: int) -> Any:
    return (ctypes.c_uint64 * max(n, 1))()


class NativeCollector:
    """One heap's state for the native routine: the routine, the shape table and the
    buffers it reuses from one collection to the next."""

    def __init__(self) -> None:
        self._routine: Any = None
        self._keep: object = None  # the module whose code holds the routine
        self.ctl = _u64s(gcc.CTL_SIZE // 8)
        self._shape_words: list[int] = []
        self._ref_offsets: list[int] = []
        self._shapes: Any = _u64s(0)
        self._offsets: Any = (ctypes.c_uint32 * 1)()
        self._bitmaps: Any = _u64s(0)
        self._stack: Any = None
        #: the mark stack's capacity in words (small in tests, to exercise overflow)
        self.stack_capacity = DEFAULT_STACK_CAPACITY
        #: heap walks after a mark-stack overflow, over every collection
        self.overflow_walks = 0

    @property
    def ready(self) -> bool:
        """Whether a routine has been given (an instance of a GC artifact exists)."""
        return self._routine is not None

    def use(self, address: int, keep: object) -> None:
        """Call the routine at ``address`` (in the code ``keep`` holds mapped) from now on,
        unless one is in use already."""
        if self._routine is None:
            self._routine = _ROUTINE(address)
            self._keep = keep

    def _fill_shapes(self, types: Any) -> None:
        """Add the shapes of the type ids registered since the last collection."""
        words = self._shape_words
        tid = len(words) // gcc.SHAPE_WORDS
        grew = False
        while True:
            try:
                ct = types.composite_type(tid)
            except IndexError:
                break
            grew = True
            if type(ct) is StructType:
                lay = struct_layout(ct)
                first = len(self._ref_offsets)
                self._ref_offsets.extend(lay.ref_offsets)
                words += (lay.size, first << 32 | len(lay.ref_offsets))
            elif type(ct) is ArrayType:
                alay = array_layout(ct)
                shape = gcc.SHAPE_ARRAY | alay.element_size
                shape |= alay.elements_offset << gcc.SHAPE_OFFSET_SHIFT
                words += (shape | (gcc.SHAPE_REFS if alay.element_is_ref else 0), 0)
            else:
                words += (0, 0)
            tid += 1
        if grew:
            self._shapes = (ctypes.c_uint64 * max(len(words), 1))(*words)
            offs = self._ref_offsets
            self._offsets = (ctypes.c_uint32 * max(len(offs), 1))(*offs)

    def collect(self, heap: GcHeap) -> int:
        """Collect ``heap`` with the routine: the bytes of live objects after it."""
        if self._routine is None:
            raise CwasmError("the GC heap has objects but no instance carries the collector")
        heap.retire_run()
        self._fill_shapes(heap.types)
        ctl = self.ctl
        chunks = heap.chunk_list()
        order = sorted(range(len(chunks)), key=lambda k: chunks[k][1])
        records = _u64s(gcc.CHUNK_WORDS * len(chunks))
        need = sum(gcc.starts_words(length) for _c, _s, length in chunks)
        if len(self._bitmaps) < need:
            self._bitmaps = _u64s(need)
        bitmap = ctypes.addressof(self._bitmaps)
        for i, k in enumerate(order):
            _chunk, start, length = chunks[k]
            r = gcc.CHUNK_WORDS * i
            records[r + gcc.CHUNK_START // 8] = start
            records[r + gcc.CHUNK_BYTES // 8] = length
            records[r + gcc.CHUNK_STARTS // 8] = bitmap
            bitmap += 8 * gcc.starts_words(length)
        roots = array("Q", heap.root_words())
        root_block = (ctypes.c_uint64 * max(len(roots), 1)).from_buffer(roots or array("Q", [0]))
        n_handles = heap.handle_bound()
        handles = _u64s((n_handles + 63) // 64)
        free_cap = heap.reserved // gcc.MIN_LISTED_FREE + len(chunks)
        free = _u64s(2 * free_cap)
        if self._stack is None or len(self._stack) != self.stack_capacity:
            self._stack = _u64s(self.stack_capacity)
        for offset, value in (
            (gcc.CTL_SHAPES, ctypes.addressof(self._shapes)),
            (gcc.CTL_NUM_SHAPES, len(self._shape_words) // gcc.SHAPE_WORDS),
            (gcc.CTL_REF_OFFSETS, ctypes.addressof(self._offsets)),
            (gcc.CTL_CHUNKS, ctypes.addressof(records)),
            (gcc.CTL_NUM_CHUNKS, len(chunks)),
            (gcc.CTL_STACK, ctypes.addressof(self._stack)),
            (gcc.CTL_STACK_CAP, self.stack_capacity),
            (gcc.CTL_ROOTS, ctypes.addressof(root_block)),
            (gcc.CTL_NUM_ROOTS, len(roots)),
            (gcc.CTL_ROOT_AREAS, heap.root_area_head()),
            (gcc.CTL_HANDLES, ctypes.addressof(handles)),
            (gcc.CTL_NUM_HANDLES, n_handles),
            (gcc.CTL_FREE, ctypes.addressof(free)),
            (gcc.CTL_FREE_CAP, free_cap),
        ):
            ctl[offset // 8] = value
        live = self._routine(ctypes.addressof(ctl))
        del root_block
        if live == gcc.COLLECT_CORRUPT:
            raise CwasmError(f"corrupt GC heap at {ctl[gcc.CTL_ERROR_AT // 8]:#x}")
        self.overflow_walks += ctl[gcc.CTL_OVERFLOWS // 8]
        keep = sorted(
            k for i, k in enumerate(order) if records[gcc.CHUNK_WORDS * i + gcc.CHUNK_LIVE // 8]
        )
        n_free = ctl[gcc.CTL_NUM_FREE // 8]
        runs = [(free[2 * j], free[2 * j + 1]) for j in range(n_free)]
        heap.held_handles = _set_bits(handles) if n_handles else frozenset()
        heap.after_collection(keep, runs, live)
        return int(live)


def _set_bits(bits: Any) -> frozenset[int]:
    """The host words (``handle << 2 | 2``) of the handles whose bit is set."""
    out: list[int] = []
    for i, word in enumerate(bits):
        while word:
            low = word & -word
            out.append(((64 * i + low.bit_length() - 1) << HOST_SHIFT) | HOST_TAG)
            word ^= low
    return frozenset(out)
