"""WebAssembly spec scripts (``.wast``): what ``cwasm wast`` and the spec-testsuite harness run.

``script`` converts a script with ``wasm-tools json-from-wast``, ``runner`` runs its
directives against cwasm's public API (``backend``, with the ``spectest`` host module) and
``values`` converts and matches the scripts' values.
"""
