"""What a script's directives run against: cwasm's public API, with the ``spectest`` host
module the spec scripts import from. One engine and store per script."""

from __future__ import annotations

import dataclasses
from typing import Any

import cwasm.api as api
from cwasm.errors import LinkError, WasmError
from cwasm.wasm.features import decode_for_features

# Spec trap texts whose wording differs from Wasmtime's message for the same trap code
# (the reference interpreter also appends details, e.g. "uninitialized element 2").
_TRAP_CODES_BY_SPEC_TEXT = {
    "unreachable": api.TrapCode.UNREACHABLE,
    "undefined element": api.TrapCode.TABLE_OUT_OF_BOUNDS,
    "out of bounds table access": api.TrapCode.TABLE_OUT_OF_BOUNDS,
    "uninitialized element": api.TrapCode.INDIRECT_CALL_TO_NULL,
    "null function reference": api.TrapCode.NULL_REFERENCE,
    "null i31 reference": api.TrapCode.NULL_REFERENCE,
    "null structure reference": api.TrapCode.NULL_REFERENCE,
    "null array reference": api.TrapCode.NULL_REFERENCE,
}


def _spectest(store: api.Store) -> dict[str, Any]:
    """The host module `spectest` the scripts import from."""
    i32, i64, f32, f64 = (
        api.ValType.i32(),
        api.ValType.i64(),
        api.ValType.f32(),
        api.ValType.f64(),
    )

    def printer(*params: api.ValType) -> api.Func:
        return api.Func(store, api.FuncType(list(params), []), lambda *args: None)

    return {
        "print": printer(),
        "print_i32": printer(i32),
        "print_i64": printer(i64),
        "print_f32": printer(f32),
        "print_f64": printer(f64),
        "print_i32_f32": printer(i32, f32),
        "print_f64_f64": printer(f64, f64),
        "global_i32": api.Global(store, api.GlobalType(i32, False), 666),
        "global_i64": api.Global(store, api.GlobalType(i64, False), 666),
        "global_f32": api.Global(store, api.GlobalType(f32, False), 666.6),
        "global_f64": api.Global(store, api.GlobalType(f64, False), 666.6),
        "table": api.Table(store, api.TableType(api.ValType.funcref(), api.Limits(10, 20)), None),
        "table64": api.Table(store, _table64(api.ValType.funcref(), api.Limits(10, 20)), None),
        "memory": api.Memory(store, api.MemoryType(api.Limits(1, 2))),
        "shared_memory": api.SharedMemory(
            store.engine, api.MemoryType(api.Limits(1, 2), shared=True)
        ),
    }


def _table64(element: api.ValType, limits: api.Limits) -> api.TableType:
    """A 64-bit table type (wasmtime-py 28's ``TableType`` has no 64-bit form)."""
    ty = api.TableType(element, limits)
    ty.wasm = dataclasses.replace(ty.wasm, is_64=True)
    return ty


class Backend:
    """Decode, compile, instantiate and call modules of one script in one store."""

    def __init__(self, config: api.Config | None = None) -> None:
        self.engine = api.Engine(config)
        self.store = api.Store(self.engine)
        self.registry: dict[str, Any] = {"spectest": _spectest(self.store)}

    def validate(self, wasm: bytes) -> None:
        """Decode and validate, with the proposals the engine enables (raises ``WasmError``)."""
        features = self.engine.wasm_features
        decode_for_features(
            wasm,
            features,
            extended_const="extended_const" in features,
            multi_memory="multi_memory" in features,
            threads="threads" in features,
            memory64="memory64" in features,
            exceptions="exceptions" in features,
        )

    def instantiate(self, wasm: bytes) -> Any:
        """Compile and instantiate, importing from ``spectest`` and the registered instances."""
        module = api.Module(self.engine, wasm)
        imports = []
        for imp in module.imports:
            provider = self.registry.get(imp.module)
            item = provider.get(imp.name) if provider is not None else None
            if item is None:
                raise LinkError(f"unknown import: {imp.module}::{imp.name}")
            imports.append(item)
        return api.Instance(self.store, module, imports)

    def invoke(self, instance: Any, field: str, args: list[Any]) -> list[Any]:
        """Call an export with raw arguments; returns the raw results."""
        func = instance.exports(self.store)[field]
        return list(func.call_raw(self.store, args))

    def get(self, instance: Any, field: str) -> Any:
        """The raw value of an exported global."""
        return instance.exports(self.store)[field].value_raw(self.store)

    def register(self, name: str, instance: Any) -> None:
        """Make ``instance``'s exports importable as module ``name``."""
        self.registry[name] = instance.exports(self.store)

    def is_wasm_error(self, exc: BaseException) -> bool:
        """Whether decoding or validation refused the module."""
        return isinstance(exc, WasmError)

    def is_exception(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a wasm exception that left the call uncaught."""
        return isinstance(exc, api.ThrownException)

    def is_trap(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a wasm trap."""
        return self.trap_message(exc) is not None

    def trap_message(self, exc: BaseException) -> str | None:
        """The trap's description without Wasmtime's ``wasm trap:`` prefix (None: no trap)."""
        if not isinstance(exc, api.Trap):
            return None
        return exc.description.removeprefix("wasm trap: ")

    def trap_matches(self, exc: BaseException, expected: str) -> bool:
        """Whether the trap is the one the script expects (by message, or by trap code where
        the spec's wording differs from Wasmtime's)."""
        message = self.trap_message(exc)
        if message is None:
            return False
        if message.startswith(expected):
            return True
        codes = [c for text, c in _TRAP_CODES_BY_SPEC_TEXT.items() if expected.startswith(text)]
        return isinstance(exc, api.Trap) and exc.trap_code in codes
