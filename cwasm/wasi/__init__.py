"""WASI preview1 (``wasi_snapshot_preview1``) host functions, independent of the runtime.

``WasiConfig`` describes what a program may see; ``WasiContext`` holds its
descriptor table and implements every function of ``WASI_FUNCTIONS`` against a
``GuestMemory``; the runtime's linker registers those functions as host imports
and turns ``WasiExit`` into the program's exit status.
"""

from cwasm.wasi.abi import WASI_MODULE, Errno, Filetype, Rights
from cwasm.wasi.config import DirPerms, FilePerms, WasiConfig, WasiConfigError
from cwasm.wasi.context import WasiContext
from cwasm.wasi.errors import MissingMemoryExport, WasiCallError
from cwasm.wasi.memory import BytearrayMemory, GuestMemory, GuestMemoryFault, RawMemory
from cwasm.wasi.process_calls import WasiExit
from cwasm.wasi.signatures import WASI_FUNCTIONS, WasiFunction

__all__ = [
    "WASI_FUNCTIONS",
    "WASI_MODULE",
    "BytearrayMemory",
    "DirPerms",
    "Errno",
    "FilePerms",
    "Filetype",
    "GuestMemory",
    "GuestMemoryFault",
    "MissingMemoryExport",
    "RawMemory",
    "Rights",
    "WasiConfig",
    "WasiConfigError",
    "WasiCallError",
    "WasiContext",
    "WasiExit",
    "WasiFunction",
]
