"""Externref lifetime: an object lives while wasm may reach it and is released after.

Each behaviour both runtimes share runs on cwasm and on wasmtime-py 28 in the same test
(``impl``). Objects are watched through weak references. docs/externref.md describes
what keeps an externref alive in cwasm.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import wasmtime

from cwasm import api
from cwasm.runtime.externref import MIN_COLLECTION_INTERVAL
from tests.runtime.wat import wat

MODULE = """
(module
  (import "host" "hook" (func $hook))
  (import "host" "fresh" (func $fresh (result externref)))
  (global $g (export "g") (mut externref) (ref.null extern))
  (table $t (export "t") 4 externref)
  (func (export "id") (param externref) (result externref) local.get 0)
  (func (export "sink") (param externref))
  (func (export "is_null") (param externref) (result i32) local.get 0 ref.is_null)
  (func (export "global_set") (param externref) local.get 0 global.set $g)
  (func (export "table_set") (param i32 externref) local.get 0 local.get 1 table.set $t)
  (func (export "table_set2") (param externref externref)
    (table.set $t (i32.const 0) (local.get 0))
    (table.set $t (i32.const 1) (local.get 1)))
  (func (export "table_is_null") (param i32) (result i32) local.get 0 table.get $t ref.is_null)
  (func (export "global_is_null") (result i32) global.get $g ref.is_null)
  ;; keeps element 0 in a local only, then calls the hook, then returns the local
  (func (export "take_then_hook") (result externref) (local externref)
    (local.set 0 (table.get $t (i32.const 0)))
    (table.set $t (i32.const 0) (ref.null extern))
    (call $hook)
    (local.get 0))
  (func (export "hold_then_hook") (param externref) (result externref)
    (call $hook)
    (local.get 0))
  ;; gets n fresh objects from the host inside one activation and drops them
  (func (export "drop_fresh") (param $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (drop (call $fresh))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))))
"""


class Obj:
    """A host object weak references can watch."""


def released(ref: weakref.ref[Any]) -> bool:
    gc.collect()  # only cycles; an object a runtime still holds survives this
    return ref() is None


class Harness:
    """MODULE instantiated by one runtime; ``hook`` and ``fresh`` are what wasm calls."""

    def __init__(self, mod: ModuleType) -> None:
        self.mod = mod
        self.store = mod.Store()
        self.hook: Callable[[], None] = lambda: None
        self.fresh: Callable[[], Any] = Obj
        hook = mod.Func(self.store, mod.FuncType([], []), lambda: self.hook())
        fresh = mod.Func(
            self.store, mod.FuncType([], [mod.ValType.externref()]), lambda: self.fresh()
        )
        module = mod.Module(self.store.engine, wat(MODULE))
        self.exports = mod.Instance(self.store, module, [hook, fresh]).exports(self.store)

    def __call__(self, name: str, *args: Any) -> Any:
        return self.exports[name](self.store, *args)

    @property
    def table(self) -> Any:
        return self.exports["t"]

    @property
    def global_(self) -> Any:
        return self.exports["g"]


@pytest.fixture(params=["cwasm", "wasmtime"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return api if request.param == "cwasm" else wasmtime


@pytest.fixture
def h(impl: ModuleType) -> Harness:
    return Harness(impl)


@pytest.fixture
def ours() -> Harness:
    return Harness(api)


def externref_global(mod: ModuleType, store: Any, init: Any) -> Any:
    return mod.Global(store, mod.GlobalType(mod.ValType.externref(), True), init)


# --- wasmtime-py's test_refs cases ---


def test_dtor_global(impl: ModuleType) -> None:
    store = impl.Store()
    obj = Obj()
    ref = weakref.ref(obj)
    g = externref_global(impl, store, impl.Val.externref(obj))
    del obj
    assert not released(ref)
    g.set_value(store, None)  # released at once, without store.gc()
    assert ref() is None


def test_dtor_func(h: Harness) -> None:
    obj = Obj()
    ref = weakref.ref(obj)
    h("sink", obj)
    del obj
    h.store.gc()
    assert released(ref)


# --- what keeps an externref alive ---


def test_table_and_global_keep_their_objects(h: Harness) -> None:
    in_table, in_global = Obj(), Obj()
    refs = weakref.ref(in_table), weakref.ref(in_global)
    h("table_set", 2, in_table)
    h("global_set", in_global)
    del in_table, in_global
    for _ in range(3):
        for _ in range(10):
            h("sink", Obj())
        h.store.gc()
    assert not released(refs[0]) and not released(refs[1])
    assert h.table.get(h.store, 2) is refs[0]()
    assert h("id", h.global_.value(h.store)) is refs[1]()


def test_host_created_table_and_global_keep_their_objects(impl: ModuleType) -> None:
    store = impl.Store()
    obj = Obj()
    ref = weakref.ref(obj)
    table = impl.Table(store, impl.TableType(impl.ValType.externref(), impl.Limits(2, None)), obj)
    g = externref_global(impl, store, obj)
    del obj
    store.gc()
    assert table.get(store, 1) is ref() is g.value(store)


def test_wasm_global_set_then_gc_releases(h: Harness) -> None:
    obj = Obj()
    ref = weakref.ref(obj)
    h("global_set", obj)
    del obj
    h.store.gc()
    assert not released(ref)
    h("global_set", None)
    h.store.gc()
    assert released(ref)


def test_wasm_table_set_then_gc_releases(h: Harness) -> None:
    obj = Obj()
    ref = weakref.ref(obj)
    h("table_set", 3, obj)
    h("table_set", 1, obj)
    del obj
    h("table_set", 3, None)
    h.store.gc()
    assert not released(ref)  # element 1 still holds it
    h("table_set", 1, Obj())
    h.store.gc()
    assert released(ref)


def test_global_set_value_of_another_object_releases_at_once(h: Harness) -> None:
    obj = Obj()
    ref = weakref.ref(obj)
    h.global_.set_value(h.store, obj)
    del obj
    h.global_.set_value(h.store, Obj())
    assert ref() is None


def test_table_set_from_python_releases_at_once(ours: Harness) -> None:
    # wasmtime-py 28 keeps an object overwritten by Table.set alive, even after gc()
    store, table = ours.store, ours.table
    obj = Obj()
    ref = weakref.ref(obj)
    table.set(store, 0, obj)
    table.set(store, 2, obj)
    del obj
    table.set(store, 0, None)
    assert not released(ref)  # element 2 still holds it
    table.set(store, 2, Obj())
    assert ref() is None


def test_host_table_overwrite_releases_at_once() -> None:
    store = api.Store()
    obj = Obj()
    ref = weakref.ref(obj)
    table = api.Table(store, api.TableType(api.ValType.externref(), api.Limits(2, None)), obj)
    table.grow(store, 1, obj)
    del obj
    table.set(store, 0, None)
    table.set(store, 1, "other")
    assert not released(ref)
    table.set(store, 2, None)
    assert ref() is None


# --- live frames: nothing wasm may still use is released ---


def test_gc_in_a_host_call_keeps_a_reference_held_only_by_a_wasm_local(h: Harness) -> None:
    obj = Obj()
    h.table.set(h.store, 0, obj)

    def hook() -> None:
        # the table no longer holds obj: only take_then_hook's local does
        h.store.gc()
        for _ in range(2 * MIN_COLLECTION_INTERVAL):
            h("sink", Obj())  # nested calls: new handles, automatic collections
        h.table.set(h.store, 1, Obj())
        h.store.gc()

    h.hook = hook
    assert h("take_then_hook") is obj
    assert h("table_is_null", 0) == 1


def test_gc_in_a_host_call_keeps_the_arguments_of_the_call(h: Harness) -> None:
    def hook() -> None:
        h.store.gc()
        h("drop_fresh", 100)
        h.store.gc()

    h.hook = hook
    obj = Obj()
    ref = weakref.ref(obj)
    assert h("hold_then_hook", obj) is obj
    del obj
    h.store.gc()
    assert released(ref)


def test_overwrite_in_a_host_call_keeps_what_a_wasm_local_holds(h: Harness) -> None:
    obj = Obj()
    h.global_.set_value(h.store, obj)
    h.table.set(h.store, 0, obj)

    def hook() -> None:
        h.global_.set_value(h.store, None)  # the last root of obj, but a wasm local has it
        h.store.gc()

    h.hook = hook
    assert h("take_then_hook") is obj


def test_gc_in_a_host_call_releases_nothing() -> None:
    h = Harness(api)
    externs = h.store.refs.externs
    h("sink", Obj())  # garbage from before the activation
    counts: list[int] = []
    h.hook = lambda: counts.append(externs.collect())
    h("hold_then_hook", Obj())
    assert counts == [0]
    assert externs.collect() == 2


# --- bounded growth ---


def test_many_short_lived_externrefs_keep_the_table_bounded(ours: Harness) -> None:
    externs = ours.store.refs.externs
    sink = ours.exports["sink"]
    store = ours.store
    largest = 0
    for _ in range(100_000):
        sink(store, Obj())
        largest = max(largest, len(externs))
    assert largest <= 2 * MIN_COLLECTION_INTERVAL


def test_externrefs_made_inside_wasm_are_collected_after_the_activation(ours: Harness) -> None:
    externs = ours.store.refs.externs
    largest = 0
    for _ in range(200):
        ours("drop_fresh", 100)  # a signature without externrefs enters wasm
        largest = max(largest, len(externs))
    assert largest <= 2 * MIN_COLLECTION_INTERVAL + 100


def test_automatic_collection_never_drops_the_arguments_being_passed(ours: Harness) -> None:
    for i in range(3 * MIN_COLLECTION_INTERVAL):
        a, b = Obj(), Obj()
        ours("table_set2", a, b)
        assert ours.table.get(ours.store, 0) is a and ours.table.get(ours.store, 1) is b, i


# --- identity and handles ---


@pytest.mark.parametrize("value", [42, True, "hello", 3.5, [1, 2], {"x": 1}, Obj()], ids=repr)
def test_round_trips_keep_identity(h: Harness, value: Any) -> None:
    assert h("id", value) is value
    assert h("id", h.mod.Val.externref(value)) is value
    h.table.set(h.store, 1, value)
    h.global_.set_value(h.store, value)
    h.store.gc()
    assert h.table.get(h.store, 1) is value
    assert h.global_.value(h.store) is value
    assert h("is_null", value) == 0


def test_one_handle_per_live_object_and_none_after_release() -> None:
    store = api.Store()
    externs = store.refs.externs
    obj = Obj()
    handle = externs.to_bits(obj)
    assert externs.to_bits(api.Val.externref(obj)) == handle
    assert store.gc() is None and len(externs) == 0
    with pytest.raises(api.WasmtimeError, match="invalid externref handle"):
        externs.from_bits(handle)
    assert externs.to_bits(obj) != handle  # handles are never reused


# --- null ---


def test_null_externref(h: Harness) -> None:
    Val = h.mod.Val
    null = Val.externref(None)
    assert null.value is None and null.as_externref() is None
    for v in (null, None, Val.ref_null(h.mod.ValType.externref())):
        assert h("is_null", v) == 1
        assert h("id", v) is None
        h.table.set(h.store, 2, v)
        assert h("table_is_null", 2) == 1
    for v in (0, False, "", Val.externref(0)):
        assert h("is_null", v) == 0
    h("global_set", Obj())
    h.global_.set_value(h.store, null)
    assert h("global_is_null") == 1
    h("global_set", Obj())
    h("global_set", null)
    assert h("global_is_null") == 1
