"""Translation of the threads proposal's instructions (the 0xFE prefix): atomic loads,
stores, read-modify-write and compare-exchange, ``atomic.fence``, and
``memory.atomic.wait32/64`` / ``memory.atomic.notify``.

Every access is sequentially consistent (LLVM ``seq_cst``), as the proposal's are. The
effective address must be a multiple of the access size, else the instruction traps
with ``HeapMisaligned`` (Wasmtime's "unaligned atomic") before any bounds check; the
access is then bounds-checked explicitly (``mem_addr(..., checked=True)``), never left
to the guard pages: a fault inside a locked read-modify-write would need the machine
code scanner to know those instructions, and the check costs one compare.

wait and notify run in the runtime (``Builtin.MEMORY_ATOMIC_WAIT32/64``,
``MEMORY_ATOMIC_NOTIFY``) on a shared memory. On a memory that is not shared, which
the compiler knows from the module's memory type (an import's must match exactly),
wait traps (``AtomicWaitNonSharedMemory``) and notify wakes no one (0), after the same
alignment and bounds checks.

Exports ``HANDLERS``, by operator name, for ``dispatch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cwasm.abi.builtins import Builtin
from cwasm.compile.translate.driver import Handler
from cwasm.obj.traps import Trap
from cwasm.wasm.operators import ATOMIC_OPS, OPERATORS

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator

HANDLERS: dict[str, Handler] = {}

#: access size in bytes (log2, as the operator table's natural alignment) -> IR type
_INT = {0: "i8", 1: "i16", 2: "i32", 3: "i64"}


def _checked_addr(
    t: FunctionTranslator, addr: str, memarg: tuple[int, int, int], align: int
) -> str:
    """A plain pointer for an atomic access of ``1 << align`` bytes at ``addr + offset``
    of the memarg's memory: trap if misaligned, then if out of bounds."""
    _align, offset, memory = memarg
    size = 1 << align
    if size > 1:
        ea = t.effective_address(addr, offset, memory)
        low = t.val(f"and i64 {ea}, {size - 1}")
        t.trap_if(t.val(f"icmp ne i64 {low}, 0"), Trap.HeapMisaligned)
    return t.mem_addr(addr, offset, size, memory, checked=True)


def _narrow(t: FunctionTranslator, ty: str, v: str, mem_ty: str) -> str:
    return v if ty == mem_ty else t.val(f"trunc {ty} {v} to {mem_ty}")


def _widen(t: FunctionTranslator, mem_ty: str, v: str, ty: str) -> str:
    return v if ty == mem_ty else t.val(f"zext {mem_ty} {v} to {ty}")


def _load(align: int, ty: str) -> Handler:
    mem_ty = _INT[align]

    def h(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
        p = _checked_addr(t, t.pop(), memarg, align)
        v = t.val(f"load atomic volatile {mem_ty}, ptr {p} seq_cst, align {1 << align}")
        t.push(ty, _widen(t, mem_ty, v, ty))

    return h


def _store(align: int, ty: str) -> Handler:
    mem_ty = _INT[align]

    def h(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
        v = t.pop()
        p = _checked_addr(t, t.pop(), memarg, align)
        v = _narrow(t, ty, v, mem_ty)
        t.ins(f"store atomic volatile {mem_ty} {v}, ptr {p} seq_cst, align {1 << align}")

    return h


def _rmw(align: int, ty: str, op: str) -> Handler:
    mem_ty = _INT[align]

    def h(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
        v = t.pop()
        p = _checked_addr(t, t.pop(), memarg, align)
        v = _narrow(t, ty, v, mem_ty)
        old = t.val(f"atomicrmw volatile {op} ptr {p}, {mem_ty} {v} seq_cst, align {1 << align}")
        t.push(ty, _widen(t, mem_ty, old, ty))

    return h


def _cmpxchg(align: int, ty: str) -> Handler:
    """Compare-exchange; a narrow one compares with the expected value wrapped to the
    access width (as Wasmtime does)."""
    mem_ty = _INT[align]

    def h(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
        replacement = t.pop()
        expected = t.pop()
        p = _checked_addr(t, t.pop(), memarg, align)
        e = _narrow(t, ty, expected, mem_ty)
        r = _narrow(t, ty, replacement, mem_ty)
        pair = t.val(
            f"cmpxchg volatile ptr {p}, {mem_ty} {e}, {mem_ty} {r} seq_cst seq_cst, "
            f"align {1 << align}"
        )
        old = t.val(f"extractvalue {{ {mem_ty}, i1 }} {pair}, 0")
        t.push(ty, _widen(t, mem_ty, old, ty))

    return h


def _fence(t: FunctionTranslator, _imm: Any) -> None:
    t.ins("fence seq_cst")


def _is_shared(t: FunctionTranslator, memory: int) -> bool:
    return bool(t.module.memories[memory].shared)


def _notify(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
    count = t.pop()
    addr = t.pop()
    _checked_addr(t, addr, memarg, 2)
    if not _is_shared(t, memarg[2]):  # nobody can wait on it
        t.push("i32", "0")
        return
    ea = t.effective_address(addr, memarg[1], memarg[2])
    t.push("i32", t.call_python_builtin(Builtin.MEMORY_ATOMIC_NOTIFY, str(memarg[2]), ea, count))


def _wait(align: int, builtin: Builtin) -> Handler:
    def h(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
        timeout = t.pop()
        expected = t.pop()
        addr = t.pop()
        _checked_addr(t, addr, memarg, align)
        if not _is_shared(t, memarg[2]):
            t.trap_if("true", Trap.AtomicWaitNonSharedMemory)
            t.push("i32", "0")  # unreachable
            return
        ea = t.effective_address(addr, memarg[1], memarg[2])
        t.push("i32", t.call_python_builtin(builtin, str(memarg[2]), ea, expected, timeout))

    return h


HANDLERS["atomic.fence"] = _fence
HANDLERS["memory.atomic.notify"] = _notify
HANDLERS["memory.atomic.wait32"] = _wait(2, Builtin.MEMORY_ATOMIC_WAIT32)
HANDLERS["memory.atomic.wait64"] = _wait(3, Builtin.MEMORY_ATOMIC_WAIT64)

for _code in sorted(ATOMIC_OPS):
    _info = OPERATORS[_code]
    assert _info is not None
    _name = _info.name
    if _name in HANDLERS:  # wait, notify and fence, above
        continue
    _ty = _name[:3]  # i32 or i64
    _kind = _name.split(".")[2]  # load8_u, store16, rmw8 ...
    if _kind.startswith("load"):
        HANDLERS[_name] = _load(_info.align, _ty)
    elif _kind.startswith("store"):
        HANDLERS[_name] = _store(_info.align, _ty)
    else:
        # the wasm operator is LLVM's atomicrmw operation: add sub and or xor xchg
        _op = _name.split(".")[3].removesuffix("_u")
        if _op == "cmpxchg":
            HANDLERS[_name] = _cmpxchg(_info.align, _ty)
        else:
            HANDLERS[_name] = _rmw(_info.align, _ty, _op)
