"""Running a WASI command under wasmtime-py 28, with either wasmtime's own WASI or
cwasm's ``WasiContext`` registered as the ``wasi_snapshot_preview1`` imports.

This is a test harness: it checks cwasm's WASI layer end to end, on real
compiled C programs, before cwasm's own runtime exists, and shows how a runtime
plugs ``WASI_FUNCTIONS`` into a linker.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import wasmtime

from cwasm.wasi import WASI_FUNCTIONS, WASI_MODULE, RawMemory, WasiConfig, WasiContext, WasiExit
from cwasm.wasm.types import ValType

_VALTYPES = {ValType.I32: wasmtime.ValType.i32(), ValType.I64: wasmtime.ValType.i64()}


def _memory_of(caller: wasmtime.Caller) -> RawMemory:
    memory = caller.get("memory")
    assert isinstance(memory, wasmtime.Memory)
    base = ctypes.addressof(memory.data_ptr(caller).contents)
    return RawMemory(base, memory.data_len(caller))


def define_cwasm_wasi(linker: wasmtime.Linker, context: WasiContext) -> None:
    """Registers every WASI function of ``context`` in ``linker``."""
    for name, function in WASI_FUNCTIONS.items():
        ty = wasmtime.FuncType(
            [_VALTYPES[t] for t in function.type.params],
            [_VALTYPES[t] for t in function.type.results],
        )

        def host(caller: wasmtime.Caller, *args: int, _name: str = name) -> Any:
            result = context.call(_name, _memory_of(caller), *args)
            return result

        linker.define_func(WASI_MODULE, name, ty, host, access_caller=True)


def run_with_cwasm_wasi(wasm: Path, config: WasiConfig) -> int:
    """Runs the command's ``_start``; returns its exit status."""
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    linker = wasmtime.Linker(engine)
    with WasiContext(config) as context:
        define_cwasm_wasi(linker, context)
        store = wasmtime.Store(engine)
        instance = linker.instantiate(store, module)
        start = instance.exports(store)["_start"]
        assert isinstance(start, wasmtime.Func)
        try:
            start(store)
        except WasiExit as exit_:
            return exit_.code
    return 0


def run_with_wasmtime_wasi(wasm: Path, config: wasmtime.WasiConfig) -> int:
    """The same, with wasmtime's own WASI implementation."""
    engine = wasmtime.Engine()
    module = wasmtime.Module.from_file(engine, str(wasm))
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    store.set_wasi(config)
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    try:
        start(store)
    except wasmtime.ExitTrap as exit_:
        return int(exit_.code)
    return 0
