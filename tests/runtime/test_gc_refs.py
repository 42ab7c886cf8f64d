"""The GC proposal's reference word (docs/gc.md): ``ref.i31``, ``i31.get_s/u``,
``ref.eq``, ``any.convert_extern`` / ``extern.convert_any``, the null instructions on
the ``any`` hierarchy, and tables and globals of ``anyref``/``eqref``/``i31ref``.

Integer results are compared with Wasmtime in the same test (wasmtime-py 28's library
runs GC modules once its C API's ``wasmtime_config_wasm_gc_set`` is called). Its Python
API, like wasmtime-py 51's, cannot pass ``anyref`` values, so the ``AnyRef`` values
Python sees are cwasm's side alone, checked against the spec's definitions.
"""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.runtime.anyref import AnyRef
from tests.runtime.test_gc_types import _config, _outcome
from tests.runtime.wat import wat

MODULE = """
(module
  (table $t 4 anyref)
  (global $g (mut i31ref) (ref.i31 (i32.const -3)))
  (global $k i31ref (ref.i31 (i32.const 0x40000000)))
  (func (export "get_s") (param i32) (result i32) (i31.get_s (ref.i31 (local.get 0))))
  (func (export "get_u") (param i32) (result i32) (i31.get_u (ref.i31 (local.get 0))))
  (func (export "eq") (param i32 i32) (result i32)
    (ref.eq (ref.i31 (local.get 0)) (ref.i31 (local.get 1))))
  (func (export "eq_null") (result i32) (ref.eq (ref.null eq) (ref.null none)))
  (func (export "null_get") (result i32) (i31.get_u (ref.null i31)))
  (func (export "is_null") (param i32) (result i32)
    (ref.is_null (table.get $t (local.get 0))))
  (func (export "set") (param i32 i32)
    (table.set $t (local.get 0) (ref.i31 (local.get 1))))
  (func (export "read") (param i32) (result i32)
    (i31.get_s (call $or_null (local.get 0))))
  (func $or_null (param i32) (result i31ref)
    (block $nul
      (br_on_null $nul
        (select (result i31ref) (ref.i31 (i32.const 7)) (ref.null i31) (local.get 0)))
      (return))
    (ref.i31 (i32.const -1)))
  (func (export "non_null") (param i32) (result i32)
    (i31.get_s (ref.as_non_null (ref.i31 (local.get 0)))))
  (func (export "global") (result i32) (i31.get_s (global.get $g)))
  (func (export "bump") (global.set $g (ref.i31 (i32.add (i31.get_s (global.get $g)) (i32.const 1)))))
  (func (export "const") (result i32) (i31.get_u (global.get $k)))
  (func (export "round") (param i32) (result i32)
    (ref.is_null (any.convert_extern (extern.convert_any (ref.i31 (local.get 0))))))
)
"""


def _run(api: Any) -> list[object]:
    store = api.Store(api.Engine(_config(api)))
    x = api.Instance(store, api.Module(store.engine, wat(MODULE)), []).exports(store)
    out: list[object] = []
    for v in (0, 1, -1, 5, 0x3FFFFFFF, 0x40000000, 0x7FFFFFFF, -0x80000000, 0x12345678):
        out += [_outcome(x["get_s"], store, v), _outcome(x["get_u"], store, v)]
        out.append(_outcome(x["eq"], store, v, v ^ 0x80000000))
        out.append(_outcome(x["eq"], store, v, v + 1))
        out.append(_outcome(x["non_null"], store, v))
        out.append(_outcome(x["round"], store, v))
    out += [_outcome(x["eq_null"], store), _outcome(x["null_get"], store)]
    out += [_outcome(x["is_null"], store, 1), _outcome(x["set"], store, 1, 9)]
    out += [
        _outcome(x["is_null"], store, 1),
        _outcome(x["read"], store, 7),
        _outcome(x["read"], store, 0),
    ]
    out += [_outcome(x["global"], store), _outcome(x["bump"], store)]
    out += [_outcome(x["global"], store), _outcome(x["const"], store)]
    return out


def test_i31_and_ref_eq_match_wasmtime() -> None:
    assert _run(cwasm) == _run(wasmtime)


IDENTITY = """
(module
  (table (export "t") 2 anyref)
  (global (export "g") (mut anyref) (ref.null any))
  (global (export "e") (mut eqref) (ref.i31 (i32.const 7)))
  (func (export "i31") (param i32) (result i31ref) (ref.i31 (local.get 0)))
  (func (export "internalize") (param externref) (result anyref)
    (any.convert_extern (local.get 0)))
  (func (export "externalize") (param anyref) (result externref)
    (extern.convert_any (local.get 0)))
  (func (export "value") (param i31ref) (result i32) (i31.get_s (local.get 0)))
)
"""


def _cwasm_exports() -> tuple[cwasm.Store, Any]:
    store = cwasm.Store(cwasm.Engine(_config(cwasm)))
    module = cwasm.Module(store.engine, wat(IDENTITY))
    return store, cwasm.Instance(store, module, []).exports(store)


def test_i31_values_cross_to_python_as_anyref() -> None:
    store, x = _cwasm_exports()
    r = x["i31"](store, -2)
    assert r == AnyRef.i31(-2) and r.is_i31
    assert (r.i31_s, r.i31_u) == (-2, 0x7FFFFFFE)
    assert x["value"](store, AnyRef.i31(0x7FFFFFFF)) == -1
    assert x["value"](store, r) == -2
    with pytest.raises(TypeError):
        x["value"](store, 5)


def test_conversions_are_the_identity_on_host_and_i31_references() -> None:
    store, x = _cwasm_exports()
    obj = object()
    inner = x["internalize"](store, obj)
    assert inner == AnyRef.from_extern(obj) and inner.host is obj
    assert x["externalize"](store, inner) is obj
    assert x["internalize"](store, None) is None
    # an i31 externalized comes back as the same i31, and goes in again as itself
    ext = x["externalize"](store, AnyRef.i31(12))
    assert ext == AnyRef.i31(12)
    assert x["internalize"](store, ext) == AnyRef.i31(12)


def test_anyref_tables_and_globals_hold_i31_and_host_references() -> None:
    store, x = _cwasm_exports()
    table, g, e = x["t"], x["g"], x["e"]
    assert e.value(store) == AnyRef.i31(7)
    assert table.get(store, 0) is None and g.value(store) is None
    obj = ["held"]
    table.set(store, 0, AnyRef.from_extern(obj))
    table.set(store, 1, AnyRef.i31(-5))
    g.set_value(store, AnyRef.from_extern(obj))
    assert table.get(store, 0).host is obj and table.get(store, 1) == AnyRef.i31(-5)
    store.gc()  # a host object held by an anyref table or global stays alive
    assert g.value(store).host is obj
    e.set_value(store, AnyRef.i31(1))
    assert e.value(store) == AnyRef.i31(1)
    with pytest.raises(cwasm.WasmtimeError, match="type mismatch"):
        e.set_value(store, AnyRef.from_extern(obj))  # a host reference is no eqref
    with pytest.raises(TypeError):
        table.set(store, 0, obj)  # a bare object is an externref, not an anyref


def test_externref_words_are_tagged_handles() -> None:
    store, x = _cwasm_exports()
    obj = object()
    word = store.refs.externs.to_bits(obj)
    assert word & 3 == 2 and word >> 2 >= 1
    assert store.refs.externs.from_bits(word) is obj


OBJECTS = """
(module
  (type $pt (struct (field i32)))
  (type $bytes (array (mut i8)))
  (global (export "g") (mut (ref null $pt)) (ref.null $pt))
  (table (export "t") 2 (ref null struct))
  (func (export "make") (param i32) (result (ref $pt)) (struct.new $pt (local.get 0)))
  (func (export "bytes") (param i32) (result (ref $bytes)) (array.new_default $bytes (local.get 0)))
  (func (export "x") (param (ref $pt)) (result i32) (struct.get $pt 0 (local.get 0)))
  (func (export "any") (param anyref) (result i32) (ref.test (ref $pt) (local.get 0)))
)
"""


def test_structs_and_arrays_cross_to_python_as_anyref() -> None:
    store = cwasm.Store(cwasm.Engine(_config(cwasm)))
    module = cwasm.Module(store.engine, wat(OBJECTS))
    x = cwasm.Instance(store, module, []).exports(store)
    p = x["make"](store, 42)
    assert isinstance(p, AnyRef) and p.is_struct and not p.is_array
    assert x["x"](store, p) == 42 and x["any"](store, p) == 1
    a = x["bytes"](store, 3)
    assert a.is_array and x["any"](store, a) == 0
    with pytest.raises(cwasm.WasmtimeError, match="type mismatch"):
        x["x"](store, a)  # an array is no (ref $pt)
    x["g"].set_value(store, p)
    assert x["g"].value(store) == p
    x["t"].set(store, 1, p)
    assert x["t"].get(store, 1) == p
    with pytest.raises(cwasm.WasmtimeError, match="type mismatch"):
        x["t"].set(store, 0, a)  # an array is no structref
    other = cwasm.Store(store.engine)
    y = cwasm.Instance(other, cwasm.Module(store.engine, wat(OBJECTS)), []).exports(other)
    with pytest.raises(cwasm.WasmtimeError, match="another store"):
        y["x"](other, p)
