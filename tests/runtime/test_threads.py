"""Wasm runs without the GIL, and a store serves one thread at a time (the guest:
``tests.runtime.spinning``)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import cwasm.api as cw
from cwasm.runtime.store import StoreBusyError
from tests.runtime.spinning import FLAG, Guest, mid_run


def test_other_threads_run_while_wasm_runs() -> None:
    guest = Guest()
    guest.start()  # returns only if this thread ran while the loop did
    assert guest.stop() == 1  # the loop ended by the flag, not by its limit


def test_store_refuses_other_threads_while_its_wasm_runs() -> None:
    guest = Guest()
    store, ex = guest.store, guest.exports
    table: Any = ex["tab"]
    guest.start()
    try:
        with pytest.raises(StoreBusyError, match="in use by another thread"):
            ex["nop"](store)
        with pytest.raises(StoreBusyError):
            ex["run"](store, FLAG)
        with pytest.raises(StoreBusyError):
            ex["nop"].call_raw(store, [])
        with pytest.raises(StoreBusyError):
            guest.mem.grow(store, 1)
        with pytest.raises(StoreBusyError):
            table.grow(store, 1, None)
        with pytest.raises(StoreBusyError):
            table.set(store, 0, None)
        with pytest.raises(StoreBusyError):
            cw.Instance(store, cw.Module(store.engine, "(module)"), [])
        with pytest.raises(StoreBusyError):
            store.gc()
        with pytest.raises(StoreBusyError):
            store.close()
        with pytest.raises(StoreBusyError):
            store.set_limits(memory_size=1 << 20)
        # what cannot disturb the running wasm stays allowed
        assert guest.mem.size(store) == 1
        assert table.get(store, 0) is None
        assert table.size(store) == 1
    finally:
        assert guest.stop() == 1
    # the store is this thread's again, and usable
    ex["nop"](store)
    assert guest.mem.grow(store, 1) == 1
    assert table.grow(store, 1, None) == 1
    assert mid_run(guest.mem, store) is False
    assert ex["run"](store, FLAG) == 1  # the flag is still set: returns at once
    store.close()


def test_host_function_runs_on_the_calling_thread_with_the_gil() -> None:
    """A host function called from wasm on another thread runs there, and may use the
    store (it is that thread's while its wasm runs)."""
    store = cw.Store()
    seen: list[int] = []

    def host(caller: cw.Caller) -> None:
        seen.append(threading.get_ident())
        mem = caller["mem"]
        mem.grow(store, 1)  # allowed: the store belongs to this thread now

    f = cw.Func(store, cw.FuncType([], []), host, access_caller=True)
    module = cw.Module(
        store.engine,
        '(module (import "" "f" (func $f)) (memory (export "mem") 1)'
        ' (func (export "go") (call $f)))',
    )
    ex = cw.Instance(store, module, [f]).exports(store)
    t = threading.Thread(target=ex["go"], args=(store,))
    t.start()
    t.join()
    assert seen == [t.ident]
    assert ex["mem"].size(store) == 2
    ex["go"](store)  # and back on this thread
    assert seen[1] == threading.get_ident()
