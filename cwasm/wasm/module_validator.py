"""Module-level validation (the spec's module rules) of a decoded ModuleTranslation.

Checks run in the reference interpreter's order: imports, function types, global
initializers, tables, memories, element and data segments, then every function body
(through ``validate_function_body``), then the start function, exports and (without
multi-memory) the single-memory rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cwasm.errors import InvalidError
from cwasm.wasm.constexpr import validate_const_expr
from cwasm.wasm.gc_types import CompositeType, validate_types
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import (
    MAX_PAGES,
    MAX_PAGES_64,
    ExternKind,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    RefType,
    SegmentMode,
    TableType,
    ValType,
    ValueType,
    val_subtype,
)
from cwasm.wasm.validator import validate_function_body

if TYPE_CHECKING:
    from cwasm.wasm.decoder import DecodeNotes

MAX_TABLE_SIZE = 0xFFFF_FFFF
MAX_TABLE_SIZE_64 = (1 << 64) - 1
# Wasmtime's implementation limit on parameters plus locals of one function (the spec
# only bounds them by 2^32-1); it also keeps local lists from growing absurdly.
MAX_FUNCTION_LOCALS = 50_000


def _check_limits(limits: Limits, bound: int, message: str, offset: int) -> None:
    if limits.min > bound:
        raise InvalidError(message, offset)
    if limits.max is not None:
        if limits.max > bound:
            raise InvalidError(message, offset)
        if limits.min > limits.max:
            raise InvalidError("size minimum must not be greater than maximum", offset)


def check_value_type(t: ValueType, num_types: int, offset: int) -> None:
    """A reference type's type index must name a type of the module."""
    if isinstance(t, RefType):
        index = t.type_index
        if index is not None and index >= num_types:
            raise InvalidError(f"unknown type {index}", offset)


def _check_table_type(t: TableType, offset: int, num_types: int = 0) -> None:
    check_value_type(t.element, num_types, offset)
    if t.is_64:  # any u64 is a size a 64-bit table's limits can state
        _check_limits(t.limits, MAX_TABLE_SIZE_64, "table size must be at most 2^64-1", offset)
    else:
        _check_limits(t.limits, MAX_TABLE_SIZE, "table size must be at most 2^32-1", offset)


def _check_memory_type(t: MemoryType, offset: int) -> None:
    if t.is_64:
        _check_limits(t.limits, MAX_PAGES_64, "memory size must be at most 2**48 pages", offset)
    else:
        _check_limits(t.limits, MAX_PAGES, "memory size must be at most 65536 pages (4GiB)", offset)
    if t.shared and t.limits.max is None:
        raise InvalidError("shared memory must have maximum", offset)


def _check_tag_type(types: tuple[CompositeType, ...], type_index: int, offset: int) -> None:
    """A tag's type: a function type without results (its parameters are the payload)."""
    if type_index >= len(types):
        raise InvalidError(f"unknown type {type_index}", offset)
    ft = types[type_index]
    if type(ft) is not FuncType:
        raise InvalidError(f"type mismatch: non-function type {type_index}", offset)
    if ft.results:
        raise InvalidError("non-empty tag result type", offset)


def validate_module(
    translation: ModuleTranslation,
    notes: DecodeNotes,
    extended_const: bool = True,
    multi_memory: bool = True,
    memory64: bool = True,
) -> None:
    """Validate ``translation``; raise ``InvalidError`` (or a body's ``MalformedError``).
    Without ``multi_memory`` a module has at most one memory (Wasm 2.0); without
    ``memory64`` memarg offsets are u32s (Wasm 2.0)."""
    m = translation.module
    num_types = len(m.types)
    canon: tuple[int, ...]
    if m.sub_types:  # GC types: recursion groups, subtypes, structs and arrays
        canon = validate_types(m.types, m.sub_types)
    else:
        for i, ft in enumerate(m.types):
            for t in (*ft.params, *ft.results):  # type: ignore[union-attr]
                check_value_type(t, i + 1, 0)  # a type refers to itself or earlier ones
        canon = m.type_canon()

    for imp, offset in zip(m.imports, notes.import_offsets, strict=True):
        if imp.kind == ExternKind.FUNC:
            assert isinstance(imp.desc, int)
            if imp.desc >= num_types:
                raise InvalidError(f"unknown type {imp.desc}", offset)
            if type(m.types[imp.desc]) is not FuncType:
                raise InvalidError(f"type mismatch: non-function type {imp.desc}", offset)
        elif imp.kind == ExternKind.TABLE:
            assert isinstance(imp.desc, TableType)
            _check_table_type(imp.desc, offset, num_types)
        elif imp.kind == ExternKind.MEMORY:
            assert isinstance(imp.desc, MemoryType)
            _check_memory_type(imp.desc, offset)
        elif imp.kind == ExternKind.TAG:
            assert isinstance(imp.desc, int)
            _check_tag_type(m.types, imp.desc, offset)
        else:
            assert isinstance(imp.desc, GlobalType)
            check_value_type(imp.desc.content, num_types, offset)

    first = m.num_imported_funcs
    for i, offset in enumerate(notes.func_offsets):
        type_index = m.functions[first + i]
        if type_index >= num_types:
            raise InvalidError(f"unknown type {type_index}", offset)
        if type(m.types[type_index]) is not FuncType:
            raise InvalidError(f"type mismatch: non-function type {type_index}", offset)

    # a global's initializer sees the imported globals and the globals defined before
    # it; segments see every global (Wasm 3.0; Wasm 2.0: the imported globals only)
    first_defined = m.num_imported_globals
    all_globals: tuple[GlobalType, ...] = m.globals if extended_const else m.globals[:first_defined]
    num_funcs = len(m.functions)
    funcs = m.functions
    for k, init in enumerate(notes.global_inits):
        visible = all_globals[: first_defined + k]
        content = m.globals[first_defined + k].content
        check_value_type(content, num_types, init.offset)
        validate_const_expr(
            init, content, visible, num_funcs, extended_const, funcs, canon, m.types
        )

    defined_tables = m.tables[m.num_imported_tables :]
    for ttype, offset, table_init in zip(
        defined_tables, notes.table_offsets, notes.table_inits, strict=True
    ):
        _check_table_type(ttype, offset, num_types)
        if table_init is not None:
            validate_const_expr(
                table_init,
                ttype.element,
                all_globals,
                num_funcs,
                extended_const,
                funcs,
                canon,
                m.types,
            )
        elif not ttype.element.nullable:
            raise InvalidError("type mismatch", offset)
    defined_memories = m.memories[m.num_imported_memories :]
    for mtype, offset in zip(defined_memories, notes.memory_offsets, strict=True):
        _check_memory_type(mtype, offset)

    defined_tags = m.tags[m.num_imported_tags :]
    for type_index, offset in zip(defined_tags, notes.tag_offsets, strict=True):
        _check_tag_type(m.types, type_index, offset)

    for seg, seg_notes in zip(m.elements, notes.elements, strict=True):
        check_value_type(seg.element, num_types, seg_notes.offset)
        if seg_notes.items is not None:
            for item in seg_notes.items:
                validate_const_expr(
                    item, seg.element, all_globals, num_funcs, extended_const, funcs, canon, m.types
                )
        else:
            assert seg.functions is not None and seg_notes.item_offsets is not None
            for index, offset in zip(seg.functions, seg_notes.item_offsets, strict=True):
                if index >= num_funcs:
                    raise InvalidError(f"unknown function {index}", offset)
        if seg.mode == SegmentMode.ACTIVE:
            if seg.table_index >= len(m.tables):
                raise InvalidError(f"unknown table {seg.table_index}", seg_notes.offset)
            table_element = m.tables[seg.table_index].element
            if not val_subtype(seg.element, table_element, canon):
                raise InvalidError(
                    f"type mismatch: element segment's type {seg.element.text}"
                    f" does not match table's element type {table_element.text}",
                    seg_notes.offset,
                )
            assert seg_notes.offset_expr is not None
            validate_const_expr(
                seg_notes.offset_expr,
                ValType.I64 if m.tables[seg.table_index].is_64 else ValType.I32,
                all_globals,
                num_funcs,
                extended_const,
            )

    for data_seg, offset, expr in zip(
        translation.data, notes.data_offsets, notes.data_exprs, strict=True
    ):
        if data_seg.mode == SegmentMode.ACTIVE:
            if data_seg.memory_index >= len(m.memories):
                raise InvalidError(f"unknown memory {data_seg.memory_index}", offset)
            assert expr is not None
            index_type = ValType.I64 if m.memories[data_seg.memory_index].is_64 else ValType.I32
            validate_const_expr(expr, index_type, all_globals, num_funcs, extended_const)

    for defined_index, body in enumerate(translation.bodies):
        num_locals = len(m.sig(body.type_index).params) if body.type_index < num_types else 0
        num_locals += sum(count for count, _ in body.locals)
        for _, t in body.locals:
            if type(t) is RefType:
                check_value_type(t, num_types, body.offset)
        if num_locals > MAX_FUNCTION_LOCALS:
            raise InvalidError("too many locals: locals exceed maximum", body.offset)
        validate_function_body(translation, defined_index, multi_memory, memory64)

    if m.start is not None:
        if m.start >= num_funcs:
            raise InvalidError(f"unknown function {m.start}", notes.start_offset)
        if m.func_type(m.start) != FuncType((), ()):
            raise InvalidError(
                "start function must not have parameters or results", notes.start_offset
            )

    limits = {
        ExternKind.FUNC: (num_funcs, "function"),
        ExternKind.TABLE: (len(m.tables), "table"),
        ExternKind.MEMORY: (len(m.memories), "memory"),
        ExternKind.GLOBAL: (len(m.globals), "global"),
        ExternKind.TAG: (len(m.tags), "tag"),
    }
    seen: set[str] = set()
    for export, offset in zip(m.exports, notes.export_offsets, strict=True):
        bound, what = limits[export.kind]
        if export.index >= bound:
            raise InvalidError(f"unknown {what} {export.index}", offset)
        if export.name in seen:
            raise InvalidError("duplicate export name", offset)
        seen.add(export.name)

    if len(m.memories) > 1 and not multi_memory:
        raise InvalidError("multiple memories", len(translation.wasm))
