"""The WASI failures that end a call as an error instead of returning an errno.

Wasmtime's preview1 implementation fails the whole call (the caller sees an error with
the wasm backtrace, not an errno) when a guest pointer is out of bounds, when the
calling module exports no ``memory``, and for ``proc_exit``. cwasm does the same: such
a failure is a ``WasiCallError``, whose text without context is ``status_text``; the
runtime adds the backtrace of the wasm that made the call, as Wasmtime does.
"""

from __future__ import annotations

from cwasm.errors import CwasmError


class WasiCallError(CwasmError):
    """A WASI call failed as a whole; its text is Wasmtime's (``status_text``)."""

    def __init__(self, status_text: str) -> None:
        #: the failure alone, without the context the runtime adds
        self.status_text = status_text
        super().__init__(status_text)


class MissingMemoryExport(WasiCallError):
    """A WASI function was called from an instance that exports no ``memory``."""

    def __init__(self) -> None:
        super().__init__("missing required memory export")
