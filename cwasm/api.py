"""The public Python API, with wasmtime-py's names and shapes (re-exported by ``cwasm``).

Importing it does not import llvmlite: the compiler is loaded only when a ``Module``
is built from wasm bytes or text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from cwasm.errors import CwasmError, LinkError
from cwasm.obj.artifact import is_artifact
from cwasm.obj.integrity import reseal_with_key
from cwasm.runtime.anyref import AnyRef
from cwasm.runtime.config import Config
from cwasm.runtime.engine import Engine
from cwasm.runtime.func import Caller, Func
from cwasm.runtime.global_ import Global
from cwasm.runtime.instance import Instance, InstanceExports
from cwasm.runtime.linker import Linker
from cwasm.runtime.memory import Memory
from cwasm.runtime.module import ArtifactModule
from cwasm.runtime.shared_memory import SharedMemory
from cwasm.runtime.store import Store
from cwasm.runtime.table import Table
from cwasm.runtime.tag import ExnRef, Tag, ThrownException
from cwasm.runtime.trap import Frame, Trap, TrapCode
from cwasm.runtime.types import (
    ExportType,
    FuncType,
    GlobalType,
    ImportType,
    Limits,
    MemoryType,
    TableType,
    TagType,
    Val,
    ValType,
)
from cwasm.runtime.wasi_link import ExitTrap
from cwasm.wasi import DirPerms, FilePerms, WasiConfig

if TYPE_CHECKING:
    from cwasm.compile.partcache import PartCache

#: wasmtime-py's name for the error every failed operation raises
WasmtimeError = CwasmError


def compile_artifact(
    engine: Engine,
    wasm: bytes,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    timings: dict[str, float] | None = None,
    part_cache: PartCache | None = None,
) -> bytes:
    """Decode, validate and compile ``wasm`` for ``engine`` into artifact bytes (with a MAC
    under the engine's ``artifact_key`` if it has one).

    This imports the compiler (and so llvmlite); ``progress`` receives its
    ``(stage, done, total)`` reports, ``timings`` (if given) gains the seconds spent in
    each stage, and ``part_cache`` (``CompileCache.part_cache``) makes the compilation
    incremental: the parts of the module compiled before are reused.
    """
    if engine.config.parallel_compilation:
        from cwasm.compile.parallel import start_early

        start_early(len(wasm))  # the workers start while the compiler is imported
    from cwasm.compile.artifact import compile_to_artifact
    from cwasm.compile.compiler import CompileOptions

    options = CompileOptions(
        triple=engine.target,
        opt_level=engine.config.opt_level,
        bounds_checks=engine.bounds_checks,
        consume_fuel=engine.consume_fuel,
        epoch_interruption=engine.epoch_interruption,
        fma=engine.uses_fma,
        relaxed_simd_deterministic=engine.relaxed_simd_deterministic,
    )
    artifact = compile_to_artifact(
        wasm,
        options,
        engine.metadata(),
        progress=progress,
        parallel=engine.config.parallel_compilation,
        timings=timings,
        part_cache=part_cache,
    )
    if engine.artifact_key is not None:
        artifact = reseal_with_key(artifact, engine.artifact_key)
    return artifact


def wat2wasm(wat: str | bytes) -> bytearray:
    """Converts the WebAssembly Text format to the binary format.

    This function is intended to be a convenience function for local development and you
    likely don't want to use it extensively in production. It's much faster to parse and
    compile the binary format than it is to process the text format.

    Takes a ``str`` as input, raises an error if it fails to parse, and returns the binary
    module as a ``bytearray`` (as wasmtime-py does).
    """
    from cwasm.wasm.text import wat_to_wasm

    return bytearray(wat_to_wasm(wat))


class Module(ArtifactModule):
    """A compiled WebAssembly module (wasmtime-py's ``Module``).

    ``Module(engine, wasm_or_wat)`` compiles and then loads the artifact exactly as
    ``Module.deserialize(engine, module.serialize())`` would; everything else is the
    runtime's ``ArtifactModule``.
    """

    def __init__(
        self, engine: Engine, wasm: bytes | bytearray | str, validate: bool = True
    ) -> None:
        """Compiles ``wasm`` for ``engine``: a binary module, or text (a ``str``, or bytes
        not starting with a zero byte, as wasmtime-py tells them apart). With
        ``Config.cache`` enabled, an artifact compiled before is loaded from the cache."""
        if not isinstance(engine, Engine):
            raise TypeError("expected an Engine")
        if isinstance(wasm, (bytes, bytearray)) and is_artifact(bytes(wasm[:64])):
            raise CwasmError("this is a compiled artifact: use Module.deserialize")
        if isinstance(wasm, str) and wasm[:1] not in ("", "\0"):
            wasm = wat2wasm(wasm)
        elif isinstance(wasm, (bytes, bytearray)) and wasm[:1] not in (b"", b"\0"):
            wasm = wat2wasm(bytes(wasm))
        if not isinstance(wasm, (bytes, bytearray)):
            raise TypeError("expected wasm bytes")
        engine._check_open()
        cache = engine.config.cache
        if cache is False:
            self._init(engine, compile_artifact(engine, bytes(wasm)))
            return
        from cwasm.cache import CompileCache, default_cache_dir, load_or_compile

        directory = default_cache_dir() if cache is True else cache
        self._adopt(load_or_compile(engine, bytes(wasm), CompileCache(directory))[0])

    @classmethod
    def from_file(cls, engine: Engine, path: str | os.PathLike[str]) -> Module:
        """Compiles and creates a new ``Module`` by reading the file at ``path`` (binary or
        text) and then delegating to the ``Module`` constructor."""
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] == b"\0asm":
            return cls(engine, data)
        return cls(engine, data.decode("utf-8"))


__all__ = [
    "AnyRef",
    "Caller",
    "Config",
    "CwasmError",
    "DirPerms",
    "Engine",
    "ExitTrap",
    "ExnRef",
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
    "SharedMemory",
    "Store",
    "Table",
    "TableType",
    "Tag",
    "TagType",
    "ThrownException",
    "Trap",
    "TrapCode",
    "Val",
    "ValType",
    "WasiConfig",
    "WasmtimeError",
    "wat2wasm",
]
