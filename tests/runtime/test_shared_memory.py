"""Shared memories across stores and Python threads: ``SharedMemory``, atomic updates
that lose nothing, and ``memory.atomic.wait32/64`` / ``memory.atomic.notify``."""

from __future__ import annotations

import ctypes
import threading
import time
from typing import Any

import pytest

import cwasm.api as cw
from cwasm.runtime import parking

#: a guest over an imported shared memory: counting, waiting and notifying
GUEST = """
(module
  (import "env" "mem" (memory 1 4 shared))
  (func (export "count") (param $addr i32) (param $n i32)
    (loop $l
      (drop (i32.atomic.rmw.add (local.get $addr) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "wait32") (param i32 i32 i64) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait64") (param i32 i64 i64) (result i32)
    (memory.atomic.wait64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32 i32) (result i32)
    (memory.atomic.notify (local.get 0) (local.get 1)))
  (func (export "store") (param i32 i32) (i32.atomic.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.atomic.load (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "misaligned") (result i32) (i32.atomic.load (i32.const 2)))
  (func (export "out_of_bounds") (result i32) (i32.atomic.load (i32.const -4))))
"""


def _shared(engine: cw.Engine, minimum: int = 1, maximum: int = 4) -> cw.SharedMemory:
    return cw.SharedMemory(engine, cw.MemoryType(cw.Limits(minimum, maximum), shared=True))


class _Thread:
    """One Python thread's own store and instance over the shared memory."""

    def __init__(self, module: cw.Module, memory: cw.SharedMemory) -> None:
        self.store = cw.Store(module.engine)
        self.exports = cw.Instance(self.store, module, [memory]).exports(self.store)

    def call(self, name: str, *args: Any) -> Any:
        return self.exports[name](self.store, *args)


def test_ten_threads_lose_no_atomic_update() -> None:
    engine = cw.Engine()
    module = cw.Module(engine, GUEST)
    memory = _shared(engine)
    threads, calls, per_call = 10, 16, 100_000  # about a second on a 2-core machine
    guests = [_Thread(module, memory) for _ in range(threads)]
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(guest: _Thread) -> None:
        try:
            start.wait()
            for _ in range(calls):
                guest.call("count", 64, per_call)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    workers = [threading.Thread(target=run, args=(g,)) for g in guests]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert guests[0].call("load", 64) == threads * calls * per_call
    assert ctypes.c_uint32.from_address(
        ctypes.addressof(memory.data_ptr().contents) + 64
    ).value == (threads * calls * per_call)


def test_threads_trap_in_their_own_stores_while_others_count() -> None:
    engine = cw.Engine()
    module = cw.Module(engine, GUEST)
    memory = _shared(engine)
    threads, rounds, per_round = 4, 50, 1000
    guests = [_Thread(module, memory) for _ in range(threads)]
    traps: list[list[str]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def run(k: int) -> None:
        start.wait()
        for r in range(rounds):
            guests[k].call("count", 0, per_round)
            try:
                guests[k].call("misaligned" if (k + r) % 2 else "out_of_bounds")
            except cw.Trap as e:
                traps[k].append(str(e).splitlines()[-1].strip())

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert guests[0].call("load", 0) == threads * rounds * per_round
    for k in range(threads):
        assert len(traps[k]) == rounds
        assert set(traps[k]) == {
            "wasm trap: unaligned atomic",
            "wasm trap: out of bounds memory access",
        }
        guests[k].call("count", 4, 1)  # each store is usable after its traps
    assert guests[0].call("load", 4) == threads


def _wait_until_parked(address: int, count: int) -> None:
    """Block until ``count`` threads are parked at ``address`` (synchronization only)."""
    while parking.waiters(address) < count:
        time.sleep(0.001)


def _address(memory: cw.SharedMemory, offset: int) -> int:
    return ctypes.addressof(memory.data_ptr().contents) + offset


@pytest.mark.parametrize("width", ["wait32", "wait64"])
def test_notify_wakes_a_waiter_in_another_thread(width: str) -> None:
    engine = cw.Engine()
    module = cw.Module(engine, GUEST)
    memory = _shared(engine)
    waiter, notifier = _Thread(module, memory), _Thread(module, memory)
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(waiter.call(width, 8, 0, -1)))
    t.start()
    _wait_until_parked(_address(memory, 8), 1)
    assert notifier.call("notify", 16, 1) == 0  # another address: nobody woken
    notifier.call("store", 8, 1)
    assert notifier.call("notify", 8, 5) == 1
    t.join()
    assert result == [0]  # "ok": woken by the notify
    assert parking.waiters(_address(memory, 8)) == 0


def test_notify_wakes_at_most_count_waiters_oldest_first() -> None:
    engine = cw.Engine()
    module = cw.Module(engine, GUEST)
    memory = _shared(engine)
    order: list[int] = []
    guests = [_Thread(module, memory) for _ in range(3)]

    def wait(k: int) -> None:
        assert guests[k].call("wait32", 0, 0, -1) == 0
        order.append(k)

    workers = []
    for k in range(3):
        workers.append(threading.Thread(target=wait, args=(k,)))
        workers[-1].start()
        _wait_until_parked(_address(memory, 0), k + 1)
    main = _Thread(module, memory)
    assert main.call("notify", 0, 2) == 2
    workers[0].join()
    workers[1].join()
    assert sorted(order) == [0, 1]
    assert parking.waiters(_address(memory, 0)) == 1
    assert main.call("notify", 0, 2) == 1
    workers[2].join()
    assert sorted(order) == [0, 1, 2]


def test_wait_results_without_a_notify() -> None:
    engine = cw.Engine()
    module = cw.Module(engine, GUEST)
    guest = _Thread(module, _shared(engine))
    guest.call("store", 0, 7)
    assert guest.call("wait32", 0, 6, -1) == 1  # not-equal, at once
    assert guest.call("wait64", 0, 7 | 1 << 32, -1) == 1
    assert guest.call("wait32", 0, 7, 1_000_000) == 2  # timed out after 1 ms
    assert guest.call("wait64", 0, 7, 0) == 2
    assert guest.call("notify", 0, 1) == 0


def test_the_memory_is_one_across_stores_and_grows_in_place() -> None:
    engine = cw.Engine()
    module = cw.Module(engine, GUEST)
    memory = _shared(engine)
    a, b = _Thread(module, memory), _Thread(module, memory)
    base = _address(memory, 0)
    a.call("store", 100, 42)
    assert b.call("load", 100) == 42
    assert memory.data_ptr()[100] == 42
    assert b.call("grow", 1) == 1
    assert (a.call("size"), memory.size(), memory.data_len()) == (2, 2, 2 * 65536)
    assert memory.grow(2) == 2
    assert a.call("size") == 4
    assert b.call("grow", 1) == -1  # past the maximum
    with pytest.raises(cw.WasmtimeError, match="failed to grow memory by `1`"):
        memory.grow(1)
    assert _address(memory, 0) == base  # the base never moved
    a.call("store", 4 * 65536 - 4, 9)
    assert b.call("load", 4 * 65536 - 4) == 9


def test_a_defined_shared_memory_is_exported_as_a_shared_memory() -> None:
    engine = cw.Engine()
    owner = cw.Store(engine)
    defining = cw.Module(engine, '(module (memory (export "mem") 1 4 shared))')
    exported = cw.Instance(owner, defining, []).exports(owner)["mem"]
    assert isinstance(exported, cw.SharedMemory)
    assert exported.type().is_shared
    guest = _Thread(cw.Module(engine, GUEST), exported)
    guest.call("store", 4, 5)
    assert exported.data_ptr()[4] == 5
    # the linker defines it for any store
    linker = cw.Linker(engine)
    linker.define(cw.Store(engine), "env", "mem", exported)
    other = cw.Store(engine)
    inst = linker.instantiate(other, cw.Module(engine, GUEST))
    assert inst.exports(other)["load"](other, 4) == 5


def test_import_types_must_agree_on_sharing() -> None:
    engine = cw.Engine()
    store = cw.Store(engine)
    shared = _shared(engine, 1, 2)
    unshared = cw.Memory(store, cw.MemoryType(cw.Limits(1, 2)))
    plain = cw.Module(engine, '(module (import "" "" (memory 1 2)))')
    wants_shared = cw.Module(engine, '(module (import "" "" (memory 1 2 shared)))')
    with pytest.raises(cw.WasmtimeError, match="incompatible import type"):
        cw.Instance(store, plain, [shared])
    with pytest.raises(cw.WasmtimeError, match="incompatible import type"):
        cw.Instance(store, wants_shared, [unshared])
    cw.Instance(store, wants_shared, [shared])


def test_shared_memory_api_errors() -> None:
    engine = cw.Engine()
    with pytest.raises(cw.WasmtimeError, match="`shared` flag"):
        cw.SharedMemory(engine, cw.MemoryType(cw.Limits(1, 2)))
    with pytest.raises(cw.WasmtimeError, match="shared memories must have a maximum"):
        cw.MemoryType(cw.Limits(1, None), shared=True)
    memory = _shared(engine, 1, 2)
    with pytest.raises(cw.WasmtimeError, match="negative"):
        memory.grow(-1)
    assert memory.grow(0) == 1
