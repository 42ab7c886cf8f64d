"""A store's GC heap (docs/gc.md): where ``struct.new`` and ``array.new`` put objects.

Compiled code allocates inline: it bumps ``STORE_GC_NEXT`` by the object's size and
compares with ``STORE_GC_END``; when the current free run cannot hold the object it
calls ``Builtin.GC_ALLOC``, which lands here. The heap is a list of zeroed chunks; a
new chunk becomes the current free run, and an object larger than a quarter of a chunk
gets a chunk of its own. Objects are laid out as ``cwasm.abi.gc_layout`` says.

When no free run can hold an object, ``alloc`` collects (``cwasm.runtime.gc_collector``)
once the heap has grown to twice what was live after the last collection, or when a
new chunk would take it past ``limit``; the sweep's free runs then serve allocations,
the largest first, each becoming the current run. An allocation that still does not
fit fails (the calling code traps). The roots are listed by ``root_words``.
"""

from __future__ import annotations

import bisect
import ctypes
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from cwasm.abi import vmoffsets as vo
from cwasm.abi.gc_layout import GC_BIT_ARRAY, OBJ_GC_BITS, OBJ_TYPE_ID
from cwasm.runtime import gc_collector

#: bytes of one chunk of the heap
CHUNK_BYTES: Final = 1 << 20
#: the heap's default limit in bytes
DEFAULT_LIMIT: Final = 1 << 30
#: the error of an allocation the heap cannot hold after a collection (Wasmtime's)
GC_HEAP_OUT_OF_MEMORY: Final = "GC heap out of memory"
#: the heap grows to at least this many bytes before its first collection
MIN_COLLECT_BYTES: Final = 4 * CHUNK_BYTES


class GcHeap:
    """One store's heap: its chunks, the current free run (in the store context), the
    free runs of the last sweep and the roots Python adds."""

    def __init__(self, ctx: Any, types: Any = None) -> None:
        self._ctx = ctx  # the store context's words
        self._chunks: list[Any] = []
        self._ranges: list[tuple[int, int]] = []  # (start, end) of each chunk, sorted
        #: the engine's type registry (type id -> struct or array type)
        self.types = types
        #: the native collector's state (its routine comes with the first GC instance)
        self.collector = gc_collector.NativeCollector()
        #: the most bytes the heap may hold
        self.limit = DEFAULT_LIMIT
        #: bytes of chunks the heap holds
        self.reserved = 0
        #: (address, bytes) of the free runs left by the last sweep, largest last
        self.free_runs: list[tuple[int, int]] = []
        #: bytes of objects live after the last collection, and collections so far
        self.live = 0
        self.collections = 0
        #: objects held by Python (``AnyRef``): address -> count
        self.pinned: dict[int, int] = {}
        #: the host words (externrefs) the last collection found in live objects
        self.held_handles: frozenset[int] = frozenset()
        #: the bound of the store's externref handles (``ExternRefTable.handle_bound``)
        self.handle_bound: Callable[[], int] = lambda: 0
        #: reference tables and globals (their words are roots), other root sources
        self._tables: list[Any] = []
        self._globals: list[Any] = []
        self._sources: list[Callable[[], Iterable[int]]] = []

    # --- allocation ---

    def alloc(self, type_id: int, size: int, is_array: bool, collect: bool = True) -> int:
        """A new zeroed object of ``size`` bytes with engine type id ``type_id`` (and the
        array bit, for an array) in its header: its address, or 0 when the heap cannot
        hold it even after a collection (``collect``). The free run it comes from
        becomes the current one."""
        own = size > CHUNK_BYTES // 4
        length = size if own else CHUNK_BYTES
        if not own:
            at = self._from_free_runs(size)
            if at:
                return self._header(at, type_id, is_array)
        if collect and self.collector.ready and self._collect_due(length):
            self.collector.collect(self)
            if not own:
                at = self._from_free_runs(size)
                if at:
                    return self._header(at, type_id, is_array)
        if self.reserved + length > self.limit:
            return 0
        self.retire_run()
        chunk = (ctypes.c_uint64 * (length // 8))()
        start = ctypes.addressof(chunk)
        self._chunks.append(chunk)
        self.reserved += length
        bisect.insort(self._ranges, (start, start + length))
        if not own:
            self._ctx[vo.STORE_GC_NEXT // 8] = start + size
            self._ctx[vo.STORE_GC_END // 8] = start + length
        return self._header(start, type_id, is_array)

    def _collect_due(self, length: int) -> bool:
        if self.reserved + length > self.limit:
            return True
        return self.reserved >= max(MIN_COLLECT_BYTES, 2 * self.live)

    def _from_free_runs(self, size: int) -> int:
        """An address of ``size`` bytes at the start of a free run (which becomes the
        current run), or 0; runs too small for it are left to the next sweep."""
        runs = self.free_runs
        while runs:
            at, length = runs.pop()
            if length >= size:
                self.retire_run()
                ctypes.c_uint64.from_address(at).value = 0  # the free run's header
                self._ctx[vo.STORE_GC_NEXT // 8] = at + size
                self._ctx[vo.STORE_GC_END // 8] = at + length
                return at
            runs.append((at, length))
            return 0
        return 0

    @staticmethod
    def _header(at: int, type_id: int, is_array: bool) -> int:
        header = (ctypes.c_uint32 * 2).from_address(at)
        header[OBJ_TYPE_ID // 4] = type_id
        header[OBJ_GC_BITS // 4] = GC_BIT_ARRAY if is_array else 0
        return at

    def allocate(self, type_id: int, size: int, is_array: bool) -> int:
        """``alloc`` from Python (constant expressions), which never collects: the
        object comes from the current free run while it has room, as compiled code's
        do; 0 past ``limit``."""
        cur = self._ctx[vo.STORE_GC_NEXT // 8]
        if cur and cur + size <= self._ctx[vo.STORE_GC_END // 8]:
            self._ctx[vo.STORE_GC_NEXT // 8] = cur + size
            return self._header(cur, type_id, is_array)
        return self.alloc(type_id, size, is_array, collect=False)

    def retire_run(self) -> None:
        """Give up the current run: what is left of it becomes a free run in the heap
        (so that the heap stays walkable) until the next sweep."""
        cur = self._ctx[vo.STORE_GC_NEXT // 8]
        end = self._ctx[vo.STORE_GC_END // 8]
        if cur and end > cur:
            gc_collector.format_free(cur, end - cur)
        self._ctx[vo.STORE_GC_NEXT // 8] = 0
        self._ctx[vo.STORE_GC_END // 8] = 0

    # --- the collector's view ---

    def collect(self) -> int:
        """Collect now (``Store.gc``): the bytes of live objects after it."""
        return self.collector.collect(self)

    def chunk_list(self) -> list[tuple[Any, int, int]]:
        """(chunk, start address, bytes) of every chunk."""
        return [(c, ctypes.addressof(c), ctypes.sizeof(c)) for c in self._chunks]

    def after_collection(self, keep: list[int], runs: list[tuple[int, int]], live: int) -> None:
        """Take a collection's results: the indexes in ``chunk_list()`` of the chunks with
        live objects, the free runs the sweep listed, the live bytes. Chunks with nothing
        live are zeroed and kept as free runs while the heap stays within what the next
        collection waits for (twice ``live``, at least ``MIN_COLLECT_BYTES``, at most
        ``limit``), so that allocation reuses them instead of new ones; the rest are
        released."""
        kept = set(keep)
        budget = min(max(MIN_COLLECT_BYTES, 2 * live), self.limit)
        budget -= sum(ctypes.sizeof(self._chunks[k]) for k in keep)
        runs = list(runs)
        for k, chunk in enumerate(self._chunks):
            if budget < CHUNK_BYTES:
                break
            if k not in kept and ctypes.sizeof(chunk) == CHUNK_BYTES:
                start = ctypes.addressof(chunk)
                ctypes.memset(start, 0, CHUNK_BYTES)
                gc_collector.format_free(start, CHUNK_BYTES)
                runs.append((start, CHUNK_BYTES))
                kept.add(k)
                budget -= CHUNK_BYTES
        self._keep_chunks(sorted(kept))
        runs.sort(key=lambda r: r[1])  # the largest last: the allocator pops them first
        self.free_runs = runs
        self.live = live
        self.collections += 1

    def _keep_chunks(self, keep: list[int]) -> None:
        """Keep only the chunks at indexes ``keep`` of ``chunk_list()``; release the rest."""
        self._chunks = [self._chunks[k] for k in keep]
        self._ranges = sorted(
            (ctypes.addressof(c), ctypes.addressof(c) + ctypes.sizeof(c)) for c in self._chunks
        )
        self.reserved = sum(end - start for start, end in self._ranges)

    def add_table(self, table: Any) -> None:
        """Count the words of reference table ``table`` as roots."""
        self._tables.append(table)

    def add_global(self, glob: Any) -> None:
        """Count the word of reference global ``glob`` as a root."""
        self._globals.append(glob)

    def add_root_source(self, source: Callable[[], Iterable[int]]) -> None:
        """Count the words ``source()`` gives at each collection as roots."""
        self._sources.append(source)

    def pin(self, address: int) -> None:
        """Python holds the object at ``address`` (an ``AnyRef`` was made of it)."""
        self.pinned[address] = self.pinned.get(address, 0) + 1

    def unpin(self, address: int) -> None:
        """Python let go of one hold on the object at ``address``."""
        n = self.pinned.get(address, 0) - 1
        if n > 0:
            self.pinned[address] = n
        else:
            self.pinned.pop(address, None)

    def root_area_head(self) -> int:
        """The head of the frames' root-area chain (``STORE_GC_ROOTS``), which the
        collector routine walks."""
        return int(self._ctx[vo.STORE_GC_ROOTS // 8])

    def root_words(self) -> Iterator[int]:
        """Every word besides the root areas that may be a root (the collector follows
        those that are objects): reference tables and globals, other sources and the
        objects Python holds."""
        for table in self._tables:
            yield from memoryview(table.raw_elements()).cast("Q")
        for glob in self._globals:
            yield glob.read_raw()
        yield from self.source_words()
        yield from self.pinned

    def source_words(self) -> Iterator[int]:
        """The words of the other root sources (``add_root_source``: the instances'
        evaluated element segments, the exception arena), which may hold host words
        too."""
        for source in self._sources:
            yield from source()

    # --- queries ---

    def owns(self, address: int) -> bool:
        """Whether ``address`` is inside one of the heap's chunks."""
        i = bisect.bisect_right(self._ranges, (address, 1 << 64)) - 1
        return i >= 0 and self._ranges[i][0] <= address < self._ranges[i][1]

    def is_array_at(self, address: int) -> bool:
        """Whether the object at ``address`` (one of this heap's) is an array."""
        bits = ctypes.c_uint32.from_address(address + OBJ_GC_BITS).value
        return bool(bits & GC_BIT_ARRAY)

    def type_id_at(self, address: int) -> int:
        """The engine type id in the header of the object at ``address``."""
        if not self.owns(address):
            raise ValueError(f"{address:#x} is not an object of this heap")
        return ctypes.c_uint32.from_address(address + OBJ_TYPE_ID).value
