"""What the harness drives: the decoder always, the runtime when it exists."""

from __future__ import annotations

import importlib
from typing import Any

from cwasm.errors import WasmError
from cwasm.wasm.decoder import decode_module


class Unsupported(Exception):
    """The backend cannot run this command yet (counted as skipped, with the reason)."""


class Backend:
    """Decode/validate only: every execution command is unsupported."""

    executes = False

    def validate(self, wasm: bytes) -> None:
        decode_module(wasm)

    def instantiate(self, wasm: bytes) -> Any:
        self.validate(wasm)
        return None

    def invoke(self, instance: Any, field: str, args: list[Any]) -> list[Any]:
        raise Unsupported("no runtime yet")

    def get(self, instance: Any, field: str) -> Any:
        raise Unsupported("no runtime yet")

    def register(self, name: str, instance: Any) -> None:
        raise Unsupported("no runtime yet")

    def is_wasm_error(self, exc: BaseException) -> bool:
        return isinstance(exc, WasmError)

    def is_trap(self, exc: BaseException) -> bool:
        return self.trap_message(exc) is not None

    def trap_message(self, exc: BaseException) -> str | None:
        return None

    def trap_matches(self, exc: BaseException, expected: str) -> bool:
        return False


def make_backend() -> Backend:
    """The richest backend this checkout supports."""
    try:
        runtime = importlib.import_module("tests.spec.runtime_backend")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith(("tests.spec.runtime_backend", "cwasm")):
            return Backend()
        raise
    backend: Backend = runtime.RuntimeBackend()
    return backend
