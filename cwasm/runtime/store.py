"""Store: owns every instance, memory, table, global and host function created in it.

Its native half is the *store context* (see ``vmoffsets``): the stack limit, the jump
buffer of the innermost entry trampoline, and where the trap routine leaves the trap
code and backtrace. Its Python half keeps the objects alive as long as the store, the
host exception waiting to be re-raised, and the externref table (compiled code sees an
externref as a small integer handle into it).
"""

from __future__ import annotations

import bisect
import ctypes
import threading
import weakref
from typing import TYPE_CHECKING, Any, NoReturn

from cwasm.abi import vmoffsets as vo
from cwasm.errors import CwasmError
from cwasm.runtime.engine import Engine
from cwasm.runtime.native import LONGJMP_ADDRESS, SETJMP_ADDRESS, thread_stack_bounds
from cwasm.runtime.trap import Trap

if TYPE_CHECKING:
    from cwasm.runtime.func import Func
    from cwasm.runtime.instance import Instance
    from cwasm.wasi import WasiConfig, WasiContext


# --- every live instance, by vmctx address (for builtins and funcref addresses) ---

_vmctx_starts: list[int] = []
_instances: dict[int, weakref.ref[Instance]] = {}


def register_instance(vmctx: int, instance: Instance) -> None:
    bisect.insort(_vmctx_starts, vmctx)
    _instances[vmctx] = weakref.ref(instance)


def unregister_instance(vmctx: int) -> None:
    i = bisect.bisect_left(_vmctx_starts, vmctx)
    if i < len(_vmctx_starts) and _vmctx_starts[i] == vmctx:
        del _vmctx_starts[i]
    _instances.pop(vmctx, None)


def instance_at(vmctx: int) -> Instance | None:
    ref = _instances.get(vmctx)
    return ref() if ref is not None else None


def instance_containing(addr: int) -> Instance | None:
    i = bisect.bisect_right(_vmctx_starts, addr) - 1
    if i < 0:
        return None
    inst = instance_at(_vmctx_starts[i])
    if inst is None or addr >= _vmctx_starts[i] + inst.module.offsets.size:
        return None
    return inst


class HostCallError(CwasmError):
    """Python could not run a host function at all, so there is no exception to re-raise."""


#: native stack kept free below the wasm stack limit, for host calls and trap handling
STACK_MARGIN = 256 * 1024


class Store:
    """A collection of wasm objects that may reference each other (wasmtime-py's ``Store``)."""

    def __init__(self, engine: Engine | None = None, data: Any = None) -> None:
        self.engine = engine or Engine()
        self.data = data
        words = vo.STORE_SIZE // 8
        self._ctx = (ctypes.c_uint64 * words)()
        self.ctx_address = ctypes.addressof(self._ctx)
        ctx = self._ctx
        ctx[vo.STORE_SETJMP // 8] = SETJMP_ADDRESS
        ctx[vo.STORE_LONGJMP // 8] = LONGJMP_ADDRESS
        ctx[vo.STORE_STACK_SIZE // 8] = self.engine.config.max_wasm_stack
        self.thread = 0
        self.enter_thread()
        self.pending: BaseException | None = None
        self._externs: list[Any] = []
        self._extern_handles: dict[int, int] = {}
        self._objects: list[Any] = []
        self._host_funcrefs: dict[int, Func] = {}
        #: the WASI state ``set_wasi`` created (used by ``Linker.define_wasi``'s functions)
        self.wasi: WasiContext | None = None
        #: the ``Func`` a ``Linker`` made of each store-independent definition, for this store
        self.linker_funcs: dict[Any, Func] = {}

    # --- WASI ---

    def set_wasi(self, wasi: WasiConfig) -> None:
        """Serve this store's WASI imports (``Linker.define_wasi``) as ``wasi`` describes."""
        from cwasm.runtime.wasi_link import set_wasi

        set_wasi(self, wasi)

    # --- threads ---

    def enter_thread(self) -> None:
        """Adopt the calling thread: wasm entered from it never runs past its stack's end."""
        self.thread = threading.get_ident()
        bounds = thread_stack_bounds()
        floor = 0
        if bounds is not None:
            floor = bounds[0] + STACK_MARGIN
        self._ctx[vo.STORE_STACK_FLOOR // 8] = floor

    # --- lifetime ---

    def keep(self, obj: Any) -> None:
        self._objects.append(obj)

    def gc(self) -> None:
        """Kept for wasmtime-py compatibility; externrefs live as long as the store."""

    # --- externref handles ---

    def externref_handle(self, obj: Any) -> int:
        if obj is None:
            return 0
        h = self._extern_handles.get(id(obj))
        if h is None:
            self._externs.append(obj)
            h = len(self._externs)
            self._extern_handles[id(obj)] = h
        return h

    def externref_object(self, handle: int) -> Any:
        if handle == 0:
            return None
        if not 0 < handle <= len(self._externs):
            raise CwasmError(f"invalid externref handle {handle:#x}")
        return self._externs[handle - 1]

    # --- funcrefs ---

    def register_host_funcref(self, addr: int, func: Func) -> None:
        self._host_funcrefs[addr] = func

    def funcref_address(self, func: Any) -> int:
        from cwasm.runtime.func import Func

        if func is None:
            return 0
        if not isinstance(func, Func):
            raise TypeError(f"expected a Func or None for a funcref, got {type(func).__name__}")
        if func.store is not self:
            raise CwasmError("a function of another store cannot be used as a reference here")
        return func.funcref_address(self)

    def func_from_address(self, addr: int) -> Func | None:
        if addr == 0:
            return None
        f = self._host_funcrefs.get(addr)
        if f is not None:
            return f
        inst = instance_containing(addr)
        if inst is None:
            raise CwasmError(f"funcref {addr:#x} does not belong to a live instance")
        index = (addr - inst.vmctx - inst.module.offsets.func_refs) // vo.FUNCREF_SIZE
        return inst.func(index)

    # --- traps ---

    def raise_trap(self) -> NoReturn:
        """Raise what made the last entry trampoline return a non-zero status."""
        exc = self.pending
        if exc is not None:
            self.pending = None
            raise exc
        ctx = self._ctx
        code = ctx[vo.STORE_TRAP_CODE // 8]
        if code == vo.TRAP_HOST_EXCEPTION:
            raise HostCallError(
                "a host function or runtime routine could not run (Python reported the "
                "exception as 'ignored' on stderr, e.g. a RecursionError)"
            )
        n = min(ctx[vo.STORE_NUM_FRAMES // 8], vo.MAX_FRAMES)
        first = vo.STORE_FRAMES // 8
        raise Trap(code, tuple(ctx[first : first + n]))
