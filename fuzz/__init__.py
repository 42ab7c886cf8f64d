"""Differential fuzzer: cwasm (every configuration) against wasmtime-py 28.

Modules come from ``wasm-tools smith`` (``fuzz.gen``), run in isolated worker processes
(``fuzz.worker``) through one runner for both engines (``fuzz.runner`` over the API shim
``fuzz.engines``), and are compared call by call (``fuzz.compare``). ``python -m fuzz``
is the command line; see ``fuzz/README.md``.
"""
