"""``memory.atomic.wait32/64`` and interruption, as Wasmtime 28: a waiting thread is not
interrupted by epochs (Wasmtime checks them at function entries and loop headers, and
its parking spot knows nothing of them), and waiting burns no fuel (fuel counts
instructions). A wait with a timeout returns "timed out" (2) however often the epoch
ticks meanwhile; the next epoch check traps. Compared with wasmtime-py 28 (whose own
shared memory is the module's: it cannot import one).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import wasmtime

import cwasm

WAT = """(module
  (import "" "started" (func $started))
  (memory 1 1 shared)
  (func (export "wait32") (param i32 i64) (result i32)
    (memory.atomic.wait32 (i32.const 0) (local.get 0) (local.get 1)))
  (func (export "started_wait32") (param i32 i64) (result i32)
    (call $started)
    (memory.atomic.wait32 (i32.const 0) (local.get 0) (local.get 1)))
  (func (export "wait64") (param i64 i64) (result i32)
    (memory.atomic.wait64 (i32.const 8) (local.get 0) (local.get 1))))"""
TIMEOUT_NS = 20_000_000  # 20 ms


def _instance(api: Any, engine: Any, store: Any, started: Any) -> Any:
    host = api.Func(store, api.FuncType([], []), started)
    return api.Instance(store, api.Module(engine, WAT), [host]).exports(store)


def _epochs(api: Any) -> list[Any]:
    config = api.Config()
    config.epoch_interruption = True
    engine = api.Engine(config)
    store = api.Store(engine)
    store.set_epoch_deadline(1)
    started, done = threading.Event(), threading.Event()
    exports = _instance(api, engine, store, started.set)

    def tick() -> None:  # past the deadline, many times, once the call is under way
        started.wait()
        while not done.is_set():
            engine.increment_epoch()
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        out: list[Any] = [exports["started_wait32"](store, 0, TIMEOUT_NS)]
    finally:
        started.set()
        done.set()
        ticker.join()
    # the next call's entry is past the deadline: it traps before waiting
    try:
        exports["wait64"](store, 0, TIMEOUT_NS)
        out.append("returned")
    except api.Trap as trap:
        out.append("interrupt" if "interrupt" in str(trap) else str(trap))
    return out


def test_epochs_do_not_interrupt_a_wait() -> None:
    ours, theirs = _epochs(cwasm), _epochs(wasmtime)
    assert ours == theirs == [2, "interrupt"]


def _fuel(api: Any) -> list[int]:
    config = api.Config()
    config.consume_fuel = True
    engine = api.Engine(config)
    store = api.Store(engine)
    store.set_fuel(10_000)
    exports = _instance(api, engine, store, lambda: None)
    out: list[int] = []
    for name, expected in (("wait32", 0), ("wait32", 1), ("wait64", 0), ("wait64", 1)):
        before = store.get_fuel()
        # expected 0 matches the zeroed memory: a timed-out wait (2); 1 does not (1)
        out.append(exports[name](store, expected, TIMEOUT_NS))
        out.append(before - store.get_fuel())
    return out


def test_waiting_burns_no_fuel() -> None:
    ours, theirs = _fuel(cwasm), _fuel(wasmtime)
    assert ours == theirs
    results, costs = ours[0::2], ours[1::2]
    assert results == [2, 1, 2, 1]
    # a wait that times out costs what one that returns at once does
    assert costs[0] == costs[1] and costs[2] == costs[3]
