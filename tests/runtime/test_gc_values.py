"""Values of concrete struct, array and function types crossing the Python boundary.

A concrete heap type closed over the engine's type ids is coded by the engine's id, so
its kind comes from the engine's ``TypeRegistry`` (``TypeRegistry.top``): the value
codecs of parameters, results, host functions' arguments and results, globals and
tables decode a ``(ref null $struct)`` as an ``AnyRef`` and a ``(ref null $func)`` as
a ``Func`` by the type, not by the word. wasmtime-py (28 and 51) cannot pass these
values (docs/api.md), so the checks are cwasm's side, against the spec's typing.
"""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.runtime.anyref import AnyRef
from cwasm.wasm import types as wt
from tests.runtime.test_gc_types import _config
from tests.runtime.wat import wat

MODULE = """
(module
  (type $pt (struct (field (mut i32))))
  (type $arr (array (mut i32)))
  (type $fn (func (param i32) (result i32)))
  (import "host" "id" (func $id (param (ref null $pt)) (result (ref null $pt))))
  (import "host" "call" (func $call (param (ref null $fn)) (result (ref null $fn))))
  (global (export "gs") (mut (ref null $pt)) (ref.null $pt))
  (global (export "gf") (mut (ref null $fn)) (ref.func $inc))
  (global (export "ga") (mut (ref null $arr)) (ref.null $arr))
  (table (export "ts") 2 (ref null $pt))
  (table (export "tf") 2 (ref null $fn))
  (elem declare func $inc)
  (func $inc (export "inc") (type $fn) (i32.add (local.get 0) (i32.const 1)))
  (func (export "make") (param i32) (result (ref null $pt)) (struct.new $pt (local.get 0)))
  (func (export "arr") (param i32) (result (ref $arr)) (array.new $arr (local.get 0) (i32.const 2)))
  (func (export "x") (param (ref null $pt)) (result i32) (struct.get $pt 0 (local.get 0)))
  (func (export "fn") (result (ref null $fn)) (ref.func $inc))
  (func (export "apply") (param (ref null $fn) i32) (result i32)
    (call_ref $fn (local.get 1) (local.get 0)))
  (func (export "through_host") (param i32) (result i32)
    (struct.get $pt 0 (call $id (struct.new $pt (local.get 0)))))
  (func (export "call_through_host") (param i32) (result i32)
    (call_ref $fn (local.get 0) (call $call (ref.func $inc))))
)
"""


def _setup() -> tuple[cwasm.Store, dict[str, object], list[object]]:
    store = cwasm.Store(cwasm.Engine())  # GC is on by default
    module = cwasm.Module(store.engine, wat(MODULE))
    seen: list[object] = []

    def keep(v: object) -> object:
        seen.append(v)
        return v

    imports = [cwasm.Func(store, imp.type, keep) for imp in module.imports]
    x = cwasm.Instance(store, module, imports).exports(store)
    return store, {name: x[name] for name in x}, seen


def test_registry_knows_the_representation_of_concrete_types() -> None:
    store, x, _ = _setup()
    types = store.engine.types
    ts = x["ts"].wasm_type.element  # type: ignore[attr-defined]
    tf = x["tf"].wasm_type.element  # type: ignore[attr-defined]
    assert types.top(ts) == wt.ANYREF and types.top(tf) == wt.ValType.FUNCREF
    assert types.kind(ts.heap - wt.CONCRETE_HEAP) == wt.KIND_STRUCT
    assert types.kind(tf.heap - wt.CONCRETE_HEAP) == wt.KIND_FUNC
    assert types.top(wt.ValType.I32) == wt.ValType.I32
    assert types.top(wt.ANYREF) == wt.ANYREF


def test_params_and_results_decode_by_their_type() -> None:
    store, x, _ = _setup()
    p = x["make"](store, 5)  # type: ignore[operator]
    assert type(p) is AnyRef and p.is_struct
    assert x["x"](store, p) == 5  # type: ignore[operator]
    assert x["make"](store, 6) != p  # type: ignore[operator]
    a = x["arr"](store, 9)  # type: ignore[operator]
    assert type(a) is AnyRef and a.is_array
    f = x["fn"](store)  # type: ignore[operator]
    assert isinstance(f, cwasm.Func) and f(store, 1) == 2
    assert x["apply"](store, f, 41) == 42  # type: ignore[operator]
    assert x["apply"](store, x["inc"], 1) == 2  # type: ignore[operator]


def test_host_functions_receive_and_return_by_their_type() -> None:
    store, x, seen = _setup()
    assert x["through_host"](store, 7) == 7  # type: ignore[operator]
    assert x["call_through_host"](store, 3) == 4  # type: ignore[operator]
    struct_arg, func_arg = seen
    assert type(struct_arg) is AnyRef and struct_arg.is_struct
    assert isinstance(func_arg, cwasm.Func) and func_arg(store, 10) == 11


def test_globals_and_tables_decode_by_their_type() -> None:
    store, x, _ = _setup()
    gs, gf, ga, ts, tf = (x[n] for n in ("gs", "gf", "ga", "ts", "tf"))
    assert gs.value(store) is None and ga.value(store) is None  # type: ignore[attr-defined]
    f = gf.value(store)  # type: ignore[attr-defined]
    assert isinstance(f, cwasm.Func) and f(store, 0) == 1
    p = x["make"](store, 3)  # type: ignore[operator]
    gs.set_value(store, cwasm.Val.anyref(p))  # type: ignore[attr-defined]
    assert gs.value(store) == p  # type: ignore[attr-defined]
    gs.set_value(store, p)  # type: ignore[attr-defined]
    assert gs.value(store) == p and type(gs.value(store)) is AnyRef  # type: ignore[attr-defined]
    ts.set(store, 1, p)  # type: ignore[attr-defined]
    tf.set(store, 0, f)  # type: ignore[attr-defined]
    assert ts.get(store, 1) == p and ts.get(store, 0) is None  # type: ignore[attr-defined]
    got = tf.get(store, 0)  # type: ignore[attr-defined]
    assert isinstance(got, cwasm.Func) and got(store, 4) == 5


def test_a_value_of_the_other_hierarchy_is_a_type_mismatch() -> None:
    store, x, _ = _setup()
    p = x["make"](store, 1)  # type: ignore[operator]
    f = x["fn"](store)  # type: ignore[operator]
    with pytest.raises(cwasm.WasmtimeError, match="argument type mismatch"):
        x["x"](store, f)  # type: ignore[operator]
    with pytest.raises(cwasm.WasmtimeError, match="argument type mismatch"):
        x["apply"](store, p, 1)  # type: ignore[operator]
    with pytest.raises(cwasm.WasmtimeError, match="does not match table element type"):
        x["tf"].set(store, 0, p)  # type: ignore[attr-defined]
    with pytest.raises(cwasm.WasmtimeError, match="does not match table element type"):
        x["ts"].set(store, 0, f)  # type: ignore[attr-defined]
    with pytest.raises(cwasm.WasmtimeError, match="set global to value of wrong type"):
        x["ga"].set_value(store, p)  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        x["x"](store, 5)  # type: ignore[operator]


RECURSIVE_IMPORT = """
(module
  (rec (type $t (sub (func (param i64) (result i32)))) (type (struct)))
  (import "" "f" (func $f (type $t)))
  (func (export "run") (param i64) (result i32) (call $f (local.get 0))))
"""


@pytest.mark.parametrize("api", [wasmtime, cwasm], ids=["wasmtime", "cwasm"])
def test_a_host_function_made_with_an_import_type_has_that_type(api: Any) -> None:
    # the import's type is of a recursion group and not final: a host function of its
    # signature alone does not match it, one made with the import's own type does
    store = api.Store(api.Engine(_config(api)))
    module = api.Module(store.engine, wat(RECURSIVE_IMPORT))
    f = api.Func(store, module.imports[0].type, lambda x: x + 1)
    assert api.Instance(store, module, [f]).exports(store)["run"](store, 41) == 42
    plain = api.FuncType([api.ValType.i64()], [api.ValType.i32()])
    with pytest.raises(api.WasmtimeError, match="incompatible import type"):
        api.Instance(store, module, [api.Func(store, plain, lambda x: x)])
