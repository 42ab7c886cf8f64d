"""``ModuleFacts``: what loading derives from a verified info record, made once per engine.

Loading the same artifact bytes again gets the very same verified ``CompiledModuleInfo``
back (``cwasm.obj.memo``), and everything ``CompiledModule`` derives from it that does
not depend on where the code is mapped is the same each time: the vmctx layout, the
engine-wide type ids, the table and global types closed over them, the code offsets of
the functions and trampolines, and the wasm-to-array trampoline check. Each engine keeps
these facts for the last ``FACTS_KEPT`` records it loaded, keyed by the record itself
(its identity, with the record held so the key stays valid), so a repeated load only adds
its code address to them.
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cwasm.abi.vmoffsets import VMOffsets
from cwasm.errors import CwasmError
from cwasm.obj.info import CompiledModuleInfo, FunctionTable, TrampolineTable
from cwasm.wasm import types as wt
from cwasm.wasm.gc_types import CompositeType
from cwasm.wasm.types import close_value_type

if TYPE_CHECKING:
    from cwasm.runtime.engine import Engine

#: the records whose facts an engine keeps
FACTS_KEPT = 64


@dataclass(frozen=True, slots=True)
class ModuleFacts:
    """What ``CompiledModule`` needs from one verified info record in one engine."""

    offsets: VMOffsets
    #: engine-wide type id per type index (``Engine.type_ids_for``)
    type_ids: list[int]
    #: table and global types with typed references closed over the engine's type ids,
    #: so that they compare across modules (``close_value_type``)
    table_types: tuple[wt.TableType, ...]
    global_types: tuple[wt.GlobalType, ...]
    #: per defined function: its code's offset in ``.text``
    func_starts: tuple[int, ...]
    #: per defined function in turn: its code's start and end offsets in ``.text``
    func_spans: tuple[int, ...]
    #: per defined function: its array-to-wasm trampoline's offset, None without one
    entry_starts: tuple[int | None, ...]
    #: (engine type id, offset in ``.text``) of the first wasm-to-array trampoline of
    #: each distinct type id
    wasm_to_array: tuple[tuple[int, int], ...]


def facts_for(engine: Engine, info: CompiledModuleInfo) -> ModuleFacts:
    """The facts of ``info`` in ``engine``, derived on its first load (``CwasmError`` if
    the artifact lacks a wasm-to-array trampoline: see ``_check_wasm_to_array``)."""
    kept = engine.module_facts
    hit = kept.get(id(info))
    if hit is not None and hit[0] is info:
        return hit[1]
    facts = _derive(engine, info)
    if len(kept) >= FACTS_KEPT:
        try:  # the oldest goes; another thread may be evicting it too
            del kept[next(iter(kept))]
        except (KeyError, RuntimeError, StopIteration):
            pass
    kept[id(info)] = (info, facts)
    return facts


def _derive(engine: Engine, info: CompiledModuleInfo) -> ModuleFacts:
    m = info.module
    type_ids = engine.type_ids_for(m.types, m.sub_types)
    w2a = TrampolineTable.of(info.wasm_to_array_trampolines)
    _check_wasm_to_array(m.types, type_ids, w2a)
    funcs = FunctionTable.of(info.funcs)
    starts, lengths = funcs.column(1), funcs.column(2)
    trampolines: dict[int, int] = {}
    for ti, start in zip(w2a.column(0), w2a.column(1), strict=True):
        trampolines.setdefault(type_ids[ti], start)
    # the per-function columns are built a column at a time (in C), not entry by entry
    spans: list[int] = [0] * (2 * len(starts))
    spans[0::2] = starts
    spans[1::2] = map(operator.add, starts, lengths)
    entries: list[int | None] = [None] * len(starts)
    entry_starts, entry_lengths = funcs.column(3), funcs.column(4)
    for i in itertools.compress(range(len(entries)), entry_lengths):
        entries[i] = entry_starts[i]
    return ModuleFacts(
        offsets=VMOffsets.for_module(m),
        type_ids=type_ids,
        table_types=tuple(_close_table(t, type_ids) for t in m.tables),
        global_types=tuple(_close_global(g, type_ids) for g in m.globals),
        func_starts=tuple(starts),
        func_spans=tuple(spans),
        entry_starts=tuple(entries),
        wasm_to_array=tuple(trampolines.items()),
    )


def _check_wasm_to_array(
    types: tuple[CompositeType, ...], type_ids: list[int], w2a: TrampolineTable
) -> None:
    """Every function type of the type section has a wasm-to-array trampoline: a host function's
    funcref of any type the code may call gets its ``wasm_call`` from the modules of its
    store (``cwasm.runtime.module_registry``), so an artifact written before cwasm
    compiled them all (only the imported types') is refused rather than run."""
    have = {type_ids[ti] for ti in w2a.column(0)}  # equal ids for equal types
    for ti, ft in enumerate(types):
        if type_ids[ti] not in have and type(ft) is wt.FuncType:
            raise CwasmError(
                f"artifact has no wasm-to-array trampoline for type {ti} ({ft}): it was "
                "compiled by an older cwasm; compile the module again"
            )


def _close_table(t: wt.TableType, type_ids: list[int]) -> wt.TableType:
    element = close_value_type(t.element, type_ids)
    return t if element is t.element else wt.TableType(element, t.limits, t.is_64)


def _close_global(g: wt.GlobalType, type_ids: list[int]) -> wt.GlobalType:
    content = close_value_type(g.content, type_ids)
    return g if content is g.content else wt.GlobalType(content, g.mutable)
