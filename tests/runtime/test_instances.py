"""Instances: memories, tables, globals, imports, data and element segments, start, W^X."""

from __future__ import annotations

import ctypes
import math

import pytest

from cwasm.api import (
    Config,
    Engine,
    Func,
    FuncType,
    Global,
    GlobalType,
    Instance,
    Limits,
    LinkError,
    Memory,
    MemoryType,
    Module,
    Store,
    Table,
    TableType,
    Trap,
    TrapCode,
    Val,
    ValType,
)
from cwasm.errors import CwasmError
from tests.runtime.wat import wat

MEMORY = """
(module
  (memory (export "mem") 1 4)
  (data (i32.const 16) "hello world")
  (func (export "load8") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "store64") (param i32 i64) local.get 0 local.get 1 i64.store offset=8)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "size") (result i32) memory.size)
  (func (export "fill") (param i32 i32 i32)
    local.get 0 local.get 1 local.get 2 memory.fill)
)
"""


def test_memory_from_python_and_wasm() -> None:
    engine = Engine()
    store = Store(engine)
    inst = Instance(store, Module(engine, wat(MEMORY)), [])
    ex = inst.exports(store)
    mem = ex["mem"]
    assert isinstance(mem, Memory)
    assert mem.read(store, 16, 27) == b"hello world"
    assert mem.data_len(store) == 65536 and mem.size(store) == 1
    mem.write(store, b"\x7f", 100)
    assert ex["load8"](store, 100) == 0x7F
    ex["store64"](store, 0, 0x0102030405060708)
    assert mem.read(store, 8, 16) == bytes(range(8, 0, -1))
    assert ex["grow"](store, 2) == 1
    assert mem.size(store) == 3 and ex["size"](store) == 3
    assert ex["load8"](store, 3 * 65536 - 1) == 0
    assert ex["grow"](store, 2) == -1  # the maximum is 4 pages
    assert mem.grow(store, 1) == 3
    with pytest.raises(CwasmError):
        mem.grow(store, 1)
    ex["fill"](store, 200, 0xAB, 4)
    assert mem.read(store, 199, 205) == b"\0\xab\xab\xab\xab\0"
    with pytest.raises(Trap) as info:
        ex["fill"](store, 4 * 65536 - 2, 0, 3)
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    with pytest.raises(IndexError):  # wasmtime-py's error
        mem.write(store, b"xx", 4 * 65536 - 1)


def test_memory_reservation_limit_caps_growth() -> None:
    config = Config()
    config.memory_reservation = 2 * 65536
    engine = Engine(config)
    store = Store(engine)
    ex = Instance(store, Module(engine, wat(MEMORY)), []).exports(store)
    assert ex["grow"](store, 1) == 1
    assert ex["grow"](store, 1) == -1


def test_code_is_never_writable_and_executable() -> None:
    engine = Engine()
    store = Store(engine)
    module = Module(engine, wat(MEMORY))
    Instance(store, module, [])
    base = module.compiled.code.base
    with open("/proc/self/maps") as f:
        for line in f:
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            if lo <= base < hi:
                assert perms.startswith("r-x"), perms
                break
        else:
            raise AssertionError("code mapping not found")
    # (ctypes' own callback closures live on an rwx page of libffi's; ours never do)


TABLES = """
(module
  (type $i2i (func (param i32) (result i32)))
  (import "env" "double" (func $double (type $i2i)))
  (import "env" "offset" (global $off i32))
  (import "env" "counter" (global $counter (mut i32)))
  (table (export "tab") 4 8 funcref)
  (global $g (export "g") (mut i64) (i64.const -5))
  (global (export "gf") f64 (f64.const 2.5))
  (elem (global.get $off) $inc $double)
  (func $inc (type $i2i) local.get 0 i32.const 1 i32.add)
  (func (export "call") (param i32 i32) (result i32)
    local.get 1 local.get 0 call_indirect (type $i2i))
  (func (export "bump") (result i32)
    global.get $counter i32.const 1 i32.add global.set $counter global.get $counter)
  (func (export "ref") (param i32) (result funcref) local.get 0 table.get 0)
  (func (export "pass") (param externref) (result externref) local.get 0)
  (func $start global.get $g i64.const 1 i64.add global.set $g)
  (start $start)
)
"""


def test_tables_globals_imports_and_start() -> None:
    engine = Engine()
    store = Store(engine)
    i32 = ValType.i32()
    double = Func(store, FuncType([i32], [i32]), lambda x: 2 * x)
    offset = Global(store, GlobalType(i32, False), 1)
    counter = Global(store, GlobalType(i32, True), 41)
    module = Module(engine, wat(TABLES))
    assert [(i.module, i.name) for i in module.imports] == [
        ("env", "double"),
        ("env", "offset"),
        ("env", "counter"),
    ]
    assert [e.name for e in module.exports] == ["tab", "g", "gf", "call", "bump", "ref", "pass"]
    inst = Instance(store, module, [double, offset, counter])
    ex = inst.exports(store)
    assert ex["call"](store, 1, 10) == 11  # $inc at offset 1
    assert ex["call"](store, 2, 10) == 20  # the host function through the table
    for index, code in ((0, TrapCode.INDIRECT_CALL_TO_NULL), (4, TrapCode.TABLE_OUT_OF_BOUNDS)):
        with pytest.raises(Trap) as info:
            ex["call"](store, index, 0)
        assert info.value.trap_code == code
    assert ex["bump"](store) == 42 and counter.value(store) == 42
    g = ex["g"]
    assert g.value(store) == -4  # the start function ran
    g.set_value(store, 7)
    assert g.value(store) == 7
    assert ex["gf"].value(store) == 2.5
    with pytest.raises(CwasmError):
        ex["gf"].set_value(store, 1.0)
    tab = ex["tab"]
    assert isinstance(tab, Table)
    assert tab.size(store) == 4
    assert tab.get(store, 0) is None
    assert tab.get(store, 2) is double
    inc = tab.get(store, 1)
    assert isinstance(inc, Func) and inc(store, 5) == 6
    assert ex["ref"](store, 1) is inc
    tab.set(store, 0, double)
    assert ex["call"](store, 0, 21) == 42
    assert tab.grow(store, 2, inc) == 4
    assert ex["call"](store, 5, 1) == 2
    marker = object()
    assert ex["pass"](store, marker) is marker
    assert ex["pass"](store, None) is None


def test_import_type_checks() -> None:
    engine = Engine()
    store = Store(engine)
    i32 = ValType.i32()
    module = Module(engine, wat(TABLES))
    good = [
        Func(store, FuncType([i32], [i32]), lambda x: x),
        Global(store, GlobalType(i32, False), 0),
        Global(store, GlobalType(i32, True), 0),
    ]
    with pytest.raises(LinkError, match="expected 3 imports"):
        Instance(store, module, good[:2])
    bad_func = Func(store, FuncType([i32], []), lambda x: None)
    with pytest.raises(LinkError, match="incompatible import type for `env::double`"):
        Instance(store, module, [bad_func, *good[1:]])
    with pytest.raises(LinkError, match="env::counter"):
        Instance(store, module, [good[0], good[1], good[1]])


def test_out_of_bounds_segments_trap_at_instantiation() -> None:
    engine = Engine()
    store = Store(engine)
    module = Module(engine, wat('(module (memory 1) (data (i32.const 65535) "ab"))'))
    with pytest.raises(Trap) as info:
        Instance(store, module, [])
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    module = Module(engine, wat("(module (table 1 funcref) (func $f) (elem (i32.const 1) $f))"))
    with pytest.raises(Trap) as info:
        Instance(store, module, [])
    assert info.value.trap_code == TrapCode.TABLE_OUT_OF_BOUNDS


def test_imported_memory_and_table_are_shared() -> None:
    engine = Engine()
    store = Store(engine)
    mem = Memory(store, MemoryType(Limits(1, 2)))
    tab = Table(store, TableType(ValType.funcref(), Limits(2, None)), None)
    module = Module(
        engine,
        wat(
            """(module
                 (import "m" "mem" (memory 1))
                 (import "m" "tab" (table 2 funcref))
                 (func $seven (result i32) i32.const 7)
                 (elem (i32.const 0) $seven)
                 (func (export "poke") (param i32 i32) local.get 0 local.get 1 i32.store8)
                 (func (export "grow") (result i32) i32.const 1 memory.grow))"""
        ),
    )
    ex = Instance(store, module, [mem, tab]).exports(store)
    ex["poke"](store, 3, 99)
    assert mem.read(store, 3, 4) == b"\x63"
    assert ex["grow"](store) == 1 and mem.size(store) == 2
    seven = tab.get(store, 0)
    assert isinstance(seven, Func) and seven(store) == 7
    assert mem.data_ptr(store)[3] == 99
    assert ctypes.string_at(ctypes.addressof(mem.data_ptr(store).contents), 4)[3] == 99


def test_values_and_multi_value() -> None:
    engine = Engine()
    store = Store(engine)
    module = Module(
        engine,
        wat(
            """(module
                 (func (export "swap") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
                   local.get 3 local.get 2 local.get 1 local.get 0)
                 (func (export "bits") (param f32) (result i32) local.get 0 i32.reinterpret_f32)
                 (func (export "nan") (result f32) f32.const nan:0x200001))"""
        ),
    )
    ex = Instance(store, module, []).exports(store)
    assert ex["swap"](store, -1, -2, 1.5, 2.25) == [2.25, 1.5, -2, -1]
    assert ex["swap"](store, Val.i32(3), Val.i64(4), Val.f32(0.5), Val.f64(1.0)) == [
        1.0,
        0.5,
        4,
        3,
    ]
    assert ex["swap"].call_raw(store, [0xFFFFFFFF, 1, 0x3F800000, 0x4000000000000000]) == [
        0x4000000000000000,
        0x3F800000,
        1,
        0xFFFFFFFF,
    ]
    assert ex["bits"](store, 1.0) == 0x3F800000
    assert ex["bits"](store, -0.0) == -0x80000000  # i32 results are signed
    assert [math.copysign(1, x) for x in ex["swap"](store, 0, 0, -0.0, -0.0)[:2]] == [-1, -1]
    assert ex["nan"].call_raw(store, []) == [0x7FA00001]  # the payload survives exactly
    with pytest.raises(CwasmError, match="too few parameters provided"):
        ex["swap"](store, 1, 2, 3.0)
    with pytest.raises(TypeError):
        ex["bits"](store, "x")
