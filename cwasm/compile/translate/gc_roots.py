"""Root areas (docs/gc.md, "Wasm frames"): where a function that holds GC references
across a call shows them to the collector.

Before a call that can reach a collection (a call to a wasm or host function, the
``GC_ALLOC`` slow path) the translator stores the references the function holds (its
reference-typed locals and the reference operands below the call's arguments) into
its root area, an alloca of ``ROOTS_SLOTS`` bytes of header and one word per slot,
and writes how many it stored. The area is linked into the chain at
``STORE_GC_ROOTS`` on entry and the chain's previous head is put back on every way
out: return and tail calls here, a ``try_table`` landing (the head becomes the
function's own area again; in a module without areas, what it was when the
``try_table`` was entered), and traps in the entry trampoline.

A function gets an area only when a call site has a reference to store (or it has a
handler landing) and only in a module that has GC types (``uses_gc``): other functions
compile exactly as before. Objects do not move, so compiled code goes on using its
SSA values after the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cwasm.abi.gc_layout import ROOTS_COUNT, ROOTS_PREV, ROOTS_SLOTS
from cwasm.abi.vmoffsets import CTX_STORE, STORE_GC_ROOTS
from cwasm.wasm.gc_types import ArrayType, StructType
from cwasm.wasm.types import CONCRETE_HEAP, HeapType, RefType, ValType, ValueType

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator
    from cwasm.wasm.module import ModuleRecord

assert ROOTS_PREV == 0  # an area's address is its link's

#: the line that stands for "restore the chain's head to the caller's" until
#: ``finish`` knows whether the function has an area
RESTORE_MARK = "  ;gc.restore"
#: the line that stands for "the head is this function's area again" (a landing)
LAND_MARK = "  ;gc.land"

_GC_HEAPS = frozenset(
    (HeapType.ANY, HeapType.EQ, HeapType.I31, HeapType.STRUCT, HeapType.ARRAY, HeapType.NONE)
)


def uses_gc(module: ModuleRecord) -> bool:
    """Whether ``module`` has struct or array types or GC references in a signature:
    only such modules get root areas."""
    if any(type(ct) in (StructType, ArrayType) for ct in module.types):
        return True
    return any(
        isinstance(t, RefType) and t.heap in _GC_HEAPS
        for ct in module.types
        for t in (*getattr(ct, "params", ()), *getattr(ct, "results", ()))
    )


def holds_gc(t: FunctionTranslator, vt: ValueType) -> bool:
    """Whether a value of type ``vt`` can be (or, as an externref, hold) a GC object."""
    if vt == ValType.EXTERNREF:
        return True
    if not isinstance(vt, RefType):
        return False
    h = vt.heap
    if h >= CONCRETE_HEAP:
        return type(t.module.types[h - CONCRETE_HEAP]) in (StructType, ArrayType)
    return h in _GC_HEAPS or h in (HeapType.EXTERN, HeapType.NOEXTERN)


def _ref_locals(t: FunctionTranslator) -> list[int]:
    got = t.gc_ref_locals
    if got is None:
        types = [*t.ftype.params, *t.body.local_types()]
        got = [i for i, vt in enumerate(types) if holds_gc(t, vt)]
        t.gc_ref_locals = got
    return got


def spill(t: FunctionTranslator, extra: Sequence[str] = ()) -> None:
    """Store the references live across the coming call into the root area: reference
    locals, ``ptr`` operands on the stack (a funcref among them is harmless: the
    collector only follows words that are its heap's objects) and ``extra``."""
    if not t.mod.gc_roots:
        return
    values: list[str] = []
    for i in _ref_locals(t):
        values.append(t.val(f"load ptr, ptr %l{i}"))
    values += [v for ty, v in t.stack if ty == "ptr"]
    values += extra
    if not values and not t.gc_slots:
        return
    t.gc_slots = max(t.gc_slots, len(values))
    t.gc_has_area = True
    for k, v in enumerate(values):
        p = t.val(f"getelementptr inbounds i8, ptr %gc.area, i64 {ROOTS_SLOTS + 8 * k}")
        t.ins(f"store ptr {v}, ptr {p}")
    cnt = t.val(f"getelementptr inbounds i8, ptr %gc.area, i64 {ROOTS_COUNT}")
    t.ins(f"store i64 {len(values)}, ptr {cnt}")


def restore(t: FunctionTranslator) -> None:
    """Mark a way out of the frame (return, tail call): the head goes back."""
    if t.mod.gc_roots:
        t.lines.append(RESTORE_MARK)


def head_at_try(t: FunctionTranslator, sctx: str) -> str | None:
    """In a module without root areas, the chain's head as a ``try_table`` with a
    handler is entered (an SSA value ``land`` puts back): an exception thrown through
    frames of another module's functions with areas and caught here must not leave the
    head at their dead areas. None in a module with areas (``land`` makes the head the
    function's own area)."""
    if t.mod.gc_roots:
        return None
    return t.val(f"load ptr, ptr {t.field_of(sctx, STORE_GC_ROOTS)}")


def land(t: FunctionTranslator, sctx: str, head: str | None) -> None:
    """Mark a ``try_table`` landing: the frames above are gone, the head is ours (or,
    in a module without areas, what it was when the ``try_table`` was entered)."""
    if t.mod.gc_roots:
        t.lines.append(LAND_MARK)
        t.gc_has_area = True
    elif head is not None:
        t.ins(f"store ptr {head}, ptr {t.field_of(sctx, STORE_GC_ROOTS)}")


def _head_lines(t: FunctionTranslator) -> tuple[list[str], str]:
    sp, s, head = t.tmp(), t.tmp(), t.tmp()
    return [
        f"  {sp} = getelementptr inbounds i8, ptr %vmctx, i64 {CTX_STORE}",
        f"  {s} = load ptr, ptr {sp}",
        f"  {head} = getelementptr inbounds i8, ptr {s}, i64 {STORE_GC_ROOTS}",
    ], head


def finish(t: FunctionTranslator) -> None:
    """Replace the marks, and give the function its area and entry code if it has one."""
    if not t.mod.gc_roots:
        return
    if not t.gc_has_area:
        t.lines[:] = [ln for ln in t.lines if ln not in (RESTORE_MARK, LAND_MARK)]
        return
    out: list[str] = []
    for ln in t.lines:
        if ln == RESTORE_MARK or ln == LAND_MARK:
            code, head = _head_lines(t)
            out += code
            if ln == RESTORE_MARK:
                prev = t.tmp()
                out.append(f"  {prev} = load ptr, ptr %gc.area")
                out.append(f"  store ptr {prev}, ptr {head}")
            else:
                out.append(f"  store ptr %gc.area, ptr {head}")
        else:
            out.append(ln)
    t.lines[:] = out
    words = ROOTS_SLOTS // 8 + t.gc_slots
    t.late_allocas["%gc.area"] = f"  %gc.area = alloca [{words} x i64], align 8"
    code, head = _head_lines(t)
    cnt = t.tmp()
    t.entry_code += [
        *code,
        f"  %gc.prev = load ptr, ptr {head}",
        "  store ptr %gc.prev, ptr %gc.area",
        f"  {cnt} = getelementptr inbounds i8, ptr %gc.area, i64 {ROOTS_COUNT}",
        f"  store i64 0, ptr {cnt}",
        f"  store ptr %gc.area, ptr {head}",
    ]
