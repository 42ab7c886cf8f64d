"""The module summary of ``cwasm inspect``: imports, exports, types, tables, memories, segments.

One function per producer, as their info sections differ: Wasmtime v28's ``Module`` and
``ModuleTypes``, or cwasm's ``CompiledModuleInfo`` (whose ``module`` is the decoder's
``ModuleRecord``).
"""

from __future__ import annotations

from cwasm.inspect import wasmtime_v28 as wt
from cwasm.inspect.convert import Json, to_json
from cwasm.obj import info as cw
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.summary import const_expr_text, func_type_text, type_texts
from cwasm.wasm.types import ElementSegment, ExternKind, SegmentMode

#: the fields of cwasm's info shown under ``module`` besides the record's, as Wasmtime's
#: ``Module`` holds them (so both producers' info JSON is grouped alike)
_MODULE_LEVEL_INFO_FIELDS = frozenset({"name", "memory_initialization", "passive_data", "num_data"})


def wasmtime_module_summary(
    module: wt.Module, types: wt.ModuleTypes, names: dict[int, str]
) -> Json:
    def func_label(i: int) -> str:
        return f"{i}" + (f" ({names[i]})" if i in names else "")

    return {
        "name": module.name,
        "types": [str(t) for t in types.wasm_types],
        "imports": [
            {
                "module": i.module,
                "field": i.field,
                "kind": i.index.kind.name,
                "index": i.index.index,
            }
            for i in module.imports
        ],
        "exports": [
            {"name": name, "kind": e.kind.name, "index": e.index} for name, e in module.exports
        ],
        "start": None if module.start_func is None else func_label(module.start_func),
        "num_imported": {
            "funcs": module.num_imported_funcs,
            "tables": module.num_imported_tables,
            "memories": module.num_imported_memories,
            "globals": module.num_imported_globals,
        },
        "num_escaped_funcs": module.num_escaped_funcs,
        "functions": len(module.functions),
        "tables": [
            {
                "min": t.limits.min,
                "max": t.limits.max,
                "element": str(t.ref_type),
                "index_type": t.idx_type.name,
            }
            for t in module.tables
        ],
        "memories": [
            {
                "min": m.limits.min,
                "max": m.limits.max,
                "shared": m.shared,
                "page_size": 1 << m.page_size_log2,
                "index_type": m.idx_type.name,
            }
            for m in module.memories
        ],
        "globals": [{"type": str(g.wasm_ty), "mutable": g.mutability} for g in module.globals],
        "global_initializers": [str(e) for e in module.global_initializers],
        "table_segments": [
            {
                "table": s.table_index,
                "offset": str(s.offset),
                "elements": _elements(s.elements),
            }
            for s in module.table_initialization.segments
        ],
        "table_initial_values": [
            {
                "table": module.num_imported_tables + i,
                "elements": (
                    [f"func {f}" for f in v.precomputed]
                    if v.precomputed is not None
                    else [str(v.expr)]
                ),
            }
            for i, v in enumerate(module.table_initialization.initial_values)
            if v.precomputed or v.expr is not None
        ],
        "passive_elements": {
            str(elem): _elements(module.passive_elements[i])
            for elem, i in module.passive_elements_map
            if i < len(module.passive_elements)
        },
    }


def _elements(e: wt.TableSegmentElements) -> list[str]:
    if e.functions is not None:
        return [f"func {i}" for i in e.functions]
    return [str(x) for x in e.expressions or ()]


def cwasm_info_json(info: cw.CompiledModuleInfo) -> Json:
    """cwasm's info as JSON, field by field in encoding order, module-level fields under
    ``module``."""
    module: Json = {}
    rest: Json = {}
    for f in cw.INFO_FIELDS:
        name = f.path.removeprefix("module.")
        in_record = name != f.path
        value = to_json(getattr(info.module if in_record else info, name))
        (module if in_record or name in _MODULE_LEVEL_INFO_FIELDS else rest)[name] = value
    return {"module": module, **rest}


def cwasm_module_summary(module: ModuleRecord, name: str | None, names: dict[int, str]) -> Json:
    counters = dict.fromkeys(ExternKind, 0)
    imports = []
    for imp in module.imports:
        imports.append(
            {
                "module": imp.module,
                "field": imp.name,
                "kind": imp.kind.name,
                "index": counters[imp.kind],
            }
        )
        counters[imp.kind] += 1

    def segment_items(seg: ElementSegment) -> list[str]:
        if seg.functions is not None:
            return [f"func {f}" for f in seg.functions]
        return [const_expr_text(e) or "" for e in seg.expressions or ()]

    start = module.start
    return {
        "name": name,
        "types": type_texts(module),
        "imports": imports,
        "exports": [
            {"name": e.name, "kind": e.kind.name, "index": e.index} for e in module.exports
        ],
        "start": None
        if start is None
        else f"{start}" + (f" ({names[start]})" if start in names else ""),
        "num_imported": {
            "funcs": module.num_imported_funcs,
            "tables": module.num_imported_tables,
            "memories": module.num_imported_memories,
            "globals": module.num_imported_globals,
            "tags": module.num_imported_tags,
        },
        "functions": len(module.functions),
        "tables": [
            {
                "min": t.limits.min,
                "max": t.limits.max,
                "element": t.element.text,
                "index_type": "I64" if t.is_64 else "I32",
            }
            for t in module.tables
        ],
        "memories": [
            {
                "min": m.limits.min,
                "max": m.limits.max,
                "shared": m.shared,
                "page_size": 65536,
                "index_type": "I64" if m.is_64 else "I32",
            }
            for m in module.memories
        ],
        "globals": [{"type": g.content.text, "mutable": g.mutable} for g in module.globals],
        "global_initializers": [const_expr_text(e) or "" for e in module.global_inits],
        # exception handling: each tag's function type (its payload)
        "tags": [{"type": t, "signature": func_type_text(module.types[t])} for t in module.tags],
        "table_segments": [
            {
                "table": seg.table_index,
                "offset": const_expr_text(seg.offset) or "",
                "elements": segment_items(seg),
            }
            for seg in module.elements
            if seg.mode is SegmentMode.ACTIVE
        ],
        "table_initial_values": [
            {"table": module.num_imported_tables + i, "elements": [const_expr_text(e) or ""]}
            for i, e in enumerate(module.table_inits)
            if e is not None
        ],
        "passive_elements": {
            str(i): segment_items(seg)
            for i, seg in enumerate(module.elements)
            if seg.mode is SegmentMode.PASSIVE
        },
    }
