"""WASI preview 1 for a memory64 module, beside wasmtime-py 28.

Preview 1 is defined for 32-bit pointers, and wasi-libc has no wasm64 target (Debian's
``wasi-libc`` ships ``lib/wasm32-wasi`` only). Wasmtime defines the preview-1 functions
with their i32 signatures whatever the module's memory: a module with a 64-bit
``memory`` that imports them with those signatures runs, its pointers addressing the
memory's first 4 GiB (within its size); a module that
imports them with i64 pointers is refused at link time (an incompatible import type).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import wasmtime

import cwasm

FD_WRITE_32 = (
    '(import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))'
)
FD_WRITE_64 = (
    '(import "wasi_snapshot_preview1" "fd_write" (func $w (param i64 i64 i64 i64) (result i32)))'
)
GUEST = f"""(module
  {FD_WRITE_32}
  (memory (export "memory") i64 1)
  (data (i64.const 64) "hello from a 64-bit memory\\n")
  (func (export "write") (param $iovs i32) (param $len i32) (result i32)
    ;; one iovec at 0: (64, $len), then fd_write(stdout, $iovs, 1, &written = 32)
    (i32.store (i64.const 0) (i32.const 64))
    (i32.store (i64.const 4) (local.get $len))
    (call $w (i32.const 1) (local.get $iovs) (i32.const 1) (i32.const 32)))
  (func (export "written") (result i32) (i32.load (i64.const 32))))"""


def _run(api: Any, tmp_path: Path) -> list[Any]:
    config = api.Config()
    config.wasm_memory64 = True  # (off by default in Wasmtime 28)
    engine = api.Engine(config)
    store = api.Store(engine)
    stdout = tmp_path / f"{api.__name__}.out"
    wasi = api.WasiConfig()
    wasi.stdout_file = str(stdout)
    store.set_wasi(wasi)
    linker = api.Linker(engine)
    linker.define_wasi()
    exports = linker.instantiate(store, api.Module(engine, GUEST)).exports(store)
    out: list[Any] = [exports["write"](store, 0, 27), exports["written"](store)]
    # an iovec (of nothing: zeroed) in the memory's last bytes; a buffer up to its end
    out.append(exports["write"](store, 65536 - 8, 27))
    out.append(exports["write"](store, 0, 65536 - 64))
    out.append(exports["written"](store))
    out.append(len(stdout.read_text()))
    return out


def test_a_memory64_module_uses_wasi_through_32_bit_pointers(tmp_path: Path) -> None:
    ours, theirs = _run(cwasm, tmp_path), _run(wasmtime, tmp_path)
    assert ours == theirs
    assert ours == [0, 27, 0, 0, 65536 - 64, 27 + 65536 - 64]


def test_wasi_with_64_bit_pointers_is_an_incompatible_import() -> None:
    wat = f'(module {FD_WRITE_64} (memory (export "memory") i64 1))'
    for api in (cwasm, wasmtime):
        config = api.Config()
        config.wasm_memory64 = True
        engine = api.Engine(config)
        store = api.Store(engine)
        store.set_wasi(api.WasiConfig())
        linker = api.Linker(engine)
        linker.define_wasi()
        module = api.Module(engine, wat)
        with pytest.raises(api.WasmtimeError) as info:
            linker.instantiate(store, module)
        head = "incompatible import type for `wasi_snapshot_preview1::fd_write`"
        assert str(info.value).startswith(head)
