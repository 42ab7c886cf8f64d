"""Wasm runs without the GIL, and a store serves one thread at a time.

The guest ``run(flag)`` writes its loop counter into a ring of 1,024 words at the start of
its memory and stops once the word at ``flag`` is non-zero (or after ``LIMIT``
iterations, so a regression fails instead of hanging). Only a thread running while the
wasm runs can see the ring change between two of its reads, and set the flag.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import cwasm.api as cw
from cwasm.runtime.store import StoreBusyError

FLAG = 8192
LIMIT = 30_000_000_000

GUEST = f"""
(module
  (memory (export "mem") 1)
  (table (export "tab") 1 funcref)
  (func (export "nop"))
  (func (export "run") (param $flag i32) (result i32) (local $i i64)
    (loop $spin
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (i64.store (i32.shl (i32.and (i32.wrap_i64 (local.get $i)) (i32.const 1023))
                          (i32.const 3))
                 (local.get $i))
      (if (i32.load (local.get $flag)) (then (return (i32.const 1))))
      (br_if $spin (i64.lt_u (local.get $i) (i64.const {LIMIT}))))
    (i32.const 0)))
"""


def _ring(mem: cw.Memory, store: cw.Store) -> bytes:
    return bytes(mem.read(store, 0, 8 * 1024))


def _mid_run(mem: cw.Memory, store: cw.Store) -> bool:
    """Whether the loop is seen running: the ring was written before a first read (not
    all zero) and changed before a second one (the wasm had not returned)."""
    first = _ring(mem, store)
    return any(first) and _ring(mem, store) != first


class Guest:
    """One instance of ``GUEST`` and a thread running ``run`` in it."""

    def __init__(self) -> None:
        self.store = cw.Store()
        module = cw.Module(self.store.engine, GUEST)
        self.exports = cw.Instance(self.store, module, []).exports(self.store)
        self.mem: Any = self.exports["mem"]
        self.result: list[Any] = []
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        self.result.append(self.exports["run"](self.store, FLAG))

    def start(self) -> None:
        """Start ``run`` on its thread and return once the loop is seen running (seeing it
        here means this thread ran bytecode while the wasm ran)."""
        self.thread.start()
        while not _mid_run(self.mem, self.store):
            assert self.thread.is_alive(), "the wasm returned before its loop was seen"

    def stop(self) -> int:
        """Set the flag (a memory write, allowed from any thread) and wait for ``run``."""
        self.mem.write(self.store, (1).to_bytes(4, "little"), FLAG)
        self.thread.join()
        return int(self.result[0])


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
    assert _mid_run(guest.mem, store) is False
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
