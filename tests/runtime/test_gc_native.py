"""The native collector (docs/gc.md, "Collection") against the reference collector in
Python (``tests/runtime/gc_reference.py``) on random heaps: the objects it keeps are
exactly those reachable from the roots (tables, Python's ``AnyRef``s, frames' root
areas), unchanged; dead ones become zeroed free runs; the host words it reports are
those live objects hold; a tiny mark stack (overflow, then heap rescans) gives the same
result. The same random program runs under Wasmtime 28 (wasmtime-py's library with its
C API's GC switch), and the table's digest matches.

Then externrefs held only by GC objects: they survive collections while the object
holding them lives, and their host object is released after.
"""

from __future__ import annotations

import ctypes
import gc
import random
import weakref
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.runtime.gc_collector import DEFAULT_STACK_CAPACITY
from cwasm.runtime.gc_heap import GcHeap
from tests.runtime import gc_reference as ref
from tests.runtime.test_gc_types import _config
from tests.runtime.wat import wat

SLOTS = 48

MODULE = f"""
(module
  (type $pair (struct (field $id i32) (field $a (mut anyref)) (field $b (mut anyref))))
  (type $vec (array (mut anyref)))
  (type $bytes (array (mut i8)))
  (type $wide (struct (field i8) (field $x (mut externref)) (field i64)))
  (import "host" "cb" (func $cb))
  (table $t {SLOTS} anyref)
  (func (export "pair") (param $slot i32) (param $a i32) (param $b i32)
    (table.set $t (local.get $slot)
      (struct.new $pair (local.get $slot)
        (table.get $t (local.get $a)) (table.get $t (local.get $b)))))
  (func (export "vec") (param $slot i32) (param $n i32) (param $fill i32)
    (table.set $t (local.get $slot)
      (array.new $vec (table.get $t (local.get $fill)) (local.get $n))))
  (func (export "bytes") (param $slot i32) (param $n i32)
    (table.set $t (local.get $slot) (array.new_default $bytes (local.get $n))))
  (func (export "wide") (param $slot i32) (param $x externref)
    (table.set $t (local.get $slot)
      (struct.new $wide (i32.const 7) (local.get $x) (i64.const 9))))
  (func (export "host") (param $slot i32) (param $x externref)
    (table.set $t (local.get $slot) (any.convert_extern (local.get $x))))
  (func (export "i31") (param $slot i32) (param $v i32)
    (table.set $t (local.get $slot) (ref.i31 (local.get $v))))
  (func (export "clear") (param $slot i32)
    (table.set $t (local.get $slot) (ref.null any)))
  (func (export "link") (param $dst i32) (param $k i32) (param $src i32)
    (local $o anyref) (local $v (ref null $vec))
    (local.set $o (table.get $t (local.get $dst)))
    (if (ref.test (ref $pair) (local.get $o))
      (then
        (if (i32.and (local.get $k) (i32.const 1))
          (then (struct.set $pair $a (ref.cast (ref $pair) (local.get $o))
                  (table.get $t (local.get $src))))
          (else (struct.set $pair $b (ref.cast (ref $pair) (local.get $o))
                  (table.get $t (local.get $src)))))))
    (if (ref.test (ref $vec) (local.get $o))
      (then
        (local.set $v (ref.cast (ref $vec) (local.get $o)))
        (if (array.len (local.get $v))
          (then (array.set $vec (local.get $v)
                  (i32.rem_u (local.get $k) (array.len (local.get $v)))
                  (table.get $t (local.get $src))))))))
  ;; hold table[slot] only in this frame across a host call
  (func (export "held") (param $slot i32) (result i32)
    (local $o anyref)
    (local.set $o (table.get $t (local.get $slot)))
    (table.set $t (local.get $slot) (ref.null any))
    (call $cb)
    (table.set $t (local.get $slot) (local.get $o))
    (ref.test (ref $pair) (local.get $o)))
  ;; what the table holds, one level deep
  (func $one (param $o anyref) (result i64)
    (if (ref.test (ref $pair) (local.get $o))
      (then (return (i64.extend_i32_u (i32.add (i32.const 1000)
        (struct.get $pair $id (ref.cast (ref $pair) (local.get $o))))))))
    (if (ref.test (ref $vec) (local.get $o))
      (then (return (i64.extend_i32_u (i32.add (i32.const 2000)
        (array.len (ref.cast (ref $vec) (local.get $o))))))))
    (if (ref.test (ref $bytes) (local.get $o))
      (then (return (i64.extend_i32_u (i32.add (i32.const 3000)
        (array.len (ref.cast (ref $bytes) (local.get $o))))))))
    (if (ref.test (ref i31) (local.get $o))
      (then (return (i64.extend_i32_u (i31.get_u (ref.cast (ref i31) (local.get $o)))))))
    (if (ref.test (ref $wide) (local.get $o)) (then (return (i64.const 5))))
    (i64.extend_i32_u (ref.is_null (local.get $o))))
  (func (export "digest") (result i64)
    (local $i i32) (local $d i64) (local $o anyref)
    (loop $go
      (local.set $o (table.get $t (local.get $i)))
      (local.set $d (i64.add (i64.mul (local.get $d) (i64.const 31))
                             (call $one (local.get $o))))
      (if (ref.test (ref $pair) (local.get $o))
        (then
          (local.set $d (i64.add (i64.mul (local.get $d) (i64.const 7))
            (call $one (struct.get $pair $a (ref.cast (ref $pair) (local.get $o))))))
          (local.set $d (i64.add (i64.mul (local.get $d) (i64.const 7))
            (call $one (struct.get $pair $b (ref.cast (ref $pair) (local.get $o))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $go (i32.lt_u (local.get $i) (i32.const {SLOTS}))))
    (local.get $d))
  ;; the host object a $wide in table[slot] holds
  (func (export "wide_host") (param $slot i32) (result externref)
    (struct.get $wide $x (ref.cast (ref $wide) (table.get $t (local.get $slot)))))
)
"""


class Host:
    """A host object wasm holds as an externref."""


def _instance(api: Any, cb: Any, limit: int | None = None) -> tuple[Any, Any]:
    store = api.Store(api.Engine(_config(api)))
    if limit is not None:
        store.set_limits(memory_size=limit)
    module = api.Module(store.engine, wat(MODULE))
    func = api.Func(store, api.FuncType([], []), cb)
    return store, api.Instance(store, module, [func]).exports(store)


def _program(seed: int, n: int, for_wasmtime: bool = False) -> list[tuple[Any, ...]]:
    """A random sequence of the module's operations (host objects by index). For
    Wasmtime 28: no ``i31`` (it crashes on one in an ``anyref`` table) and no object of
    a chunk of its own (its default GC heap is too small)."""
    rng = random.Random(seed)
    ops: list[tuple[Any, ...]] = []
    s = lambda: rng.randrange(SLOTS)  # noqa: E731 - a random slot
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            ops.append(("pair", s(), s(), s()))
        elif r < 0.45:
            slot = s()
            ops.append(("pair", slot, slot, s()))  # a list grows through the slot
        elif r < 0.55:
            ops.append(("vec", s(), rng.choice((0, 1, 3, 20, 300)), s()))
        elif r < 0.62:
            big = rng.random() < 0.03 and not for_wasmtime  # an object of its own chunk
            ops.append(("bytes", s(), 300_000 if big else rng.randrange(0, 3000)))
        elif r < 0.67:
            ops.append(("wide", s(), rng.randrange(8)))
        elif r < 0.70:
            ops.append(("host", s(), rng.randrange(8)))
        elif r < 0.73:
            if not for_wasmtime:
                ops.append(("i31", s(), rng.randrange(1 << 20)))
        elif r < 0.85:
            ops.append(("link", s(), rng.randrange(1000), s()))
        elif r < 0.97:
            ops.append(("clear", s()))
        else:
            ops.append(("held", s()))
    return ops


def _run(store: Any, x: Any, ops: list[tuple[Any, ...]], hosts: list[Host]) -> list[Any]:
    out = []
    for name, *args in ops:
        if name in ("wide", "host"):
            args = [args[0], hosts[args[1]]]
        out.append(x[name](store, *args))
    return out


def _check_collection(heap: GcHeap) -> None:
    """Collect ``heap`` natively and compare with the reference's live set."""
    heap.retire_run()
    before = ref.walk(heap)
    marked, host_words = ref.mark(heap, before)
    contents = ref.snapshot(before, marked)
    live = heap.collect()
    after = ref.walk(heap)
    assert set(after.objects) == marked
    assert live == heap.live == sum(before.objects[a] for a in marked)
    assert ref.snapshot(after, marked) == contents
    assert heap.held_handles == host_words
    for at, size in after.free.items():
        assert ctypes.string_at(at + 8, size - 8).count(0) == size - 8, "a free run is not zero"
    listed = dict(heap.free_runs)
    assert all(after.free.get(at) == size for at, size in listed.items())


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("stack", [DEFAULT_STACK_CAPACITY, 2])
def test_random_heaps_collect_as_the_reference_does(seed: int, stack: int) -> None:
    hosts = [Host() for _ in range(8)]
    checked: list[int] = []

    def cb() -> None:  # a frame holds an object only in its root area
        _check_collection(store.gc_heap)
        checked.append(1)

    store, x = _instance(cwasm, cb, limit=4 << 20)
    heap = store.gc_heap
    heap.collector.stack_capacity = stack
    ops = _program(seed, 3000)
    _run(store, x, ops, hosts)
    _check_collection(heap)
    digest = x["digest"](store)
    _check_collection(heap)  # a second collection of the survivors changes nothing
    assert x["digest"](store) == digest
    assert heap.collections >= 3 and checked
    if stack == 2:
        assert heap.collector.overflow_walks > 0


def test_a_random_program_gives_what_wasmtime_gives() -> None:
    hosts = [Host() for _ in range(8)]
    ops = _program(4, 3000, for_wasmtime=True)
    store, x = _instance(cwasm, lambda: None, limit=1 << 20)
    ws, wx = _instance(wasmtime, lambda: None)
    for part in (ops[:1500], ops[1500:]):
        assert _run(store, x, part, hosts) == _run(ws, wx, part, hosts)
        store.gc()
        ws.gc()
        assert x["digest"](store) == wx["digest"](ws)
    assert store.gc_heap.collections >= 2


def test_a_host_object_held_only_by_a_struct_field() -> None:
    store, x = _instance(cwasm, lambda: None)
    ws, wx = _instance(wasmtime, lambda: None)
    obj = Host()
    seen = weakref.ref(obj)
    x["wide"](store, 0, obj)
    wx["wide"](ws, 0, obj)
    del obj
    gc.collect()
    store.gc()
    ws.gc()
    for _ in range(3):  # more handles than one automatic externref collection waits for
        for k in range(1, SLOTS):
            x["host"](store, k, Host())
        store.gc()
    assert seen() is not None
    assert x["wide_host"](store, 0) is seen()
    assert wx["wide_host"](ws, 0) is seen()
    del ws, wx  # wasmtime-py 28 keeps every externref it converted while its store lives
    x["clear"](store, 0)
    store.gc()
    gc.collect()
    assert seen() is None


def test_a_failed_instantiation_leaves_a_collectable_heap() -> None:
    text = """
    (module
      (type $p (struct (field i32)))
      (global $g (ref null $p) (struct.new $p (i32.const 5)))
      (func $start unreachable)
      (start $start))
    """
    stores = {}
    for api in (cwasm, wasmtime):
        store = stores[api] = api.Store(api.Engine(_config(api)))
        module = api.Module(store.engine, wat(text))
        with pytest.raises(api.Trap, match="unreachable"):
            api.Instance(store, module, [])
        store.gc()
    heap = stores[cwasm].gc_heap
    assert heap.reserved and heap.collections == 1  # the global's object was allocated


def test_an_artifact_without_the_collector_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from cwasm.compile import compiler
    from cwasm.obj.errors import CorruptArtifactError

    monkeypatch.setattr(compiler, "carries_collector", lambda types: False)
    text = "(module (type $lonely (struct (field i64) (field i32))))"
    with pytest.raises(CorruptArtifactError, match="lacks the GC collector"):
        cwasm.Module(cwasm.Engine(_config(cwasm)), wat(text))
