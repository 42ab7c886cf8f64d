"""Store: owns every instance, memory, table, global and host function created in it.

Its native half is the *store context* (see ``vmoffsets``): the stack limit, the jump
buffer of the innermost entry trampoline, and where the trap routine leaves the trap
code and backtrace. Its Python half keeps the objects alive as long as the store, the
host exception waiting to be re-raised, and its references (``refs``: the externref
table and the host funcrefs, see ``cwasm.runtime.refs``; ``gc`` releases the externrefs
wasm can no longer reach, see ``cwasm.runtime.externref``). Native code finds an instance
from its vmctx through the process-wide ``cwasm.runtime.registry.INSTANCES``, which
says why that index is not per store.
"""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING, Any, NoReturn

from cwasm.abi import vmoffsets as vo
from cwasm.closable import Closable
from cwasm.errors import CwasmError, error_chain
from cwasm.runtime import interrupt
from cwasm.runtime.engine import Engine
from cwasm.runtime.gc_heap import DEFAULT_LIMIT, GcHeap
from cwasm.runtime.limits import ResourceCounts, StoreLimits
from cwasm.runtime.module_registry import ModuleRegistry
from cwasm.runtime.native import LONGJMP_ADDRESS, SETJMP_ADDRESS, thread_stack_bounds
from cwasm.runtime.refs import References
from cwasm.runtime.tag import Exceptions, Tag
from cwasm.runtime.trap import Trap, backtrace_text, resolve_frames
from cwasm.runtime.unwind import UNWIND_FUNCTIONS
from cwasm.wasi.errors import WasiCallError

if TYPE_CHECKING:
    from cwasm.runtime.func import Func
    from cwasm.wasi import WasiConfig, WasiContext


class HostCallError(CwasmError):
    """Python could not run a host function at all, so there is no exception to re-raise."""


class StoreBusyError(CwasmError):
    """The store's wasm is running on another thread (see ``Store``: one thread at a time)."""


_BUSY = (
    "the store is in use by another thread: its wasm is running there, and a store "
    "serves one thread at a time"
)

#: native stack kept free below the wasm stack limit, for host calls and trap handling
STACK_MARGIN = 256 * 1024


class Store(Closable):
    """A collection of wasm objects that may reference each other (wasmtime-py's ``Store``).

    Lifetimes: no code is unmapped and no vmctx freed while compiled code can reach it.

    * The store holds every instance, host function, table, memory and global created in
      it (``keep``) and every module instantiated in it (``modules``, which holds its
      code), until the store itself dies.
    * Every ``Func``, ``Table``, ``Memory``, ``Global`` and ``Instance`` holds its store,
      so the store lives as long as any object of it does.
    * Native addresses never cross stores: an import, a funcref written to a table or a
      global, or a call argument must belong to the same store (else ``LinkError`` or
      ``CwasmError``). So every address in a vmctx, table or global (a ``VMFuncRef``,
      its code, a memory or table definition) is owned by the same store.
    * A host function's ``VMFuncRef`` calls a wasm-to-array trampoline of a module of
      its store (``cwasm.runtime.module_registry``), an imported host function the
      importing module's.

    ``close()`` (or leaving a ``with Store() as store:`` block) ends its use: every method
    then raises ``ValueError``, as do calls into its wasm and creating objects in it. Its
    WASI files are closed then; the memory of its objects goes when Python collects them.

    Threads: wasm runs without the GIL, so other Python threads keep running meanwhile.
    A store may be used from any thread, one at a time: while wasm of the store runs on a
    thread (from the call into wasm until it returns, host functions it calls included),
    the store belongs to that thread, and from any other thread entering its wasm (a
    call, an instantiation), growing its memories or tables, setting their elements,
    ``set_limits``, ``gc`` and ``close`` raise ``CwasmError`` (``StoreBusyError``).
    What cannot disturb the running wasm stays allowed from every thread: reading and
    writing linear memory bytes (they race with the wasm like any shared memory),
    reading table elements and globals, setting globals, creating objects in the store.
    """

    def __init__(self, engine: Engine | None = None, data: Any = None) -> None:
        if engine is None:
            engine = Engine()
        elif not isinstance(engine, Engine):
            raise TypeError("expected an Engine")
        engine._check_open()
        self._closed = False  # set, so that ``_check_open`` finds it without a miss
        self.engine = engine
        self._data = data
        words = vo.STORE_SIZE // 8
        self._ctx = (ctypes.c_uint64 * words)()
        self.ctx_address = ctypes.addressof(self._ctx)
        ctx = self._ctx
        ctx[vo.STORE_SETJMP // 8] = SETJMP_ADDRESS
        ctx[vo.STORE_LONGJMP // 8] = LONGJMP_ADDRESS
        ctx[(vo.STORE_UNWIND + vo.UNWIND_CLASS) // 8] = vo.UNWIND_EXCEPTION_CLASS
        first = (vo.STORE_UNWIND + vo.UNWIND_RAISE) // 8
        ctx[first : first + vo.UNWIND_FUNCTION_COUNT] = list(UNWIND_FUNCTIONS)
        ctx[vo.STORE_STACK_SIZE // 8] = self.engine.config.max_wasm_stack
        ctx[vo.STORE_SELF // 8] = self.ctx_address
        #: how SIGINT finds this store (``interrupt.register_store``, done by its first
        #: entry into wasm: ``enter_thread``), None before
        self.interruptible: interrupt.Registration | None = None
        ctx[vo.STORE_EPOCH_PTR // 8] = engine.epoch_address
        #: fuel set but not yet handed to wasm (``STORE_FUEL_CONSUMED`` holds at most
        #: 2**63 - 1), as Wasmtime's reserve
        self._fuel_reserve = 0
        self.thread = 0
        #: calls into this store's wasm in progress (Python's count, see ``enter_thread``)
        self.entries = 0  # the first entry into wasm claims a thread: ``enter_thread``
        # the thread's stack is asked for now, as the store is made (for the main thread
        # glibc reads ``/proc/self/maps``), not in the first call: it is kept per thread
        thread_stack_bounds()
        self.pending: BaseException | None = None
        #: reference values <-> the bits compiled code keeps
        self.refs = References(ctypes.c_uint64.from_buffer(self._ctx, vo.STORE_DEPTH), self.engine)
        #: every module instantiated here, alive as long as the store (see the class)
        self.modules = ModuleRegistry()
        self._objects: list[Any] = []
        #: the WASI state ``set_wasi`` created (used by ``Linker.define_wasi``'s functions)
        self.wasi: WasiContext | None = None
        #: the ``Func`` a ``Linker`` made of each store-independent definition, for this store
        self.linker_funcs: dict[Any, Func] = {}
        #: this store's host context of each linker definition it links (by its address),
        #: the block new ones go to, and the contexts of each ``HostImports`` plan it
        #: instantiated (``cwasm.runtime.host_defs``)
        self.host_contexts: dict[Any, int] = {}
        self.host_block: Any = None
        self.host_plans: dict[Any, Any] = {}
        #: tags by identity address, and the exceptions thrown in this store
        #: (``cwasm.runtime.tag``)
        self.tags: dict[int, Tag] = {}
        self.exceptions = Exceptions(self, self._ctx)
        #: the store's GC heap (structs and arrays)
        self.gc_heap = GcHeap(self._ctx, self.engine.types)
        self.refs.externs.gc_heap = self.gc_heap
        self.gc_heap.handle_bound = self.refs.externs.handle_bound
        self.gc_heap.add_root_source(self.exceptions.words)
        self.refs.exceptions = self.exceptions
        #: the limits ``set_limits`` set, and what counts against them
        self.limits = StoreLimits()
        self.counts = ResourceCounts()

    def data(self) -> Any:
        """The data this store was created with (``Store(engine, data)``)."""
        self._check_open()
        return self._data

    # --- limits ---

    def set_limits(
        self,
        memory_size: int = -1,
        table_elements: int = -1,
        instances: int = -1,
        tables: int = -1,
        memories: int = -1,
    ) -> None:
        """Configures the limits of various items within this store.

        * ``memory_size``: the maximum size, in bytes, of each linear memory of this store.
          Creating or instantiating one with a larger minimum fails, and ``memory.grow``
          past it returns -1 (``Memory.grow`` raises).
        * ``table_elements``: the maximum number of elements of each table, alike.
        * ``instances``: the maximum number of instances this store may create.
        * ``tables``: the maximum number of tables its instances may define.
        * ``memories``: the maximum number of linear memories its instances may define.

        ``memory_size`` also bounds the store's GC heap (docs/gc.md): an allocation
        that does not fit it after a collection fails with ``GC heap out of memory``.

        A negative limit is not set. Every call replaces the previous limits: what it
        does not set is back to the default (no bound on sizes, 10,000 instances, tables
        and memories), as wasmtime-py's."""
        self._check_open()
        self.check_owner()
        values = (memory_size, table_elements, instances, tables, memories)
        if not all(isinstance(v, int) for v in values):
            raise TypeError("the limits must be ints")
        limits = StoreLimits(trap_on_grow_failure=self.limits.trap_on_grow_failure)
        if memory_size >= 0:
            limits.memory_size = memory_size
        if table_elements >= 0:
            limits.table_elements = table_elements
        if instances >= 0:
            limits.instances = instances
        if tables >= 0:
            limits.tables = tables
        if memories >= 0:
            limits.memories = memories
        self.limits = limits
        # the GC heap counts as a linear memory (Wasmtime's GC heap is one): its limit
        self.gc_heap.limit = memory_size if memory_size >= 0 else DEFAULT_LIMIT

    # --- WASI ---

    def set_wasi(self, wasi: WasiConfig) -> None:
        """Serve this store's WASI imports (``Linker.define_wasi``) as ``wasi`` describes."""
        from cwasm.runtime.wasi_link import set_wasi

        self._check_open()
        set_wasi(self, wasi)

    # --- threads ---

    def enter_thread(self) -> None:
        """Adopt the calling thread: wasm entered from it never runs past its stack's end.

        A store's first entry into wasm comes here (which also lets SIGINT find the
        store), as does every entry from another thread than the last one and every
        entry once the store is closed (``close`` forgets the thread). A call
        counts itself in ``entries`` before it compares threads, so more than its own
        entry means wasm of the store runs (or is being entered) on another thread: the
        store is busy. The test and the claim below are one run of bytecodes without a
        call, which no other Python thread can interleave with."""
        self._check_open()
        me = threading.get_ident()
        if self.entries > 1:
            raise StoreBusyError(_BUSY)
        self.thread = me
        self._ctx[vo.STORE_THREAD // 8] = me  # ``pthread_self()`` (see ``interrupt``)
        bounds = thread_stack_bounds()
        floor = 0
        if bounds is not None:
            floor = bounds[0] + STACK_MARGIN
        self._ctx[vo.STORE_STACK_FLOOR // 8] = floor
        if self.interruptible is None:  # before its first wasm runs: Ctrl-C stops it
            self.interruptible = interrupt.register_store(self._ctx)

    def check_owner(self) -> None:
        """Raise ``StoreBusyError`` if wasm of this store is running on another thread
        (see the class: what may not be done to a store meanwhile)."""
        if self.entries and self.thread != threading.get_ident():
            raise StoreBusyError(_BUSY)

    # --- fuel and epochs (see docs/fuel-and-epochs.md) ---

    def set_fuel(self, fuel: int) -> None:
        """Sets the amount of fuel in this store to ``fuel``.

        This is only relevant when ``Config.consume_fuel`` is configured; a store starts
        with zero fuel, so wasm traps right away until this is called. Raises a
        ``WasmtimeError`` if this store's configuration is not configured to consume fuel.
        """
        self._check_open()
        self._check_fuel()
        fuel = int(fuel)
        if not 0 <= fuel < 1 << 64:
            raise OverflowError("fuel must be an unsigned 64-bit integer")
        injected = min(fuel, (1 << 63) - 1)
        self._fuel_reserve = fuel - injected
        self._ctx[vo.STORE_FUEL_CONSUMED // 8] = -injected & 0xFFFF_FFFF_FFFF_FFFF

    def get_fuel(self) -> int:
        """Returns the amount of fuel left in the store.

        Raises a ``WasmtimeError`` if this store's configuration is not configured to
        consume fuel.
        """
        self._check_open()
        self._check_fuel()
        return self._fuel_left()

    def refuel(self) -> bool:
        """Hand wasm the fuel in reserve once its share ran out (``Builtin.OUT_OF_GAS``):
        False if there is none left, and wasm traps with ``OutOfFuel``."""
        fuel = self._fuel_left()
        if fuel == 0:
            return False
        self.set_fuel(fuel)
        return True

    def set_epoch_deadline(self, ticks_after_current: int) -> None:
        """Configures the relative epoch deadline, after the current engine's epoch,
        after which WebAssembly code will trap (``TrapCode.INTERRUPT``; with
        ``Config.epoch_interruption``)."""
        self._check_open()
        ticks = int(ticks_after_current)
        if not 0 <= ticks < 1 << 64:
            raise OverflowError("ticks must be an unsigned 64-bit integer")
        deadline = min(self.engine.current_epoch + ticks, (1 << 64) - 1)
        self._ctx[vo.STORE_EPOCH_DEADLINE // 8] = deadline

    def _fuel_left(self) -> int:
        consumed = self._ctx[vo.STORE_FUEL_CONSUMED // 8]
        if consumed >= 1 << 63:
            consumed -= 1 << 64
        return min(max(self._fuel_reserve - consumed, 0), (1 << 64) - 1)

    def _check_fuel(self) -> None:
        if not self.engine.consume_fuel:
            raise CwasmError("fuel is not configured in this store")

    # --- lifetime ---

    def close(self) -> None:
        """Closes this store: further use raises ``ValueError``. Closing it again does
        nothing; closing it while its wasm runs on another thread raises
        ``StoreBusyError``."""
        if not getattr(self, "_closed", False):
            self.check_owner()
        super().close()

    def keep(self, obj: Any) -> None:
        """Keep ``obj`` (created in this store) alive as long as the store."""
        self._check_open()
        self._objects.append(obj)

    def gc(self) -> None:
        """Collect the GC heap's unreachable structs and arrays (docs/gc.md), and release
        the externrefs that no table element, global or live GC object of this store
        holds (those only while no wasm of this store is running: its frames may hold
        any)."""
        self._check_open()
        self.check_owner()
        collected = bool(self.gc_heap.reserved)
        if collected:
            self.gc_heap.collect()
        self.refs.externs.collect(collect_heap=not collected)

    def _release(self) -> None:
        self.thread = 0  # no thread has this id: the next entry into wasm checks, and fails
        if self.wasi is not None:
            self.wasi.close()
            self.wasi = None

    # --- traps ---

    def raise_trap(self) -> NoReturn:
        """Raise what made the last entry trampoline return a non-zero status."""
        exc = self.pending
        ctx = self._ctx
        if not self.entries:  # no wasm frame is left: nor is any GC root area
            ctx[vo.STORE_GC_ROOTS // 8] = 0
        if exc is not None:
            self.pending = None
            # Wasmtime gives a failed WASI call (proc_exit included) the backtrace of the
            # wasm that made it (of the innermost entry only: one crossing several
            # entries keeps the first)
            if isinstance(exc, WasiCallError) and exc.args == (exc.status_text,):
                frames = resolve_frames(self._return_addresses())
                if frames:
                    exc.args = (error_chain([backtrace_text(frames), exc.status_text]),)
            raise exc
        code = ctx[vo.STORE_TRAP_CODE // 8]
        if code == vo.TRAP_KEYBOARD_INTERRUPT:  # SIGINT stopped the wasm (``interrupt``)
            raise KeyboardInterrupt
        if code == vo.TRAP_HOST_EXCEPTION and interrupt.interrupted_since_last_look():
            raise KeyboardInterrupt  # it hit a host call's entry (see ``interrupt``)
        if code == vo.TRAP_UNCAUGHT_EXCEPTION:
            raise self.exceptions.thrown(ctx[vo.STORE_EXN // 8], self._return_addresses())
        if code == vo.TRAP_HOST_EXCEPTION:
            raise HostCallError(
                "a host function or runtime routine could not run (Python reported the "
                "exception as 'ignored' on stderr, e.g. a RecursionError)"
            )
        raise Trap(code, self._return_addresses())

    def _return_addresses(self) -> tuple[int, ...]:
        """The return addresses the trap routine recorded, innermost first."""
        ctx = self._ctx
        n = min(ctx[vo.STORE_NUM_FRAMES // 8], vo.MAX_FRAMES)
        first = vo.STORE_FRAMES // 8
        return tuple(ctx[first : first + n])
