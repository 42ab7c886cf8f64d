"""The runtime routines (builtins) compiled code calls through the vmctx: one table.

Each ``Builtin`` member states, once, its vmctx slot (``VMOffsets.builtin``), its
result type and its parameters, in a small type vocabulary (``TYPES``). From that
entry come both sides of the call:

* the compiler's LLVM IR (``ir_type``, ``ir_call``): a builtin is called indirectly,
  through the pointer loaded from its slot;
* the runtime's ctypes prototype (``ctypes_prototype``) of the Python implementation.

Routines implemented in Python take the caller's vmctx first and end with ``done``, a
``u64 *`` completion flag the routine sets to 1 as its last act: if ctypes could not
run the Python code at all it returns garbage, the flag stays 0, and the compiled code
traps out instead of using that result. memmove and memset are libc's and take
neither. No builtin unwinds native frames.

Adding a routine: one member here, its implementation in ``cwasm.runtime.builtins``,
and the translation that calls it (``FunctionTranslator.call_python_builtin``).
"""

from __future__ import annotations

import ctypes
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class AbiType:
    """One type of the vocabulary: its LLVM IR type and its ctypes type."""

    ir: str
    ctype: Any  # a ctypes simple type


#: the type vocabulary of builtin signatures
TYPES: Final[dict[str, AbiType]] = {
    # the caller's instance vmctx
    "vmctx": AbiType("ptr", ctypes.c_void_p),
    # the completion flag ``u64 *`` of routines implemented in Python
    "done": AbiType("ptr", ctypes.c_void_p),
    # a native pointer
    "ptr": AbiType("ptr", ctypes.c_void_p),
    # a reference (funcref address, 0 for null), received as an integer
    "ref": AbiType("ptr", ctypes.c_uint64),
    "i32": AbiType("i32", ctypes.c_int32),
    "u32": AbiType("i32", ctypes.c_uint32),
    "i64": AbiType("i64", ctypes.c_int64),
    "u64": AbiType("i64", ctypes.c_uint64),
}

#: builtin slots the vmctx reserves (``VMOffsets.type_ids`` follows them)
NUM_BUILTIN_SLOTS: Final = 20


@dataclass(frozen=True, slots=True)
class Signature:
    """A call across the seam: ``result (param, ...)``, each param ``type [name]``."""

    result: str
    params: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Signature:
        """``Signature.parse("i32 (vmctx, u32 elem, done)")``."""
        result, _, rest = text.partition(" (")
        params = tuple(p.strip() for p in rest.removesuffix(")").split(","))
        if result not in TYPES or any(p.split()[0] not in TYPES for p in params):
            raise ValueError(f"a type of {text!r} is not in the vocabulary")
        return cls(result, params)

    @property
    def param_types(self) -> tuple[str, ...]:
        return tuple(p.split()[0] for p in self.params)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.split()[-1] for p in self.params)

    @property
    def text(self) -> str:
        """The signature as written, e.g. ``i32 (vmctx, u32 elem, done)``."""
        return f"{self.result} ({', '.join(self.params)})"

    # --- the compiler's side ---

    @property
    def ir_type(self) -> str:
        """The LLVM IR function type, e.g. ``i32 (ptr, i32, ptr)``."""
        params = ", ".join(TYPES[t].ir for t in self.param_types)
        return f"{TYPES[self.result].ir} ({params})"

    def ir_params(self, names: Sequence[str]) -> str:
        """The parameter list of a ``define`` with these IR names, e.g. ``ptr %vmctx, ptr %v``."""
        return self._ir_operands(names)

    def ir_call(self, callee: str, operands: Sequence[str]) -> str:
        """The IR ``call`` of ``callee`` with one operand per parameter, e.g.
        ``call i32 %7(ptr %vmctx, i32 3, ptr %done)``."""
        return f"call {TYPES[self.result].ir} {callee}({self._ir_operands(operands)})"

    def _ir_operands(self, operands: Sequence[str]) -> str:
        if len(operands) != len(self.params):
            raise ValueError(f"{self.text} takes {len(self.params)} operands, not {len(operands)}")
        return ", ".join(
            f"{TYPES[t].ir} {v}" for t, v in zip(self.param_types, operands, strict=True)
        )

    # --- the runtime's side ---

    @property
    def ctypes_result(self) -> Any:
        return TYPES[self.result].ctype

    def ctypes_prototype(self) -> Any:
        """The ``ctypes.CFUNCTYPE`` of a routine with this signature (ctypes caches it)."""
        return ctypes.CFUNCTYPE(self.ctypes_result, *(TYPES[t].ctype for t in self.param_types))


#: slot -> signature, filled as the members are made
_SIGNATURES: dict[int, Signature] = {}


class Builtin(enum.IntEnum):
    """A runtime routine: ``NAME = slot, "result (param, ...)"``, each param ``type [name]``."""

    def __new__(cls, slot: int, signature: str) -> Builtin:
        obj = int.__new__(cls, slot)
        obj._value_ = slot
        _SIGNATURES[slot] = Signature.parse(signature)
        return obj

    #: old size in pages, or -1
    MEMORY_GROW = 0, "i64 (vmctx, u32 memory, u32 delta_pages, done)"
    #: old size, or -1
    TABLE_GROW = 1, "i32 (vmctx, u32 table, u32 delta, ref init, done)"
    #: 0, or non-zero when out of bounds
    TABLE_FILL = 2, "i32 (vmctx, u32 table, u32 dst, ref value, u32 len, done)"
    #: 0, or non-zero when out of bounds
    TABLE_COPY = 3, "i32 (vmctx, u32 dst_table, u32 src_table, u32 dst, u32 src, u32 len, done)"
    #: 0, or non-zero when out of bounds
    TABLE_INIT = 4, "i32 (vmctx, u32 table, u32 elem, u32 dst, u32 src, u32 len, done)"
    #: 0 (the call cannot fail)
    ELEM_DROP = 5, "i32 (vmctx, u32 elem, done)"
    #: 0, or non-zero when out of bounds
    MEMORY_INIT = 6, "i32 (vmctx, u32 memory, u32 data, u32 dst, u32 src, u32 len, done)"
    #: 0 (the call cannot fail)
    DATA_DROP = 7, "i32 (vmctx, u32 data, done)"
    #: libc ``memmove``: dst
    MEMMOVE = 8, "ptr (ptr dst, ptr src, u64 n)"
    #: libc ``memset``: dst
    MEMSET = 9, "ptr (ptr dst, i32 byte, u64 n)"
    #: fuel ran out (``STORE_FUEL_CONSUMED`` >= 0): 0 after refuelling from the store's
    #: reserve, non-zero when none is left (the calling code traps with ``OutOfFuel``)
    OUT_OF_GAS = 10, "i32 (vmctx, done)"
    #: ``memory.atomic.notify`` on a shared memory (``addr`` checked): the number of
    #: waiters woken
    MEMORY_ATOMIC_NOTIFY = 11, "u32 (vmctx, u32 memory, u64 addr, u32 count, done)"
    #: ``memory.atomic.wait32`` on a shared memory (``addr`` checked; ``timeout`` in ns,
    #: negative: none): 0 woken, 1 not equal to ``expected``, 2 timed out
    MEMORY_ATOMIC_WAIT32 = 12, "u32 (vmctx, u32 memory, u64 addr, u32 expected, i64 timeout, done)"
    #: ``memory.atomic.wait64``: as ``MEMORY_ATOMIC_WAIT32`` with an i64 ``expected``
    MEMORY_ATOMIC_WAIT64 = 13, "u32 (vmctx, u32 memory, u64 addr, u64 expected, i64 timeout, done)"
    #: ``memory.init`` of a 64-bit memory (memory64: an i64 ``dst``): as ``MEMORY_INIT``
    MEMORY_INIT64 = 14, "i32 (vmctx, u32 memory, u32 data, u64 dst, u32 src, u32 len, done)"
    #: a new exception of tag ``tag`` (its payload slots for the caller to fill) in a new
    #: chunk of the store's exception arena, when the current one is full: its address
    EXN_NEW = 15, "ptr (vmctx, u32 tag, done)"
    #: GC's declared subtyping of engine type ids (``call_indirect`` of a non-final type,
    #: when the callee's id is not the expected one): 1 when ``sub`` is ``sup`` or
    #: declares it among its supertypes, else 0
    TYPE_IS_SUBTYPE = 16, "i32 (vmctx, u32 sub, u32 sup, done)"
    #: a new object of ``size`` bytes (a multiple of 8) of the module's type
    #: ``type_index``, its header written and the rest zeroed, when the store's current
    #: free run cannot hold it (``STORE_GC_NEXT``/``END``): its address, or 0 when the
    #: heap cannot hold it (the calling code traps)
    GC_ALLOC = 17, "ptr (vmctx, u32 type_index, u64 size, done)"
    #: ``array.new_data`` / ``array.init_data``: copy ``size`` bytes of data segment
    #: ``data`` from ``src`` to ``dst`` (an array's elements): 0, or non-zero when the
    #: segment is too short (the calling code traps with ``MemoryOutOfBounds``)
    ARRAY_INIT_DATA = 18, "i32 (vmctx, u32 data, ptr dst, u32 src, u64 size, done)"
    #: ``array.new_elem`` / ``array.init_elem``: copy ``len`` references of element
    #: segment ``elem`` from ``src`` to the words at ``dst``: 0, or non-zero when the
    #: segment is too short (the calling code traps with ``TableOutOfBounds``)
    ARRAY_INIT_ELEM = 19, "i32 (vmctx, u32 elem, ptr dst, u32 src, u32 len, done)"

    @property
    def sig(self) -> Signature:
        """The routine's entry in the table."""
        return _SIGNATURES[self]

    @property
    def result(self) -> str:
        """The result's type."""
        return self.sig.result

    @property
    def params(self) -> tuple[str, ...]:
        """The parameters, each ``type`` or ``type name``."""
        return self.sig.params

    @property
    def param_types(self) -> tuple[str, ...]:
        return self.sig.param_types

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.sig.param_names

    @property
    def in_python(self) -> bool:
        """Implemented in Python: vmctx first, the ``done`` flag last."""
        return self.param_types[-1] == "done"

    @property
    def signature(self) -> str:
        """The entry as text, e.g. ``i32 (vmctx, u32 elem, done)``."""
        return self.sig.text

    @property
    def ir_type(self) -> str:
        """The LLVM IR function type, e.g. ``i32 (ptr, i32, ptr)``."""
        return self.sig.ir_type

    def ir_call(self, callee: str, operands: Sequence[str]) -> str:
        """The IR ``call`` of ``callee`` (the pointer loaded from the slot) with one
        operand per parameter, e.g. ``call i32 %7(ptr %vmctx, i32 3, ptr %done)``."""
        if len(operands) != len(self.params):
            raise ValueError(f"{self.name} takes {len(self.params)} operands, not {len(operands)}")
        return self.sig.ir_call(callee, operands)

    def ctypes_prototype(self) -> Any:
        """The ``ctypes.CFUNCTYPE`` of the routine (ctypes caches it)."""
        return self.sig.ctypes_prototype()


# --- the other two calls across the seam: into wasm, and from wasm to a host function ---

#: the entry trampoline (``array_to_wasm``, a ``VMFuncRef``'s ``array_call``): the callee's
#: vmctx and the 16-byte value slots (arguments in, results out); 0, or 1 after a trap
ENTRY_TRAMPOLINE: Final = Signature.parse("i32 (vmctx callee, ptr values)")

#: the callback a host function context holds (``HOSTCTX_CALLBACK``), called by the
#: wasm-to-array trampoline: the host context, the caller's vmctx, the value slots and
#: their count; it sets the completion flag after the slots as its last act
HOST_CALLBACK: Final = Signature.parse("i32 (ptr hostctx, vmctx caller, ptr values, u64 count)")


assert all(0 <= b < NUM_BUILTIN_SLOTS for b in Builtin)
