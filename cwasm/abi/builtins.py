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
NUM_BUILTIN_SLOTS: Final = 16


#: slot -> (result, params), filled as the members are made
_SIGNATURES: dict[int, tuple[str, tuple[str, ...]]] = {}


class Builtin(enum.IntEnum):
    """A runtime routine: ``NAME = slot, "result (param, ...)"``, each param ``type [name]``."""

    def __new__(cls, slot: int, signature: str) -> Builtin:
        obj = int.__new__(cls, slot)
        obj._value_ = slot
        result, _, rest = signature.partition(" (")
        _SIGNATURES[slot] = (result, tuple(p.strip() for p in rest.removesuffix(")").split(",")))
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

    # --- the table, read ---

    @property
    def result(self) -> str:
        """The result's type."""
        return _SIGNATURES[self][0]

    @property
    def params(self) -> tuple[str, ...]:
        """The parameters, each ``type`` or ``type name``."""
        return _SIGNATURES[self][1]

    @property
    def param_types(self) -> tuple[str, ...]:
        return tuple(p.split()[0] for p in self.params)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.split()[-1] for p in self.params)

    @property
    def in_python(self) -> bool:
        """Implemented in Python: vmctx first, the ``done`` flag last."""
        return self.param_types[-1] == "done"

    @property
    def signature(self) -> str:
        """The entry as text, e.g. ``i32 (vmctx, u32 elem, done)``."""
        return f"{self.result} ({', '.join(self.params)})"

    # --- the compiler's side ---

    @property
    def ir_type(self) -> str:
        """The LLVM IR function type, e.g. ``i32 (ptr, i32, ptr)``."""
        params = ", ".join(TYPES[t].ir for t in self.param_types)
        return f"{TYPES[self.result].ir} ({params})"

    def ir_call(self, callee: str, operands: Sequence[str]) -> str:
        """The IR ``call`` of ``callee`` (the pointer loaded from the slot) with one
        operand per parameter, e.g. ``call i32 %7(ptr %vmctx, i32 3, ptr %done)``."""
        if len(operands) != len(self.params):
            raise ValueError(f"{self.name} takes {len(self.params)} operands, not {len(operands)}")
        args = ", ".join(
            f"{TYPES[t].ir} {v}" for t, v in zip(self.param_types, operands, strict=True)
        )
        return f"call {TYPES[self.result].ir} {callee}({args})"

    # --- the runtime's side ---

    def ctypes_prototype(self) -> Any:
        """The ``ctypes.CFUNCTYPE`` of the routine (ctypes caches it)."""
        return ctypes.CFUNCTYPE(
            TYPES[self.result].ctype, *(TYPES[t].ctype for t in self.param_types)
        )


assert all(0 <= b < NUM_BUILTIN_SLOTS for b in Builtin)
