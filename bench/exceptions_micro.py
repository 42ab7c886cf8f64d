"""Micro-benchmark of exception handling costs (docs/exceptions.md): a call inside a
try_table, a throw caught in the same function, a throw from a callee caught by its
caller, and a Python -> wasm call. Usage: ``python bench/exceptions_micro.py``."""

from __future__ import annotations

import time

import cwasm

WAT = """
(module
  (tag $e (param i32))
  (func $f (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $t (param i32) (throw $e (local.get 0)))
  (func (export "plain") (param i32) (result i32) (local $s i32)
    (loop $l
      (local.set $s (call $f (local.get $s)))
      (br_if $l (i32.ne (local.get $s) (local.get 0))))
    (local.get $s))
  (func (export "try_call") (param i32) (result i32) (local $s i32)
    (loop $l
      (block $h
        (try_table (catch_all $h) (local.set $s (call $f (local.get $s)))))
      (br_if $l (i32.ne (local.get $s) (local.get 0))))
    (local.get $s))
  (func (export "throw_call") (param i32) (result i32) (local $s i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $t (local.get $s)))
        (i32.const 0))
      (local.set $s (i32.add (i32.const 1)))
      (br_if $l (i32.ne (local.get $s) (local.get 0))))
    (local.get $s))
  (func (export "throw_local") (param i32) (result i32) (local $s i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (throw $e (local.get $s)))
        (i32.const 0))
      (local.set $s (i32.add (i32.const 1)))
      (br_if $l (i32.ne (local.get $s) (local.get 0))))
    (local.get $s))
  (func (export "nop")))
"""


def main() -> None:
    """Print the cost of each case, in ns of CPU time (best of 5 runs)."""
    store = cwasm.Store()
    module = cwasm.Module(store.engine, cwasm.wat2wasm(WAT))
    exports = cwasm.Instance(store, module, []).exports(store)

    def per_iteration(name: str, n: int) -> float:
        func = exports[name]
        best = float("inf")
        for _ in range(5):
            t = time.process_time()
            if func(store, n) != n:
                raise SystemExit(f"{name} computed a wrong result")
            best = min(best, time.process_time() - t)
        return best / n * 1e9

    n = 5_000_000
    print(f"plain call loop: {per_iteration('plain', n):.2f} ns/iter")
    print(f"call in try_table: {per_iteration('try_call', n):.2f} ns/iter")
    print(f"throw in same function: {per_iteration('throw_local', n):.2f} ns/iter")
    print(f"throw from callee, caught: {per_iteration('throw_call', 200_000):.0f} ns/iter")
    nop = exports["nop"]
    best = float("inf")
    for _ in range(5):
        t = time.process_time()
        for _ in range(200_000):
            nop(store)
        best = min(best, time.process_time() - t)
    print(f"Python -> wasm call: {best / 200_000 * 1e9:.0f} ns")


if __name__ == "__main__":
    main()
