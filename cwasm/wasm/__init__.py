"""Decoding and validation of WebAssembly 2.0 binary modules into a ModuleTranslation.

``decode_module`` and ``ModuleTranslation`` load on first use: the runtime imports
only ``cwasm.wasm.types`` and ``cwasm.wasm.module`` from this package, and loading an
artifact should not pay for importing the decoder and the validator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cwasm.wasm.decoder import decode_module
    from cwasm.wasm.translation import ModuleTranslation

__all__ = ["ModuleTranslation", "decode_module"]


def __getattr__(name: str) -> Any:
    if name == "decode_module":
        from cwasm.wasm.decoder import decode_module

        return decode_module
    if name == "ModuleTranslation":
        from cwasm.wasm.translation import ModuleTranslation

        return ModuleTranslation
    raise AttributeError(f"module 'cwasm.wasm' has no attribute {name!r}")
