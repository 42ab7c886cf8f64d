"""Reference values <-> bits (``cwasm.runtime.refs``): round trips, nulls, boxes, errors."""

from __future__ import annotations

import pytest

from cwasm.api import (
    Engine,
    Func,
    FuncType,
    Global,
    GlobalType,
    Instance,
    Limits,
    Module,
    Store,
    Table,
    TableType,
    Val,
    ValType,
)
from cwasm.errors import CwasmError
from cwasm.wasm.types import ValType as Kind
from tests.runtime.wat import wat

REFS = """
(module
  (import "host" "f" (func $f (param i32) (result i32)))
  (table (export "t") 2 funcref)
  (elem (i32.const 0) $g $f)
  (func $g (export "g") (result i32) i32.const 7)
  (func (export "ext_id") (param externref) (result externref) local.get 0)
  (func (export "func_id") (param funcref) (result funcref) local.get 0))
"""

I32_TO_I32 = FuncType([ValType.i32()], [ValType.i32()])


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="module")
def module(engine: Engine) -> Module:
    return Module(engine, wat(REFS))


def test_externref_round_trip() -> None:
    refs = Store().refs
    a, b = object(), [1, 2]
    assert refs.externs.to_bits(None) == 0
    assert refs.externs.from_bits(0) is None
    ha, hb = refs.externs.to_bits(a), refs.externs.to_bits(b)
    assert 0 < ha != hb > 0
    assert refs.externs.to_bits(a) == ha  # one handle per object
    assert refs.externs.to_bits(Val.externref(a)) == ha
    assert refs.externs.from_bits(ha) is a and refs.externs.from_bits(hb) is b
    assert refs.to_bits(Kind.EXTERNREF, a) == ha
    assert refs.from_bits(Kind.EXTERNREF, hb) is b


def test_invalid_externref_handle() -> None:
    refs = Store().refs
    refs.externs.to_bits(object())
    with pytest.raises(CwasmError, match="invalid externref handle 0x2"):
        refs.externs.from_bits(2)


def test_funcref_round_trip(engine: Engine, module: Module) -> None:
    store = Store(engine)
    refs = store.refs
    host = Func(store, I32_TO_I32, lambda x: x + 1)
    inst = Instance(store, module, [host])
    g = inst.exports(store)["g"]
    assert isinstance(g, Func)
    assert refs.funcref_to_bits(None) == 0 and refs.funcref_from_bits(0) is None
    g_bits = refs.funcref_to_bits(g)
    assert g_bits == inst.funcref_address(g.func_index)
    assert refs.funcref_from_bits(g_bits) is g
    host_bits = refs.funcref_to_bits(Val.funcref(host))
    assert host_bits not in (0, g_bits)
    assert refs.funcref_from_bits(host_bits) is host
    assert refs.from_bits(Kind.FUNCREF, refs.to_bits(Kind.FUNCREF, g)) is g
    # the table's elements hold the same bits
    table = inst.exports(store)["t"]
    assert isinstance(table, Table)
    assert table.raw(0) == g_bits
    assert table.get(store, 0) is g
    assert table.get(store, 1) is host  # imported: the import's slot decodes to it


def test_funcref_errors(engine: Engine, module: Module) -> None:
    store, other = Store(engine), Store(engine)
    foreign = Func(other, I32_TO_I32, lambda x: x)
    with pytest.raises(CwasmError, match="a function of another store"):
        store.refs.funcref_to_bits(foreign)
    with pytest.raises(TypeError, match="expected a Func or None for a funcref, got int"):
        store.refs.funcref_to_bits(Val.funcref(3))
    with pytest.raises(CwasmError, match="does not belong to a live instance"):
        store.refs.funcref_from_bits(0x10)


def test_tables_and_globals_convert_through_the_store(engine: Engine) -> None:
    store = Store(engine)
    f = Func(store, I32_TO_I32, lambda x: x)
    obj = object()
    ext = Table(store, TableType(ValType.externref(), Limits(2, None)), Val.externref(obj))
    assert ext.get(store, 1) is obj and ext.raw(1) == store.refs.externs.to_bits(obj)
    funcs = Table(store, TableType(ValType.funcref(), Limits(1, None)), None)
    funcs.set(store, 0, Val.funcref(f))
    assert funcs.get(store, 0) is f
    glob = Global(store, GlobalType(ValType.funcref(), True), f)
    assert glob.value(store) is f
    assert glob.read_raw() == store.refs.funcref_to_bits(f)
    glob.set_value(store, None)
    assert glob.value(store) is None and glob.read_raw() == 0


def test_call_arguments_unwrap_boxed_references(engine: Engine, module: Module) -> None:
    store = Store(engine)
    host = Func(store, I32_TO_I32, lambda x: x)
    ex = Instance(store, module, [host]).exports(store)
    obj = object()
    assert ex["ext_id"](store, Val.externref(obj)) is obj
    assert ex["ext_id"](store, obj) is obj
    assert ex["func_id"](store, Val.funcref(host)) is host
    assert ex["func_id"](store, None) is None
