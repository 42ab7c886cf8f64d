"""SharedMemory: a linear memory of the threads proposal, shared by stores and threads.

A shared memory belongs to no store: it is created from an engine (wasmtime-py's
``SharedMemory(engine, ty)``) or defined by a module (its instance then exports it as a
``SharedMemory``), and any number of instances, in any stores, may import it. Each
thread runs its own store and instances over it; their compiled code reads the base
and length from the one definition (two u64s) every importer's vmctx points to.

Its reservation covers its maximum (a shared memory always has one) from the start, so
growing (``grow`` from Python, ``memory.grow`` from wasm, under one lock) only makes
more pages read-write and the base never moves while other threads use it. Compiled
code always bounds-checks a shared memory's accesses (no guard pages: a fault handler
knows one store per memory), so the reservation is just the maximum.
"""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING

from cwasm.abi.vmoffsets import DEF_BASE, DEF_LENGTH, DEF_SIZE
from cwasm.errors import CwasmError
from cwasm.runtime.limits import ResourceLimitError, StoreLimits
from cwasm.runtime.memory import memory_matches, reservable_pages
from cwasm.runtime.native import Reservation
from cwasm.runtime.types import MemoryType
from cwasm.wasm import types as wt

if TYPE_CHECKING:
    from cwasm.runtime.engine import Engine

WASM_PAGE = 65536


class SharedMemory:
    """A shared linear memory (wasmtime-py's ``SharedMemory``)."""

    def __init__(self, engine: Engine, ty: MemoryType) -> None:
        """Creates a new shared memory in ``engine`` with the given ``ty`` (a shared
        ``MemoryType``)."""
        engine._check_open()
        wasm = ty.wasm
        if not wasm.shared:
            raise CwasmError("shared memory must have the `shared` flag enabled on its memory type")
        self._own_def = (ctypes.c_uint64 * (DEF_SIZE // 8))()
        self._setup(engine, wasm, ctypes.addressof(self._own_def), None)

    @classmethod
    def _from_raw(
        cls, engine: Engine, ty: wt.MemoryType, def_addr: int, owner: object, limits: StoreLimits
    ) -> SharedMemory:
        """The shared memory an instance defines, described by the definition at
        ``def_addr`` in the vmctx of ``owner`` (kept alive with the memory). As Wasmtime,
        the ``limits`` of the instantiating store must allow its minimum size (a shared
        memory made from Python is asked of no store)."""
        maximum = ty.limits.max
        if not limits.memory_growing(ty.limits.min * WASM_PAGE, maximum and maximum * WASM_PAGE):
            raise ResourceLimitError(
                f"memory minimum size of {ty.limits.min} pages exceeds memory limits"
            )
        self = cls.__new__(cls)
        self._setup(engine, ty, def_addr, owner)
        return self

    def _setup(self, engine: Engine, ty: wt.MemoryType, def_addr: int, owner: object) -> None:
        self.engine = engine
        self.wasm_type = ty
        self._owner = owner
        self._lock = threading.Lock()
        self.max_pages = reservable_pages(engine.config.memory_reservation, ty)
        if ty.limits.min > self.max_pages:
            raise CwasmError(
                f"memory minimum size of {ty.limits.min} pages exceeds the memory limit "
                f"of {self.max_pages} pages"
            )
        self._res = Reservation(max(self.max_pages, 1) * WASM_PAGE)
        self._res.commit(ty.limits.min * WASM_PAGE)
        self.base = self._res.base
        self.def_addr = def_addr
        self._len = ctypes.c_uint64.from_address(def_addr + DEF_LENGTH)
        ctypes.c_uint64.from_address(def_addr + DEF_BASE).value = self.base
        self._len.value = ty.limits.min * WASM_PAGE

    # --- wasmtime-py API ---

    def type(self) -> MemoryType:
        """Gets the type of this memory as a ``MemoryType``."""
        return MemoryType.from_wasm(self.wasm_type)

    def grow(self, delta: int) -> int:
        """Grows this memory by the given number of pages; returns the old size in pages."""
        if delta < 0:
            raise CwasmError("cannot grow by negative amount")
        old = self.grow_pages(delta)
        if old < 0:
            raise CwasmError(f"failed to grow memory by `{delta}`")
        return old

    def size(self) -> int:
        """Returns the size, in WebAssembly pages, of this shared memory."""
        return int(self._len.value) // WASM_PAGE

    def data_ptr(self) -> ctypes._Pointer[ctypes.c_ubyte]:
        """Returns the raw pointer in memory where this wasm shared memory lives.

        Remember that all accesses to wasm shared memory should be bounds-checked
        against the ``data_len`` method."""
        return ctypes.cast(self.base, ctypes.POINTER(ctypes.c_ubyte))

    def data_len(self) -> int:
        """Returns the raw byte length of this memory."""
        return int(self._len.value)

    # --- runtime ---

    def grow_pages(self, delta: int, limits: StoreLimits | None = None) -> int:
        """Grow by ``delta`` pages; the old size in pages, or -1 if past the maximum or
        (when given) the ``limits`` of the store whose wasm grows it, as Wasmtime asks the
        growing store's limiter (growing from Python asks none). Concurrent growers (any
        thread, any store) are serialized; the base stays."""
        if delta < 0:
            return -1
        with self._lock:
            old = self.size()
            new = old + delta
            if delta and limits is not None:
                maximum = self.wasm_type.limits.max
                if not limits.memory_growing(new * WASM_PAGE, maximum and maximum * WASM_PAGE):
                    return -1
            if new > self.max_pages:
                return -1
            if delta:
                self._res.commit(new * WASM_PAGE)
                self._len.value = new * WASM_PAGE
            return old

    def matches(self, want: wt.MemoryType) -> bool:
        """Import subtyping (``memory_matches``)."""
        return memory_matches(self.wasm_type, self.size(), want)
