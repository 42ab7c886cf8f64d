"""The dispatch table: the handler of every instruction, indexed by opcode.

Each translation module exports ``HANDLERS``, its operators by name; this module
merges them into the one list ``translate()`` indexes per instruction. An operator
claimed by two modules, or a name the operator table does not know, is an error at
import time.
"""

from __future__ import annotations

from collections.abc import Mapping

from cwasm.compile.translate import (
    atomics,
    control,
    driver,
    environ,
    exceptions,
    gc_casts,
    gc_objects,
    gc_refs,
    index64,
    numeric,
    simd,
    simd_convert,
    simd_memory,
    simd_relaxed,
    tailcalls,
    typed_refs,
)
from cwasm.compile.translate.driver import Handler
from cwasm.wasm.operators import BY_NAME, OPERATORS

#: each module's handlers by operator name, keyed by the module's short name
TABLES: dict[str, Mapping[str, Handler]] = {
    "driver": driver.HANDLERS,
    "control": control.HANDLERS,
    "environ": environ.HANDLERS,
    "index64": index64.HANDLERS,
    "exceptions": exceptions.HANDLERS,
    "numeric": numeric.HANDLERS,
    "simd": simd.HANDLERS,
    "simd_memory": simd_memory.HANDLERS,
    "simd_convert": simd_convert.HANDLERS,
    "simd_relaxed": simd_relaxed.HANDLERS,
    "tailcalls": tailcalls.HANDLERS,
    "typed_refs": typed_refs.HANDLERS,
    "atomics": atomics.HANDLERS,
    "gc_refs": gc_refs.HANDLERS,
    "gc_objects": gc_objects.HANDLERS,
    "gc_casts": gc_casts.HANDLERS,
}


def build(tables: Mapping[str, Mapping[str, Handler]]) -> list[Handler | None]:
    """Merge ``tables`` into a list indexed by opcode (None: no handler)."""
    handlers: list[Handler | None] = [None] * len(OPERATORS)
    owner: dict[str, str] = {}
    for module, table in tables.items():
        for name, h in table.items():
            if name in owner:
                raise AssertionError(f"{name} has handlers in both {owner[name]} and {module}")
            owner[name] = module
            handlers[BY_NAME[name]] = h
    return handlers


HANDLERS = build(TABLES)
