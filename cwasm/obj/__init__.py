"""The compiled artifact: a Wasmtime-v28-layout ELF file, its sections, writer and reader."""
