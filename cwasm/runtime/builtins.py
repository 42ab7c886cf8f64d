"""The implementations of the runtime routines compiled code calls through the vmctx
builtin slots; their signatures are ``cwasm.abi.builtins.Builtin``'s.

memory.grow, the table operations, the bulk-memory segment operations and atomic
wait/notify (``parking``) run here in Python (they are rare or already linear in their length); memmove and memset are
libc's. Every callback finds its instance by vmctx address (in the process-wide
``registry.INSTANCES``: the callbacks are shared by all instances), never lets an
exception escape (an unexpected one is recorded in the store and re-raised at the
Python boundary), and reports bounds failures as a non-zero status that the calling
code turns into the right trap.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from cwasm.abi.builtins import NUM_BUILTIN_SLOTS, Builtin
from cwasm.runtime import parking
from cwasm.runtime.native import MEMMOVE_ADDRESS, MEMSET_ADDRESS
from cwasm.runtime.registry import INSTANCES


def _guard(fail: int, fn: Callable[..., int]) -> Callable[..., int]:
    """The callback for ``fn(instance, *params)``: ``(vmctx, *params, done)``, setting
    ``*done`` once ``fn`` returned, or returning ``fail`` without it."""
    instance_at = INSTANCES.at

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
    mem = inst.memories[memory]
    if mem.wasm_type.shared:  # any store's: Wasmtime asks the growing store's limiter
        return int(mem.grow_pages(delta, inst.store.limits))
    return int(mem.grow_pages(delta))


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


def _memory_init64(inst: Any, memory: int, data: int, dst: int, src: int, n: int) -> int:
    return inst.memory_init(memory, data, dst, src, n)  # (a 64-bit memory's i64 dst)


def _data_drop(inst: Any, data: int) -> int:
    inst.data_drop(data)
    return 0


def _out_of_gas(inst: Any) -> int:
    return 0 if inst.store.refuel() else 1


def _memory_atomic_notify(inst: Any, memory: int, addr: int, count: int) -> int:
    return parking.notify(inst.memories[memory].base + addr, count)


def _memory_atomic_wait32(inst: Any, memory: int, addr: int, expected: int, timeout: int) -> int:
    return parking.wait(inst.memories[memory].base + addr, expected, 4, timeout)


def _memory_atomic_wait64(inst: Any, memory: int, addr: int, expected: int, timeout: int) -> int:
    return parking.wait(inst.memories[memory].base + addr, expected, 8, timeout)


def _exn_new(inst: Any, tag: int) -> int:
    return inst.exn_new(tag)


def _gc_alloc(inst: Any, type_index: int, size: int) -> int:
    return inst.gc_alloc(type_index, size)


def _array_init_data(inst: Any, data: int, dst: int | None, src: int, size: int) -> int:
    return inst.array_init_data(data, dst or 0, src, size)


def _array_init_elem(inst: Any, elem: int, dst: int | None, src: int, n: int) -> int:
    return inst.array_init_elem(elem, dst or 0, src, n)


def _type_is_subtype(inst: Any, sub: int, sup: int) -> int:
    return int(inst.store.engine.types.is_subtype(sub, sup))


#: every routine implemented in Python: (the result reported on failure, the function
#: of the instance and the parameters between vmctx and done)
PYTHON_BUILTINS: dict[Builtin, tuple[int, Callable[..., int]]] = {
    Builtin.MEMORY_GROW: (-1, _memory_grow),
    Builtin.TABLE_GROW: (-1, _table_grow),
    Builtin.TABLE_FILL: (1, _table_fill),
    Builtin.TABLE_COPY: (1, _table_copy),
    Builtin.TABLE_INIT: (1, _table_init),
    Builtin.ELEM_DROP: (1, _elem_drop),
    Builtin.MEMORY_INIT: (1, _memory_init),
    Builtin.MEMORY_INIT64: (1, _memory_init64),
    Builtin.DATA_DROP: (1, _data_drop),
    Builtin.EXN_NEW: (0, _exn_new),
    Builtin.TYPE_IS_SUBTYPE: (0, _type_is_subtype),
    Builtin.GC_ALLOC: (0, _gc_alloc),
    Builtin.ARRAY_INIT_DATA: (1, _array_init_data),
    Builtin.ARRAY_INIT_ELEM: (1, _array_init_elem),
    Builtin.OUT_OF_GAS: (1, _out_of_gas),
    Builtin.MEMORY_ATOMIC_NOTIFY: (0, _memory_atomic_notify),
    Builtin.MEMORY_ATOMIC_WAIT32: (0, _memory_atomic_wait32),
    Builtin.MEMORY_ATOMIC_WAIT64: (0, _memory_atomic_wait64),
}

#: every routine libc implements: its address
NATIVE_BUILTINS: dict[Builtin, int] = {
    Builtin.MEMMOVE: MEMMOVE_ADDRESS,
    Builtin.MEMSET: MEMSET_ADDRESS,
}

#: the ctypes callbacks (kept alive here), typed by the table's prototypes
CALLBACKS: dict[Builtin, Any] = {
    b: b.ctypes_prototype()(_guard(fail, fn)) for b, (fail, fn) in PYTHON_BUILTINS.items()
}


def _address(b: Builtin) -> int:
    if b in NATIVE_BUILTINS:
        return NATIVE_BUILTINS[b]
    return ctypes.cast(CALLBACKS[b], ctypes.c_void_p).value or 0


#: the value of every builtin slot, in slot order (0 for a reserved slot)
_SLOTS = {int(b): b for b in Builtin}
BUILTIN_ADDRESSES: tuple[int, ...] = tuple(
    _address(_SLOTS[i]) if i in _SLOTS else 0 for i in range(NUM_BUILTIN_SLOTS)
)
