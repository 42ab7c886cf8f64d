"""WASI calls that fail as a whole, beside wasmtime-py 28: a pointer out of the memory's
bounds and a caller without a ``memory`` export give an error with the wasm backtrace
(``Pointer out of bounds: Region { start, len }``, ``missing required memory export``),
not an errno, and the effects made before the failure stay."""

from __future__ import annotations

import re
from typing import Any

import pytest
import wasmtime

import cwasm

IMPORTS = """
 (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "args_sizes_get" (func $a (param i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))
 (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))
"""
BODIES = """
 (func (export "buf_oob") (result i32)
   (i32.store (i32.const 0) (i32.const 65530)) (i32.store (i32.const 4) (i32.const 100))
   (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
 (func (export "nwritten_oob") (result i32)
   (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 0))
   (i32.store (i32.const 200) (i32.const 7))
   (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 65534)))
 (func (export "sizes_oob") (result i32) (call $a (i32.const 65535) (i32.const 0)))
 (func (export "sizes_ok") (result i32) (call $a (i32.const 8) (i32.const 12)))
 (func (export "yield") (result i32) (call $y))
 (func (export "exit") (call $e (i32.const 3)))
 (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
"""
WITH_MEMORY = f'(module {IMPORTS} (memory (export "memory") 1) {BODIES})'
WITHOUT_MEMORY = f"(module {IMPORTS} (memory 1) {BODIES})"


def _outcomes(api: Any, wat: str, names: list[str]) -> list[tuple[str, Any]]:
    engine = api.Engine()
    store = api.Store(engine)
    store.set_wasi(api.WasiConfig())
    linker = api.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, api.Module(engine, wat))
    exports = instance.exports(store)
    out: list[tuple[str, Any]] = []
    for name in names:
        try:
            out.append(("ok", exports[name](store)))
        except api.WasmtimeError as e:
            text = str(e)
            assert text.startswith("error while executing at wasm backtrace:\n    0: ")
            cause = text.split("Caused by:\n", 1)[1].split("\n\nStack backtrace")[0]
            # Wasmtime may add context lines ("0: In func ...", "1: <cause>"): the
            # innermost cause is the last line
            last = cause.strip().splitlines()[-1].strip()
            out.append(("error", re.sub(r"^\d+: ", "", last)))
        out.append(("peek", exports["peek"](store, 200)))
    return out


@pytest.mark.parametrize(
    ("wat", "names"),
    [
        (WITH_MEMORY, ["buf_oob", "nwritten_oob", "sizes_oob", "sizes_ok"]),
        (WITHOUT_MEMORY, ["sizes_ok", "yield", "exit"]),
    ],
    ids=["out-of-bounds", "no-memory-export"],
)
def test_failed_wasi_calls_match_wasmtime(wat: str, names: list[str]) -> None:
    ours = _outcomes(cwasm, wat, names)
    assert ours == _outcomes(wasmtime, wat, names)
    assert ("error", "missing required memory export") in ours or (
        "error",
        "Pointer out of bounds: Region { start: 65534, len: 4 }",
    ) in ours
