"""Render the result of :func:`cwasm.inspect.report.inspect_artifact` as human-readable text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cwasm.obj import constants as C

Json = dict[str, Any]


def _hex(v: int | None) -> str:
    return "-" if v is None else f"{v:#x}"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def _fmt_header(d: Json, out: list[str]) -> None:
    h = d["header"]
    out.append(f"artifact: {d['file_size']} bytes, producer {d.get('producer', 'unknown')}")
    out.append(
        f"ELF64 {'LSB' if h['ei_data'] == 1 else 'MSB'}, OSABI={h['osabi']}, ABI {h['abiversion']}, "
        f"e_type={h['e_type']}, e_machine={h['e_machine']} ({h['machine']}), "
        f"e_flags={h['e_flags']:#x} ({h['kind']}), e_shoff={h['e_shoff']:#x}, "
        f"e_shnum={h['e_shnum']}, e_shstrndx={h['e_shstrndx']}"
    )


def _fmt_sections(d: Json, out: list[str]) -> None:
    out.append("")
    out.append("sections:")
    rows = [["idx", "name", "type", "flags", "offset", "size", "align"]]
    for s in d["sections"]:
        rows.append(
            [
                str(s["index"]),
                s["name"],
                s["type"],
                s["flags_text"],
                _hex(s["offset"]),
                _hex(s["size"]),
                str(s["addralign"]),
            ]
        )
    out.extend(_table(rows))


def _fmt_engine(d: Json, out: list[str]) -> None:
    e = d.get("engine")
    if not e:
        return
    out.append("")
    out.append(f"engine: version {e['version']!r}, target {e['target']}, bti={d.get('bti')}")
    if "shared_flags" not in e:  # cwasm's own record: show every field
        for key, value in e.items():
            if key not in ("version", "target"):
                shown = ", ".join(map(str, value)) if isinstance(value, list) else value
                out.append(f"  {key}: {shown}")
        return
    out.append("  shared flags: " + ", ".join(f"{k}={v}" for k, v in e["shared_flags"].items()))
    out.append("  isa flags: " + ", ".join(f"{k}={v}" for k, v in e["isa_flags"].items()))
    out.append("  tunables: " + ", ".join(f"{k}={v}" for k, v in e["tunables"].items()))
    on = [k for k, v in e["features"].items() if v]
    off = [k for k, v in e["features"].items() if not v]
    out.append("  features on: " + ", ".join(on))
    out.append("  features off: " + ", ".join(off))
    if e["trailing_bytes"]:
        out.append(f"  {e['trailing_bytes']} trailing bytes after the metadata")


def _fmt_checksum(d: Json, out: list[str]) -> None:
    c = d.get("checksum")
    if c is not None:
        verdict = "valid" if c["valid"] else f"MISMATCH (computed {c['computed']})"
        out.append(f"checksum ({C.ELF_CWASM_CHECKSUM}): {c['stored']} {verdict}")


def _fmt_module(d: Json, out: list[str]) -> None:
    m = d.get("module")
    if not m:
        return
    out.append("")
    out.append(f"module{' ' + repr(m['name']) if m['name'] else ''}:")
    for i, t in enumerate(m["types"]):
        out.append(f"  type[{i}] {t}")
    for imp in m["imports"]:
        out.append(
            f"  import {imp['module']!r} {imp['field']!r} -> {imp['kind'].lower()}[{imp['index']}]"
        )
    for e in m["exports"]:
        out.append(f"  export {e['name']!r} -> {e['kind'].lower()}[{e['index']}]")
    if m["start"] is not None:
        out.append(f"  start function {m['start']}")
    for i, t in enumerate(m["tables"]):
        out.append(
            f"  table[{i}] {t['element']} min {t['min']} max {t['max']}"
            f"{' i64' if t.get('index_type') == 'I64' else ''}"
        )
    for i, mem in enumerate(m["memories"]):
        out.append(
            f"  memory[{i}] min {mem['min']} max {mem['max']} pages of {mem['page_size']} bytes"
            f"{' i64' if mem.get('index_type') == 'I64' else ''}"
            f"{' shared' if mem['shared'] else ''}"
        )
    n_imp_globals = m["num_imported"]["globals"]
    for i, g in enumerate(m["globals"]):
        init = ""
        if i >= n_imp_globals and i - n_imp_globals < len(m["global_initializers"]):
            init = f" = {m['global_initializers'][i - n_imp_globals]}"
        out.append(f"  global[{i}] {'mut ' if g['mutable'] else ''}{g['type']}{init}")
    for i, tag in enumerate(m.get("tags", ())):
        out.append(f"  tag[{i}] type[{tag['type']}] {tag['signature']}")
    for v in m["table_initial_values"]:
        out.append(f"  table[{v['table']}] initial elements: {', '.join(v['elements'])}")
    for s in m["table_segments"]:
        out.append(f"  elem table[{s['table']}] at ({s['offset']}): {', '.join(s['elements'])}")
    for elem, items in m["passive_elements"].items():
        out.append(f"  passive elem[{elem}]: {', '.join(items)}")


def _fmt_functions(d: Json, out: list[str]) -> None:
    if "functions" in d:
        out.append("")
        out.append("functions (from .wasmtime.info):")
        rows = [["func", "name", "type", "text", "srcloc", "array_to_wasm"]]
        for f in d["functions"]:
            t, a2w = f["text"], f["array_to_wasm_trampoline"]
            rows.append(
                [
                    str(f["func_index"]),
                    f["name"] or "-",
                    f["type"] or "-",
                    f"{t['start']:#x}..{t['end']:#x}",
                    _hex(f["start_srcloc"]),
                    "-" if a2w is None else f"{a2w['start']:#x}..{a2w['end']:#x}",
                ]
            )
        out.extend(_table(rows))
        for w in d.get("wasm_to_array_trampolines", []):
            out.append(
                f"  wasm_to_array_trampoline type {w['type_index']}: "
                f"{w['text']['start']:#x}..{w['text']['end']:#x}"
            )
    out.append("")
    out.append("function symbols (.symtab):")
    rows = [
        [f"{s['start']:#x}..{s['end']:#x}", str(s["end"] - s["start"]), s["name"]]
        for s in d["function_symbols"]
    ]
    out.extend(_table(rows) or ["  (none)"])
    others = [s for s in d["symbols"] if s["type_name"] != "FUNC" and s["index"]]
    for s in others:
        out.append(f"  symbol {s['name']!r} {s['type_name']} {s['bind_name']} shndx {s['shndx']}")


def _fmt_traps(d: Json, out: list[str]) -> None:
    traps = d.get("traps")
    out.append("")
    if traps is None:
        out.append("traps: (no .wasmtime.traps section)")
        return
    out.append(f"traps ({len(traps)}):")
    rows = []
    for t in traps:
        where = "-" if t["function"] is None else f"{t['function']}+{t['function_offset']:#x}"
        rows.append(
            [
                _hex(t["text_offset"]),
                f"code {t['code']}",
                t["trap"] or "(not a trap)",
                f"wasm {_hex(t['wasm_offset'])}",
                where,
                f"({t['message']})" if t["message"] else "",
            ]
        )
    out.extend(_table(rows))


def _fmt_addrmap(d: Json, out: list[str]) -> None:
    amap = d.get("address_map")
    out.append("")
    if amap is None:
        out.append("address map: (no .wasmtime.addrmap section)")
        return
    out.append(f"address map ({len(amap)} entries, text -> wasm):")
    current = object()
    line: list[str] = []
    for e in amap:
        if e["function"] != current:
            if line:
                out.append("  " + " ".join(line))
            current = e["function"]
            line = [f"[{e['function'] or '?'}]"]
        line.append(
            f"{e['text_offset']:#x}->{'NONE' if e['wasm_offset'] is None else hex(e['wasm_offset'])}"
        )
    if line:
        out.append("  " + " ".join(line))


def _fmt_data(d: Json, out: list[str]) -> None:
    init = d.get("memory_initialization")
    if init is None:
        return
    out.append("")
    out.append(f"memory initialization: {init['kind']}")
    for e in init["entries"]:
        if e.get("image", 0) is None:
            out.append(f"  memory[{e['memory']}]: no image")
            continue
        r = e["data"]
        where = e.get("offset") or _hex(e.get("memory_offset"))
        out.append(
            f"  memory[{e['memory']}] at {where}: .rodata.wasm[{r['start']:#x}..{r['end']:#x}] "
            f"{e['size']} bytes ({e['nonzero_bytes']} non-zero)"
        )
        for run in e.get("nonzero_ranges", []):
            out.append(f"    data at {run['start']:#x}..{run['end']:#x}")
        if "offset" in e:
            out.append(f"    {e['preview_text']!r}")
    passive = d.get("passive_data") or []
    out.append(f"passive data ({len(passive)}):")
    for p in passive:
        r = p["data"]
        out.append(
            f"  data[{p['data_index']}]: .rodata.wasm[{r['start']:#x}..{r['end']:#x}] "
            f"{p['size']} bytes {p['preview_text']!r}"
        )


def _fmt_names(d: Json, out: list[str]) -> None:
    names = d.get("names")
    if names is None:
        return
    out.append("")
    size = names["section_size"]
    out.append(f"names (.name.wasm: {'absent' if size is None else f'{size} bytes'}):")
    for n in names["func_names"]:
        out.append(
            f"  function[{n['func_index']}] = {n['name']!r} (offset {n['offset']}, len {n['len']})"
        )


def _fmt_relocations(d: Json, out: list[str]) -> None:
    out.append("")
    relocs = d["relocations"]
    out.append(f"relocations ({len(relocs)}):")
    for r in relocs:
        out.append(
            f"  {r['section']}+{r['offset']:#x} {r['type_name']} {r['symbol']} addend {r['addend']}"
        )


def _fmt_disassembly(d: Json, out: list[str]) -> None:
    dis = d.get("disassembly")
    if dis is None:
        return
    out.append("")
    if dis["error"]:
        out.append(f"disassembly: {dis['error']}")
        return
    for f in dis["functions"]:
        out.append(f"{f['start']:#x} <{f['name']}>:")
        for i in f["instructions"]:
            notes = []
            if "wasm_offset" in i:
                notes.append(f"wasm {_hex(i['wasm_offset'])}")
            if "trap" in i:
                notes.append(f"trap: {i['trap']}")
            note = f"  ; {', '.join(notes)}" if notes else ""
            out.append(
                f"  {i['address']:6x}:  {i['bytes']:<24} {i['mnemonic']} {i['op_str']}".rstrip()
                + note
            )
        out.append("")


_FORMATTERS: tuple[Callable[[Json, list[str]], None], ...] = (
    _fmt_header,
    _fmt_sections,
    _fmt_engine,
    _fmt_checksum,
    _fmt_module,
    _fmt_functions,
    _fmt_traps,
    _fmt_addrmap,
    _fmt_data,
    _fmt_names,
    _fmt_relocations,
    _fmt_disassembly,
)


def format_inspection(d: Json) -> str:
    """Render the result of :func:`inspect_artifact` as human-readable text."""
    out: list[str] = []
    for fmt in _FORMATTERS:
        fmt(d, out)
    if d.get("errors"):
        out.append("")
        out.append("errors:")
        out.extend(f"  {e}" for e in d["errors"])
    return "\n".join(out) + "\n"
