"""The public Python API, with wasmtime-py's names and shapes (re-exported by ``cwasm``).

Importing it does not import llvmlite: the compiler is loaded only when a ``Module``
is built from wasm bytes or text.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cwasm.errors import CwasmError, LinkError
from cwasm.obj.artifact import is_artifact
from cwasm.obj.integrity import reseal_with_key
from cwasm.runtime.engine import Config, Engine
from cwasm.runtime.func import Caller, Func
from cwasm.runtime.global_ import Global
from cwasm.runtime.instance import Instance, InstanceExports
from cwasm.runtime.linker import Linker
from cwasm.runtime.memory import Memory
from cwasm.runtime.module import ArtifactModule
from cwasm.runtime.store import Store
from cwasm.runtime.table import Table
from cwasm.runtime.trap import Frame, Trap, TrapCode
from cwasm.runtime.types import (
    ExportType,
    FuncType,
    GlobalType,
    ImportType,
    Limits,
    MemoryType,
    TableType,
    Val,
    ValType,
)
from cwasm.runtime.wasi_link import ExitTrap
from cwasm.wasi import DirPerms, FilePerms, WasiConfig
from cwasm.wasm.text import wat_to_wasm

#: wasmtime-py's name for the error every failed operation raises
WasmtimeError = CwasmError


def compile_artifact(
    engine: Engine, wasm: bytes, *, progress: Callable[[str, int, int], None] | None = None
) -> bytes:
    """Decode, validate and compile ``wasm`` for ``engine`` into artifact bytes (with a MAC
    under the engine's ``artifact_key`` if it has one).

    This imports the compiler (and so llvmlite); ``progress`` receives its
    ``(stage, done, total)`` reports.
    """
    from cwasm.compile.artifact import compile_to_artifact
    from cwasm.compile.compiler import CompileOptions

    options = CompileOptions(
        triple=engine.target,
        opt_level=engine.config.opt_level,
        bounds_checks=engine.bounds_checks,
    )
    artifact = compile_to_artifact(wasm, options, engine.metadata(), progress=progress)
    if engine.artifact_key is not None:
        artifact = reseal_with_key(artifact, engine.artifact_key)
    return artifact


class Module(ArtifactModule):
    """A compiled WebAssembly module (wasmtime-py's ``Module``).

    ``Module(engine, wasm_or_wat)`` compiles and then loads the artifact exactly as
    ``Module.deserialize(engine, module.serialize())`` would; everything else is the
    runtime's ``ArtifactModule``.
    """

    def __init__(
        self, engine: Engine, wasm: bytes | bytearray | str, validate: bool = True
    ) -> None:
        if isinstance(wasm, str) or bytes(wasm[:4]) != b"\0asm":
            if not isinstance(wasm, str) and is_artifact(bytes(wasm[:64])):
                raise CwasmError("this is a compiled artifact: use Module.deserialize")
            wasm = wat_to_wasm(wasm)
        self._init(engine, compile_artifact(engine, bytes(wasm)))

    @classmethod
    def from_file(cls, engine: Engine, path: str | os.PathLike[str]) -> Module:
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] == b"\0asm":
            return cls(engine, data)
        return cls(engine, data.decode("utf-8"))


__all__ = [
    "Caller",
    "Config",
    "CwasmError",
    "DirPerms",
    "Engine",
    "ExitTrap",
    "ExportType",
    "FilePerms",
    "Frame",
    "Func",
    "FuncType",
    "Global",
    "GlobalType",
    "ImportType",
    "Instance",
    "InstanceExports",
    "Limits",
    "LinkError",
    "Linker",
    "Memory",
    "MemoryType",
    "Module",
    "Store",
    "Table",
    "TableType",
    "Trap",
    "TrapCode",
    "Val",
    "ValType",
    "WasiConfig",
    "WasmtimeError",
]
