"""A trap never loses a side effect made before it, nor shows one made after it.

Each case runs under every bounds-check mode and optimisation level (0–3), beside wasmtime-py
28 in the same test: the trap code and the state left behind (a global, memory bytes, a
table slot, the host-call log) must be the same. The loop cases are the ones LLVM broke:
with guard pages it believed the faulting load could not trap and sank the global store
past it, out of the loop the fault leaves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import wasmtime

import cwasm
from tests.runtime.wat import wat

MODULE = """
(module
  (import "host" "log" (func $log (param i32)))
  (memory (export "mem") 1)
  (table (export "tab") 2 funcref)
  (global $g (export "g") (mut i32) (i32.const 0))
  (func $nop)
  (elem declare func $nop)
  (func (export "loop_global")
    (loop (global.set $g (i32.const 7)) (drop (i32.load (i32.const 0x10000))) (br 0)))
  (func (export "loop_memory")
    (loop (i32.store (i32.const 8) (i32.const 9)) (drop (i32.load (i32.const 0x10000))) (br 0)))
  (func (export "loop_table")
    (loop (table.set (i32.const 1) (ref.func $nop)) (drop (i32.load (i32.const 0x10000))) (br 0)))
  (func (export "loop_store_then_oob_store")
    (loop (global.set $g (i32.const 3)) (i32.store (i32.const 0x10000) (i32.const 1)) (br 0)))
  (func (export "count_then_trap")
    (loop
      (global.set $g (i32.add (global.get $g) (i32.const 1)))
      (if (i32.eq (global.get $g) (i32.const 100))
        (then (drop (i32.load (i32.const 0x10000)))))
      (br 0)))
  (func (export "host_then_trap")
    (call $log (i32.const 5)) (drop (i32.load (i32.const 0x10000))))
  (func (export "global_then_div") (param i32) (result i32)
    (global.set $g (i32.const 11)) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "global_then_null_call")
    (global.set $g (i32.const 13)) (call_indirect (i32.const 0)))
  (func (export "trap_then_global")
    (drop (i32.load (i32.const 0x10000))) (global.set $g (i32.const 21)))
  (func (export "trap_then_memory")
    (drop (i32.load (i32.const 0x10000))) (i32.store (i32.const 8) (i32.const 22)))
)
"""

CALLS: list[tuple[str, list[int]]] = [
    ("loop_global", []),
    ("loop_memory", []),
    ("loop_table", []),
    ("loop_store_then_oob_store", []),
    ("count_then_trap", []),
    ("host_then_trap", []),
    ("global_then_div", [0]),
    ("global_then_null_call", []),
    ("trap_then_global", []),
    ("trap_then_memory", []),
]

CONFIGS = [(opt, bc) for opt in (0, 1, 2, 3) for bc in ("guard-pages", "explicit")]


@functools.cache
def _compiled(api_name: str, opt: int, bounds_checks: str) -> tuple[Any, Any, Any]:
    """``(api, engine, module)``: MODULE compiled once per engine configuration."""
    if api_name == "wasmtime":
        engine = wasmtime.Engine()
        return wasmtime, engine, wasmtime.Module(engine, wat(MODULE))
    config = cwasm.Config()
    config.opt_level = opt
    config.bounds_checks = bounds_checks
    engine = cwasm.Engine(config)
    return cwasm, engine, cwasm.Module(engine, wat(MODULE))


def _observe(compiled: tuple[Any, Any, Any], name: str, args: list[int]) -> dict[str, object]:
    """Run one export in a fresh instance of MODULE; what the trap left behind."""
    api, engine, module = compiled
    store = api.Store(engine)
    log: list[int] = []
    ty = api.FuncType([api.ValType.i32()], [])
    host = api.Func(store, ty, log.append)
    exports = api.Instance(store, module, [host]).exports(store)
    with pytest.raises(api.Trap) as info:
        exports[name](store, *args)
    memory = exports["mem"]
    return {
        "trap": info.value.trap_code.name,
        "g": exports["g"].value(store),
        "mem8": bytes(memory.read(store, 8, 12)),
        "tab1": _non_null(exports["tab"].get(store, 1)),
        "log": log,
    }


def _non_null(ref: object) -> bool:
    """A table element is non-null (wasmtime-py wraps even a null one in a ``Val``)."""
    return (ref.value if isinstance(ref, wasmtime.Val) else ref) is not None


@pytest.mark.parametrize("name,args", CALLS, ids=[c[0] for c in CALLS])
def test_trap_keeps_exactly_the_side_effects_before_it(name: str, args: list[int]) -> None:
    expected = _observe(_compiled("wasmtime", 0, ""), name, args)
    for opt, bounds_checks in CONFIGS:
        got = _observe(_compiled("cwasm", opt, bounds_checks), name, args)
        assert got == expected, (opt, bounds_checks)


def test_the_expected_effects_are_the_spec_ones() -> None:
    """Pin the reference itself, so a wasmtime-py change cannot hide a regression."""
    default = _compiled("cwasm", 2, "guard-pages")
    observe: Callable[[str, list[int]], dict[str, object]] = lambda n, a: _observe(default, n, a)  # noqa: E731
    assert observe("loop_global", [])["g"] == 7
    assert observe("loop_memory", [])["mem8"] == (9).to_bytes(4, "little")
    assert observe("loop_table", [])["tab1"] is True
    assert observe("count_then_trap", [])["g"] == 100
    assert observe("host_then_trap", [])["log"] == [5]
    assert observe("trap_then_global", [])["g"] == 0
    assert observe("trap_then_memory", [])["mem8"] == bytes(4)
