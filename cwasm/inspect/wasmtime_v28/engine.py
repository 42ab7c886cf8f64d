"""Wasmtime v28's ``.wasmtime.engine`` (docs/artifact-format.md §2.1): the engine's ``Metadata``.

The framing (version byte, version string), which cwasm's artifacts share, is split off by
:func:`cwasm.obj.engine.split_engine_section`; what follows is Wasmtime's postcard
``Metadata``: target, Cranelift settings, tunables and wasm features.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cwasm.inspect.wasmtime_v28.decoding import decoding
from cwasm.obj.engine import split_engine_section
from cwasm.obj.postcard import Reader


class FlagKind(enum.IntEnum):
    """Variants of Wasmtime's ``FlagValue``."""

    ENUM = 0
    NUM = 1
    BOOL = 2


@dataclass(frozen=True, slots=True)
class FlagValue:
    kind: FlagKind
    value: str | int | bool

    def __str__(self) -> str:
        if self.kind is FlagKind.BOOL:
            return f"Bool({'true' if self.value else 'false'})"
        return f"{self.kind.name.capitalize()}({self.value})"


@dataclass(frozen=True, slots=True)
class Setting:
    """One Cranelift setting as recorded by the compiling engine."""

    name: str
    value: FlagValue


class Collector(enum.IntEnum):
    """Garbage collector of ``Tunables::collector``."""

    DEFERRED_REFERENCE_COUNTING = 0
    NULL = 1


@dataclass(frozen=True, slots=True)
class Tunables:
    collector: Collector | None
    memory_reservation: int
    memory_guard_size: int
    memory_reservation_for_growth: int
    generate_native_debuginfo: bool
    parse_wasm_debuginfo: bool
    consume_fuel: bool
    epoch_interruption: bool
    memory_may_move: bool
    guard_before_linear_memory: bool
    table_lazy_init: bool
    generate_address_map: bool
    debug_adapter_modules: bool
    relaxed_simd_deterministic: bool
    winch_callable: bool
    signals_based_traps: bool
    memory_init_cow: bool


@dataclass(frozen=True, slots=True)
class WasmFeatures:
    reference_types: bool
    multi_value: bool
    bulk_memory: bool
    component_model: bool
    simd: bool
    tail_call: bool
    threads: bool
    multi_memory: bool
    exceptions: bool
    memory64: bool
    relaxed_simd: bool
    extended_const: bool
    function_references: bool
    gc: bool
    custom_page_sizes: bool
    component_model_more_flags: bool
    component_model_multiple_returns: bool
    gc_types: bool
    wide_arithmetic: bool


@dataclass(frozen=True, slots=True)
class EngineMetadata:
    """Wasmtime's engine ``Metadata``: what the compiling engine was configured with."""

    target: str
    shared_flags: tuple[Setting, ...]
    isa_flags: tuple[Setting, ...]
    tunables: Tunables
    features: WasmFeatures


@dataclass(frozen=True, slots=True)
class EngineSection:
    """The decoded ``.wasmtime.engine`` section."""

    version: str
    metadata: EngineMetadata
    trailing_bytes: int  # ignored by Wasmtime's loader, reported by inspect


def _flag_value(r: Reader) -> FlagValue:
    kind = FlagKind(r.enum(len(FlagKind)))
    if kind is FlagKind.ENUM:
        return FlagValue(kind, r.str())
    if kind is FlagKind.NUM:
        return FlagValue(kind, r.u8())
    return FlagValue(kind, r.bool())


def _setting(r: Reader) -> Setting:
    return Setting(r.str(), _flag_value(r))


def _tunables(r: Reader) -> Tunables:
    collector = r.option(lambda: Collector(r.enum(len(Collector))))
    reservation, guard_size, growth = r.u64(), r.u64(), r.u64()
    flags = [r.bool() for _ in range(13)]
    return Tunables(collector, reservation, guard_size, growth, *flags)


def decode_engine_section(data: bytes | memoryview) -> EngineSection:
    """Decode a Wasmtime v28 ``.wasmtime.engine`` section."""
    version, payload = split_engine_section(data)
    r = Reader(payload)
    with decoding("engine metadata"):
        target = r.str()
        shared = tuple(r.seq(lambda: _setting(r)))
        isa = tuple(r.seq(lambda: _setting(r)))
        tunables = _tunables(r)
        features = WasmFeatures(*[r.bool() for _ in range(19)])
    meta = EngineMetadata(target, shared, isa, tunables, features)
    return EngineSection(version, meta, r.remaining())
