"""WASI through a module's shared memory (threads): Wasmtime's preview 1 takes the
calling instance's ``memory`` export whether it is a ``Memory`` or a ``SharedMemory``;
compared with wasmtime-py 28."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import wasmtime

import cwasm

GUEST = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 2 shared)
  (data (i32.const 64) "hello from a shared memory\\n")
  (func (export "write") (result i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 27))
    (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 32)))
  (func (export "written") (result i32) (i32.load (i32.const 32))))"""


def _run(api: Any, tmp_path: Path) -> list[Any]:
    engine = api.Engine()
    store = api.Store(engine)
    stdout = tmp_path / f"{api.__name__}.out"
    wasi = api.WasiConfig()
    wasi.stdout_file = str(stdout)
    store.set_wasi(wasi)
    linker = api.Linker(engine)
    linker.define_wasi()
    exports = linker.instantiate(store, api.Module(engine, GUEST)).exports(store)
    out: list[Any] = [type(exports["memory"]).__name__]
    out += [exports["write"](store), exports["written"](store), stdout.read_text()]
    return out


def test_a_shared_memory_export_is_the_memory_wasi_uses(tmp_path: Path) -> None:
    ours, theirs = _run(cwasm, tmp_path), _run(wasmtime, tmp_path)
    assert ours == theirs
    assert ours == ["SharedMemory", 0, 27, "hello from a shared memory\n"]
