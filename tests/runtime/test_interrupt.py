"""Ctrl-C while wasm runs on the main thread: ``KeyboardInterrupt``, promptly, with no
epochs configured (``cwasm.runtime.interrupt``; the guest: ``tests.runtime.spinning``).

SIGINT is sent to the main thread with ``signal.pthread_kill`` once another thread sees
the wasm loop running; the loop stops long before its limit only if the signal stopped
it (its count is read back from its memory)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import cwasm.api as cw
from cwasm.abi import guard_layout
from cwasm.runtime.config import Config
from tests.runtime.spinning import FLAG, GUEST, LIMIT, max_count, signal_main_when_running

pytestmark = pytest.mark.skipif(
    not guard_layout.supported(), reason="SIGINT stops wasm on x86-64 Linux only"
)


@pytest.fixture(params=["guard-pages", "explicit"])
def store(request: pytest.FixtureRequest) -> cw.Store:
    config = Config()
    config.bounds_checks = request.param
    return cw.Store(cw.Engine(config))


@pytest.fixture(autouse=True)
def default_handler() -> Iterator[None]:
    """Every test starts and ends with Python's default SIGINT handler."""
    assert threading.current_thread() is threading.main_thread()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _guest(store: cw.Store, imports: list[Any] | None = None) -> Any:
    return cw.Instance(store, cw.Module(store.engine, GUEST), imports or []).exports(store)


def test_keyboard_interrupt_stops_a_wasm_loop(store: cw.Store) -> None:
    ex = _guest(store)
    mem = ex["mem"]
    watcher = signal_main_when_running(mem, store)
    with pytest.raises(KeyboardInterrupt):
        ex["run"](store, FLAG)
    watcher.join()
    assert 0 < max_count(mem, store) < LIMIT  # stopped in the middle
    # the store is usable afterwards, and interruptible again
    ex["nop"](store)
    assert mem.grow(store, 1) == 1
    watcher = signal_main_when_running(mem, store)
    with pytest.raises(KeyboardInterrupt):
        ex["run"](store, FLAG)
    watcher.join()
    mem.write(store, (1).to_bytes(4, "little"), FLAG)
    assert ex["run"](store, FLAG) == 1


def test_keyboard_interrupt_crosses_host_functions_and_stores(store: cw.Store) -> None:
    """wasm of one store -> host function -> wasm of another store spinning: the inner
    wasm stops, and the KeyboardInterrupt propagates out of both."""
    inner_store = cw.Store(store.engine)
    inner = _guest(inner_store)
    calls: list[str] = []

    def host() -> None:
        calls.append("in")
        inner["run"](inner_store, FLAG)
        calls.append("returned")  # never: the KeyboardInterrupt goes through

    outer = cw.Instance(
        store,
        cw.Module(store.engine, '(module (import "" "h" (func $h)) (func (export "go") call $h))'),
        [cw.Func(store, cw.FuncType([], []), host)],
    ).exports(store)
    watcher = signal_main_when_running(inner["mem"], inner_store)
    with pytest.raises(KeyboardInterrupt):
        outer["go"](store)
    watcher.join()
    assert calls == ["in"]
    assert (store.entries, inner_store.entries) == (0, 0)
    inner["nop"](inner_store)
    outer["go"].type(store)


def test_keyboard_interrupt_in_a_host_function_called_from_wasm(store: cw.Store) -> None:
    """The pc is in Python then: Python's own handler raises in the host function."""
    ex_box: list[Any] = []
    watchers: list[threading.Thread] = []

    def host() -> None:
        mem = ex_box[0]["mem"]
        watchers.append(signal_main_when_running(mem, store))
        # the ring changes only while this writes it, as the wasm loop does; it ends by
        # the KeyboardInterrupt only
        i = 0
        while True:
            i += 1
            mem.write(store, i.to_bytes(8, "little"), 8 * (i % 1024))

    ex = _guest(store)
    ex_box.append(ex)
    caller = cw.Instance(
        store,
        cw.Module(store.engine, '(module (import "" "h" (func $h)) (func (export "go") call $h))'),
        [cw.Func(store, cw.FuncType([], []), host)],
    ).exports(store)
    with pytest.raises(KeyboardInterrupt):
        caller["go"](store)
    watchers[0].join()
    ex["nop"](store)


def test_a_custom_handler_is_respected(store: cw.Store) -> None:
    """With its own SIGINT handler, a program keeps it: the wasm is not stopped, and the
    handler runs once the call returns."""
    ex = _guest(store)
    mem = ex["mem"]
    seen: list[int] = []
    signal.signal(signal.SIGINT, lambda sig, frame: seen.append(sig))
    ex = _guest(store)  # instantiating does not take SIGINT back
    mem = ex["mem"]

    def stop_after_signal() -> None:
        signal_main_when_running(mem, store).join()
        mem.write(store, (1).to_bytes(4, "little"), FLAG)

    t = threading.Thread(target=stop_after_signal)
    t.start()
    assert ex["run"](store, FLAG) == 1  # ended by the flag, not by SIGINT
    t.join()
    assert seen == [signal.SIGINT]


@pytest.mark.parametrize("bounds_checks", ["guard-pages", "explicit"])
def test_a_storm_of_sigints_only_ever_raises_keyboard_interrupt(bounds_checks: str) -> None:
    """SIGINTs landing anywhere (wasm, trampolines, host functions and their entry,
    memset) end each call with its result or a KeyboardInterrupt, nothing else, and
    nothing is printed (``tests.runtime.sigint_storm``, in a process of its own: the
    signals must not reach pytest)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.runtime.sigint_storm", bounds_checks],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    outcomes, entries, ran = proc.stdout.split()
    assert "interrupted" in outcomes.split(",")
    assert set(outcomes.split(",")) <= {"returned", "interrupted"}
    assert (entries, ran) == ("0", "True")
