"""cwasm's ``.wasmtime.info``: the schema, its versioned postcard codec and its consistency checks.

``schema`` holds the records (``CompiledModuleInfo`` and what is inside it besides the
``cwasm.wasm.module.ModuleRecord``), ``codec`` ``encode_info``/``decode_info`` (one
``INFO_FIELDS`` entry per field) and ``checks`` ``check_info``; this package re-exports them.
"""

from cwasm.obj.info.checks import (
    MAX_TABLE_ELEMENTS,
    check_info,
    check_module,
)
from cwasm.obj.info.codec import (
    INFO_FIELDS,
    INFO_FORMAT_VERSION,
    InfoField,
    decode_info,
    encode_info,
)
from cwasm.obj.info.packed import PackedTable
from cwasm.obj.info.schema import (
    CompiledFunctionInfo,
    CompiledModuleInfo,
    DataRange,
    FunctionLoc,
    FunctionName,
    FunctionTable,
    MemoryInitialization,
    MemoryInitializer,
    Metadata,
    NameTable,
    SegmentedMemoryInitialization,
    StaticMemoryInitialization,
    StaticMemoryInitializer,
    TrampolineTable,
)

__all__ = [
    "CompiledFunctionInfo",
    "CompiledModuleInfo",
    "DataRange",
    "FunctionLoc",
    "FunctionName",
    "FunctionTable",
    "INFO_FIELDS",
    "INFO_FORMAT_VERSION",
    "InfoField",
    "MAX_TABLE_ELEMENTS",
    "MemoryInitialization",
    "PackedTable",
    "MemoryInitializer",
    "NameTable",
    "Metadata",
    "SegmentedMemoryInitialization",
    "StaticMemoryInitialization",
    "StaticMemoryInitializer",
    "TrampolineTable",
    "check_info",
    "check_module",
    "decode_info",
    "encode_info",
]
