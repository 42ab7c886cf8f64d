"""Decoding and validation of WebAssembly 2.0 binary modules into a ModuleTranslation."""
