"""Consistency checks of a decoded ``.wasmtime.info``: indices, ranges and limits agree.

A decoded info is well-formed postcard but may still be inconsistent (an index out of
range, an unsorted table); these checks raise ``CorruptArtifactError`` before the
runtime trusts any of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.info.schema import (
    CompiledModuleInfo,
    NameTable,
    SegmentedMemoryInitialization,
    TrampolineTable,
)
from cwasm.obj.offset_table import strictly_ascending
from cwasm.wasm.constexpr import ARITHMETIC
from cwasm.wasm.gc_types import ArrayType, StructType, value_types
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.types import (
    CONCRETE_HEAP,
    ConstExpr,
    ConstOpKind,
    ExternKind,
    FuncType,
    HeapType,
    Limits,
    RefType,
    SegmentMode,
    ValType,
    ValueType,
    heap_text,
    is_ref_code,
    ref_type,
    val_subtype,
    val_type,
)


def _bad(msg: str) -> CorruptArtifactError:
    return CorruptArtifactError(f"`.wasmtime.info` is inconsistent: {msg}")


MAX_TABLE_ELEMENTS = (1 << 32) - 1
_EXTERN_KINDS = tuple(ExternKind)

_CONST_RESULT = {
    ConstOpKind.I32_CONST: ValType.I32,
    ConstOpKind.I64_CONST: ValType.I64,
    ConstOpKind.F32_CONST: ValType.F32,
    ConstOpKind.F64_CONST: ValType.F64,
    ConstOpKind.V128_CONST: ValType.V128,
}
#: the bit width of each constant operator's value (v128 and floats are raw bits)
_CONST_BITS = {
    ConstOpKind.I32_CONST: 32,
    ConstOpKind.I64_CONST: 64,
    ConstOpKind.F32_CONST: 32,
    ConstOpKind.F64_CONST: 64,
    ConstOpKind.V128_CONST: 128,
}

_SIGNED_CONSTS = (ConstOpKind.I32_CONST, ConstOpKind.I64_CONST)

#: GC's conversions between the ``any`` and ``extern`` hierarchies: (operand, result) heaps
_CONVERSIONS = {
    ConstOpKind.ANY_CONVERT_EXTERN: (HeapType.EXTERN, HeapType.ANY),
    ConstOpKind.EXTERN_CONVERT_ANY: (HeapType.ANY, HeapType.EXTERN),
}


def _check_limits(lim: Limits, most: int, what: str) -> None:
    if lim.min > most or (lim.max is not None and not lim.min <= lim.max <= most):
        raise _bad(f"{what} has limits {lim.min}..{lim.max} (at most {most})")


def _check_const_expr(
    m: ModuleRecord, e: ConstExpr, want: ValueType, what: str, visible: int | None = None
) -> None:
    """A constant expression whose operators leave one value of type ``want``.

    ``global.get`` may read the first ``visible`` globals (a global's initializer: those
    initialized before it; by default every global).
    """
    if visible is None:
        visible = len(m.globals)
    stack: list[ValueType] = []
    have: ValueType
    for op in e.ops:
        kind, value = op.kind, op.value
        if kind in ARITHMETIC:
            operand, _ = ARITHMETIC[kind]
            if stack[-2:] != [operand, operand]:
                raise _bad(f"{what}: {kind.name.lower()} lacks two {operand.text} operands")
            del stack[-2:]
            have = operand
        elif kind == ConstOpKind.GLOBAL_GET:
            if not 0 <= value < visible:
                raise _bad(f"{what} reads global {value}, which is not initialized before it")
            have = m.globals[value].content
        elif kind == ConstOpKind.REF_NULL:
            if not is_ref_code(value):
                raise _bad(f"{what} is a null reference of type {value:#x}")
            try:
                have = val_type(value)
                have.text  # noqa: B018 - a heap type that names nothing raises here
            except (ValueError, KeyError):
                raise _bad(f"{what} is a null reference of type {value:#x}") from None
            _check_value_type(m, have, what)
        elif kind == ConstOpKind.REF_FUNC:
            if not 0 <= value < len(m.functions):
                raise _bad(f"{what} refers to missing function {value}")
            have = ref_type(False, CONCRETE_HEAP + m.functions[value])
        elif kind == ConstOpKind.REF_I31:
            if stack[-1:] != [ValType.I32]:
                raise _bad(f"{what}: ref_i31 lacks an i32 operand")
            stack.pop()
            have = ref_type(False, HeapType.I31)
        elif kind in _CONVERSIONS:
            source, target = _CONVERSIONS[kind]
            given = stack.pop() if stack else None
            if given is None or not val_subtype(given, ref_type(True, source), m.type_canon()):
                raise _bad(f"{what}: {kind.name.lower()} lacks a {heap_text(source)} operand")
            have = ref_type(given.nullable, target)
        elif kind not in _CONST_RESULT:  # GC's allocations
            have = _check_allocation(m, kind, value, stack, what)
        else:
            have = _CONST_RESULT[kind]
            # integers may be kept signed or unsigned; floats and v128 are raw bits
            bits = _CONST_BITS[kind]
            lowest = -(1 << (bits - 1)) if kind in _SIGNED_CONSTS else 0
            if not lowest <= value < 1 << bits:
                raise _bad(f"{what}: {have.text} constant {value} is out of range")
        stack.append(have)
    if len(stack) != 1:
        raise _bad(f"{what} leaves {len(stack)} values, not one")
    # the type-equivalence map is needed (and made) only for two different references
    if stack[0] != want and not val_subtype(stack[0], want, m.type_canon()):
        raise _bad(f"{what} produces {stack[0].text}, but {want.text} is needed")


def _check_allocation(
    m: ModuleRecord, kind: ConstOpKind, value: int, stack: list[ValueType], what: str
) -> ValueType:
    """Pop the operands of one of GC's allocating constant instructions; its result."""
    index = value & 0xFFFF_FFFF
    if index >= len(m.types):
        raise _bad(f"{what}: {kind.name.lower()} of missing type {index}")
    t = m.types[index]
    if kind in (ConstOpKind.STRUCT_NEW, ConstOpKind.STRUCT_NEW_DEFAULT):
        if type(t) is not StructType:
            raise _bad(f"{what}: {kind.name.lower()} of type {index}, not a struct")
        wants = [f.unpacked for f in t.fields] if kind == ConstOpKind.STRUCT_NEW else []
    else:
        if type(t) is not ArrayType:
            raise _bad(f"{what}: {kind.name.lower()} of type {index}, not an array")
        e = t.element.unpacked
        if kind == ConstOpKind.ARRAY_NEW_FIXED:
            wants = [e] * (value >> 32)
        else:
            wants = [e, ValType.I32] if kind == ConstOpKind.ARRAY_NEW else [ValType.I32]
    canon = m.type_canon()
    for want in reversed(wants):
        got = stack.pop() if stack else None
        if got is None or not val_subtype(got, want, canon):
            raise _bad(f"{what}: {kind.name.lower()} lacks its operands")
    return ref_type(False, CONCRETE_HEAP + index)


def _check_value_type(m: ModuleRecord, t: ValueType, what: str) -> None:
    """A typed reference's type index must name one of the module's types."""
    if isinstance(t, RefType):
        index = t.type_index
        if index is not None and index >= len(m.types):
            raise _bad(f"{what} has type {t.text}, but there are {len(m.types)} types")


def check_module(m: ModuleRecord) -> None:
    """Check that every index in the module record refers to something that exists,
    every limit is possible and every constant expression has the type its use needs."""
    nfuncs, ntables, nmems, nglobals = (
        len(m.functions),
        len(m.tables),
        len(m.memories),
        len(m.globals),
    )
    ntypes = len(m.types)
    types = m.types
    # each distinct type index once; the loop names the first bad function
    used = set(m.functions)
    if used and (max(used) >= ntypes or any(type(types[t]) is not FuncType for t in used)):
        for i, t in enumerate(m.functions):
            if t >= ntypes:
                raise _bad(f"function {i} has type index {t}, but there are {ntypes} types")
            if type(types[t]) is not FuncType:
                raise _bad(f"function {i} has type index {t}, which is not a function type")
    if m.sub_types and len(m.sub_types) != ntypes:
        raise _bad(f"{len(m.sub_types)} subtype declarations, but there are {ntypes} types")
    for i, ft in enumerate(types):
        for vt in ft.params + ft.results if type(ft) is FuncType else value_types(ft):
            if isinstance(vt, RefType):  # (plain value and packed storage types name none)
                _check_value_type(m, vt, f"type {i}")
    for i, tt in enumerate(m.tables):
        if not tt.element.is_ref:
            raise _bad(f"table {i} holds {tt.element.text}, not references")
        _check_value_type(m, tt.element, f"table {i}")
        _check_limits(tt.limits, (1 << 64) - 1 if tt.is_64 else MAX_TABLE_ELEMENTS, f"table {i}")
    for i, mt in enumerate(m.memories):
        _check_limits(mt.limits, mt.max_pages, f"memory {i}")
        if mt.shared and mt.limits.max is None:
            raise _bad(f"shared memory {i} has no maximum")
    for i, t in enumerate(m.tags):
        if t >= ntypes:
            raise _bad(f"tag {i} has type index {t}, but there are {ntypes} types")
        tag_type = m.types[t]
        if type(tag_type) is not FuncType or tag_type.results:
            raise _bad(f"tag {i} has a type with results")
    if m.num_imported_tags > len(m.tags):
        raise _bad(f"{m.num_imported_tags} imported tags, but {len(m.tags)} tags")
    counts = dict.fromkeys(_EXTERN_KINDS, 0)
    spaces = {
        ExternKind.FUNC: nfuncs,
        ExternKind.TABLE: ntables,
        ExternKind.MEMORY: nmems,
        ExternKind.GLOBAL: nglobals,
        ExternKind.TAG: len(m.tags),
    }
    entries: dict[ExternKind, tuple[object, ...]] = {
        ExternKind.FUNC: m.functions,
        ExternKind.TABLE: m.tables,
        ExternKind.MEMORY: m.memories,
        ExternKind.GLOBAL: m.globals,
        ExternKind.TAG: m.tags,
    }
    for imp in m.imports:
        n = counts[imp.kind]
        counts[imp.kind] += 1
        if n >= spaces[imp.kind]:
            raise _bad(f"import {imp.module}.{imp.name} has no entry in its index space")
        if imp.desc != entries[imp.kind][n]:
            raise _bad(f"import {imp.module}.{imp.name} disagrees with its index space entry")
    imported = (
        (ExternKind.FUNC, m.num_imported_funcs),
        (ExternKind.TABLE, m.num_imported_tables),
        (ExternKind.MEMORY, m.num_imported_memories),
        (ExternKind.GLOBAL, m.num_imported_globals),
        (ExternKind.TAG, m.num_imported_tags),
    )
    for kind, num in imported:
        if counts[kind] != num:
            raise _bad(f"{counts[kind]} {kind.name.lower()} imports, but {num} recorded")
    if len(m.global_inits) != nglobals - m.num_imported_globals:
        raise _bad(f"{len(m.global_inits)} global initializers for {nglobals} globals")
    seen: set[str] = set()
    for e in m.exports:
        if e.name in seen:
            raise _bad(f"duplicate export {e.name!r}")
        seen.add(e.name)
        if e.index >= spaces[e.kind]:
            raise _bad(f"export {e.name!r} refers to missing {e.kind.name.lower()} {e.index}")
    if m.start is not None:
        if m.start >= nfuncs:
            raise _bad(f"start function {m.start} does not exist")
        ft = m.func_type(m.start)
        if ft.params or ft.results:
            raise _bad(f"start function {m.start} has type {ft}, not [] -> []")

    if len(m.table_inits) > ntables - m.num_imported_tables:
        raise _bad(f"{len(m.table_inits)} table initializers for {ntables} tables")
    for i, table_init in enumerate(m.table_inits):
        t = m.num_imported_tables + i
        if table_init is not None:
            _check_const_expr(m, table_init, m.tables[t].element, f"initializer of table {t}")
    for gt in m.globals:
        _check_value_type(m, gt.content, "a global")
    for i, init_expr in enumerate(m.global_inits):
        g = m.num_imported_globals + i
        _check_const_expr(m, init_expr, m.globals[g].content, f"initializer of global {g}", g)
    for i, seg in enumerate(m.elements):
        what = f"element segment {i}"
        if not seg.element.is_ref:
            raise _bad(f"{what} holds {seg.element.text}, not references")
        if (seg.functions is None) == (seg.expressions is None):
            raise _bad(f"{what} must hold either functions or expressions")
        if seg.mode == SegmentMode.ACTIVE:
            if seg.table_index >= ntables:
                raise _bad(f"{what} targets missing table {seg.table_index}")
            if seg.offset is None:
                raise _bad(f"active {what} has no offset")
            held = m.tables[seg.table_index].element
            if seg.element != held and not val_subtype(seg.element, held, m.type_canon()):
                raise _bad(f"{what} holds {seg.element.text}, but its table does not")
        if seg.offset is not None:
            is_64 = seg.table_index < ntables and m.tables[seg.table_index].is_64
            index_type = ValType.I64 if is_64 else ValType.I32
            _check_const_expr(m, seg.offset, index_type, f"offset of {what}")
        if seg.functions is not None:
            if seg.element != ValType.FUNCREF:
                raise _bad(f"{what} lists functions but holds {seg.element.text}")
            if seg.functions and max(seg.functions) >= nfuncs:
                raise _bad(f"{what} refers to missing function {max(seg.functions)}")
        for item in seg.expressions or ():
            _check_const_expr(m, item, seg.element, what)


def check_info(info: CompiledModuleInfo) -> None:
    """``check_module`` plus the data segments' and per-function tables' shapes."""
    m = info.module
    check_module(m)
    nmems = len(m.memories)
    init = info.memory_initialization
    if isinstance(init, SegmentedMemoryInitialization):
        for s in init.segments:
            if s.memory_index >= nmems:
                raise _bad(f"data segment targets missing memory {s.memory_index}")
            index_type = ValType.I64 if m.memories[s.memory_index].is_64 else ValType.I32
            _check_const_expr(m, s.offset, index_type, "data segment offset")
    elif len(init.map) != nmems:
        raise _bad(f"{len(init.map)} memory images for {nmems} memories")
    previous = -1
    for idx, _rng in info.passive_data:
        if idx <= previous or idx >= info.num_data:
            raise _bad(f"passive data index {idx} is out of order or out of range")
        previous = idx
    if len(info.funcs) != m.num_defined_funcs:
        raise _bad(f"{len(info.funcs)} compiled functions for {m.num_defined_funcs} defined")
    names = NameTable.of(info.func_names).column(0)
    if not _ascending_below(names, len(m.functions)):
        idx = _first_out_of_order(names, len(m.functions))
        raise _bad(f"function name for index {idx} is out of order or out of range")
    types = TrampolineTable.of(info.wasm_to_array_trampolines).column(0)
    if not _ascending_below(types, len(m.types)):
        ty = _first_out_of_order(types, len(m.types))
        raise _bad(f"wasm-to-array trampoline for type {ty} is out of order or out of range")


def _ascending_below(values: Sequence[int], bound: int) -> bool:
    """True if ``values`` ascend strictly and all are below ``bound`` (checked in C)."""
    return strictly_ascending(values) and (not values or values[-1] < bound)


def _first_out_of_order(values: Sequence[int], bound: int) -> int:
    """The first value not above the one before it or not below ``bound``."""
    previous = -1
    for v in values:
        if v <= previous or v >= bound:
            return v
        previous = v
    raise _bad("a table is out of order")  # not reached: _ascending_below said so
