"""Decoding and validation of WebAssembly 2.0 binary modules into a ModuleTranslation."""

from cwasm.wasm.decoder import decode_module
from cwasm.wasm.translation import ModuleTranslation

__all__ = ["ModuleTranslation", "decode_module"]
