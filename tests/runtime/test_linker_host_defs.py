"""A linker's store-independent host functions (``define_func``, ``define_wasi``) are linked
without a ``Func`` per store (``cwasm.runtime.host_defs``); the ``Func`` made when Python
asks for one is the same object on every path, and behaves as wasmtime-py's does."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
import wasmtime

import cwasm

WAT = """
(module
  (import "host" "add" (func $add (param i32 i32) (result i32)))
  (import "host" "boom" (func $boom))
  (import "host" "tick" (func $tick))
  (table (export "t") 2 funcref)
  (elem (i32.const 0) func $add $boom)
  (start $tick)
  (export "add" (func $add))
  (func (export "call_add") (param i32 i32) (result i32)
    (call $add (local.get 0) (local.get 1)))
  (func (export "call_boom") (call $boom))
  (func (export "via_table") (param i32 i32) (result i32)
    (call_indirect (param i32 i32) (result i32) (local.get 0) (local.get 1) (i32.const 0))))
"""


class Boom(Exception):
    pass


def _linker(api: Any, engine: Any, seen: list[Any]) -> Any:
    linker = api.Linker(engine)
    i32 = api.ValType.i32()

    def add(caller: Any, a: int, b: int) -> int:
        seen.append(caller.get("add"))  # the re-exported import, through Caller (from wasm)
        return a + b

    def boom() -> None:
        raise Boom("from the host")

    def tick() -> None:
        seen.append("tick")

    linker.define_func("host", "add", api.FuncType([i32, i32], [i32]), add, access_caller=True)
    linker.define_func("host", "boom", api.FuncType([], []), boom)
    linker.define_func("host", "tick", api.FuncType([], []), tick)
    return linker


def _observe(api: Any) -> list[Any]:
    engine = api.Engine()
    module = api.Module(engine, WAT)
    seen: list[Any] = []
    linker = _linker(api, engine, seen)
    facts: list[Any] = []
    for _ in range(3):  # several stores of one linker, each with its own functions
        store = api.Store(engine)
        instance = linker.instantiate(store, module)
        exports = instance.exports(store)
        facts.append(seen.pop(0))  # the start function ran
        got = linker.get(store, "host", "add")
        facts.append(got is linker.get(store, "host", "add"))
        facts.append(exports["call_add"](store, 2, 3))
        facts.append(seen.pop() is exports["add"])
        facts.append(exports["via_table"](store, 4, 5))
        seen.pop()
        facts.append(got(store, 6, 7))  # called from Python: no calling instance
        facts.append(seen.pop() is None)
        with pytest.raises(Boom):
            exports["call_boom"](store)
        table = exports["t"]
        element = table.get(store, 1)
        facts.append(type(element).__name__)
        with pytest.raises(Boom):
            element(store)
        facts.append(exports["call_add"](store, 1, 1))  # the store works after the trap
        seen.clear()
        if api is cwasm:
            # the same objects on every path: Linker.get, the export, the table element
            facts.append(got is exports["add"] is table.get(store, 0))
            facts.append(linker.get(store, "host", "boom") is element)
        del store, instance, exports, got, element, table
        gc.collect()
    return facts


def test_linker_functions_behave_as_wasmtime_py_across_stores() -> None:
    ours = _observe(cwasm)
    theirs = _observe(wasmtime)
    # wasmtime-py makes a new Python object per lookup: compare what both observe
    per_store_ours = len(ours) // 3
    per_store_theirs = len(theirs) // 3
    for k in range(3):
        mine = ours[k * per_store_ours : (k + 1) * per_store_ours]
        want = theirs[k * per_store_theirs : (k + 1) * per_store_theirs]
        assert mine[:4] == ["tick", True, 5, True]  # one Func for Linker.get, Caller, export
        assert (want[0], want[2]) == ("tick", 5)
        assert mine[4:9] == want[4:9] == [9, 13, True, "Func", 2]
        assert mine[9:] == [True, True]


def test_a_funcref_to_a_linker_function_passed_back_from_python_is_the_same_function() -> None:
    engine = cwasm.Engine()
    module = cwasm.Module(engine, WAT)
    linker = _linker(cwasm, engine, [])
    store = cwasm.Store(engine)
    instance = linker.instantiate(store, module)
    exports = instance.exports(store)
    table = exports["t"]
    add = linker.get(store, "host", "add")
    table.set(store, 1, add)  # its own funcref, written from Python
    assert table.get(store, 1) is add
    assert exports["call_add"](store, 20, 22) == 42


def test_a_store_reaches_its_linker_functions_only_through_its_own_contexts() -> None:
    engine = cwasm.Engine()
    module = cwasm.Module(engine, WAT)
    linker = _linker(cwasm, engine, [])
    a, b = cwasm.Store(engine), cwasm.Store(engine)
    linker.instantiate(a, module)
    linker.instantiate(b, module)
    fa, fb = linker.get(a, "host", "add"), linker.get(b, "host", "add")
    assert fa is not fb
    assert fa.store is a and fb.store is b
    assert fa.hostctx_address != fb.hostctx_address
    # a Func of one store cannot be imported into another
    with pytest.raises(cwasm.WasmtimeError):
        cwasm.Instance(b, module, [fa, linker.get(b, "host", "boom"), fb])


def test_wasi_functions_are_made_when_asked_for_and_serve_the_calling_store() -> None:
    engine = cwasm.Engine()
    linker = cwasm.Linker(engine)
    linker.define_wasi()
    module = cwasm.Module(
        engine,
        """(module
             (import "wasi_snapshot_preview1" "args_sizes_get"
               (func $sizes (param i32 i32) (result i32)))
             (memory (export "memory") 1)
             (export "sizes" (func $sizes))
             (func (export "argc") (result i32)
               (drop (call $sizes (i32.const 0) (i32.const 4)))
               (i32.load (i32.const 0))))""",
    )
    results = []
    for argv in (["a"], ["a", "b", "c"]):
        store = cwasm.Store(engine)
        config = cwasm.WasiConfig()
        config.argv = argv
        store.set_wasi(config)
        instance = linker.instantiate(store, module)
        assert not store.linker_funcs  # nothing asked for a Func yet
        results.append(instance.exports(store)["argc"](store))
        sizes = instance.exports(store)["sizes"]
        assert sizes is linker.get(store, "wasi_snapshot_preview1", "args_sizes_get")
    assert results == [1, 3]


def test_a_function_imported_twice_links_both_imports_to_it() -> None:
    wat = """(module
      (import "host" "add" (func $a (param i32 i32) (result i32)))
      (import "host" "add" (func $b (param i32 i32) (result i32)))
      (func (export "both") (param i32) (result i32)
        (call $b (call $a (local.get 0) (i32.const 1)) (i32.const 10))))"""
    results = []
    for api in (cwasm, wasmtime):
        engine = api.Engine()
        module = api.Module(engine, wat)
        linker = _linker(api, engine, [])
        for _ in range(2):  # the second in a store that has the plan's contexts already
            store = api.Store(engine)
            for _ in range(2):
                instance = linker.instantiate(store, module)
                results.append(instance.exports(store)["both"](store, 5))
    assert results == [16] * 8


def test_a_new_definition_is_seen_by_the_next_instantiation() -> None:
    wat = """(module
      (import "host" "k" (func $k (result i32)))
      (func (export "k") (result i32) (call $k)))"""
    results = []
    for api in (cwasm, wasmtime):
        engine = api.Engine()
        module = api.Module(engine, wat)
        linker = api.Linker(engine)
        linker.allow_shadowing = True
        ty = api.FuncType([], [api.ValType.i32()])
        for value in (1, 2):
            linker.define_func("host", "k", ty, lambda value=value: value)
            for _ in range(2):  # the second time as planned the first
                store = api.Store(engine)
                results.append(linker.instantiate(store, module).exports(store)["k"](store))
    assert results == [1, 1, 2, 2] * 2


def test_a_linker_does_not_keep_the_modules_it_instantiated() -> None:
    engine = cwasm.Engine()
    linker = _linker(cwasm, engine, [])
    module = cwasm.Module(engine, WAT)
    store = cwasm.Store(engine)
    linker.instantiate(store, module)
    compiled = weakref.ref(module.compiled)
    del store, module
    gc.collect()
    assert compiled() is None
