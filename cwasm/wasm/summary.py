"""Summarize a decoded wasm module (a ModuleTranslation) for ``cwasm inspect x.wasm``.

:func:`summarize_module` gives a JSON-ready dict of the module's index spaces,
exports, start, segments and custom sections; :func:`format_module_summary`
renders it as text.
"""

from __future__ import annotations

from typing import Any

from cwasm.errors import CwasmError
from cwasm.wasm.gc_types import CompositeType
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import (
    ConstExpr,
    ConstOpKind,
    ExternKind,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
    val_type,
)

Json = dict[str, Any]
_PREVIEW_BYTES = 64


def summarize_wasm(wasm: bytes) -> Json:
    """Decode and validate a binary module, then summarize it."""
    try:
        from cwasm.wasm.decoder import decode_module
    except ImportError:
        raise CwasmError("decoding .wasm modules is not available in this build") from None
    translation: ModuleTranslation = decode_module(wasm)
    return summarize_module(translation)


def func_type_text(ty: CompositeType) -> str:
    """A function type as ``func(i32, i64) -> (f32)`` (a GC struct or array type in the
    text format's words: ``(struct (field i32))``)."""
    if type(ty) is not FuncType:
        return str(ty)
    params = ", ".join(t.text for t in ty.params)
    results = ", ".join(t.text for t in ty.results)
    return f"func({params}) -> ({results})"


def type_texts(m: ModuleRecord) -> list[str]:
    """Each type of the type section as ``func_type_text`` writes it, with GC's
    declarations before it: ``rec 2/3 of 4`` for the second of the three types of the
    recursion group starting at type 4, then ``sub`` (``sub final`` for a final type with
    a supertype) and the supertype's index."""
    texts = [func_type_text(t) for t in m.types]
    for i, s in enumerate(m.sub_types):
        head = []
        if s.group_size != 1:
            head.append(f"rec {i - s.group_start + 1}/{s.group_size} of {s.group_start}")
        if s.supertype >= 0 or not s.final:
            head.append("sub final" if s.final else "sub")
            if s.supertype >= 0:
                head.append(str(s.supertype))
        if head:
            texts[i] = " ".join(head) + ": " + texts[i]
    return texts


def const_expr_text(expr: ConstExpr | None) -> str | None:
    """A constant expression in text-format words, e.g. ``i32.const 16``."""
    if expr is None:
        return None
    parts = []
    for op in expr.ops:
        if op.kind is ConstOpKind.REF_NULL:
            parts.append(f"ref.null {_val_text(op.value)}")
        elif op.kind is ConstOpKind.V128_CONST:
            parts.append(f"v128.const i64x2 {op.value & (2**64 - 1):#x} {op.value >> 64:#x}")
        else:
            name = op.kind.name.lower().replace("_", ".", 1)
            parts.append(f"{name} {op.value}")
    return "; ".join(parts)


def _val_text(v: int) -> str:
    try:
        return val_type(v).text
    except (ValueError, KeyError):
        return str(v)


def _limits(limits: Limits) -> Json:
    return {"min": limits.min, "max": limits.max}


def _table(t: TableType) -> Json:
    return {"element": t.element.text, **_limits(t.limits), "index_type": _index_type(t.is_64)}


def _memory(m: MemoryType) -> Json:
    return {**_limits(m.limits), "shared": m.shared, "index_type": _index_type(m.is_64)}


def _index_type(is_64: bool) -> str:
    """A memory's or table's index type, as Wasmtime names it (memory64: ``I64``)."""
    return "I64" if is_64 else "I32"


def _global(g: GlobalType) -> Json:
    return {"type": g.content.text, "mutable": g.mutable}


def _preview(data: bytes) -> Json:
    head = data[:_PREVIEW_BYTES]
    return {
        "size": len(data),
        "preview_hex": head.hex(),
        "preview_text": head.decode("latin-1").encode("unicode_escape").decode("ascii"),
    }


def summarize_module(t: ModuleTranslation) -> Json:
    """Everything a reader wants to see of one module, as JSON-ready values."""
    m = t.module
    imports = []
    for imp in m.imports:
        desc: Json
        if isinstance(imp.desc, int):
            desc = {"type_index": imp.desc, "type": func_type_text(m.types[imp.desc])}
        elif isinstance(imp.desc, TableType):
            desc = _table(imp.desc)
        elif isinstance(imp.desc, MemoryType):
            desc = _memory(imp.desc)
        else:
            desc = _global(imp.desc)
        imports.append({"module": imp.module, "name": imp.name, "kind": imp.kind.name, **desc})

    functions = []
    for index, type_index in enumerate(m.functions):
        entry: Json = {
            "index": index,
            "name": t.func_name(index),
            "type_index": type_index,
            "type": func_type_text(m.types[type_index]),
            "imported": index < m.num_imported_funcs,
            "body": None,
        }
        defined = m.defined_func_index(index)
        if defined is not None and defined < len(t.bodies):
            b = t.bodies[defined]
            entry["body"] = {
                "start": b.offset,
                "code_start": b.code_start,
                "end": b.end,
                "size": b.end - b.offset,
                "locals": sum(n for n, _ in b.locals),
            }
        functions.append(entry)

    n_imp_globals = m.num_imported_globals
    globals_ = []
    for index, g in enumerate(m.globals):
        row = {"index": index, **_global(g), "init": None}
        if index >= n_imp_globals and index - n_imp_globals < len(m.global_inits):
            row["init"] = const_expr_text(m.global_inits[index - n_imp_globals])
        globals_.append(row)

    elements = []
    for i, e in enumerate(m.elements):
        items = (
            [f"func {f}" for f in e.functions]
            if e.functions is not None
            else [const_expr_text(x) for x in e.expressions or ()]
        )
        elements.append(
            {
                "index": i,
                "mode": e.mode.name,
                "element": e.element.text,
                "table": e.table_index if e.offset is not None else None,
                "offset": const_expr_text(e.offset),
                "items": items,
            }
        )

    data = [
        {
            "index": i,
            "mode": d.mode.name,
            "memory": d.memory_index if d.offset is not None else None,
            "offset": const_expr_text(d.offset),
            "file_offset": d.data_offset,
            **_preview(d.data),
        }
        for i, d in enumerate(t.data)
    ]

    return {
        "kind": "wasm",
        "size": len(t.wasm),
        "name": t.names.module,
        "types": type_texts(m),
        "imports": imports,
        "functions": functions,
        "tables": [
            {
                "index": i,
                **_table(tt),
                "init": const_expr_text(m.table_init(i - m.num_imported_tables))
                if i >= m.num_imported_tables
                else None,
            }
            for i, tt in enumerate(m.tables)
        ],
        "memories": [{"index": i, **_memory(mt)} for i, mt in enumerate(m.memories)],
        "globals": globals_,
        "exports": [{"name": e.name, "kind": e.kind.name, "index": e.index} for e in m.exports],
        "start": m.start,
        "elements": elements,
        "data": data,
        "data_count": t.data_count,
        "custom_sections": [
            {"name": name, "start": start, "end": end, "size": end - start}
            for name, start, end in t.custom_sections
        ],
        "code_section_offset": t.code_section_offset,
    }


def format_module_summary(d: Json) -> str:
    """Render :func:`summarize_module`'s result as text."""
    out = [f"wasm module{' ' + repr(d['name']) if d['name'] else ''}: {d['size']} bytes"]
    out.append(f"types ({len(d['types'])}):")
    out.extend(f"  type[{i}] {ty}" for i, ty in enumerate(d["types"]))
    out.append(f"imports ({len(d['imports'])}):")
    for imp in d["imports"]:
        what = imp["kind"].lower()
        if imp["kind"] == ExternKind.FUNC.name:
            what += f" {imp['type']}"
        out.append(f"  {imp['module']!r} {imp['name']!r}: {what}")
    out.append(f"functions ({len(d['functions'])}):")
    for f in d["functions"]:
        name = f" {f['name']}" if f["name"] else ""
        body = f["body"]
        where = (
            "imported"
            if body is None
            else f"body {body['start']:#x}..{body['end']:#x} ({body['size']} bytes, "
            f"{body['locals']} locals)"
        )
        out.append(f"  func[{f['index']}]{name}: type[{f['type_index']}] {f['type']} {where}")
    out.append(f"tables ({len(d['tables'])}):")
    out.extend(
        f"  table[{t['index']}] {t['element']} min {t['min']} max {t['max']}"
        + (" i64" if t["index_type"] == "I64" else "")
        + (f" = {t['init']}" if t.get("init") else "")
        for t in d["tables"]
    )
    out.append(f"memories ({len(d['memories'])}):")
    out.extend(
        f"  memory[{m['index']}] min {m['min']} max {m['max']}"
        f"{' i64' if m['index_type'] == 'I64' else ''}{' shared' if m['shared'] else ''}"
        for m in d["memories"]
    )
    out.append(f"globals ({len(d['globals'])}):")
    for g in d["globals"]:
        init = f" = {g['init']}" if g["init"] is not None else " (imported)"
        out.append(f"  global[{g['index']}] {'mut ' if g['mutable'] else ''}{g['type']}{init}")
    out.append(f"exports ({len(d['exports'])}):")
    out.extend(f"  {e['name']!r} -> {e['kind'].lower()}[{e['index']}]" for e in d["exports"])
    out.append(f"start: {'-' if d['start'] is None else d['start']}")
    out.append(f"elements ({len(d['elements'])}):")
    for e in d["elements"]:
        where = f" table[{e['table']}] at ({e['offset']})" if e["offset"] is not None else ""
        out.append(f"  elem[{e['index']}] {e['mode'].lower()}{where}: {', '.join(e['items'])}")
    out.append(f"data ({len(d['data'])}):")
    for s in d["data"]:
        where = f" memory[{s['memory']}] at ({s['offset']})" if s["offset"] is not None else ""
        out.append(
            f"  data[{s['index']}] {s['mode'].lower()}{where}: {s['size']} bytes "
            f"{s['preview_text']!r}"
        )
    out.append(f"custom sections ({len(d['custom_sections'])}):")
    out.extend(
        f"  {c['name']!r}: {c['start']:#x}..{c['end']:#x} ({c['size']} bytes)"
        for c in d["custom_sections"]
    )
    return "\n".join(out) + "\n"
