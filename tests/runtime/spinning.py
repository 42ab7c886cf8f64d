"""A guest that spins in wasm for as long as it is let, observable from other threads.

The guest ``run(flag)`` writes its loop counter into a ring of 1,024 words at the start of
its memory and stops once the word at ``flag`` is non-zero (or after ``LIMIT``
iterations, so a regression fails instead of hanging). Only a thread running while the
wasm runs can see the ring change between two of its reads, and set the flag.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import cwasm.api as cw

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


def mid_run(mem: cw.Memory, store: cw.Store) -> bool:
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
        while not mid_run(self.mem, self.store):
            assert self.thread.is_alive(), "the wasm returned before its loop was seen"

    def stop(self) -> int:
        """Set the flag (a memory write, allowed from any thread) and wait for ``run``."""
        self.mem.write(self.store, (1).to_bytes(4, "little"), FLAG)
        self.thread.join()
        return int(self.result[0])


def max_count(mem: cw.Memory, store: cw.Store) -> int:
    """The highest loop count in the ring: where the loop got to."""
    return max(memoryview(_ring(mem, store)).cast("Q"))


def signal_main_when_running(mem: cw.Memory, store: cw.Store) -> threading.Thread:
    """A started thread that sends SIGINT to the main thread once the loop of the guest
    whose memory is ``mem`` is seen running."""

    def watch() -> None:
        while not mid_run(mem, store):
            pass
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t
