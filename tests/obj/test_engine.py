"""``.wasmtime.engine``: encoding, Wasmtime detection, format versions, compatibility messages."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwasm.obj.elf import ElfFile
from cwasm.obj.engine import (
    ARTIFACT_FORMAT_VERSION,
    EngineMetadata,
    check_compatible,
    decode_engine_section,
    encode_engine_section,
    engine_version_string,
)
from cwasm.obj.errors import (
    CorruptArtifactError,
    ForeignArtifactError,
    IncompatibleArtifactError,
)

from .genuine import artifact

HOST = EngineMetadata(target="x86_64-unknown-linux-gnu", cpu_features=("sse4.1", "avx2"))

METAS = st.builds(
    EngineMetadata,
    target=st.sampled_from(["x86_64-unknown-linux-gnu", "aarch64-apple-darwin", "s390x-ibm-linux"]),
    producer_version=st.text(max_size=10),
    cpu_features=st.lists(st.text(max_size=8), max_size=4).map(tuple),
    opt_level=st.integers(0, 3),
    bounds_checks=st.sampled_from(["explicit", "guard-pages"]),
    stack_check=st.booleans(),
    address_map=st.booleans(),
    debug_info=st.booleans(),
    memory_reservation=st.integers(0, 2**64 - 1),
    memory_guard_size=st.integers(0, 2**64 - 1),
    memory_init_cow=st.booleans(),
    wasm_features=st.lists(st.text(max_size=8), max_size=5).map(tuple),
    consume_fuel=st.booleans(),
    epoch_interruption=st.booleans(),
)


@settings(max_examples=100, deadline=None)
@given(METAS)
def test_engine_section_round_trips(meta: EngineMetadata) -> None:
    data = encode_engine_section(meta)
    assert data[0] == 0
    assert engine_version_string(data) == f"cwasm-format-{ARTIFACT_FORMAT_VERSION}"
    assert decode_engine_section(data) == meta


def test_version_string_is_the_format_not_the_package_version() -> None:
    a = encode_engine_section(dataclasses.replace(HOST, producer_version="0.1.0"))
    b = encode_engine_section(dataclasses.replace(HOST, producer_version="9.9.9"))
    assert engine_version_string(a) == engine_version_string(b) == "cwasm-format-6"
    check_compatible(decode_engine_section(a), decode_engine_section(b))


def test_wasmtime_engine_section_is_recognised() -> None:
    f = ElfFile.parse(artifact("t28"))
    sec = f.section(".wasmtime.engine")
    assert sec is not None
    data = f.section_data(sec)
    assert engine_version_string(data) == "28.0.0"
    with pytest.raises(ForeignArtifactError, match=r"Wasmtime artifact .*28\.0\.0.*inspect"):
        decode_engine_section(data)


def test_unknown_producer_and_other_format_versions() -> None:
    tail = encode_engine_section(HOST)[2 + len("cwasm-format-6") :]
    with pytest.raises(ForeignArtifactError, match="unknown engine"):
        decode_engine_section(b"\0\x05hello" + tail)
    with pytest.raises(IncompatibleArtifactError, match="format '1'.*recompile"):
        decode_engine_section(b"\0\x0ecwasm-format-1" + tail)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x01\x00x", "mismatched version"),
        (b"\x00", "length is missing"),
        (b"\x00\x0ecwasm-format-1", "too small"),
        (b"\x00\x02\xff\xfe\x00", "UTF-8"),
    ],
)
def test_malformed_engine_sections(data: bytes, message: str) -> None:
    with pytest.raises(CorruptArtifactError, match=message):
        decode_engine_section(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_damaged_engine_section_raises_artifact_errors_only(data: st.DataObject) -> None:
    raw = bytearray(encode_engine_section(HOST))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    if raw:
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    try:
        decode_engine_section(bytes(raw))
    except (CorruptArtifactError, IncompatibleArtifactError):
        pass


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"stack_check": False},
            "artifact was compiled with stack_check=False but the engine uses stack_check=True",
        ),
        ({"target": "aarch64-unknown-linux-gnu"}, "architecture 'aarch64'.*'x86_64'"),
        ({"target": "x86_64-apple-darwin"}, "operating system 'darwin'.*'linux'"),
        ({"cpu_features": ("avx512f",)}, r"cpu_features=\[avx512f\].*missing: avx512f"),
        ({"bounds_checks": "guard-pages"}, "bounds_checks=guard-pages.*bounds_checks=explicit"),
        ({"memory_guard_size": 1 << 21}, "memory_guard_size=2097152"),
        ({"memory_init_cow": False}, "memory_init_cow"),
        ({"wasm_features": ("simd",)}, r"wasm_features=\[simd\]"),
        ({"format_version": 7}, "format_version=7"),
        (
            {"consume_fuel": True},
            "Module was compiled with fuel support but it is not enabled for the host",
        ),
        (
            {"epoch_interruption": True},
            "Module was compiled with epoch interruption but it is not enabled for the host",
        ),
    ],
)
def test_incompatibilities_name_the_field_and_both_values(
    change: dict[str, object], message: str
) -> None:
    compiled = dataclasses.replace(HOST, **change)  # type: ignore[arg-type]
    with pytest.raises(IncompatibleArtifactError, match=message):
        check_compatible(compiled, HOST)


def test_interruption_fields_are_written_only_when_on() -> None:
    """Without fuel and epochs the record ends after ``wasm_features``, as it did before
    those fields existed; with either on, two booleans follow."""
    plain = encode_engine_section(HOST)
    for change in ({"consume_fuel": True}, {"epoch_interruption": True}):
        on = dataclasses.replace(HOST, **change)  # type: ignore[arg-type]
        data = encode_engine_section(on)
        assert data[: len(plain)] == plain and len(data) == len(plain) + 2
        assert decode_engine_section(data) == on
    assert decode_engine_section(plain) == HOST
    # the other direction: an engine with fuel refuses an artifact without
    with pytest.raises(IncompatibleArtifactError, match="compiled without fuel support"):
        check_compatible(HOST, dataclasses.replace(HOST, consume_fuel=True))


def test_compatible_variations() -> None:
    check_compatible(HOST, HOST)
    # fewer CPU features than the host has, another env/vendor, another producer version
    check_compatible(
        dataclasses.replace(
            HOST,
            cpu_features=("avx2",),
            target="x86_64-pc-linux-musl",
            producer_version="2.0",
            wasm_features=tuple(reversed(HOST.wasm_features)),
        ),
        HOST,
    )
    # informational settings: they change code quality and metadata, not correctness
    check_compatible(
        dataclasses.replace(HOST, opt_level=0, address_map=False, debug_info=True), HOST
    )
