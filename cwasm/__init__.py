"""cwasm: a WebAssembly ahead-of-time compiler (LLVM) and runtime with Wasmtime-layout artifacts.

The public API (``Engine``, ``Store``, ``Module``, ``Instance``, ``Func``...) is
``cwasm.api``; its names are available here too, loaded on first use (``__all__`` is
``cwasm.api``'s, so ``from cwasm import *`` brings them all). Importing cwasm never
imports llvmlite: the compiler loads when a Module is built from wasm.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name.startswith("__") and name != "__all__" or name == "api":
        raise AttributeError(f"module 'cwasm' has no attribute {name!r}")
    import importlib

    api = importlib.import_module("cwasm.api")
    if name == "__all__":
        return list(api.__all__)
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'cwasm' has no attribute {name!r}")


def __dir__() -> list[str]:
    import importlib

    api = importlib.import_module("cwasm.api")
    return sorted([*globals(), *api.__all__])
