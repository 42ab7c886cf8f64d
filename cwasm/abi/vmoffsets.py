"""VMOffsets: the one byte layout of the vmctx and its companion records.

The compiler (which bakes these offsets into native code) and the runtime (which
allocates and fills the blocks) both import this module, so it is pure Python: no
llvmlite.

Three kinds of blocks exist at run time, all made of little 8-byte fields:

* the **store context** (one per ``Store``): stack limit, the current trap jump
  buffer, trap state, the backtrace buffer, the ``_setjmp``/``longjmp``
  pointers, and the fuel counter, epoch deadline and epoch counter pointer;
* the **instance vmctx** (one per instance): a header, builtin pointers (one slot
  per ``cwasm.abi.builtins.Builtin``), the module's engine type ids, imported and
  defined tables, memories and globals, and one ``VMFuncRef`` per function index;
* the **host function context**: the header of a vmctx (magic and store context
  at the same offsets, so the trap routine can use either) plus the callback.

A ``VMFuncRef`` is the runtime form of a funcref: ``{wasm_call, vmctx,
array_call, type_id}``. Calling ``wasm_call(vmctx, caller_vmctx, params...)``
runs the function; ``type_id`` is the engine-wide id of its signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from cwasm.abi.builtins import NUM_BUILTIN_SLOTS, Builtin
from cwasm.wasm.module import ModuleRecord

POINTER_SIZE: Final = 8

#: ``vmctx[0]`` of an instance ("core" in little-endian ASCII).
VMCTX_MAGIC: Final = 0x65726F63
#: ``hostctx[0]`` of a host function context ("host").
HOSTCTX_MAGIC: Final = 0x74736F68

# --- header shared by the instance vmctx and the host function context ---
#: u32 magic
CTX_MAGIC: Final = 0
#: pointer to the store context
CTX_STORE: Final = 8

# --- host function context ---
#: the ctypes callback: ``i32 (hostctx, caller_vmctx, values, count)``; non-zero
#: means the Python function raised and the exception was recorded
HOSTCTX_CALLBACK: Final = 16
#: the runtime's own word, which compiled code never reads: the object that runs the
#: host function (a borrowed reference: the ``Func`` that owns the context, or the block
#: of a store's linker host contexts), found by the one callback all host functions share
HOSTCTX_FUNC: Final = 24
HOSTCTX_SIZE: Final = 32

# --- store context (one per Store) ---
#: lowest frame address wasm may use; checked in every function prologue
STORE_STACK_LIMIT: Final = 0
#: the innermost entry trampoline's jump buffer
STORE_JMP_BUF: Final = 8
#: frame address of the innermost entry trampoline (where backtraces stop)
STORE_ENTRY_FP: Final = 16
#: number of entry trampolines currently active (wasm → host → wasm nests)
STORE_DEPTH: Final = 24
#: trap code recorded by the trap routine
STORE_TRAP_CODE: Final = 32
#: number of return addresses recorded in ``STORE_FRAMES``
STORE_NUM_FRAMES: Final = 40
#: ``_setjmp`` address
STORE_SETJMP: Final = 48
#: ``longjmp`` address
STORE_LONGJMP: Final = 56
#: how many bytes of native stack wasm may use below the outermost entry
STORE_STACK_SIZE: Final = 64
#: the stack limit is never set below this address (the thread's stack end + a margin)
STORE_STACK_FLOOR: Final = 72
#: fuel, as Wasmtime keeps it: an i64 that counts *up* towards 0, minus the fuel left
#: (``-remaining``); code compiled with ``consume_fuel`` adds each instruction's cost and
#: calls ``Builtin.OUT_OF_GAS`` once it is >= 0
STORE_FUEL_CONSUMED: Final = 80
#: u64 epoch at which code compiled with ``epoch_interruption`` traps (``Trap.Interrupt``)
STORE_EPOCH_DEADLINE: Final = 88
#: pointer to the engine's u64 epoch counter (``Engine.increment_epoch``), read by that code
STORE_EPOCH_PTR: Final = 96
#: the context's own address: ``ctx + STORE_SELF - CTX_STORE`` reads as a vmctx of the
#: store, which is how the SIGINT handler hands the store to its trap routine
STORE_SELF: Final = 112
#: ``pthread_self()`` of the thread the store last entered wasm from (``Store.enter_thread``)
STORE_THREAD: Final = 120
#: (104: unused; it held the chain of setjmp handler records before the unwinder
#: carried exceptions)
#: the exception (an ``EXN_*`` block) being thrown: the landing pad that catches it
#: reads it here; one that left wasm uncaught stays (``TRAP_UNCAUGHT_EXCEPTION``)
STORE_EXN: Final = 128
#: the store's exception arena: where the next exception block goes, and its end
#: (compiled code allocates by bumping the cursor; ``EXN_NEW`` starts a new arena chunk)
STORE_EXN_ARENA: Final = 136
STORE_EXN_ARENA_END: Final = 144
#: return addresses, innermost first: the first one is the trap site's
STORE_FRAMES: Final = 152
#: capacity of the backtrace buffer
MAX_FRAMES: Final = 1024
#: the store's GC heap (docs/gc.md): where compiled code bumps the next object from, and
#: the end of that free run (``Builtin.GC_ALLOC`` finds the next run when it is used up)
STORE_GC_NEXT: Final = STORE_FRAMES + MAX_FRAMES * 8
STORE_GC_END: Final = STORE_GC_NEXT + 8
#: the innermost wasm frame's root area (the chain the collector walks), null at an
#: entry trampoline
STORE_GC_ROOTS: Final = STORE_GC_END + 8
#: the unwind record (``UNWIND_*``), 16-byte aligned: what the throw routine hands the
#: system unwinder, and what the personality routine finds the unwinder's context
#: accessors in (docs/exceptions.md)
STORE_UNWIND: Final = (STORE_GC_ROOTS + 8 + 15) // 16 * 16
STORE_SIZE: Final = STORE_UNWIND + 96

#: size of the jump buffer each entry trampoline reserves (glibc x86_64 needs 200,
#: aarch64 312)
JMP_BUF_SIZE: Final = 512

#: Trap code recorded when a host function raised (not a Wasmtime code: the
#: runtime re-raises the recorded exception instead of building a ``Trap``).
TRAP_HOST_EXCEPTION: Final = 0xFE
#: Trap code recorded when SIGINT stopped wasm (not a Wasmtime code either: the runtime
#: raises ``KeyboardInterrupt``; see ``cwasm.runtime.interrupt``).
TRAP_KEYBOARD_INTERRUPT: Final = 0xFD

#: what a host callback leaves in its completion flag when the host function raised the
#: ``ThrownException`` of a wasm exception of the store (at ``STORE_EXN``): the
#: wasm-to-array trampoline throws that exception on into the calling wasm
HOST_RETHROW: Final = 2
#: Trap code recorded when a wasm exception reached an entry trampoline uncaught (not a
#: Wasmtime trap code: the runtime raises ``ThrownException``; docs/exceptions.md).
TRAP_UNCAUGHT_EXCEPTION: Final = 0xFC

# --- exception handling (docs/exceptions.md) ---
#: the unwind record at ``STORE_UNWIND``: first the unwinder's ``_Unwind_Exception``
#: header (its exception class, a cleanup routine (none), two words the unwinder owns),
#: then the addresses of the libgcc routines compiled code calls, in the order of
#: ``cwasm.runtime.unwind.UNWIND_FUNCTIONS``
UNWIND_CLASS: Final = 0
UNWIND_CLEANUP: Final = 8
UNWIND_RAISE: Final = 32
UNWIND_GET_IP: Final = 40
UNWIND_GET_LSDA: Final = 48
UNWIND_GET_REGION_START: Final = 56
UNWIND_SET_GR: Final = 64
UNWIND_SET_IP: Final = 72
UNWIND_FUNCTION_COUNT: Final = 6
#: the exception class of cwasm's wasm exceptions ("CWSMWASM" as a little-endian u64):
#: the personality routine leaves every other exception alone
UNWIND_EXCEPTION_CLASS: Final = int.from_bytes(b"CWSMWASM", "little")
#: an exception (an ``exnref`` is its address): its tag's identity, its size in bytes
#: (``EXN_ESCAPED`` set once an ``exnref`` to it exists), then the payload in value
#: slots (``VALUE_SLOT_SIZE`` each)
EXN_TAG: Final = 0
EXN_SIZE: Final = 8
EXN_VALUES: Final = 16
#: the bit of ``EXN_SIZE`` that says an ``exnref`` to the exception was handed out (so
#: it is never reclaimed before its store goes)
EXN_ESCAPED: Final = 1 << 63
#: bytes of a tag's identity block (a tag is the address of one; the block holds the
#: engine type id of its function type)
TAG_SIZE: Final = 16

#: bytes per value in the array-call values buffer (a u64x2 slot, room for v128)
VALUE_SLOT_SIZE: Final = 16

# --- VMFuncRef ---
FUNCREF_WASM_CALL: Final = 0
FUNCREF_VMCTX: Final = 8
FUNCREF_ARRAY_CALL: Final = 16
FUNCREF_TYPE_ID: Final = 24
FUNCREF_SIZE: Final = 32

# --- VMMemoryDefinition / VMTableDefinition ---
#: base address of the linear memory / of the table's 8-byte elements
DEF_BASE: Final = 0
#: current length: bytes for a memory, elements for a table
DEF_LENGTH: Final = 8
DEF_SIZE: Final = 16

#: bytes of one global's storage (room for v128)
GLOBAL_SIZE: Final = 16


#: offset of the builtin slots (``cwasm.abi.builtins``), one pointer per ``Builtin``
VMCTX_BUILTINS: Final = 16


def _align(n: int, a: int) -> int:
    return (n + a - 1) & -a


@dataclass(frozen=True, slots=True)
class VMOffsets:
    """Offsets of every field of one module's instance vmctx.

    Regions, in order after the header and builtins: engine type ids (u32 per
    module type index), imported table / memory / global pointers, defined table
    and memory definitions, defined globals (16 bytes each, 16-aligned), and one
    ``VMFuncRef`` per function index (imports first), then one pointer per tag index
    (the tag's identity, imports first).
    """

    num_types: int
    num_imported_tables: int
    num_imported_memories: int
    num_imported_globals: int
    num_defined_tables: int
    num_defined_memories: int
    num_defined_globals: int
    num_funcs: int
    num_tags: int = 0

    @classmethod
    def for_module(cls, m: ModuleRecord) -> VMOffsets:
        """The layout of ``m``'s vmctx (the compiler's translation and the runtime's
        artifact carry the same record, so both get the same offsets)."""
        return cls(
            num_types=len(m.types),
            num_imported_tables=m.num_imported_tables,
            num_imported_memories=m.num_imported_memories,
            num_imported_globals=m.num_imported_globals,
            num_defined_tables=m.num_defined_tables,
            num_defined_memories=m.num_defined_memories,
            num_defined_globals=m.num_defined_globals,
            num_funcs=len(m.functions),
            num_tags=len(m.tags),
        )

    # region offsets, derived from the counts once (``__post_init__``): every funcref
    # address and field access reads them
    type_ids: int = field(init=False, repr=False, compare=False)
    imported_tables: int = field(init=False, repr=False, compare=False)
    imported_memories: int = field(init=False, repr=False, compare=False)
    imported_globals: int = field(init=False, repr=False, compare=False)
    defined_tables: int = field(init=False, repr=False, compare=False)
    defined_memories: int = field(init=False, repr=False, compare=False)
    defined_globals: int = field(init=False, repr=False, compare=False)
    func_refs: int = field(init=False, repr=False, compare=False)
    tags: int = field(init=False, repr=False, compare=False)
    size: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        put = object.__setattr__  # the dataclass is frozen
        type_ids = VMCTX_BUILTINS + NUM_BUILTIN_SLOTS * POINTER_SIZE
        imported_tables = _align(type_ids + 4 * self.num_types, 8)
        imported_memories = imported_tables + 8 * self.num_imported_tables
        imported_globals = imported_memories + 8 * self.num_imported_memories
        defined_tables = _align(imported_globals + 8 * self.num_imported_globals, 16)
        defined_memories = defined_tables + DEF_SIZE * self.num_defined_tables
        defined_globals = defined_memories + DEF_SIZE * self.num_defined_memories
        func_refs = defined_globals + GLOBAL_SIZE * self.num_defined_globals
        put(self, "type_ids", type_ids)
        put(self, "imported_tables", imported_tables)
        put(self, "imported_memories", imported_memories)
        put(self, "imported_globals", imported_globals)
        put(self, "defined_tables", defined_tables)
        put(self, "defined_memories", defined_memories)
        put(self, "defined_globals", defined_globals)
        put(self, "func_refs", func_refs)
        tags = func_refs + FUNCREF_SIZE * self.num_funcs
        put(self, "tags", tags)
        put(self, "size", tags + POINTER_SIZE * self.num_tags)

    @property
    def builtins(self) -> int:
        return VMCTX_BUILTINS

    # --- one field ---

    def builtin(self, b: Builtin) -> int:
        return VMCTX_BUILTINS + POINTER_SIZE * int(b)

    def type_id(self, type_index: int) -> int:
        return self.type_ids + 4 * type_index

    def imported_table(self, index: int) -> int:
        return self.imported_tables + 8 * index

    def imported_memory(self, index: int) -> int:
        return self.imported_memories + 8 * index

    def imported_global(self, index: int) -> int:
        return self.imported_globals + 8 * index

    def defined_table(self, defined_index: int) -> int:
        return self.defined_tables + DEF_SIZE * defined_index

    def defined_memory(self, defined_index: int) -> int:
        return self.defined_memories + DEF_SIZE * defined_index

    def defined_global(self, defined_index: int) -> int:
        return self.defined_globals + GLOBAL_SIZE * defined_index

    def func_ref(self, func_index: int) -> int:
        return self.func_refs + FUNCREF_SIZE * func_index

    def tag(self, tag_index: int) -> int:
        """The slot holding tag ``tag_index``'s identity (imported or defined)."""
        return self.tags + POINTER_SIZE * tag_index
