"""``ref.test``, ``ref.cast`` and ``br_on_cast[_fail]`` over abstract and concrete heap
types (the header's type id, its array bit, and the registry's declared supertypes),
compared with Wasmtime (whose library runs GC modules once its C API's
``wasmtime_config_wasm_gc_set`` is called)."""

from __future__ import annotations

from typing import Any

import wasmtime

import cwasm
from tests.runtime.test_gc_objects import _outcome
from tests.runtime.test_gc_types import _config
from tests.runtime.wat import wat

MODULE = """
(module
  (type $top (sub (struct (field i32))))
  (type $mid (sub $top (struct (field i32) (field i64))))
  (type $leaf (sub final $mid (struct (field i32) (field i64) (field f32))))
  (type $other (struct (field i32)))
  (type $bytes (array i8))
  (type $fn (sub (func (result i32))))
  (type $fn2 (sub $fn (func (result i32))))
  (func $f (type $fn) (i32.const 1))
  (func $g (type $fn2) (i32.const 2))
  (elem declare func $f $g)
  (table $vals 10 anyref)
  (table $funcs 3 funcref)
  (func (export "init") (param externref)
    (table.set $vals (i32.const 1) (ref.i31 (i32.const 5)))
    (table.set $vals (i32.const 2) (struct.new $top (i32.const 1)))
    (table.set $vals (i32.const 3) (struct.new_default $mid))
    (table.set $vals (i32.const 4) (struct.new_default $leaf))
    (table.set $vals (i32.const 5) (struct.new_default $other))
    (table.set $vals (i32.const 6) (array.new_default $bytes (i32.const 3)))
    (table.set $vals (i32.const 7) (any.convert_extern (local.get 0)))
    (table.set $funcs (i32.const 1) (ref.func $f))
    (table.set $funcs (i32.const 2) (ref.func $g)))
  (func (export "tests") (param i32) (result i32)
    ;; one bit per target type, for the value in slot $0
    (local $v anyref)
    (local.set $v (table.get $vals (local.get 0)))
    (i32.or (i32.or (i32.or (i32.or
      (i32.or (i32.or (ref.test anyref (local.get $v))
                      (i32.shl (ref.test (ref any) (local.get $v)) (i32.const 1)))
              (i32.or (i32.shl (ref.test (ref eq) (local.get $v)) (i32.const 2))
                      (i32.shl (ref.test (ref i31) (local.get $v)) (i32.const 3))))
      (i32.or (i32.shl (ref.test (ref struct) (local.get $v)) (i32.const 4))
              (i32.shl (ref.test (ref array) (local.get $v)) (i32.const 5))))
      (i32.or (i32.shl (ref.test (ref $top) (local.get $v)) (i32.const 6))
              (i32.shl (ref.test (ref $mid) (local.get $v)) (i32.const 7))))
      (i32.or (i32.shl (ref.test (ref $leaf) (local.get $v)) (i32.const 8))
              (i32.shl (ref.test (ref null $other) (local.get $v)) (i32.const 9))))
      (i32.or (i32.shl (ref.test (ref $bytes) (local.get $v)) (i32.const 10))
              (i32.shl (ref.test nullref (local.get $v)) (i32.const 11)))))
  (func (export "cast_mid") (param i32) (result i32)
    (ref.is_null (ref.cast (ref null $mid) (table.get $vals (local.get 0)))))
  (func (export "cast_eq") (param i32) (result i32)
    (ref.is_null (ref.cast eqref (table.get $vals (local.get 0)))))
  (func (export "on_cast") (param i32) (result i32)
    (block $s (result (ref $top))
      (br_on_cast $s anyref (ref $top) (table.get $vals (local.get 0)))
      (drop)
      (return (i32.const -1)))
    (struct.get $top 0))
  (func (export "on_cast_fail") (param i32) (result i32)
    (block $f (result anyref)
      (br_on_cast_fail $f anyref (ref i31) (table.get $vals (local.get 0)))
      (return (i31.get_s)))
    (drop)
    (i32.const -2))
  (func (export "func_test") (param i32) (result i32)
    (i32.or (ref.test (ref $fn) (table.get $funcs (local.get 0)))
      (i32.shl (ref.test (ref $fn2) (table.get $funcs (local.get 0))) (i32.const 1))))
)
"""


def _run(api: Any) -> list[object]:
    store = api.Store(api.Engine(_config(api)))
    x = api.Instance(store, api.Module(store.engine, wat(MODULE)), []).exports(store)
    x["init"](store, "host")
    out: list[object] = []
    for slot in range(8):
        for name in ("tests", "cast_mid", "cast_eq", "on_cast", "on_cast_fail"):
            out.append((name, slot, _outcome(x[name], store, slot)))
    out += [("func_test", i, _outcome(x["func_test"], store, i)) for i in range(3)]
    return out


def test_casts_match_wasmtime() -> None:
    assert _run(cwasm) == _run(wasmtime)
