"""The runtime routines compiled code calls through the vmctx builtin slots.

memory.grow, the table operations and the bulk-memory segment operations run here
in Python (they are rare or already linear in their length); memmove and memset are
libc's. Every callback finds its instance by vmctx address, never lets an exception
escape (an unexpected one is recorded in the store and re-raised at the Python
boundary), and reports bounds failures as a non-zero status that the calling code
turns into the right trap.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from cwasm.abi.vmoffsets import NUM_BUILTINS, Builtin
from cwasm.runtime.native import MEMMOVE_ADDRESS, MEMSET_ADDRESS
from cwasm.runtime.store import instance_at

_u32 = ctypes.c_uint32
_vp = ctypes.c_void_p

# every builtin ends with ``u64 *done``: set to 1 once the call completed
_MEMORY_GROW = ctypes.CFUNCTYPE(ctypes.c_int64, _vp, _u32, _u32, _vp)
_TABLE_GROW = ctypes.CFUNCTYPE(ctypes.c_int32, _vp, _u32, _u32, ctypes.c_uint64, _vp)
_TABLE_FILL = ctypes.CFUNCTYPE(ctypes.c_int32, _vp, _u32, _u32, ctypes.c_uint64, _u32, _vp)
_SIX = ctypes.CFUNCTYPE(ctypes.c_int32, _vp, _u32, _u32, _u32, _u32, _u32, _vp)
_TWO = ctypes.CFUNCTYPE(ctypes.c_int32, _vp, _u32, _vp)


def _guard(fail: int, fn: Callable[..., int]) -> Callable[..., int]:
    def call(vmctx: int, *args: Any) -> int:
        *params, done = args
        inst = instance_at(vmctx)
        if inst is None:
            return fail
        try:
            result = fn(inst, *params)
        except BaseException as e:  # noqa: BLE001 - re-raised at the Python boundary
            inst.store.pending = e
            return fail
        ctypes.c_uint64.from_address(done).value = 1
        return result

    return call


def _memory_grow(inst: Any, memory: int, delta: int) -> int:
    return int(inst.memories[memory].grow_pages(delta))


def _table_grow(inst: Any, table: int, delta: int, init: int) -> int:
    return int(inst.tables[table].grow_raw(delta, init))


def _table_fill(inst: Any, table: int, dst: int, value: int, n: int) -> int:
    return inst.table_fill(table, dst, value, n)


def _table_copy(inst: Any, dst_t: int, src_t: int, dst: int, src: int, n: int) -> int:
    return inst.table_copy(dst_t, src_t, dst, src, n)


def _table_init(inst: Any, table: int, elem: int, dst: int, src: int, n: int) -> int:
    return inst.table_init(table, elem, dst, src, n)


def _elem_drop(inst: Any, elem: int) -> int:
    inst.elem_drop(elem)
    return 0


def _memory_init(inst: Any, memory: int, data: int, dst: int, src: int, n: int) -> int:
    return inst.memory_init(memory, data, dst, src, n)


def _data_drop(inst: Any, data: int) -> int:
    inst.data_drop(data)
    return 0


_CALLBACKS: dict[Builtin, Any] = {
    Builtin.MEMORY_GROW: _MEMORY_GROW(_guard(-1, _memory_grow)),
    Builtin.TABLE_GROW: _TABLE_GROW(_guard(-1, _table_grow)),
    Builtin.TABLE_FILL: _TABLE_FILL(_guard(1, _table_fill)),
    Builtin.TABLE_COPY: _SIX(_guard(1, _table_copy)),
    Builtin.TABLE_INIT: _SIX(_guard(1, _table_init)),
    Builtin.ELEM_DROP: _TWO(_guard(1, _elem_drop)),
    Builtin.MEMORY_INIT: _SIX(_guard(1, _memory_init)),
    Builtin.DATA_DROP: _TWO(_guard(1, _data_drop)),
}

#: the value of every builtin slot, in slot order
BUILTIN_ADDRESSES: tuple[int, ...] = tuple(
    MEMMOVE_ADDRESS
    if i == Builtin.MEMMOVE
    else MEMSET_ADDRESS
    if i == Builtin.MEMSET
    else (ctypes.cast(_CALLBACKS[Builtin(i)], ctypes.c_void_p).value or 0)
    if i in set(Builtin) and Builtin(i) in _CALLBACKS
    else 0
    for i in range(NUM_BUILTINS)
)
