"""Memory: a linear memory in reserved address space that grows in place.

The reservation covers the memory's maximum (bounded by the engine's
``memory_reservation``; a 64-bit memory's by at least ``MEMORY64_RESERVATION``) — or,
for a 32-bit memory with guard-page bounds checks, 4 GiB plus the guard region,
registered with the signal handler — all PROT_NONE; growing makes more pages read-write, so the
base never moves. Compiled code reads the base and current length from the memory's
*definition* (two u64s), which lives in the owning instance's vmctx or, for a memory
created from Python, in a small buffer of its own.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from cwasm.abi import guard_layout
from cwasm.abi.vmoffsets import DEF_BASE, DEF_LENGTH, DEF_SIZE
from cwasm.errors import CwasmError
from cwasm.runtime import guard
from cwasm.runtime.limits import ResourceLimitError
from cwasm.runtime.native import Reservation
from cwasm.runtime.types import MemoryType
from cwasm.wasm import types as wt

if TYPE_CHECKING:
    from cwasm.runtime.engine import Engine
    from cwasm.runtime.store import Store

WASM_PAGE = 65536
#: the least address space a 64-bit memory reserves (when its maximum and the engine's
#: ``memory_reservation`` allow less, they rule): memory64 lets a memory pass 4 GiB
MEMORY64_RESERVATION = 64 << 30


def reservable_pages(memory_reservation: int, ty: wt.MemoryType) -> int:
    """The most pages a memory of type ``ty`` can reach in place: its maximum (else its
    index type's), at most the reservation (``memory_reservation``, for a 64-bit memory
    at least ``MEMORY64_RESERVATION``)."""
    reservation = max(memory_reservation, MEMORY64_RESERVATION) if ty.is_64 else memory_reservation
    declared = ty.limits.max if ty.limits.max is not None else ty.max_pages
    return min(declared, ty.max_pages, max(reservation // WASM_PAGE, 0))


#: the most ``memory_layout`` answers an engine keeps
_LAYOUTS_KEPT = 256
#: (most pages, bytes reserved, guard-page bounds checks, bytes at first, the byte size
#: the store's limiter is told is its maximum) of a memory type in an engine
MemoryLayout = tuple[int, int, bool, int, int]


def memory_layout(engine: Engine, ty: wt.MemoryType) -> MemoryLayout:
    """The ``MemoryLayout`` of a memory of type ``ty`` in ``engine``, worked out once per
    type object (``Engine.memory_layouts``, by identity: a module's types live as long as
    it does, and the entry keeps its type)."""
    layouts = engine.memory_layouts
    entry = layouts.get(id(ty))
    if entry is not None and entry[0] is ty:
        return entry[1]
    max_pages = reservable_pages(engine.config.memory_reservation, ty)
    # with guard pages, every 32-bit index plus a static offset below the guard size
    # must land in the reservation, whatever the memory's maximum; compiled code
    # checks every access of a 64-bit memory (as of a shared one): no guard region
    guarded = engine.guard_pages and not ty.is_64
    reserve = guard_layout.GUARD_RESERVATION if guarded else max_pages * WASM_PAGE
    layout = (max_pages, reserve, guarded, ty.limits.min * WASM_PAGE, Memory._maximum(ty))
    if len(layouts) >= _LAYOUTS_KEPT:  # types made one by one from Python: kept bounded
        layouts.clear()
    layouts[id(ty)] = (ty, layout)
    return layout


class Memory:
    """A linear memory (wasmtime-py's ``Memory``)."""

    def __init__(self, store: Store, ty: MemoryType) -> None:
        """Creates a new memory in ``store`` with the given ``ty``."""
        store._check_open()
        self._own_def = (ctypes.c_uint64 * (DEF_SIZE // 8))()
        self._setup(store, ty.wasm, ctypes.addressof(self._own_def))
        store.keep(self)

    @classmethod
    def _from_raw(cls, store: Store, ty: wt.MemoryType, def_addr: int) -> Memory:
        """The memory an instance defines, described by the definition at ``def_addr`` in its
        vmctx."""
        self = cls.__new__(cls)
        self._setup(store, ty, def_addr)
        return self

    def _setup(self, store: Store, ty: wt.MemoryType, def_addr: int) -> None:
        self.store = store
        self.wasm_type = ty
        self.max_pages, reserve, guarded, size, maximum = memory_layout(store.engine, ty)
        if ty.limits.min > self.max_pages:
            raise CwasmError(
                f"memory minimum size of {ty.limits.min} pages exceeds the memory limit "
                f"of {self.max_pages} pages"
            )
        if not store.limits.memory_growing(size, maximum):
            raise ResourceLimitError(
                f"memory minimum size of {ty.limits.min} pages exceeds memory limits"
            )
        res = self._res = Reservation(reserve, pooled=True)
        res.commit_exactly(size)
        base = self.base = res.base
        if guarded:  # faults in it trap in this store (see ``guard.MemoryGuard``)
            record = res.guard
            if not isinstance(record, guard.MemoryGuard):
                record = res.guard = guard.MemoryGuard(base, base + res.size)
            record.activate(store.ctx_address)
        self.def_addr = def_addr
        self._len = length = ctypes.c_uint64.from_address(def_addr + DEF_LENGTH)
        ctypes.c_uint64.from_address(def_addr + DEF_BASE).value = base
        length.value = size

    # --- wasmtime-py API ---

    def type(self, store: Store | None = None) -> MemoryType:
        """Gets the type of this memory as a ``MemoryType``."""
        return MemoryType.from_wasm(self.wasm_type)

    def data_len(self, store: Store | None = None) -> int:
        """Returns the raw byte length of this memory."""
        return int(self._len.value)

    def size(self, store: Store | None = None) -> int:
        """Returns the size, in WebAssembly pages, of this memory."""
        return int(self._len.value) // WASM_PAGE

    def data_ptr(self, store: Store | None = None) -> ctypes._Pointer[ctypes.c_ubyte]:
        """Returns the raw pointer in memory where this wasm memory lives.

        Remember that all accesses to wasm memory should be bounds-checked against the
        ``data_len`` method."""
        return ctypes.cast(self.base, ctypes.POINTER(ctypes.c_ubyte))

    def get_buffer_ptr(
        self, store: Store | None = None, size: int | None = None, offset: int = 0
    ) -> ctypes.Array[ctypes.c_ubyte]:
        """A ctypes array over ``size`` bytes from ``offset`` (default: to the end), e.g. for
        ``numpy.frombuffer``; valid until the memory is grown past its length or freed."""
        length = self.data_len(store)
        if size is None:
            size = length - offset
        if offset < 0 or size < 0 or offset + size > length:
            raise CwasmError(f"buffer [{offset}, {offset}+{size}) is outside the memory")
        return (ctypes.c_ubyte * size).from_address(self.base + offset)

    def grow(self, store: Store | None, delta: int) -> int:
        """Grows this memory by the given number of pages; returns the old size in pages."""
        if delta < 0:
            raise CwasmError("cannot grow by negative amount")
        self.store.check_owner()
        old = self.grow_pages(delta)
        if old < 0:
            raise CwasmError(f"failed to grow memory by {delta} pages")
        return old

    def read(
        self, store: Store | None, start: int | None = 0, stop: int | None = None
    ) -> bytearray:
        """Reads this memory starting from ``start`` and up to ``stop`` and returns a copy
        of the contents as a ``bytearray``.

        The indexing behavior of this method is similar to ``list[start:stop]`` where
        negative starts can be used to read from the end, for example."""
        n = self.data_len()
        start, stop, _ = slice(start, stop).indices(n)
        if stop <= start:
            return bytearray()
        return bytearray(ctypes.string_at(self.base + start, stop - start))

    def write(
        self, store: Store | None, value: bytes | bytearray | memoryview, start: int | None = None
    ) -> int:
        """Write ``value`` into this memory at ``start``; returns the number of bytes written.

        A negative ``start`` counts from the end, as in a list slice ``mylist[-10:]``.
        Raises ``IndexError`` when trying to write outside the memory range: when
        ``start`` is at or past the end, or ``value`` does not fit before it."""
        size = self.data_len()
        start = slice(start, None).indices(size)[0]
        if start >= size:
            raise IndexError("index out of range")
        data = bytes(value)
        if not data:
            return 0
        if start + len(data) > size:
            raise IndexError("index out of range")
        ctypes.memmove(self.base + start, data, len(data))
        return len(data)

    # --- runtime ---

    @staticmethod
    def _maximum(ty: wt.MemoryType) -> int:
        """The byte size the store's limiter is told is this memory's maximum."""
        return (ty.limits.max if ty.limits.max is not None else ty.max_pages) * WASM_PAGE

    def grow_pages(self, delta: int) -> int:
        """Grow by ``delta`` pages; the old size in pages, or -1 if not possible (past the
        memory's maximum or the store's limit: nothing is committed then)."""
        old = self.size()
        new = old + delta
        if delta < 0:
            return -1
        if delta == 0:
            return old
        if not self.store.limits.memory_growing(new * WASM_PAGE, self._maximum(self.wasm_type)):
            return -1
        if new > self.max_pages:
            return -1
        self._res.commit(new * WASM_PAGE)
        self._len.value = new * WASM_PAGE
        return old

    def matches(self, want: wt.MemoryType) -> bool:
        """Import subtyping (``memory_matches``)."""
        return memory_matches(self.wasm_type, self.size(), want)


def memory_matches(have: wt.MemoryType, pages: int, want: wt.MemoryType) -> bool:
    """Import subtyping of a memory of type ``have`` now ``pages`` long: shared and 64-bit
    as wanted, at least the wanted minimum, at most the wanted maximum."""
    if have.shared != want.shared or have.is_64 != want.is_64 or pages < want.limits.min:
        return False
    return want.limits.max is None or (
        have.limits.max is not None and have.limits.max <= want.limits.max
    )
