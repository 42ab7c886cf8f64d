"""What of a GC module the reference can see: wasmtime-py 51 aborts on GC reference types.

wasmtime-py 51's C API (``wasm_valtype_kind``) aborts the process ("support for
non-externref and non-funcref references is not implemented") when it reflects a value
type that is a reference other than ``funcref`` and ``externref`` (every GC type,
``(ref ...)`` of any heap type, ``nullfuncref``, ``exnref``...), and its ``Val`` cannot
carry one. smith exports every item of a module (``export-everything``), so a module of
the ``gc`` group keeps its code but loses the exports of the functions, globals and tables
whose types show such a reference (``strip_gc_exports``): they still run when the other
exports call them, reach them through tables, or read them. An import of such a type
cannot be given by the host, so a module with one is discarded (``gc_import``).
"""

from __future__ import annotations

import re

#: a reference type the reference's C API cannot reflect (in a function's header line, a
#: global's or a table's line: their types, and constant expressions, which write heap
#: types without ``(ref``)
_HOST_HIDDEN_REF = re.compile(
    r"\(ref |\b(?:any|eq|i31|struct|array|exn|null|nullfunc|nullextern|nullexn)ref\b"
)
#: a defined function's header, a global or a table, by kind and index
_ITEM = re.compile(r"^  \((func|global|table) \(;(\d+);\)(.*)$", re.MULTILINE)
_STRING = r'"(?:[^"\\]|\\.)*"'
#: an import of a function, global or table, by kind and index
_IMPORT = re.compile(
    rf"^  \(import {_STRING} {_STRING} \((func|global|table) \(;(\d+);\)(.*)$", re.MULTILINE
)
#: an export of a function, global or table
_EXPORT = re.compile(rf"^  \(export {_STRING} \((func|global|table) (\d+)\)\)\n", re.MULTILINE)


def _hidden(wat: str, pattern: re.Pattern[str]) -> set[tuple[str, int]]:
    return {
        (m.group(1), int(m.group(2)))
        for m in pattern.finditer(wat)
        if _HOST_HIDDEN_REF.search(m.group(3))
    }


def gc_import(wat: str) -> bool:
    """Whether module text ``wat`` (``wasm-tools print``'s) imports a function, global or
    table whose type the reference cannot reflect."""
    return bool(_hidden(wat, _IMPORT))


def strip_gc_exports(wat: str) -> tuple[str, int]:
    """``wat`` without the exports of functions, globals and tables whose types the
    reference cannot reflect, and how many were removed. The functions stay declared (a
    declarative element segment, after the others so no segment index moves), as
    ``ref.func`` needs."""
    hidden = _hidden(wat, _ITEM) | _hidden(wat, _IMPORT)
    removed: list[tuple[str, int]] = []

    def keep(m: re.Match[str]) -> str:
        item = (m.group(1), int(m.group(2)))
        if item in hidden:
            removed.append(item)
            return ""
        return m.group(0)

    out = _EXPORT.sub(keep, wat)
    funcs = sorted({i for kind, i in removed if kind == "func"})
    if funcs:
        end = out.rstrip().rfind(")")  # the module's closing parenthesis
        declare = "  (elem declare func " + " ".join(map(str, funcs)) + ")\n"
        out = out[:end] + declare + out[end:]
    return out, len(removed)
