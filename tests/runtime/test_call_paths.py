"""Per-module and per-signature fast paths: the shared vmctx image and generated call paths."""

from __future__ import annotations

import pytest

from cwasm.api import Engine, Func, FuncType, Instance, Module, Store, Val, ValType
from cwasm.errors import CwasmError
from cwasm.runtime.func import _call_factories
from cwasm.runtime.values import SlotCodec
from cwasm.wasm import types as wt
from tests.runtime.wat import wat

COUNTER = wat(
    """(module
  (type $t (func (result i32)))
  (global $g (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $bump $get)
  (func $bump (result i32) (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
  (func $get (result i32) (global.get $g))
  (func (export "bump") (result i32) (call_indirect (type $t) (i32.const 0)))
  (func (export "get") (result i32) (call_indirect (type $t) (i32.const 1)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "sub") (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
  (func (export "pair") (param i64 f64) (result f64 i64) local.get 1 local.get 0)
  (func (export "nop"))
  (func (export "ref") (param externref) (result externref) local.get 0))"""
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def test_instances_of_one_module_are_independent(engine: Engine) -> None:
    module = Module(engine, COUNTER)
    store = Store(engine)
    first = Instance(store, module, []).exports(store)
    second = Instance(store, module, []).exports(store)  # built from the cached vmctx image
    assert module.compiled.vmctx_image is not None
    assert [first["bump"](store) for _ in range(3)] == [1, 2, 3]
    assert second["bump"](store) == 1  # its table's funcrefs point at its own vmctx
    assert (first["get"](store), second["get"](store)) == (3, 1)
    third = Instance(Store(engine), module, [])
    assert third.exports(third.store)["get"](third.store) == 0


def test_generated_call_paths(engine: Engine) -> None:
    store = Store(engine)
    ex = Instance(store, Module(engine, COUNTER), []).exports(store)
    add, sub = ex["add"], ex["sub"]
    assert add(store, 2, 3) == 5
    assert add(store, -1, 0) == -1 and add(store, 0xFFFFFFFF, 1) == 0  # wraps, signed result
    assert add(store, Val.i32(4), 5) == 9  # Val boxes take the fallback
    assert sub(store, 10, 4) == 6  # same signature, own buffer and entry
    assert (
        _call_factories[(add._api_in, add._api_out)] is _call_factories[(sub._api_in, sub._api_out)]
    )
    assert ex["pair"](store, -7, 0.5) == [0.5, -7]
    assert ex["nop"](store) is None
    obj = object()
    assert ex["ref"](store, obj) is obj and ex["ref"](store, None) is None
    # wasmtime-py's errors: a wrong count is a WasmtimeError, a wrong type a TypeError
    with pytest.raises(CwasmError, match="too few parameters provided: given 1, expected 2"):
        add(store, 1)
    with pytest.raises(TypeError):
        add(store, 1.5, 2)
    with pytest.raises(TypeError, match="wrong type of `Val` provided"):
        add(store, Val.i64(1), 2)
    with pytest.raises(CwasmError, match="too many parameters provided: given 1, expected 0"):
        ex["nop"](store, 1)


def test_host_function_called_from_python(engine: Engine) -> None:
    store = Store(engine)
    ty = FuncType([ValType.i32()], [ValType.i32()])
    f = Func(store, ty, lambda x: x + 1)
    assert f(store, 41) == 42
    with pytest.raises(TypeError):
        f(store, "x")


def test_encoder_is_generated_on_first_use() -> None:
    codec = SlotCodec((wt.ValType.I32, wt.ValType.F64), raw=False, decode=False)
    buf = bytearray(32)
    codec.encode(None, buf, (-1, 2.5))  # type: ignore[arg-type]
    assert codec.struct.unpack_from(buf) == (0xFFFFFFFF, 2.5)
    assert codec.encode is codec.encode  # generated once, then a plain attribute
    with pytest.raises(AttributeError):
        codec.missing  # noqa: B018
