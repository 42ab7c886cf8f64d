"""Typed reference values given from Python (Wasm 3.0 function references): a null for
a non-nullable parameter, result, global or table element, and a ``Func`` for a
concrete function type it does not match, are refused before anything runs, with
Wasmtime's errors (its ``type mismatch: expected ..., found ...`` and the context of
where the value was given). wasmtime-py (28 and 51) cannot pass typed references: its C
API aborts on them (``support for non-externref and non-funcref references`` is not
implemented), so the texts are Wasmtime's own (``values.rs``, ``func.rs``,
``externals/table.rs``, ``externals/global.rs``), with a concrete type shown as its
function type where Wasmtime shows its engine index.
"""

from __future__ import annotations

from typing import Any

import pytest

import cwasm

WAT = """
(module
  (type $ii (func (param i32) (result i32)))
  (type $v (func))
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (elem declare func $inc)
  (func (export "take") (param (ref $ii) i32) (result i32)
    (call_ref $ii (local.get 1) (local.get 0)))
  (func (export "take_null") (param (ref null $ii)) (result i32)
    (ref.is_null (local.get 0)))
  (func (export "take_func") (param (ref func)))
  (func (export "take_extern") (param (ref extern)))
  (func (export "inc") (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func (export "nop") (type $v))
  (global (export "g") (mut (ref $ii)) (ref.func $inc))
  (global (export "gn") (mut (ref null $ii)) (ref.null $ii))
  (global (export "gf") (mut (ref func)) (ref.func $inc))
  (table (export "t") 2 (ref $ii) (ref.func $inc))
  (table (export "tn") 2 (ref null $ii))
)
"""

FUNC_TEXT = "(func (param i32) (result i32))"
NULL_FUNC = "(ref null nofunc)"


def _exports() -> tuple[cwasm.Store, cwasm.Module, dict[str, Any]]:
    store = cwasm.Store()
    # another module's types first: the engine's type ids are not this module's indices
    cwasm.Module(
        store.engine, "(module (func (param f64)) (func (param f32) (result i64) (i64.const 0)))"
    )
    module = cwasm.Module(store.engine, WAT)
    instance = cwasm.Instance(store, module, [])
    return store, module, dict(instance.exports(store).items())


def _mismatch(context: str, expected: str, found: str) -> str:
    return f"{context}\n\nCaused by:\n    type mismatch: expected {expected}, found {found}"


def test_null_for_a_non_nullable_parameter_is_refused_before_the_call() -> None:
    store, _, e = _exports()
    args = "argument type mismatch"
    cases = [
        ("take", (None, 1), f"(ref {FUNC_TEXT})", NULL_FUNC),
        ("take_func", (None,), "(ref func)", NULL_FUNC),
        ("take_extern", (None,), "(ref extern)", "(ref null noextern)"),
    ]
    for name, params, expected, found in cases:
        with pytest.raises(cwasm.WasmtimeError) as info:
            e[name](store, *params)
        assert str(info.value) == _mismatch(args, expected, found)
        # the raw call path (the spec harness's) checks the same
        with pytest.raises(cwasm.WasmtimeError) as raw:
            e[name].call_raw(store, list(params))
        assert str(raw.value) == str(info.value)
    # the nullable type takes null; the non-nullable ones take a value of their type
    assert e["take_null"](store, None) == 1
    assert e["take"](store, e["inc"], 41) == 42
    assert e["take_func"](store, e["nop"]) is None
    assert e["take_extern"](store, object()) is None


def test_a_func_of_another_type_is_refused_for_a_concrete_type() -> None:
    store, _, e = _exports()
    with pytest.raises(cwasm.WasmtimeError) as info:
        e["take"](store, e["nop"], 1)
    expected = _mismatch("argument type mismatch", f"(ref {FUNC_TEXT})", "(ref (func))")
    assert str(info.value) == expected
    with pytest.raises(cwasm.WasmtimeError, match="argument type mismatch"):
        e["take_null"](store, e["nop"])
    # a host function of the same signature matches it, as in Wasmtime
    ty = cwasm.FuncType([cwasm.ValType.i32()], [cwasm.ValType.i32()])
    host = cwasm.Func(store, ty, lambda x: x * 3)
    assert e["take"](store, host, 5) == 15


def test_globals_and_tables_refuse_values_not_of_their_type() -> None:
    store, module, e = _exports()
    set_g = "type mismatch: attempt to set global to value of wrong type"
    element = "type mismatch: value does not match table element type"
    typed, nullable = f"(ref {FUNC_TEXT})", f"(ref null {FUNC_TEXT})"
    cases = [
        (lambda: e["g"].set_value(store, None), set_g, typed, NULL_FUNC),
        (lambda: e["g"].set_value(store, e["nop"]), set_g, typed, "(ref (func))"),
        (lambda: e["gn"].set_value(store, e["nop"]), set_g, nullable, "(ref (func))"),
        (lambda: e["gf"].set_value(store, None), set_g, "(ref func)", NULL_FUNC),
        (lambda: e["t"].set(store, 0, None), element, typed, NULL_FUNC),
        (lambda: e["t"].set(store, 1, e["nop"]), element, typed, "(ref (func))"),
        (lambda: e["tn"].set(store, 0, e["nop"]), element, nullable, "(ref (func))"),
        (lambda: e["t"].grow(store, 1, None), element, typed, NULL_FUNC),
        (lambda: e["tn"].grow(store, 1, e["nop"]), element, nullable, "(ref (func))"),
    ]
    for action, context, expected, found in cases:
        with pytest.raises(cwasm.WasmtimeError) as info:
            action()
        assert str(info.value) == _mismatch(context, expected, found)
    # nothing was changed by the refused values
    assert e["t"].size(store) == 2 and e["tn"].size(store) == 2
    assert e["g"].value(store)(store, 1) == 2
    assert e["t"].get(store, 0)(store, 1) == 2
    # values of the right type are taken
    e["gn"].set_value(store, e["inc"])
    e["t"].set(store, 1, e["inc"])
    assert e["t"].grow(store, 1, e["inc"]) == 2
    assert e["tn"].grow(store, 1, None) == 2
    # new globals and tables made with the module's export types check their initial value
    types = {x.name: x.type for x in module.exports}
    init = "type mismatch: initial value provided does not match the type of this global"
    with pytest.raises(cwasm.WasmtimeError) as info:
        cwasm.Global(store, types["g"], None)
    assert str(info.value) == _mismatch(init, typed, NULL_FUNC)
    with pytest.raises(cwasm.WasmtimeError) as info:
        cwasm.Table(store, types["t"], e["nop"])
    assert str(info.value) == _mismatch(element, typed, "(ref (func))")
    table = cwasm.Table(store, types["t"], e["inc"])
    assert table.get(store, 1)(store, 9) == 10


def test_host_results_of_a_typed_reference_type_are_checked() -> None:
    store = cwasm.Store()
    module = cwasm.Module(
        store.engine,
        """(module
          (type $v (func))
          (import "h" "f" (func $f (result (ref $v))))
          (func (export "run") (call_ref $v (call $f))))""",
    )
    (imp,) = module.imports
    returned: list[Any] = [None]
    host = cwasm.Func(store, imp.type, lambda: returned[0])
    run = cwasm.Instance(store, module, [host]).exports(store)["run"]
    with pytest.raises(cwasm.WasmtimeError) as info:
        run(store)
    context = "function attempted to return an incompatible value"
    assert str(info.value).startswith(_mismatch(context, "(ref (func))", NULL_FUNC))
    returned[0] = cwasm.Func(store, cwasm.FuncType([], []), lambda: None)
    assert run(store) is None


def test_typed_types_show_function_types_not_engine_ids() -> None:
    """Instances', imports' and exports' typed reference types name their function type
    (an engine's type ids mean nothing outside it)."""
    store, module, e = _exports()
    for ty in (e["t"].type(store), e["tn"].type(store)):
        assert FUNC_TEXT in str(ty.element)
    assert str(e["g"].type(store).content) == f"(ref {FUNC_TEXT})"
    assert repr(e["gn"].type(store)) == f"GlobalType(ValType((ref null {FUNC_TEXT})), True)"
    take = f"(func (param (ref {FUNC_TEXT}) i32) (result i32))"
    assert repr(e["take"].type(store)) == take
    types = {x.name: x.type for x in module.exports}
    assert repr(types["t"]) == f"TableType(ValType((ref {FUNC_TEXT})), Limits(2, None))"
    assert str(types["gf"].content) == "(ref func)"
