"""Typed function references (Wasm 3.0) at run time: ``call_ref`` through tables,
globals and locals, ``br_on_null`` / ``br_on_non_null``, ``ref.as_non_null``, typed
tables with initializers, the null-reference traps, typed references crossing to
Python, linking with typed imports, and ``Config.wasm_function_references``.

Results are compared with Wasmtime: wasmtime-py 28's ``Config`` has no
``wasm_function_references`` property, but its library has the C API's
``wasmtime_config_wasm_function_references_set``, which ``_wasmtime_config`` calls.
"""

from __future__ import annotations

import ctypes
from typing import Any

import pytest
import wasmtime
from wasmtime import _ffi

import cwasm

WAT = """
(module
  (type $ii (func (param i32) (result i32)))
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (global $g (export "g") (ref $ii) (ref.func $inc))
  (global $m (export "m") (mut (ref null $ii)) (ref.null $ii))
  (table $t (export "t") 3 (ref $ii) (ref.func $dbl))
  (table $n 2 (ref null $ii))
  (elem (table $n) (i32.const 1) (ref $ii) (ref.func $inc))
  (elem declare func $inc $dbl)
  (func (export "via_table") (param i32 i32) (result i32)
    (call_ref $ii (local.get 1) (table.get $t (local.get 0))))
  (func (export "via_global") (param i32) (result i32)
    (call_ref $ii (local.get 0) (global.get $g)))
  (func (export "null_or") (param i32 i32) (result i32)
    (block $null
      (return (call_ref $ii (local.get 1) (br_on_null $null (table.get $n (local.get 0))))))
    (i32.const -1))
  (func (export "non_null_or") (param i32 i32) (result i32)
    (local $f (ref $ii))
    (local.set $f
      (block $some (result (ref $ii))
        (br_on_non_null $some (table.get $n (local.get 0)))
        (return (i32.const -2))))
    (call_ref $ii (local.get 1) (ref.as_non_null (local.get $f))))
  (func (export "local") (param i32) (result i32)
    (local $f (ref $ii))
    (local.set $f (global.get $g))
    (call_ref $ii (local.get 0) (local.get $f)))
  (func (export "call_mutable") (param i32) (result i32)
    (call_ref $ii (local.get 0) (global.get $m)))
  (func (export "as_non_null") (result i32)
    (drop (ref.as_non_null (global.get $m))) (i32.const 0))
  (func (export "set_m") (param i32)
    (global.set $m (table.get $t (local.get 0))))
  (func (export "typed_select") (param i32) (result i32)
    (call_ref $ii (i32.const 10)
      (select (result (ref $ii)) (global.get $g) (table.get $t (i32.const 0)) (local.get 0))))
)
"""

CALLS: list[tuple[str, tuple[int, ...]]] = [
    ("via_table", (0, 5)),
    ("via_table", (2, -7)),
    ("via_global", (41,)),
    ("null_or", (0, 5)),
    ("null_or", (1, 5)),
    ("non_null_or", (0, 5)),
    ("non_null_or", (1, 5)),
    ("local", (9,)),
    ("typed_select", (1,)),
    ("typed_select", (0,)),
]


def _wasmtime_config() -> wasmtime.Config:
    config = wasmtime.Config()
    setter = _ffi.dll.wasmtime_config_wasm_function_references_set
    setter.argtypes = [ctypes.c_void_p, ctypes.c_bool]
    setter.restype = None
    setter(config.ptr(), True)
    return config


def _instance(api: Any) -> tuple[Any, Any]:
    config = _wasmtime_config() if api is wasmtime else api.Config()
    store = api.Store(api.Engine(config))
    module = api.Module(store.engine, WAT)
    return store, api.Instance(store, module, []).exports(store)


def _observe(api: Any) -> list[Any]:
    store, exports = _instance(api)
    out: list[Any] = [exports[name](store, *args) for name, args in CALLS]
    for name in ("call_mutable", "as_non_null"):
        with pytest.raises(api.Trap) as info:
            exports[name](store, 1) if name == "call_mutable" else exports[name](store)
        # (wasmtime-py 28's ``trap_code`` aborts on this code: compare the messages)
        out.append(str(info.value).split("wasm trap: ")[1].splitlines()[0])
    exports["set_m"](store, 2)
    out.append(exports["call_mutable"](store, 4))
    return out


def test_results_and_traps_match_wasmtime() -> None:
    ours = _observe(cwasm)
    theirs = _observe(wasmtime)
    assert ours[: len(CALLS)] == theirs[: len(CALLS)]
    assert ours[: len(CALLS)][:3] == [10, -14, 42]  # dbl(5), dbl(-7), inc(41)
    # both traps are Wasmtime's null reference
    assert ours[len(CALLS) : -1] == theirs[len(CALLS) : -1]
    assert ours[len(CALLS) : -1] == ["null reference"] * 2
    assert ours[-1] == theirs[-1] == 8


def test_null_call_ref_traps_with_the_null_reference_code() -> None:
    store, exports = _instance(cwasm)
    with pytest.raises(cwasm.Trap) as info:
        exports["call_mutable"](store, 1)
    assert info.value.trap_code == cwasm.TrapCode.NULL_REFERENCE


def test_typed_references_cross_to_python_as_funcs() -> None:
    store, exports = _instance(cwasm)
    g = exports["g"]
    f = g.value(store)
    assert isinstance(f, cwasm.Func) and f(store, 1) == 2  # $inc
    t = exports["t"]
    assert t.get(store, 0)(store, 3) == 6  # the initializer: $dbl
    m = exports["m"]
    assert m.value(store) is None
    m.set_value(store, f)
    assert exports["call_mutable"](store, 5) == 6
    with pytest.raises(cwasm.WasmtimeError, match="found \\(ref null nofunc\\)"):
        t.set(store, 0, None)  # the table's elements are non-nullable


def test_typed_imports_link_across_modules() -> None:
    """A global of a concrete reference type exported by one module satisfies the
    import of an equivalent type, at another index, of a second module."""
    store = cwasm.Store()
    provider = cwasm.Instance(store, cwasm.Module(store.engine, WAT), [])
    importer = cwasm.Module(
        store.engine,
        """(module
          (type $other (func (param i64)))
          (type $same (func (param i32) (result i32)))
          (import "p" "g" (global $g (ref $same)))
          (import "p" "gn" (global $gn (ref null $same)))
          (func (export "call") (param i32) (result i32)
            (call_ref $same (local.get 0) (global.get $g))))""",
    )
    g = provider.exports(store)["g"]
    inst = cwasm.Instance(store, importer, [g, g])  # (ref $ii) <: (ref null $same)
    assert inst.exports(store)["call"](store, 1) == 2
    wrong = cwasm.Module(
        store.engine,
        """(module (type $x (func (param i64) (result i32)))
          (import "p" "g" (global (ref $x))))""",
    )
    with pytest.raises(cwasm.WasmtimeError, match="incompatible import type"):
        cwasm.Instance(store, wrong, [g])


def test_config_switch_refuses_typed_references() -> None:
    config = cwasm.Config()
    assert config.wasm_function_references is True  # Wasm 3.0: on by default
    config.wasm_function_references = False
    engine = cwasm.Engine(config)
    with pytest.raises(cwasm.WasmtimeError, match="function references"):
        cwasm.Module(engine, WAT)
    # and an artifact compiled with the proposal is refused by that engine
    artifact = cwasm.Module(cwasm.Engine(), WAT).serialize()
    with pytest.raises(cwasm.WasmtimeError, match="function_references"):
        cwasm.Module.deserialize(engine, artifact)
