"""The artifact reader: every check, clear errors, and 1,000 random corruptions."""

from __future__ import annotations

import dataclasses
import random
import struct
import time
from pathlib import Path

import pytest

from cwasm.errors import ArtifactError
from cwasm.obj.artifact import Artifact, is_artifact, is_wasm
from cwasm.obj.builder import CompiledCode, build_artifact
from cwasm.obj.constants import SHT_RELA, SHT_STRTAB, SHT_SYMTAB
from cwasm.obj.elf import ElfFile
from cwasm.obj.elfwriter import ElfWriter
from cwasm.obj.engine import EngineMetadata
from cwasm.obj.errors import (
    ChecksumMismatchError,
    CorruptArtifactError,
    ElfError,
    ForeignArtifactError,
    IncompatibleArtifactError,
    NotAnArtifactError,
)
from cwasm.obj.info import (
    CompiledFunctionInfo,
    DataRange,
    FunctionLoc,
    FunctionName,
    StaticMemoryInitialization,
    StaticMemoryInitializer,
    decode_info,
    encode_info,
)
from cwasm.obj.integrity import CHECKSUM_SIZE, artifact_checksum
from cwasm.obj.traps import Trap
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import FuncType, ValType

from .genuine import artifact as wasmtime_artifact
from .test_meminit import FIXED, to_translation

ENGINE = EngineMetadata(target="x86_64-unknown-linux-gnu")


def sample() -> tuple[ModuleTranslation, CompiledCode]:
    t = to_translation(FIXED["two-memories"])
    t.module = dataclasses.replace(
        t.module, types=(FuncType((ValType.I32,), (ValType.I32,)),), functions=(0, 0)
    )
    t.names.functions = {0: "first", 1: "second"}
    code = CompiledCode(
        text=bytes(range(256)) * 2,
        funcs=(
            CompiledFunctionInfo(0x41, FunctionLoc(0, 100), FunctionLoc(256, 60)),
            CompiledFunctionInfo(0x60, FunctionLoc(128, 100)),
        ),
        wasm_to_array_trampolines=((0, FunctionLoc(320, 80)),),
        traps=((10, Trap.IntegerDivisionByZero), (140, Trap.MemoryOutOfBounds)),
        address_map=((0, None), (10, 0x45), (128, None), (140, 0x66)),
    )
    return t, code


def sample_artifact() -> bytes:
    t, code = sample()
    return build_artifact(t, code, ENGINE)


def reseal(data: bytes | bytearray) -> bytes:
    """Recompute the checksum so that a deliberate edit reaches the deeper checks."""
    out = bytearray(data)
    sec = ElfFile.parse(bytes(out)).section(".cwasm.checksum")
    if sec is None:
        return bytes(out)
    out[sec.offset : sec.offset + CHECKSUM_SIZE] = artifact_checksum(out, sec.offset)
    return bytes(out)


def with_section(data: bytes, name: str, contents: bytes | None, *, rename: str = "") -> bytes:
    """Re-emit ``data`` with one section's contents replaced (or the section dropped)."""
    f = ElfFile.parse(data)
    w = ElfWriter(f.e_machine, e_flags=f.e_flags, big_endian=f.big_endian)
    handles: dict[int, int] = {}
    for sec in f.sections[1:]:
        if sec.sh_type in (SHT_SYMTAB, SHT_STRTAB, SHT_RELA):
            continue
        body = bytes(f.section_data(sec))
        if sec.name == name:
            if contents is None:
                continue
            body = contents
        h = w.add_section(
            rename if sec.name == name and rename else sec.name, sec.sh_type, sec.flags
        )
        w.set_section_data(h, body, max(sec.addralign, 1))
        handles[sec.index] = h
    for s in f.symbols[1:]:
        w.add_symbol(s.name, s.value, s.size, type=s.type, section=handles.get(s.shndx))
    return reseal(w.emit())


def info_of(data: bytes) -> bytes:
    f = ElfFile.parse(data)
    sec = f.section(".wasmtime.info")
    assert sec is not None
    return bytes(f.section_data(sec))


def with_info(data: bytes, **changes: object) -> bytes:
    info = decode_info(info_of(data))
    return with_section(data, ".wasmtime.info", encode_info(dataclasses.replace(info, **changes)))  # type: ignore[arg-type]


def test_reads_back_what_was_built() -> None:
    blob = sample_artifact()
    a = Artifact.from_bytes(blob, ENGINE)
    assert a.func_name(1) == "second" and a.func_name(7) is None
    assert a.lookup_trap_code(140) is Trap.MemoryOutOfBounds and a.lookup_trap_code(141) is None
    assert a.lookup_file_pos(150) == 0x66
    assert a.func_by_text_offset(50) == 0 and a.func_by_text_offset(130) == 1
    assert a.func_by_text_offset(110) is None and a.func_by_text_offset(300) is None
    assert is_artifact(blob) and not is_wasm(blob)
    assert bytes(a.text[:4]) == b"\0\1\2\3"


def test_wasm_module_is_recognised() -> None:
    wasm = b"\0asm\x01\0\0\0"
    assert is_wasm(wasm) and not is_artifact(wasm)
    with pytest.raises(NotAnArtifactError, match=r"compile it first.*Module\(engine, wasm\)"):
        Artifact.from_bytes(wasm)


def test_wasmtime_artifact_is_recognised() -> None:
    data = wasmtime_artifact("t28")
    assert is_artifact(data)
    with pytest.raises(ForeignArtifactError, match="Wasmtime artifact"):
        Artifact.from_bytes(data)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", NotAnArtifactError, "does not start"),
        (b"hello world", NotAnArtifactError, "does not start"),
        (b"\x7fELF", ElfError, "too small"),
    ],
)
def test_not_artifacts(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Artifact.from_bytes(data)


def _patch_header(data: bytes, fmt: str, offset: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return reseal(out)


def test_header_checks() -> None:
    blob = sample_artifact()
    with pytest.raises(NotAnArtifactError, match="OSABI 0"):
        Artifact.from_bytes(_patch_header(blob, "<B", 7, 0))
    with pytest.raises(IncompatibleArtifactError, match="component"):
        Artifact.from_bytes(_patch_header(blob, "<I", 48, 2))
    with pytest.raises(CorruptArtifactError, match="ELF flags 0x5"):
        Artifact.from_bytes(_patch_header(blob, "<I", 48, 5))
    with pytest.raises(CorruptArtifactError, match="ELF type 2"):
        Artifact.from_bytes(_patch_header(blob, "<H", 16, 2))
    with pytest.raises(CorruptArtifactError, match="does not match the target"):
        Artifact.from_bytes(_patch_header(blob, "<H", 18, 183))


def test_checksum_detects_any_change() -> None:
    blob = bytearray(sample_artifact())
    blob[0x1000 + 5] ^= 1  # one bit of code
    with pytest.raises(ChecksumMismatchError, match="modified or damaged"):
        Artifact.from_bytes(bytes(blob))
    Artifact.from_bytes(bytes(blob), verify_checksum=False)
    with pytest.raises(CorruptArtifactError, match="missing section `.cwasm.checksum`"):
        Artifact.from_bytes(with_section(sample_artifact(), ".cwasm.checksum", b"", rename=".x"))


def test_engine_compatibility_is_checked() -> None:
    blob = sample_artifact()
    with pytest.raises(
        IncompatibleArtifactError,
        match="bounds_checks=explicit but the engine uses bounds_checks=guard-pages",
    ):
        Artifact.from_bytes(blob, dataclasses.replace(ENGINE, bounds_checks="guard-pages"))
    # the optimisation level is informational
    Artifact.from_bytes(blob, dataclasses.replace(ENGINE, opt_level=0))
    Artifact.from_bytes(blob)  # no engine given: nothing to compare


@pytest.mark.parametrize(
    "name", [".wasmtime.engine", ".wasmtime.bti", ".text", ".wasmtime.traps", ".wasmtime.info"]
)
def test_required_sections(name: str) -> None:
    with pytest.raises(CorruptArtifactError, match=f"`{name}`"):
        Artifact.from_bytes(with_section(sample_artifact(), name, None))


def test_section_content_checks() -> None:
    blob = sample_artifact()
    cases: list[tuple[bytes, str]] = [
        (with_section(blob, ".wasmtime.bti", b"\0\0"), "invalid `.wasmtime.bti`"),
        (with_section(blob, ".text", b"\x90" * 100), "not a multiple of 0x1000"),
        (with_section(blob, ".wasmtime.traps", struct.pack("<IIB", 2, 8, 1)), "claims 2 entries"),
        (with_section(blob, ".wasmtime.addrmap", struct.pack("<3I", 2, 9, 8)), "claims 2 entries"),
        (with_section(blob, ".wasmtime.info", b"\x01\x00"), "`.wasmtime.info` is corrupt"),
        (with_section(blob, ".wasmtime.info", b"\x08"), "format version 8"),
        (with_section(blob, ".wasmtime.engine", b"\x00\x06" + b"28.0.0" + b"\0"), "Wasmtime"),
    ]
    for data, message in cases:
        with pytest.raises(ArtifactError, match=message):
            Artifact.from_bytes(data)


@pytest.mark.parametrize(
    ("name", "table", "message"),
    [
        (".wasmtime.traps", struct.pack("<3I2B", 2, 140, 10, 7, 1), "ascending"),
        (".wasmtime.traps", struct.pack("<IIB", 1, 0x1000, 1), "outside `.text`"),
        (".wasmtime.traps", struct.pack("<IIB", 1, 140, 99), "unknown trap code 99"),
        (".wasmtime.addrmap", struct.pack("<5I", 2, 140, 10, 0x66, 0x45), "ascending"),
        (".wasmtime.addrmap", struct.pack("<3I", 1, 0x1000, 0x66), "outside `.text`"),
    ],
)
def test_table_entries_are_checked_at_first_lookup(name: str, table: bytes, message: str) -> None:
    """Loading checks only the tables' sizes; the first lookup checks every entry, and a
    table that fails finds nothing (no position, no trap code) instead of a wrong answer."""
    blob = with_section(sample_artifact(), name, table)
    a = Artifact.from_bytes(blob)  # loads: the entries are not read yet
    assert a.lookup_trap_code(140) is (
        None if name == ".wasmtime.traps" else Trap.MemoryOutOfBounds
    )
    assert a.lookup_file_pos(150) == (None if name == ".wasmtime.addrmap" else 0x66)
    with pytest.raises(CorruptArtifactError, match=message):
        a.check_tables()
    # the intact sample answers both lookups, and its tables pass the full check
    good = Artifact.from_bytes(sample_artifact())
    good.check_tables()
    assert good.lookup_trap_code(140) is Trap.MemoryOutOfBounds
    assert good.lookup_file_pos(150) == 0x66


def test_misaligned_text_is_reported() -> None:
    blob = bytearray(sample_artifact())
    f = ElfFile.parse(bytes(blob))
    text = f.section(".text")
    assert text is not None
    # claim 0x800 alignment and move .text half a page: the ELF is fine, the artifact is not
    hdr = f.e_shoff + 64 * text.index
    struct.pack_into("<Q", blob, hdr + 24, text.offset - 0x800)
    struct.pack_into("<Q", blob, hdr + 48, 0x800)
    with pytest.raises(CorruptArtifactError, match="not aligned to 0x1000"):
        Artifact.from_bytes(reseal(blob))


def test_info_locations_are_checked() -> None:
    blob = sample_artifact()
    info = decode_info(info_of(blob))
    outside = CompiledFunctionInfo(0, FunctionLoc(0xF00, 0x200))
    cases: list[tuple[dict[str, object], str]] = [
        ({"funcs": (outside, info.funcs[1])}, "function 0 at 0xf00\\+0x200 lies outside `.text`"),
        ({"funcs": (info.funcs[1], info.funcs[1])}, "overlaps"),
        ({"funcs": info.funcs[:1]}, "compiled functions"),
        (
            {"wasm_to_array_trampolines": ((0, FunctionLoc(0xFFF, 2)),)},
            "wasm-to-array trampoline of type 0",
        ),
        ({"func_names": (FunctionName(0, 5, 100),)}, "name of function 0 lies outside"),
    ]
    static = info.memory_initialization
    assert isinstance(static, StaticMemoryInitialization)
    bad_static = StaticMemoryInitialization(
        (StaticMemoryInitializer(0, DataRange(0, 0x100000)), static.map[1])
    )
    unaligned = StaticMemoryInitialization(
        (StaticMemoryInitializer(0x10, DataRange(0, 0x1000)), static.map[1])
    )
    passive = ((2, DataRange(0x2000, 0x2005)),)
    cases += [
        ({"memory_initialization": bad_static}, "image of memory 0 .* lies outside"),
        ({"memory_initialization": unaligned}, "image of memory 0 is not page-aligned"),
        ({"passive_data": passive}, "passive data segment 2 .* lies outside"),
        ({"module": dataclasses.replace(info.module, start=9)}, "start function 9"),
    ]
    for changes, message in cases:
        with pytest.raises(CorruptArtifactError, match=message):
            Artifact.from_bytes(with_info(blob, **changes))


def test_from_file(tmp_path: Path) -> None:
    path = tmp_path / "m.cwasm"
    path.write_bytes(sample_artifact())
    with Artifact.from_file(path, ENGINE) as a:
        assert a.func_name(0) == "first"
        assert a.lookup_trap_code(10) is Trap.IntegerDivisionByZero
        info = a.info
    assert info == Artifact.from_bytes(sample_artifact()).info
    empty = tmp_path / "empty.cwasm"
    empty.write_bytes(b"")
    with pytest.raises(NotAnArtifactError, match="empty"):
        Artifact.from_file(empty)
    wasm = tmp_path / "m.wasm"
    wasm.write_bytes(b"\0asm\x01\0\0\0")
    with pytest.raises(NotAnArtifactError, match="compile it first"):
        Artifact.from_file(wasm)


# --- random corruption


def _metadata_spans(data: bytes) -> list[tuple[int, int]]:
    f = ElfFile.parse(data)
    spans = [(0, 64), (f.e_shoff, f.e_shnum * 64)]
    for sec in f.sections[1:]:
        if sec.name != ".text" and sec.size:
            spans.append((sec.offset, sec.size))
    return spans


def corrupt(rng: random.Random, data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """One random damage: truncation, bit flips, header edits, swapped or resized sections."""
    out = bytearray(data)
    f_shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shnum = struct.unpack_from("<H", data, 60)[0]
    kind = rng.randrange(7)
    if kind == 0:
        return bytes(out[: rng.randrange(len(out))])
    if kind == 1:
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
    elif kind == 2:
        start, size = rng.choice(spans)
        for _ in range(rng.randint(1, 3)):
            out[start + rng.randrange(size)] = rng.randrange(256)
    elif kind == 3:  # swap two section headers
        a, b = rng.sample(range(1, shnum), 2)
        pa, pb = f_shoff + 64 * a, f_shoff + 64 * b
        out[pa : pa + 64], out[pb : pb + 64] = out[pb : pb + 64], out[pa : pa + 64]
    elif kind == 4:  # resize a section
        hdr = f_shoff + 64 * rng.randrange(1, shnum)
        size = struct.unpack_from("<Q", out, hdr + 32)[0]
        new = rng.choice([0, size - 1, size + 1, size * 2 + 8, rng.randrange(1 << 20), 1 << 63])
        struct.pack_into("<Q", out, hdr + 32, max(new, 0))
    elif kind == 5:  # move a section
        hdr = f_shoff + 64 * rng.randrange(1, shnum)
        off = struct.unpack_from("<Q", out, hdr + 24)[0]
        new = rng.choice([0, off + 1, off - 1, off + 0x1000, rng.randrange(len(out) + 100)])
        struct.pack_into("<Q", out, hdr + 24, max(new, 0))
    else:  # swap the contents' locations of two sections
        a, b = rng.sample(range(1, shnum), 2)
        pa, pb = f_shoff + 64 * a + 24, f_shoff + 64 * b + 24
        out[pa : pa + 16], out[pb : pb + 16] = out[pb : pb + 16], out[pa : pa + 16]
    return bytes(out)


def test_one_thousand_corruptions_raise_only_artifact_errors() -> None:
    original = sample_artifact()
    spans = _metadata_spans(original)
    rng = random.Random(20240601)
    started = time.perf_counter()
    kinds: dict[str, int] = {}
    for i in range(1000):
        damaged = corrupt(rng, original, spans)
        # alternate: with the checksum (the normal path) and without it, which makes the
        # structural checks see the damage themselves
        verify = i % 2 == 0
        try:
            Artifact.from_bytes(damaged, ENGINE, verify_checksum=verify)
        except ArtifactError as e:
            assert str(e)
            kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
        else:
            assert damaged == original or not verify
    assert time.perf_counter() - started < 20
    assert kinds.get("ChecksumMismatchError", 0) > 100
    assert kinds.get("CorruptArtifactError", 0) + kinds.get("ElfError", 0) > 100


def test_from_bytes_on_a_one_megabyte_artifact_is_fast() -> None:
    n = 1800
    t = ModuleTranslation(
        wasm=b"",
        module=ModuleRecord(types=(FuncType((ValType.I32,), (ValType.I32,)),), functions=(0,) * n),
    )
    t.names.functions = {i: f"function_number_{i}" for i in range(n)}
    funcs = tuple(
        CompiledFunctionInfo(100 + i, FunctionLoc(i * 224, 200), FunctionLoc(n * 224 + i * 32, 30))
        for i in range(n)
    )
    text = bytes(random.Random(1).randbytes(n * 320))
    traps = tuple((i * 56 + 7, Trap(i % 19)) for i in range(n * 4))
    amap = tuple((i * 28, i * 3) for i in range(n * 8))
    blob = build_artifact(t, CompiledCode(text, funcs, traps=traps, address_map=amap), ENGINE)
    assert 900_000 < len(blob) < 1_300_000
    Artifact.from_bytes(blob, ENGINE)
    best = min(_timed(lambda: Artifact.from_bytes(blob, ENGINE)) for _ in range(3))
    print(f"\nArtifact.from_bytes on {len(blob)} bytes: {best * 1000:.1f} ms")
    assert best < 1.0


def _timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def test_built_artifacts_are_valid_for_pyelftools_and_readelf(tmp_path: Path) -> None:
    from .test_builder import pyelftools_ok, readelf_ok

    t, code = sample()
    blobs = [sample_artifact(), build_artifact(t, code, ENGINE, debug_info=True)]
    for target in ("aarch64-unknown-linux-gnu", "s390x-unknown-linux-gnu", "riscv64gc-linux"):
        blobs.append(build_artifact(t, code, dataclasses.replace(ENGINE, target=target)))
    pulley = dataclasses.replace(code, wasm_to_array_trampolines=())
    blob = build_artifact(t, pulley, dataclasses.replace(ENGINE, target="pulley64"))
    assert Artifact.from_bytes(blob).info.meta.is_pulley
    assert ElfFile.parse(blob).e_machine == 243  # Pulley pretends to be riscv64
    blobs.append(blob)
    for blob in blobs:
        pyelftools_ok(blob)
        readelf_ok(blob, tmp_path)
        Artifact.from_bytes(blob)
