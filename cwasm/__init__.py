"""cwasm: a WebAssembly ahead-of-time compiler (LLVM) and runtime with Wasmtime-layout artifacts."""

__version__ = "0.1.0"
