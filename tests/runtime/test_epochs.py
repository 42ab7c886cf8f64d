"""Epoch interruption (``Config.epoch_interruption``), beside wasmtime-py 28.

``Engine.increment_epoch`` moves the engine's epoch; code compiled with the setting
checks it against the store's deadline (``Store.set_epoch_deadline``) at function entry
and loop headers and traps with ``TrapCode.INTERRUPT`` once it is reached.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.api import Config, Engine, Store, Trap, TrapCode
from tests.runtime.wat import wat

MODULE = """
(module
  (import "" "tick" (func $tick))
  (global $g (export "g") (mut i32) (i32.const 0))
  (func (export "empty"))
  (func (export "tick_then_spin") (call $tick) (loop (br 0)))
  (func (export "count_and_tick") (param i32)
    (loop $top
      (global.set $g (i32.add (global.get $g) (i32.const 1)))
      (if (i32.eq (global.get $g) (local.get 0)) (then (call $tick)))
      (br $top)))
  (func $callee (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (func (export "tick_then_call") (call $tick) (call $callee))
  (func (export "spin") (loop (br 0)))
)
"""


class Run:
    """One runtime's instance of MODULE with epoch interruption; ``tick`` increments the
    epoch (and counts its calls), or moves the deadline when ``tick_deadline`` is set."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        config = rt.Config()
        config.epoch_interruption = True
        self.engine = rt.Engine(config)
        self.store = rt.Store(self.engine)
        self.ticks = 0
        self.tick_deadline: int | None = None

        def tick() -> None:
            self.ticks += 1
            if self.tick_deadline is not None:
                self.store.set_epoch_deadline(self.tick_deadline)
            else:
                self.engine.increment_epoch()

        func = rt.Func(self.store, rt.FuncType([], []), tick)
        self.instance = rt.Instance(self.store, rt.Module(self.engine, wat(MODULE)), [func])

    def call(self, name: str, *args: int) -> tuple[str, Any]:
        """``("ok", results)`` or ``("trap", the trap's ``wasm trap: ...`` line)``."""
        f = self.instance.exports(self.store)[name]
        try:
            return "ok", f(self.store, *args)
        except self.rt.Trap as e:
            line = next(li for li in str(e).splitlines() if "wasm trap:" in li)
            return "trap", line[line.index("wasm trap:") :]

    def global_g(self) -> int:
        return int(self.instance.exports(self.store)["g"].value(self.store))


def both() -> list[Run]:
    return [Run(cwasm.api), Run(wasmtime)]


def test_the_default_deadline_traps_at_once() -> None:
    """Wasmtime's default deadline is 0, the engine's epoch too: wasm traps on entry."""
    for run in both():
        assert run.call("empty") == ("trap", "wasm trap: interrupt")
        run.store.set_epoch_deadline(1)
        assert run.call("empty") == ("ok", None)


def test_increment_from_a_host_function_stops_a_loop() -> None:
    for run in both():
        run.store.set_epoch_deadline(1)
        assert run.call("tick_then_spin") == ("trap", "wasm trap: interrupt")
        assert run.ticks == 1
        # the store goes on after a new deadline
        run.store.set_epoch_deadline(1)
        assert run.call("empty") == ("ok", None)


def test_interrupt_trap_code() -> None:
    run = Run(cwasm.api)
    run.store.set_epoch_deadline(1)
    with pytest.raises(Trap) as info:
        run.instance.exports(run.store)["tick_then_spin"](run.store)
    assert info.value.trap_code == TrapCode.INTERRUPT
    assert "wasm trap: interrupt" in str(info.value)


@pytest.mark.parametrize("deadline", [1, 2, 3])
def test_loop_iterations_before_the_trap_are_wasmtimes(deadline: int) -> None:
    """The deadline is one tick away (after ``deadline - 1`` increments from Python); the
    tick on the loop's 5th iteration reaches it and the next loop header traps: the same
    iterations ran as under Wasmtime."""
    results = []
    for run in both():
        run.store.set_epoch_deadline(deadline)
        for _ in range(deadline - 1):
            run.engine.increment_epoch()
        results.append((run.call("count_and_tick", 5), run.global_g(), run.ticks))
    assert results[0] == results[1]
    assert results[0][0] == ("trap", "wasm trap: interrupt")


def test_function_entry_is_checked() -> None:
    """A call after the tick traps on the callee's entry, before its body ran."""
    results = []
    for run in both():
        run.store.set_epoch_deadline(1)
        results.append((run.call("tick_then_call"), run.global_g()))
    assert results[0] == results[1] == (("trap", "wasm trap: interrupt"), 0)


def test_a_host_function_moving_the_deadline_is_seen() -> None:
    """The cached deadline is reloaded when it seems passed: a host call that set a later
    deadline lets the code go on."""
    results = []
    for run in both():
        run.store.set_epoch_deadline(1)
        run.tick_deadline = 10
        # the tick moves the deadline instead of the epoch: the callee's entry passes
        results.append((run.call("tick_then_call"), run.global_g(), run.ticks))
    assert results[0] == results[1] == (("ok", None), 1, 1)


def test_increment_and_deadline_before_wasm_runs() -> None:
    """wasmtime-py's ``test_interrupt_handle``; the deadline counts from the epoch now."""
    for rt in (cwasm.api, wasmtime):
        config = rt.Config()
        config.epoch_interruption = True
        engine = rt.Engine(config)
        engine.increment_epoch()
        store = rt.Store(engine)
        store.set_epoch_deadline(1)
        module = rt.Module(engine, wat('(module (func (export "f")))'))
        f = rt.Instance(store, module, []).exports(store)["f"]
        assert f(store) is None
        engine.increment_epoch()
        with pytest.raises(rt.Trap):
            f(store)


def test_closed_store_and_engine() -> None:
    config = Config()
    config.epoch_interruption = True
    engine = Engine(config)
    store = Store(engine)
    store.close()
    with pytest.raises(ValueError):
        store.set_epoch_deadline(1)
    engine.close()
    with pytest.raises(ValueError):
        engine.increment_epoch()


def test_increments_from_several_threads() -> None:
    """Concurrent increments from several threads are all counted."""
    engine = Engine()
    threads = [threading.Thread(target=engine.increment_epoch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.current_epoch == 8


def test_increment_from_another_thread_stops_a_loop() -> None:
    """Another Python thread increments the epoch while this one spins in wasm (the GIL is
    released during wasm): the loop traps. Should the increment not stop it, a SIGINT
    after 60 s ends the test with KeyboardInterrupt instead of hanging it."""
    run = Run(cwasm.api)
    run.store.set_epoch_deadline(1)
    started = threading.Event()
    stop = threading.Event()
    main = threading.main_thread().ident
    assert main == threading.get_ident()

    def ticker() -> None:
        started.wait()
        waited = 0.0
        while not stop.wait(0.01):
            run.engine.increment_epoch()
            waited += 0.01
            if waited > 60:
                signal.pthread_kill(main, signal.SIGINT)
                return

    t = threading.Thread(target=ticker)
    t.start()
    try:
        started.set()
        assert run.call("spin") == ("trap", "wasm trap: interrupt")
    finally:
        stop.set()
        t.join()
