"""The threads proposal's instructions (0xFE): atomic accesses, wait/notify, fence."""

from __future__ import annotations

from typing import Final

from cwasm.wasm.ops.info import (
    FB_BASE,
    FE_BASE,
    I32,
    I64,
    IMM_ATOMIC_FENCE,
    IMM_ATOMIC_MEMARG,
    OPERATORS,
)
from cwasm.wasm.ops.info import define as _def

# --- threads (0xFE): atomic memory accesses, wait/notify, fence ---
_A = FE_BASE
_def(_A + 0x00, "memory.atomic.notify", IMM_ATOMIC_MEMARG, (I32, I32), (I32,), 2)
_def(_A + 0x01, "memory.atomic.wait32", IMM_ATOMIC_MEMARG, (I32, I32, I64), (I32,), 2)
_def(_A + 0x02, "memory.atomic.wait64", IMM_ATOMIC_MEMARG, (I32, I64, I64), (I32,), 3)
_def(_A + 0x03, "atomic.fence", IMM_ATOMIC_FENCE, (), ())
#: the access widths of each run of seven atomic loads, stores and RMW operators:
#: (value type, access size log2, width suffix)
_ATOMIC_WIDTHS: Final = (
    (I32, 2, ""),
    (I64, 3, ""),
    (I32, 0, "8"),
    (I32, 1, "16"),
    (I64, 0, "8"),
    (I64, 1, "16"),
    (I64, 2, "32"),
)
_TYPE_NAMES: Final = {I32: "i32", I64: "i64"}
for _k, (_ty, _align, _w) in enumerate(_ATOMIC_WIDTHS):
    _t = _TYPE_NAMES[_ty]
    _u = "_u" if _w else ""
    _def(_A + 0x10 + _k, f"{_t}.atomic.load{_w}{_u}", IMM_ATOMIC_MEMARG, (I32,), (_ty,), _align)
    _def(_A + 0x17 + _k, f"{_t}.atomic.store{_w}", IMM_ATOMIC_MEMARG, (I32, _ty), (), _align)
    for _g, _op in enumerate(("add", "sub", "and", "or", "xor", "xchg")):
        _name = f"{_t}.atomic.rmw{_w}.{_op}{_u}"
        _def(_A + 0x1E + 7 * _g + _k, _name, IMM_ATOMIC_MEMARG, (I32, _ty), (_ty,), _align)
    _name = f"{_t}.atomic.rmw{_w}.cmpxchg{_u}"
    _def(_A + 0x48 + _k, _name, IMM_ATOMIC_MEMARG, (I32, _ty, _ty), (_ty,), _align)
#: the opcode ids of the threads proposal's instructions
ATOMIC_OPS: frozenset[int] = frozenset(
    c for c in range(FE_BASE, FB_BASE) if OPERATORS[c] is not None
)
