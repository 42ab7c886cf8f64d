"""Memory64 (Wasm 3.0): 64-bit memories and tables run on cwasm (with guard pages and with
explicit bounds checks) and on wasmtime-py 28 (``Config.wasm_memory64 = True``) side by
side: i64 addresses, offsets past 4 GiB, ``memory.size``/``grow``/``fill``/``copy``/
``init`` with i64 operands, atomics, a 64-bit table with ``call_indirect`` and its
``table.*`` operators; a memory grown past 4 GiB with an access beyond 4 GiB and one at
2^64-8 that traps; ``MemoryType(..., is_64=True)`` from Python; and
``Config.wasm_memory64 = False`` refusing such modules."""

from __future__ import annotations

import re
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.errors import CwasmError
from tests.runtime.wat import wat

WAT = """
(module
  (memory $m (export "mem") i64 1 8)
  (memory $small 1 1)
  (table $t i64 4 10 funcref)
  (data (memory $m) (i64.const 40) "sixty-four")
  (data $passive "passive-data")
  (elem (table $t) (i64.const 1) func $seven $eight)
  (func $seven (result i32) (i32.const 7))
  (func $eight (result i32) (i32.const 8))
  (func (export "load") (param i64) (result i32) (i32.load $m (local.get 0)))
  (func (export "load_far") (param i64) (result i32)
    (i32.load $m offset=0xffff_fff0 (local.get 0)))
  (func (export "load8") (param i64) (result i64) (i64.load8_u $m offset=3 (local.get 0)))
  (func (export "store") (param i64 i32) (i32.store $m (local.get 0) (local.get 1)))
  (func (export "store64") (param i64 i64) (i64.store $m offset=8 (local.get 0) (local.get 1)))
  (func (export "size") (result i64) (memory.size $m))
  (func (export "grow") (param i64) (result i64) (memory.grow $m (local.get 0)))
  (func (export "fill") (param i64 i32 i64)
    (memory.fill $m (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i64 i64 i64)
    (memory.copy $m $m (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_to_small") (param i32 i64 i32)
    (memory.copy $small $m (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i64 i32 i32)
    (memory.init $m $passive (local.get 0) (local.get 1) (local.get 2)))
  (func (export "atomic_add") (param i64 i32) (result i32)
    (i32.atomic.rmw.add $m (local.get 0) (local.get 1)))
  (func (export "v128_sum") (param i64) (result i32)
    (i32x4.extract_lane 3 (v128.load $m offset=16 (local.get 0))))
  (func (export "call") (param i64) (result i32)
    (call_indirect $t (result i32) (local.get 0)))
  (func (export "table_size") (result i64) (table.size $t))
  (func (export "table_grow") (param i64) (result i64)
    (table.grow $t (ref.null func) (local.get 0)))
  (func (export "table_fill") (param i64 i64)
    (table.fill $t (local.get 0) (ref.func $seven) (local.get 1)))
  (func (export "table_is_null") (param i64) (result i32)
    (ref.is_null (table.get $t (local.get 0))))
)
"""

#: 4 GiB + 1 page: ``BIG_WAT``'s memory grows past what a 32-bit memory can address
PAGES_PAST_4G = 65537
BIG_WAT = """
(module
  (memory (export "mem") i64 1)
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "store") (param i64 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "load") (param i64) (result i64) (i64.load (local.get 0)))
)
"""


def _engine(api: Any, bounds_checks: str | None) -> Any:
    config = api.Config()
    config.wasm_memory64 = True
    if bounds_checks is not None:
        config.bounds_checks = bounds_checks
    return api.Engine(config)


def _outcome(call: Any, api: Any) -> Any:
    """The call's result, or the trap's code and its ``wasm trap:`` line."""
    try:
        return ("ok", call())
    except api.Trap as e:
        trap_line = re.search(r"wasm trap: [^\n]*", e.message)
        return ("trap", e.trap_code.name, trap_line and trap_line.group())


def _run(api: Any, bounds_checks: str | None = None) -> list[Any]:
    """Everything observable of the scenario on one engine (``cwasm`` or ``wasmtime``)."""
    engine = _engine(api, bounds_checks)
    store = api.Store(engine)
    ex = api.Instance(store, api.Module(engine, wat(WAT)), []).exports(store)
    mem = ex["mem"]
    seen: list[Any] = [mem.type(store).is_64, bytes(mem.read(store, 40, 50))]

    def note(name: str, *args: Any) -> None:
        seen.append(_outcome(lambda: ex[name](store, *args), api))

    note("load", 40)
    note("load8", 40)
    note("store", 1000, 0x01020304)
    note("store64", 2000, -3)
    note("load", 1000)
    note("load", 2008)
    # bounds: the last word, one byte past it, addresses past 32 bits, the top of 2^64
    for at in (65532, 65533, 1 << 32, (1 << 64) - 4, -1, (1 << 63) + 8):
        note("load", at)
    note("load_far", 0)
    note("load_far", 16)
    note("load8", (1 << 64) - 3)
    note("store64", (1 << 64) - 8, 1)
    note("v128_sum", 65536 - 32)
    note("v128_sum", 65536 - 31)
    # size and growth with i64 page counts (max 8 pages)
    note("size")
    note("grow", 2)
    note("grow", 6)
    note("grow", 1 << 32)
    note("grow", -1)
    note("size")
    note("load", 3 * 65536 - 4)
    note("load", 3 * 65536 - 3)
    # bulk operations with i64 operands
    note("fill", 3000, 0x5A, 8)
    seen.append(bytes(mem.read(store, 3000, 3008)))
    note("fill", 3 * 65536 - 2, 0, 3)
    note("fill", 10, 0, (1 << 64) - 1)
    note("copy", 4000, 3000, 8)
    seen.append(bytes(mem.read(store, 3996, 4008)))
    note("copy", 4000, (1 << 64) - 2, 4)
    note("copy_to_small", 65530, 3000, 6)
    note("copy_to_small", 65531, 3000, 6)
    note("init", 5000, 2, 5)
    seen.append(bytes(mem.read(store, 5000, 5005)))
    note("init", (1 << 40), 0, 0)
    note("init", 3 * 65536 - 2, 0, 4)
    # atomics: alignment and bounds on i64 addresses
    note("atomic_add", 1000, 5)
    note("load", 1000)
    note("atomic_add", 1001, 5)
    note("atomic_add", (1 << 64) - 4, 5)
    # the 64-bit table
    for i in (0, 1, 2, 3, 4, 1 << 32, -1):
        note("call", i)
    note("table_size")
    note("table_grow", 3)
    note("table_grow", 1 << 33)
    note("table_size")
    note("table_fill", 5, 2)
    note("call", 6)
    note("table_is_null", 5)
    note("table_is_null", 7)
    note("table_fill", 6, 1 << 32)
    note("table_fill", 1 << 32, 0)
    note("table_is_null", 1 << 32)
    return seen


@pytest.mark.parametrize("bounds_checks", ["guard-pages", "explicit"])
def test_64_bit_memory_and_table_match_wasmtime(bounds_checks: str) -> None:
    ours = _run(cwasm, bounds_checks)
    theirs = _run(wasmtime)
    assert ours == theirs
    traps = {o[1] for o in ours if isinstance(o, tuple) and o[0] == "trap"}
    assert {"MEMORY_OUT_OF_BOUNDS", "TABLE_OUT_OF_BOUNDS", "HEAP_MISALIGNED"} <= traps


def _run_past_4g(api: Any, bounds_checks: str | None = None) -> list[Any]:
    """Grow a 64-bit memory past 4 GiB, use it there and at the top of the address space."""
    engine = _engine(api, bounds_checks)
    store = api.Store(engine)
    ex = api.Instance(store, api.Module(engine, wat(BIG_WAT)), []).exports(store)
    seen: list[Any] = []

    def note(name: str, *args: Any) -> None:
        seen.append(_outcome(lambda: ex[name](store, *args), api))

    note("grow", PAGES_PAST_4G - 1)
    seen.append(ex["mem"].size(store))
    seen.append(ex["mem"].data_len(store))
    note("store", (4 << 30) + 8, 0x0123_4567_89AB_CDEF)
    note("load", (4 << 30) + 8)
    note("load", 8)  # the same address modulo 2^32 is untouched
    note("load", PAGES_PAST_4G * 65536 - 8)
    note("load", PAGES_PAST_4G * 65536 - 7)
    note("load", (1 << 64) - 8)
    note("store", (1 << 64) - 8, 1)
    seen.append(bytes(ex["mem"].read(store, (4 << 30) + 8, (4 << 30) + 16)))
    return seen


@pytest.mark.parametrize("bounds_checks", ["guard-pages", "explicit"])
def test_memory_grown_past_4_gib_matches_wasmtime(bounds_checks: str) -> None:
    ours = _run_past_4g(cwasm, bounds_checks)
    assert ours == _run_past_4g(wasmtime)
    assert ours[1] == PAGES_PAST_4G


def test_64_bit_memory_from_python_is_imported_and_grows_past_4_gib() -> None:
    for api in (cwasm, wasmtime):
        engine = _engine(api, None)
        store = api.Store(engine)
        ty = api.MemoryType(api.Limits(1, None), is_64=True)
        assert ty.is_64 and not api.MemoryType(api.Limits(1, None)).is_64
        mem = api.Memory(store, ty)
        assert mem.type(store).is_64
        module = api.Module(
            engine,
            wat(
                '(module (import "env" "m" (memory i64 1))'
                ' (func (export "load") (param i64) (result i64) (i64.load (local.get 0))))'
            ),
        )
        # a 32-bit memory does not satisfy a 64-bit import, nor the other way round
        small = api.Memory(store, api.MemoryType(api.Limits(1, None)))
        with pytest.raises(api.WasmtimeError):
            api.Instance(store, module, [small])
        load = api.Instance(store, module, [mem]).exports(store)["load"]
        assert mem.grow(store, PAGES_PAST_4G - 1) == 1
        assert mem.size(store) == PAGES_PAST_4G
        mem.write(store, (42).to_bytes(8, "little"), 4 << 30)
        assert load(store, 4 << 30) == 42
        assert [i.type.is_64 for i in module.imports] == [True]


def test_memory64_off_refuses_64_bit_memories_and_tables() -> None:
    config = cwasm.Config()
    config.wasm_memory64 = False
    engine = cwasm.Engine(config)
    assert "memory64" not in engine.wasm_features
    assert "memory64" in cwasm.Engine().wasm_features
    for text, what in (
        ("(module (memory i64 1))", "memories"),
        ("(module (table i64 1 funcref))", "tables"),
    ):
        with pytest.raises(CwasmError, match=f"memory64 must be enabled for 64-bit {what}"):
            cwasm.Module(engine, wat(text))
        cwasm.Module(cwasm.Engine(), wat(text))  # on by default


def test_artifact_of_memory64_engine_needs_memory64() -> None:
    artifact = cwasm.Module(cwasm.Engine(), wat(BIG_WAT)).serialize()
    config = cwasm.Config()
    config.wasm_memory64 = False
    with pytest.raises(CwasmError, match="memory64"):
        cwasm.Module.deserialize(cwasm.Engine(config), artifact)
    module = cwasm.Module.deserialize(cwasm.Engine(), artifact)
    (export,) = [e for e in module.exports if e.name == "mem"]
    assert export.type.is_64 and export.type.limits.min == 1
