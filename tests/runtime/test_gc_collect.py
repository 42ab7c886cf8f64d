"""The GC heap's collector (docs/gc.md, "Collection"): unreachable structs and arrays
are freed and their space reused, under the GC heap limit ``Store.set_limits``'s
``memory_size`` sets; what Python holds (``AnyRef``), globals and tables hold, and
frames hold (root areas) survives; a trap or a caught exception leaves the roots
consistent; stores collect independently in threads.

Results are compared with Wasmtime (wasmtime-py 28's library with its C API's GC
switch) where its Python API can express the call.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.runtime.anyref import AnyRef
from cwasm.runtime.gc_heap import GC_HEAP_OUT_OF_MEMORY
from tests.runtime.test_gc_types import _config
from tests.runtime.wat import wat

MIB = 1 << 20

MODULE = """
(module
  (type $node (struct (field $v i32) (field $next (mut (ref null $node)))))
  (type $bytes (array (mut i8)))
  (global $kept (mut (ref null $node)) (ref.null $node))

  ;; a list of n nodes (values n..1): its head
  (func $list (param $n i32) (result (ref null $node))
    (local $l (ref null $node))
    (block $done
      (loop $build
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $l (struct.new $node (local.get $n) (local.get $l)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $build)))
    (local.get $l))
  (func $sum (param $l (ref null $node)) (result i64)
    (local $s i64)
    (block $done
      (loop $walk
        (br_if $done (ref.is_null (local.get $l)))
        (local.set $s (i64.add (local.get $s)
          (i64.extend_i32_u (struct.get $node $v (local.get $l)))))
        (local.set $l (struct.get $node $next (local.get $l)))
        (br $walk)))
    (local.get $s))

  ;; build a list of n, sum it, drop it
  (func (export "list_sum") (param $n i32) (result i64) (call $sum (call $list (local.get $n))))

  ;; keep a list in a global while others come and go
  (func (export "keep") (param $n i32) (global.set $kept (call $list (local.get $n))))
  (func (export "kept_sum") (result i64) (call $sum (global.get $kept)))

  ;; n short-lived arrays of size bytes
  (func (export "churn") (param $n i32) (param $size i32) (result i32)
    (local $a (ref null $bytes)) (local $s i32)
    (block $done
      (loop $go
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $a (array.new $bytes (local.get $n) (local.get $size)))
        (local.set $s (i32.add (local.get $s) (array.get_u $bytes (local.get $a) (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $go)))
    (local.get $s))

  ;; a cycle of two nodes, as anyref and as externref
  (func $cycle (param $v i32) (result (ref $node))
    (local $a (ref null $node)) (local $b (ref null $node))
    (local.set $a (struct.new $node (local.get $v) (ref.null $node)))
    (local.set $b (struct.new $node (i32.add (local.get $v) (i32.const 1)) (local.get $a)))
    (struct.set $node $next (local.get $a) (local.get $b))
    (ref.as_non_null (local.get $a)))
  (func (export "cycle") (param i32) (result anyref) (call $cycle (local.get 0)))
  (func (export "cycle_extern") (param i32) (result externref)
    (extern.convert_any (call $cycle (local.get 0))))
  ;; the two values of a cycle, around it twice
  (func (export "walk") (param anyref) (result i32)
    (local $n (ref null $node))
    (local.set $n (ref.cast (ref $node) (local.get 0)))
    (i32.add
      (i32.add (struct.get $node $v (local.get $n))
               (struct.get $node $v (struct.get $node $next (local.get $n))))
      (struct.get $node $v (struct.get $node $next (struct.get $node $next (local.get $n))))))
  (func (export "walk_extern") (param externref) (result i32)
    (call 9 (any.convert_extern (local.get 0))))

  ;; a list held in a frame while a loop of allocations traps at iteration $at
  (func (export "trap_midway") (param $n i32) (param $at i32) (result i64)
    (local $held (ref null $node))
    (local.set $held (call $list (i32.const 1000)))
    (block $done
      (loop $go
        (br_if $done (i32.eqz (local.get $n)))
        (if (i32.eq (local.get $n) (local.get $at)) (then unreachable))
        (drop (call $list (i32.const 100)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $go)))
    (call $sum (local.get $held)))
"""

#: exception handling, which Wasmtime 28 does not have
EXCEPTIONS = """
  (tag $e (param i32))
  ;; a callee allocates and throws; its caller catches, allocates more, and sums
  (func $alloc_throw (param $n i32)
    (drop (call $list (local.get $n)))
    (throw $e (local.get $n)))
  (func (export "caught") (param $n i32) (result i64)
    (local $held (ref null $node)) (local $got i32)
    (local.set $held (call $list (i32.const 1000)))
    (local.set $got
      (block $h (result i32)
        (try_table (catch $e $h) (call $alloc_throw (local.get $n)))
        (i32.const 0)))
    (drop (call $list (local.get $n)))
    (i64.add (i64.extend_i32_u (local.get $got)) (call $sum (local.get $held))))
"""


def _exports(api: Any, limit: int | None = None) -> tuple[Any, Any]:
    store = api.Store(api.Engine(_config(api)))
    if limit is not None:
        store.set_limits(memory_size=limit)
    text = MODULE + (EXCEPTIONS if api is cwasm else "") + ")"
    module = api.Module(store.engine, wat(text))
    return store, api.Instance(store, module, []).exports(store)


def _sum(n: int) -> int:
    return n * (n + 1) // 2


def test_a_million_nodes_ten_times_in_64_mib() -> None:
    store, x = _exports(cwasm, 64 * MIB)
    heap = store.gc_heap
    ws, wx = _exports(wasmtime)  # Wasmtime 28's default GC heap is too small for 1M
    assert x["list_sum"](store, 1000) == wx["list_sum"](ws, 1000)
    n = 1_000_000
    for _ in range(10):
        assert x["list_sum"](store, n) == _sum(n)
        assert heap.reserved <= 64 * MIB
    assert heap.collections >= 3
    store.gc()
    assert heap.live == 0
    assert heap.reserved <= 4 * MIB  # back near its start


def test_short_lived_objects_of_a_hundred_times_the_limit_run_in_bounded_memory() -> None:
    store, x = _exports(cwasm, 4 * MIB)
    heap = store.gc_heap
    count, size = 50_000, 8_400  # 50,000 arrays of 8,400 bytes: 420 MB, 100x the limit
    assert count * size >= 100 * 4 * MIB
    assert x["churn"](store, count, size) == sum(n & 0xFF for n in range(1, count + 1))
    assert heap.reserved <= 4 * MIB
    assert heap.collections >= 50


def test_a_global_keeps_its_list_through_collections() -> None:
    store, x = _exports(cwasm, 16 * MIB)
    x["keep"](store, 100_000)
    for _ in range(5):
        assert x["list_sum"](store, 300_000) == _sum(300_000)
    assert store.gc_heap.collections >= 2
    store.gc()
    assert x["kept_sum"](store) == _sum(100_000)
    assert store.gc_heap.live >= 100_000 * 24


@pytest.mark.parametrize("export", ["cycle", "cycle_extern"])
def test_a_cycle_held_by_python_lives_until_python_lets_go(export: str) -> None:
    store, x = _exports(cwasm)
    heap = store.gc_heap
    ref = x[export](store, 40)
    assert isinstance(ref, AnyRef)
    store.gc()
    assert heap.live == 2 * 24
    x["churn"](store, 2000, 4000)  # collections while Python holds the cycle
    store.gc()
    walk = x["walk" if export == "cycle" else "walk_extern"]
    assert walk(store, ref) == 40 + 41 + 40
    del ref
    store.gc()
    assert heap.live == 0


def test_the_live_set_over_the_limit_fails_as_in_wasmtime() -> None:
    store, x = _exports(cwasm, 8 * MIB)
    with pytest.raises(cwasm.WasmtimeError, match=GC_HEAP_OUT_OF_MEMORY):
        x["list_sum"](store, 1_000_000)  # 24 MB live at once
    assert int(store._ctx[cwasm_roots_slot()]) == 0
    assert x["list_sum"](store, 1000) == _sum(1000)  # the store goes on


def cwasm_roots_slot() -> int:
    from cwasm.abi import vmoffsets as vo

    return vo.STORE_GC_ROOTS // 8


def test_a_trap_mid_loop_leaves_the_roots_consistent() -> None:
    store, x = _exports(cwasm, 4 * MIB)
    ws, wx = _exports(wasmtime)  # with fewer allocations: its default GC heap is small
    with pytest.raises(wasmtime.Trap, match="unreachable"):
        wx["trap_midway"](ws, 20, 10)
    with pytest.raises(cwasm.Trap, match="unreachable"):
        x["trap_midway"](store, 5000, 10)
    assert int(store._ctx[cwasm_roots_slot()]) == 0
    store.gc()
    assert store.gc_heap.collections >= 2
    assert x["trap_midway"](store, 5000, 0) == _sum(1000) == wx["trap_midway"](ws, 5, 0)


def test_a_caught_exception_leaves_the_roots_consistent() -> None:
    store, x = _exports(cwasm, 4 * MIB)
    for _ in range(4):
        assert x["caught"](store, 100_000) == 100_000 + _sum(1000)
    assert int(store._ctx[cwasm_roots_slot()]) == 0
    assert store.gc_heap.collections >= 2
    store.gc()
    assert store.gc_heap.live == 0


def test_four_stores_in_four_threads_collect_independently() -> None:
    engine = cwasm.Engine(_config(cwasm))
    module = cwasm.Module(engine, wat(MODULE + ")"))
    results: dict[int, tuple[int, int, int]] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            store = cwasm.Store(engine)
            store.set_limits(memory_size=4 * MIB)
            x = cwasm.Instance(store, module, []).exports(store)
            got = x["churn"](store, 3000, 8000 + k)  # ~24 MB of short-lived arrays
            results[k] = (got, store.gc_heap.collections, store.gc_heap.reserved)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(4):
        got, collections, reserved = results[k]
        assert got == sum(n & 0xFF for n in range(1, 3001))
        assert collections >= 2 and reserved <= 4 * MIB
