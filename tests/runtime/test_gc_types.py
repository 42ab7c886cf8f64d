"""GC types at run time (``Config.wasm_gc``): the engine's canonical type ids of
recursion groups across modules, ``call_indirect`` of a non-final type reaching a
declared subtype (and trapping on anything else), imports matched by subtyping, and GC's
allocating constant instructions.

Results are compared with Wasmtime: wasmtime-py 28's ``Config`` has no ``wasm_gc``
property, but its library has the C API's ``wasmtime_config_wasm_gc_set``.
"""

from __future__ import annotations

import ctypes
from typing import Any

import pytest
import wasmtime
from wasmtime import _ffi

import cwasm
from tests.runtime.wat import wat

TYPES = """
  (type $base (sub (func (result i32))))
  (rec (type $mid (sub $base (func (result i32)))) (type $tag (struct (field i32))))
  (type $other (func (result i32)))
"""

CALLS = f"""
(module
  {TYPES}
  (func $b (type $base) (i32.const 1))
  (func $m (type $mid) (i32.const 2))
  (func $o (type $other) (i32.const 3))
  (table $t 3 funcref)
  (elem (table $t) (i32.const 0) func $b $m $o)
  (func (export "as_base") (param i32) (result i32)
    (call_indirect $t (type $base) (local.get 0)))
  (func (export "as_mid") (param i32) (result i32)
    (call_indirect $t (type $mid) (local.get 0)))
  (func (export "m") (type $mid) (i32.const 20))
)
"""

IMPORTS = f"""
(module
  {TYPES}
  (import "a" "m" (func $m (type $base)))
  (func (export "call") (result i32) (call $m))
)
"""

SAME_GROUP = f"""
(module
  {TYPES}
  (import "a" "m" (func $m (type $mid)))
  (func (export "call") (result i32) (call $m))
)
"""


def _config(api: Any) -> Any:
    config = api.Config()
    if api is wasmtime:
        for name in ("wasm_function_references", "wasm_gc"):
            setter = getattr(_ffi.dll, f"wasmtime_config_{name}_set")
            setter.argtypes = [ctypes.c_void_p, ctypes.c_bool]
            setter.restype = None
            setter(config.ptr(), True)
    else:
        config.wasm_gc = True
    return config


def _outcome(f: Any, store: Any, *args: Any) -> object:
    try:
        return f(store, *args)
    except (wasmtime.Trap, cwasm.Trap) as e:
        return "trap: " + ("indirect call type mismatch" in str(e)) * "signature"


def _run(api: Any) -> list[object]:
    store = api.Store(api.Engine(_config(api)))
    calls = api.Instance(store, api.Module(store.engine, wat(CALLS)), []).exports(store)
    out = [_outcome(calls["as_base"], store, i) for i in range(3)]
    out += [_outcome(calls["as_mid"], store, i) for i in range(3)]
    # a $mid function imported as a $base, and as a $mid by a module of the same group
    for text in (IMPORTS, SAME_GROUP):
        inst = api.Instance(store, api.Module(store.engine, wat(text)), [calls["m"]])
        out.append(inst.exports(store)["call"](store))
    return out


def test_call_indirect_and_imports_follow_declared_subtyping_as_in_wasmtime() -> None:
    ours = _run(cwasm)
    assert ours == _run(wasmtime)
    assert ours == [1, 2, "trap: signature", "trap: signature", 2, "trap: signature", 20, 20]


def test_a_supertype_is_not_importable_as_its_subtype() -> None:
    text = f'(module {TYPES} (func (export "b") (type $base) (i32.const 1)))'
    for api in (cwasm, wasmtime):
        store = api.Store(api.Engine(_config(api)))
        b = api.Instance(store, api.Module(store.engine, wat(text)), []).exports(store)["b"]
        with pytest.raises(Exception, match="incompatible import type"):
            api.Instance(store, api.Module(store.engine, wat(SAME_GROUP)), [b])


def test_equal_recursion_groups_of_two_modules_get_one_engine_id() -> None:
    engine = cwasm.Engine(_config(cwasm))
    a = cwasm.Module(engine, wat(CALLS))
    b = cwasm.Module(engine, wat(f"(module {TYPES} (type (struct)))"))
    ids_a, ids_b = a.compiled.type_ids, b.compiled.type_ids
    assert ids_a[:4] == ids_b[:4]  # (then CALLS's own export type, b's struct)
    assert len(set(ids_a[:4])) == 4
    assert ids_b[4] not in ids_a
    assert engine.types.is_subtype(ids_a[1], ids_a[0])
    assert not engine.types.is_subtype(ids_a[0], ids_a[1])


CONSTANTS = """
(module
  (type $s (struct (field i32) (field i8) (field (ref null $s))))
  (type $a (array i16))
  (global $g (ref $s) (struct.new $s (i32.const 5) (i32.const 0x1FF) (ref.null $s)))
  (global $h (ref $s) (struct.new $s (i32.const 7) (i32.const 1) (global.get $g)))
  (global $d (ref $s) (struct.new_default $s))
  (global $x (ref $a) (array.new $a (i32.const -3) (i32.const 4)))
  (global $y (ref $a) (array.new_fixed $a 2 (i32.const 9) (i32.const 0x12345)))
  (global $z (ref $a) (array.new_default $a (i32.const 3)))
  (func (export "f") (result i32)
    (i32.add (struct.get $s 0 (ref.as_non_null (struct.get $s 2 (global.get $h))))
      (i32.add (struct.get_s $s 1 (global.get $g)) (struct.get $s 0 (global.get $d)))))
  (func (export "a") (param i32) (result i32)
    (i32.add (array.get_s $a (global.get $x) (local.get 0))
      (i32.mul (i32.const 1000) (array.get_u $a (global.get $y) (i32.and (local.get 0) (i32.const 1))))))
  (func (export "len") (result i32)
    (i32.add (array.len (global.get $x)) (array.len (global.get $z))))
)
"""


def test_gc_constant_allocations_match_wasmtime() -> None:
    """Globals initialized by ``struct.new``, ``array.new[_fixed/_default]``."""

    def run(api: Any) -> list[object]:
        store = api.Store(api.Engine(_config(api)))
        x = api.Instance(store, api.Module(store.engine, wat(CONSTANTS)), []).exports(store)
        return [x["f"](store), x["len"](store), *(x["a"](store, i) for i in range(4))]

    assert run(cwasm) == run(wasmtime)


def test_a_func_of_a_declared_subtype_goes_into_a_typed_table_from_python() -> None:
    """``Table.set`` of a ``(ref null $base)`` table takes a function of ``$mid`` (a
    declared subtype) and refuses one of ``$other`` (wasmtime-py cannot pass typed
    references through its C API, so this is cwasm's side alone)."""
    text = f"""(module {TYPES}
      (table (export "t") 2 (ref null $base))
      (func (export "m") (type $mid) (i32.const 2))
      (func (export "o") (type $other) (i32.const 3))
      (func (export "call") (param i32) (result i32)
        (call_indirect 0 (type $base) (local.get 0))))"""
    store = cwasm.Store(cwasm.Engine(_config(cwasm)))
    exports = cwasm.Instance(store, cwasm.Module(store.engine, wat(text)), []).exports(store)
    table = exports["t"]
    table.set(store, 1, exports["m"])
    assert exports["call"](store, 1) == 2
    with pytest.raises(cwasm.WasmtimeError, match="type mismatch"):
        table.set(store, 0, exports["o"])
