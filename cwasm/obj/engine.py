"""``.wasmtime.engine`` for cwasm: the engine metadata record, its codec and compatibility check.

Layout (as Wasmtime's): ``u8`` VERSION (0), ``u8`` length L, L bytes of a version string,
then a postcard record. cwasm writes the *artifact format* string (``cwasm-format-1``), not
its package version, so an artifact stays loadable across cwasm releases as long as the
format does not change. The record lists the producer, the target and every setting that
changes generated code; ``check_compatible`` compares it with the loading engine's record.
A genuine Wasmtime artifact (version string such as ``28.0.0``) is recognised and rejected
with ``ForeignArtifactError``: cwasm can inspect such files but not run them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from cwasm import __version__
from cwasm.errors import ArtifactError
from cwasm.obj.constants import ENGINE_SECTION_VERSION
from cwasm.obj.errors import CorruptArtifactError, ForeignArtifactError, IncompatibleArtifactError
from cwasm.obj.postcard import Reader, Writer
from cwasm.wasm.types import OFF_BY_DEFAULT_PROPOSALS, SWITCHABLE_PROPOSALS

#: Bumped whenever the artifact layout, the info encoding or the runtime ABI changes.
ARTIFACT_FORMAT_VERSION = 6
FORMAT_VERSION_PREFIX = "cwasm-format-"

#: the WebAssembly proposals enabled by default: every one a Config can switch off (but
#: those off by default) and the 2.0 ones it cannot, in name order. An engine with
#: ``Config.wasm_relaxed_simd_deterministic`` adds ``relaxed_simd_deterministic``.
DEFAULT_WASM_FEATURES: tuple[str, ...] = tuple(
    sorted(
        (
            *(p for p in SWITCHABLE_PROPOSALS if p not in OFF_BY_DEFAULT_PROPOSALS),
            "mutable_global",
            "saturating_float_to_int",
            "sign_extension",
        )
    )
)

_WASMTIME_VERSION = re.compile(r"^\d+\.\d+\.\d+")


def format_version_string(version: int = ARTIFACT_FORMAT_VERSION) -> str:
    return f"{FORMAT_VERSION_PREFIX}{version}"


@dataclass(frozen=True, slots=True)
class EngineMetadata:
    """Who produced an artifact, for which target, and with which code-affecting settings."""

    target: str  # target triple, e.g. x86_64-unknown-linux-gnu
    producer: str = "cwasm"
    producer_version: str = __version__  # informational only; never compared
    format_version: int = ARTIFACT_FORMAT_VERSION
    cpu_features: tuple[str, ...] = ()  # CPU features the generated code relies on
    opt_level: int = 2
    bounds_checks: str = "explicit"  # how linear-memory accesses are checked
    stack_check: bool = True
    address_map: bool = True
    debug_info: bool = False
    memory_reservation: int = 0
    memory_guard_size: int = 0
    memory_init_cow: bool = True
    wasm_features: tuple[str, ...] = DEFAULT_WASM_FEATURES
    # the interruption checks (Wasmtime's tunables of these names); written after the
    # other fields only when one is on, so artifacts without them are unchanged
    consume_fuel: bool = False
    epoch_interruption: bool = False


def encode_engine_section(meta: EngineMetadata) -> bytes:
    """The bytes of ``.wasmtime.engine`` for ``meta``."""
    version = format_version_string(meta.format_version).encode()
    w = Writer()
    w.str(meta.producer)
    w.str(meta.producer_version)
    w.varint(meta.format_version)
    w.str(meta.target)
    w.seq(meta.cpu_features, w.str)
    w.varint(meta.opt_level)
    w.str(meta.bounds_checks)
    w.bool(meta.stack_check)
    w.bool(meta.address_map)
    w.bool(meta.debug_info)
    w.varint(meta.memory_reservation)
    w.varint(meta.memory_guard_size)
    w.bool(meta.memory_init_cow)
    w.seq(meta.wasm_features, w.str)
    if meta.consume_fuel or meta.epoch_interruption:
        w.bool(meta.consume_fuel)
        w.bool(meta.epoch_interruption)
    return bytes([ENGINE_SECTION_VERSION, len(version)]) + version + w.getvalue()


def split_engine_section(data: bytes | memoryview) -> tuple[str, memoryview]:
    """Split an engine section into its version string and the postcard payload after it.

    The framing (``u8`` version 0, ``u8`` length, the string) is the same in cwasm's and
    Wasmtime's artifacts, so the version string tells which producer wrote a file; it is
    checked like Wasmtime checks it. The payload is at least one byte long.
    """
    view = memoryview(data)
    if len(view) == 0:
        raise CorruptArtifactError("invalid engine section: it is empty")
    if view[0] != ENGINE_SECTION_VERSION:
        raise CorruptArtifactError(
            f"mismatched version in engine section: {view[0]} (expected {ENGINE_SECTION_VERSION})"
        )
    if len(view) < 2:
        raise CorruptArtifactError("invalid engine section: the version length is missing")
    length = view[1]
    if len(view) < 2 + length + 1:
        raise CorruptArtifactError("engine section too small")
    try:
        version = bytes(view[2 : 2 + length]).decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptArtifactError("engine section version string is not UTF-8") from None
    return version, view[2 + length :]


def engine_version_string(data: bytes | memoryview) -> str:
    """The version string of an engine section (cwasm's or Wasmtime's)."""
    return split_engine_section(data)[0]


def decode_engine_section(data: bytes | memoryview) -> EngineMetadata:
    """Decode ``.wasmtime.engine``; rejects Wasmtime artifacts and other format versions."""
    version, payload = split_engine_section(data)
    if not version.startswith(FORMAT_VERSION_PREFIX):
        if _WASMTIME_VERSION.match(version):
            raise ForeignArtifactError(
                f"this is a Wasmtime artifact (compiled by Wasmtime {version}); cwasm can "
                "inspect it (`cwasm inspect`) but cannot run it: compile the original .wasm "
                "with cwasm instead"
            )
        raise ForeignArtifactError(
            f"artifact was produced by an unknown engine (version string {version!r}); "
            "cwasm can inspect it but cannot run it"
        )
    number = version[len(FORMAT_VERSION_PREFIX) :]
    if number != str(ARTIFACT_FORMAT_VERSION):
        raise IncompatibleArtifactError(
            f"artifact uses cwasm artifact format {number!r}, but this cwasm reads format "
            f"{ARTIFACT_FORMAT_VERSION}; recompile the module"
        )
    r = Reader(payload)
    try:
        meta = EngineMetadata(
            producer=r.str(),
            producer_version=r.str(),
            format_version=r.u32(),
            target=r.str(),
            cpu_features=tuple(r.seq(r.str)),
            opt_level=r.u32(),
            bounds_checks=r.str(),
            stack_check=r.bool(),
            address_map=r.bool(),
            debug_info=r.bool(),
            memory_reservation=r.u64(),
            memory_guard_size=r.u64(),
            memory_init_cow=r.bool(),
            wasm_features=tuple(r.seq(r.str)),
        )
        if r.remaining():  # the interruption checks, when one is on
            meta = replace(meta, consume_fuel=r.bool(), epoch_interruption=r.bool())
    except ArtifactError as e:
        raise CorruptArtifactError(f"engine section is corrupt: {e}") from None
    if r.remaining():
        raise CorruptArtifactError(f"engine section has {r.remaining()} trailing bytes")
    if meta.format_version != ARTIFACT_FORMAT_VERSION:
        raise CorruptArtifactError(
            f"engine section says format {meta.format_version} but its version string "
            f"says {version!r}"
        )
    return meta


def _arch_os(triple: str) -> tuple[str, str]:
    parts = triple.split("-")
    arch = parts[0]
    if len(parts) >= 3:
        os_ = parts[2]
    elif len(parts) == 2:
        os_ = parts[1]
    else:
        os_ = "unknown"
    return arch, os_


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


# Compared separately above (target, cpu_features, format_version), or recorded for
# information only: like Wasmtime, the optimisation level and the presence of the
# address map or debug info change the code's quality and metadata, never whether it
# runs correctly on this engine, so an O0 artifact loads into an O2 engine.
_NOT_COMPARED = {
    "producer_version",
    "target",
    "cpu_features",
    "format_version",
    "opt_level",
    "address_map",
    "debug_info",
}


#: the fields ``check_compatible`` compares one by one, in declaration order
_COMPARED = tuple(f.name for f in fields(EngineMetadata) if f.name not in _NOT_COMPARED)

#: boolean settings refused in Wasmtime's words: field -> the name Wasmtime gives it
_WASMTIME_TUNABLES = {
    "consume_fuel": "fuel support",
    "epoch_interruption": "epoch interruption",
}


def check_compatible(artifact: EngineMetadata, engine: EngineMetadata) -> None:
    """Raise ``IncompatibleArtifactError`` unless code compiled as ``artifact`` may run on ``engine``.

    Architecture and OS must match; the artifact's CPU features must all be available to
    the engine; every other setting must be equal, except the informational ones
    (producer version, opt level, address map, debug info).
    """
    if artifact.format_version != engine.format_version:
        raise IncompatibleArtifactError(
            f"artifact has format_version={artifact.format_version} but the engine uses "
            f"format_version={engine.format_version}"
        )
    a_arch, a_os = _arch_os(artifact.target)
    e_arch, e_os = _arch_os(engine.target)
    if a_arch != e_arch:
        raise IncompatibleArtifactError(
            f"artifact was compiled for architecture {a_arch!r} but the engine targets {e_arch!r}"
        )
    if a_os != e_os:
        raise IncompatibleArtifactError(
            f"artifact was compiled for operating system {a_os!r} but the engine targets {e_os!r}"
        )
    missing = [f for f in artifact.cpu_features if f not in engine.cpu_features]
    if missing:
        raise IncompatibleArtifactError(
            f"artifact was compiled with cpu_features={_show(artifact.cpu_features)} but the "
            f"engine uses cpu_features={_show(engine.cpu_features)} "
            f"(missing: {', '.join(missing)})"
        )
    for name in _COMPARED:
        a, e = getattr(artifact, name), getattr(engine, name)
        if a == e:
            continue
        if name in _WASMTIME_TUNABLES:
            # Wasmtime's wording (engine/serialization.rs ``check_bool``)
            raise IncompatibleArtifactError(
                f"Module was compiled {'with' if a else 'without'} {_WASMTIME_TUNABLES[name]} "
                f"but it {'is not' if a else 'is'} enabled for the host"
            )
        if name == "wasm_features":
            a, e = tuple(sorted(a)), tuple(sorted(e))
        if a != e:
            raise IncompatibleArtifactError(
                f"artifact was compiled with {name}={_show(a)} but the engine uses "
                f"{name}={_show(e)}"
            )
