"""wasm → LLVM IR → native code: function translation, trampolines, the LLVM driver."""
