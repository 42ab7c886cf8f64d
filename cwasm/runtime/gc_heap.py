"""A store's GC heap (docs/gc.md): where ``struct.new`` and ``array.new`` put objects.

Compiled code allocates inline: it bumps ``STORE_GC_NEXT`` by the object's size and
compares with ``STORE_GC_END``; when the current free run cannot hold the object it
calls ``Builtin.GC_ALLOC``, which lands here. The heap is a list of zeroed chunks; a
new chunk becomes the current free run, and an object larger than a quarter of a chunk
gets a chunk of its own. Objects are laid out as ``cwasm.abi.gc_layout`` says.

This part has no collector yet: objects live as long as their store, and an
allocation that would take the heap past ``limit`` bytes fails (the calling code traps).
"""

from __future__ import annotations

import bisect
import ctypes
import struct
from typing import Any, Final

from cwasm.abi import vmoffsets as vo
from cwasm.abi.gc_layout import GC_BIT_ARRAY, OBJ_GC_BITS, OBJ_TYPE_ID

#: bytes of one chunk of the heap
CHUNK_BYTES: Final = 1 << 20
#: the heap's default limit in bytes
DEFAULT_LIMIT: Final = 1 << 30


class GcHeap:
    """One store's heap: its chunks, the current free run (in the store context) and
    the engine type id of each object's header."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx  # the store context's words
        self._chunks: list[Any] = []
        self._ranges: list[tuple[int, int]] = []  # (start, end) of each chunk, sorted
        #: the most bytes the heap may hold
        self.limit = DEFAULT_LIMIT
        #: bytes of chunks the heap holds
        self.reserved = 0

    def alloc(self, type_id: int, size: int, is_array: bool) -> int:
        """A new zeroed object of ``size`` bytes with engine type id ``type_id`` (and the
        array bit, for an array) in its header: its address, or 0 when the heap would exceed ``limit``. Unless the object
        has a chunk of its own, the rest of its new chunk becomes the current free run."""
        own = size > CHUNK_BYTES // 4
        length = size if own else CHUNK_BYTES
        if self.reserved + length > self.limit:
            return 0
        chunk = (ctypes.c_uint64 * (length // 8))()
        start = ctypes.addressof(chunk)
        self._chunks.append(chunk)
        self.reserved += length
        bisect.insort(self._ranges, (start, start + length))
        struct.pack_into("<I", chunk, OBJ_TYPE_ID, type_id)
        struct.pack_into("<I", chunk, OBJ_GC_BITS, GC_BIT_ARRAY if is_array else 0)
        if not own:
            self._ctx[vo.STORE_GC_NEXT // 8] = start + size
            self._ctx[vo.STORE_GC_END // 8] = start + length
        return start

    def allocate(self, type_id: int, size: int, is_array: bool) -> int:
        """``alloc`` from Python (constant expressions): the object comes from the
        current free run while it has room, as compiled code's do; 0 past ``limit``."""
        cur = self._ctx[vo.STORE_GC_NEXT // 8]
        if cur and cur + size <= self._ctx[vo.STORE_GC_END // 8]:
            self._ctx[vo.STORE_GC_NEXT // 8] = cur + size
            header = (ctypes.c_uint32 * 2).from_address(cur)
            header[OBJ_TYPE_ID // 4] = type_id
            header[OBJ_GC_BITS // 4] = GC_BIT_ARRAY if is_array else 0
            return int(cur)
        return self.alloc(type_id, size, is_array)

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
