"""The public Python API, with wasmtime-py's names and shapes (re-exported by ``cwasm``).

Importing it does not import llvmlite: the compiler is loaded only when a ``Module``
is built from wasm bytes or text.
"""

from __future__ import annotations

from cwasm.errors import CwasmError, LinkError
from cwasm.runtime.engine import Config, Engine
from cwasm.runtime.func import Caller, Func
from cwasm.runtime.global_ import Global
from cwasm.runtime.instance import Instance, InstanceExports
from cwasm.runtime.linker import Linker
from cwasm.runtime.memory import Memory
from cwasm.runtime.module import Module
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

#: wasmtime-py's name for the error every failed operation raises
WasmtimeError = CwasmError

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
