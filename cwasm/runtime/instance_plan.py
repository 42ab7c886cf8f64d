"""``InstancePlan``: what every instantiation of one module computes the same way, made once.

Instantiation evaluates constant expressions, copies memory images and data segments
and writes imported functions' ``VMFuncRef``s into the new vmctx. Much of that does not
depend on the instance: a constant expression that reads no global, names no function
and allocates nothing always gives the same bits, and a data segment's bytes are the
same every time. ``plan_for`` works these out on a module's first instantiation and
keeps them with its ``CompiledModule``, so later instantiations only copy them. What
does depend on the instance (``global.get`` of an import, ``ref.func``, GC allocations)
is still evaluated per instance, in the same order as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from cwasm.abi import vmoffsets as vo
from cwasm.obj.info import DataRange, SegmentedMemoryInitialization, StaticMemoryInitialization
from cwasm.wasm.constexpr import evaluate_const_expr
from cwasm.wasm.types import ConstExpr, ConstOpKind, SegmentMode

if TYPE_CHECKING:
    from cwasm.runtime.module import CompiledModule

#: the most bytes of memory images and data segments a plan keeps copies of; a module
#: with more keeps views into its artifact and copies them out per instantiation, so
#: its data is not held twice while it is loaded
KEEP_COPY_LIMIT = 1 << 20

#: the operators whose value a constant expression cannot know without an instance
_INSTANCE_OPS = frozenset((ConstOpKind.GLOBAL_GET, ConstOpKind.REF_FUNC))
#: the one-operator constants whose bits are their value under a mask (as
#: ``evaluate_const_expr`` gives them: integers wrapped, float and vector bits as they are)
_CONSTANT_MASKS = {
    ConstOpKind.I32_CONST: 0xFFFF_FFFF,
    ConstOpKind.I64_CONST: 0xFFFF_FFFF_FFFF_FFFF,
    ConstOpKind.F32_CONST: -1,
    ConstOpKind.F64_CONST: -1,
    ConstOpKind.V128_CONST: -1,
}


@dataclass(frozen=True, slots=True)
class InstancePlan:
    """The instance-independent parts of instantiating one module."""

    #: per defined global: its initializer's bits when they need no instance (the
    #: module's vmctx image holds them: ``Instance``), else None
    global_bits: tuple[int | None, ...]
    #: the defined globals whose initializer each instance evaluates, in order
    evaluated_globals: tuple[int, ...]
    #: per element segment: its active offset's bits when they need no instance, else None
    element_offsets: tuple[int | None, ...]
    #: per element segment of function indices: their ``VMFuncRef``s' offsets in the
    #: vmctx (its words are these plus the vmctx's address), else None
    element_funcrefs: tuple[tuple[int, ...] | None, ...]
    #: (memory index, offset, bytes) of each static memory image, in memory order (a
    #: view into the artifact past ``KEEP_COPY_LIMIT``)
    images: tuple[tuple[int, int, bytes | memoryview], ...]
    #: per active data segment (segmented initialization): its offset's bits or None,
    #: and its bytes (a view past ``KEEP_COPY_LIMIT``)
    segments: tuple[tuple[int | None, bytes | memoryview], ...]
    #: passive data segment index -> its range in ``.rodata.wasm`` (read-only, shared)
    passive_data: Mapping[int, DataRange]


def closed_bits(expr: ConstExpr | None) -> int | None:
    """The bits ``expr`` gives in every instance, or None if they depend on one (or if
    it is absent or not evaluable here: the instance then evaluates it, as before)."""
    if expr is None or not expr.ops:
        return None
    ops = expr.ops
    if len(ops) == 1:  # the usual case: one constant, its bits as evaluate_const_expr gives
        kind = ops[0].kind
        mask = _CONSTANT_MASKS.get(kind)
        if mask is not None:
            return ops[0].value & mask
    for op in ops:
        if op.kind in _INSTANCE_OPS or op.kind >= ConstOpKind.STRUCT_NEW:
            return None
    try:
        return evaluate_const_expr(expr, _no_instance, _no_instance)
    except Exception:  # noqa: BLE001 - the instance's own evaluation reports it
        return None


def _no_instance(index: int) -> int:
    raise LookupError(index)


def plan_for(cm: CompiledModule) -> InstancePlan:
    """``cm``'s plan, made on its first instantiation."""
    plan = cm.instance_plan
    if plan is None:
        plan = cm.instance_plan = _make_plan(cm)
    return plan


def _make_plan(cm: CompiledModule) -> InstancePlan:
    m = cm.m
    art = cm.artifact
    meminit = cm.info.memory_initialization
    images: list[tuple[int, int, bytes | memoryview]] = []
    segments: list[tuple[int | None, bytes | memoryview]] = []
    if isinstance(meminit, StaticMemoryInitialization):
        for mem_index, image in enumerate(meminit.map):
            if image is not None:
                images.append((mem_index, image.offset, art.data(image.data)))
    elif isinstance(meminit, SegmentedMemoryInitialization):
        for s in meminit.segments:
            segments.append((closed_bits(s.offset), art.data(s.data)))
    total = sum(len(d) for _, _, d in images) + sum(len(d) for _, d in segments)
    if total <= KEEP_COPY_LIMIT:
        images = [(i, at, bytes(d)) for i, at, d in images]
        segments = [(bits, bytes(d)) for bits, d in segments]
    o = cm.offsets
    global_bits = tuple(closed_bits(init) for init in m.global_inits)
    return InstancePlan(
        global_bits=global_bits,
        evaluated_globals=tuple(k for k, bits in enumerate(global_bits) if bits is None),
        element_offsets=tuple(
            closed_bits(seg.offset) if seg.mode == SegmentMode.ACTIVE else None
            for seg in m.elements
        ),
        element_funcrefs=tuple(
            None if seg.functions is None else tuple(o.func_ref(f) for f in seg.functions)
            for seg in m.elements
        ),
        images=tuple(images),
        segments=tuple(segments),
        passive_data=MappingProxyType(dict(cm.info.passive_data)),
    )


#: a ``VMFuncRef``'s words in the order ``Instance._link_func`` writes them, as one slice
FUNCREF_WORDS = tuple(
    f // 8
    for f in (vo.FUNCREF_WASM_CALL, vo.FUNCREF_VMCTX, vo.FUNCREF_ARRAY_CALL, vo.FUNCREF_TYPE_ID)
)
if FUNCREF_WORDS != tuple(range(vo.FUNCREF_SIZE // 8)):
    raise ImportError("the VMFuncRef layout changed: update Instance._link_func")
