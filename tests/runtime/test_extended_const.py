"""Extended constant expressions (Wasm 3.0): ``i32``/``i64`` ``add``, ``sub`` and
``mul`` and ``global.get`` of immutable globals in global initializers, data and element
segment offsets and element expressions, evaluated with wrapping arithmetic and compared
with wasmtime-py 28; ``Config.wasm_extended_const = False`` and the invalid uses are
rejected by the validator."""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

import cwasm

#: the imported globals' values tried, including ones that make the arithmetic wrap
_IMPORTED = ((7, 9), (-1, -1), (0x7FFF_FFFF, 0x7FFF_FFFF_FFFF_FFFF), (-0x8000_0000, -(2**63)))
_GLOBALS = ("add32", "sub32", "mul32", "add64", "sub64", "mul64")

#: uses only imported globals in expressions, which wasmtime-py 28 accepts too
WAT_IMPORTED = """
(module
  (import "env" "g32" (global $g32 i32))
  (import "env" "g64" (global $g64 i64))
  (global (export "add32") i32 (i32.add (global.get $g32) (i32.const 0x7fffffff)))
  (global (export "sub32") i32 (i32.sub (i32.const 3) (global.get $g32)))
  (global (export "mul32") i32 (i32.mul (global.get $g32) (i32.const 0x10001)))
  (global (export "add64") i64 (i64.add (global.get $g64) (i64.const 0x7fffffffffffffff)))
  (global (export "sub64") i64 (i64.sub (i64.const -5) (global.get $g64)))
  (global (export "mul64") i64
    (i64.mul (i64.mul (global.get $g64) (global.get $g64)) (i64.const 0x100000001)))
  (memory (export "mem") 1)
  (data (i32.add (i32.mul (global.get $g32) (i32.const 0)) (i32.const 100)) "xy")
  (data (i32.add (i32.const 0xffffffff) (i32.const 201)) "wrap")
  (table (export "tab") 16 funcref)
  (func $f (result i32) (i32.const 11))
  (func $h (result i32) (i32.const 22))
  (elem (i32.sub (i32.mul (global.get $g32) (i32.const 0)) (i32.const -3)) func $f $h)
  (elem (table 0) (i32.add (i32.const 8) (i32.mul (global.get $g32) (i32.const 0)))
    funcref (ref.func $h) (ref.null func))
  (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
)
"""


def _observe(api: Any, g32: int, g64: int) -> tuple[Any, ...]:
    """The exported globals, the data written and the table's callees (the null one
    trapping), from one engine
    (``cwasm`` or ``wasmtime``), with the imported globals set to ``g32`` and ``g64``."""
    store = api.Store()
    module = api.Module(store.engine, WAT_IMPORTED)
    imports = [
        api.Global(store, api.GlobalType(api.ValType.i32(), False), g32),
        api.Global(store, api.GlobalType(api.ValType.i64(), False), g64),
    ]
    exports = api.Instance(store, module, imports).exports(store)
    values = tuple(exports[name].value(store) for name in _GLOBALS)
    mem = exports["mem"]
    data = (bytes(mem.read(store, 100, 102)), bytes(mem.read(store, 200, 204)))
    calls = tuple(exports["call"](store, i) for i in (3, 4, 8))
    with pytest.raises(api.Trap, match="uninitialized element"):  # the null at 9
        exports["call"](store, 9)
    return values, data, calls


@pytest.mark.parametrize(("g32", "g64"), _IMPORTED)
def test_results_match_wasmtime(g32: int, g64: int) -> None:
    ours = _observe(cwasm, g32, g64)
    assert ours == _observe(wasmtime, g32, g64)
    values = ours[0]
    assert values[0] == _signed32(g32 + 0x7FFF_FFFF)  # the wrapped sum, as i32
    assert values[3] == _signed64(g64 + 0x7FFF_FFFF_FFFF_FFFF)


def _signed32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >> 31 else v


def _signed64(v: int) -> int:
    v &= 0xFFFF_FFFF_FFFF_FFFF
    return v - (1 << 64) if v >> 63 else v


#: global.get of globals defined earlier: Wasm 3.0 allows it (wasmtime-py 28 only with GC)
WAT_DEFINED = """
(module
  (import "env" "g" (global $g i32))
  (global $a i32 (i32.mul (global.get $g) (i32.const 3)))
  (global $b i32 (i32.sub (global.get $a) (i32.const 1)))
  (global $c (export "c") i64 (i64.mul (i64.const 0x100000000) (i64.const 0x100000003)))
  (global $d (export "d") i64 (i64.sub (global.get $c) (i64.const 1)))
  (global (export "b") i32 (global.get $b))
  (memory (export "mem") 1)
  (data (i32.add (global.get $b) (global.get $a)) "ab")
)
"""


def test_defined_globals_in_later_initializers_and_offsets() -> None:
    for g in (5, 1000, 0x5555_5556):  # the last wraps: 3 * g = 2 (mod 2^32)
        store = cwasm.Store()
        module = cwasm.Module(store.engine, WAT_DEFINED)
        imp = cwasm.Global(store, cwasm.GlobalType(cwasm.ValType.i32(), False), g)
        exports = cwasm.Instance(store, module, [imp]).exports(store)
        a = _signed32(g * 3)
        b = _signed32(a - 1)
        assert exports["b"].value(store) == b
        c = _signed64(0x1_0000_0000 * 0x1_0000_0003)
        assert exports["c"].value(store) == c
        assert exports["d"].value(store) == _signed64(c - 1)
        offset = a + b
        assert bytes(exports["mem"].read(store, offset, offset + 2)) == b"ab"


def test_out_of_bounds_computed_offset_traps_as_wasmtime() -> None:
    wat = """(module (import "env" "g" (global i32)) (memory 1)
      (data (i32.mul (global.get 0) (i32.const 0x10000)) "z"))"""
    for api in (cwasm, wasmtime):
        store = api.Store()
        imp = api.Global(store, api.GlobalType(api.ValType.i32(), False), 1)
        with pytest.raises(api.Trap, match="out of bounds memory access"):
            api.Instance(store, api.Module(store.engine, wat), [imp])


def _engine_off() -> cwasm.Engine:
    config = cwasm.Config()
    config.wasm_extended_const = False
    return cwasm.Engine(config)


def test_switch_is_on_by_default() -> None:
    assert cwasm.Config().wasm_extended_const is True


@pytest.mark.parametrize("op", ["i32.add", "i32.sub", "i32.mul"])
def test_arithmetic_rejected_when_off(op: str) -> None:
    wat = f"(module (global i32 ({op} (i32.const 1) (i32.const 2))))"
    message = f"constant expression required: non-constant operator: {op}"
    with pytest.raises(cwasm.WasmtimeError, match=message):
        cwasm.Module(_engine_off(), wat)
    cwasm.Module(cwasm.Engine(), wat)


@pytest.mark.parametrize("op", ["i64.add", "i64.sub", "i64.mul"])
def test_arithmetic_in_i64_globals_and_offsets_rejected_when_off(op: str) -> None:
    global_ = f"(module (global i64 ({op} (i64.const 1) (i64.const 2))))"
    with pytest.raises(cwasm.WasmtimeError, match=f"non-constant operator: {op}"):
        cwasm.Module(_engine_off(), global_)
    data = '(module (memory 1) (data (i32.add (i32.const 1) (i32.const 2)) "x"))'
    with pytest.raises(cwasm.WasmtimeError, match="non-constant operator: i32.add"):
        cwasm.Module(_engine_off(), data)
    elem = "(module (table 1 funcref) (func $f) (elem (i32.mul (i32.const 0) (i32.const 1)) $f))"
    with pytest.raises(cwasm.WasmtimeError, match="non-constant operator: i32.mul"):
        cwasm.Module(_engine_off(), elem)


def test_defined_global_unknown_when_off() -> None:
    wat = "(module (global i32 (i32.const 1)) (global i32 (global.get 0)))"
    with pytest.raises(cwasm.WasmtimeError, match="unknown global 0"):
        cwasm.Module(_engine_off(), wat)
    # imported globals stay usable, as in Wasm 2.0
    cwasm.Module(
        _engine_off(), '(module (import "e" "g" (global i32)) (global i32 (global.get 0)))'
    )


@pytest.mark.parametrize(
    ("wat", "message"),
    [
        (  # a mutable global
            "(module (global (mut i32) (i32.const 1)) (global i32 (global.get 0)))",
            "constant expression required",
        ),
        (  # a global defined after the one initialized
            "(module (global i32 (global.get 1)) (global i32 (i32.const 1)))",
            "unknown global 1",
        ),
        (  # itself
            "(module (global i32 (global.get 0)))",
            "unknown global 0",
        ),
        (  # a non-constant operator
            "(module (global i32 (i32.div_s (i32.const 1) (i32.const 2))))",
            "constant expression required",
        ),
        (
            '(module (memory 1) (data (i32.shl (i32.const 1) (i32.const 2)) ""))',
            "constant expression required",
        ),
        (  # operand types
            "(module (global i32 (i32.add (i64.const 1) (i32.const 2))))",
            "type mismatch",
        ),
        (
            "(module (global i64 (i32.mul (i32.const 1) (i32.const 2))))",
            "type mismatch",
        ),
        (
            "(module (global i32 (i32.const 1) (i32.add)))",
            "type mismatch",
        ),
    ],
)
def test_invalid_uses_rejected(wat: str, message: str) -> None:
    with pytest.raises(cwasm.WasmtimeError, match=message):
        cwasm.Module(cwasm.Engine(), wat)
    if "global.get 0)))" not in wat or "mut" in wat:  # wasmtime-py 28 rejects all of them
        with pytest.raises(wasmtime.WasmtimeError):
            wasmtime.Module(wasmtime.Engine(), wat)


def test_artifact_round_trip_keeps_expressions() -> None:
    engine = cwasm.Engine()
    data = cwasm.Module(engine, WAT_DEFINED).serialize()
    store = cwasm.Store(engine)
    module = cwasm.Module.deserialize(engine, data)
    imp = cwasm.Global(store, cwasm.GlobalType(cwasm.ValType.i32(), False), 4)
    exports = cwasm.Instance(store, module, [imp]).exports(store)
    assert exports["b"].value(store) == 11
