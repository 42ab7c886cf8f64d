"""ObjectBuilder / build_artifact: build → read → equal, and the output is valid ELF for other tools."""

from __future__ import annotations

import io
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cwasm.errors import ArtifactError
from cwasm.obj.artifact import Artifact
from cwasm.obj.builder import (
    CompiledCode,
    ObjectBuilder,
    build_artifact,
    clean_symbol_name,
    function_symbol_name,
)
from cwasm.obj.constants import EM_X86_64, NO_FILE_POS, machine_for, page_align_for
from cwasm.obj.elf import ElfFile
from cwasm.obj.elfwriter import ElfWriter
from cwasm.obj.engine import EngineMetadata
from cwasm.obj.info import (
    CompiledFunctionInfo,
    DataRange,
    FunctionLoc,
    SegmentedMemoryInitialization,
)
from cwasm.obj.integrity import SEAL_SIZE
from cwasm.obj.meminit import plan_data
from cwasm.obj.traps import Trap
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import SegmentMode

from .strategies import compiled_code, translations

TARGETS = [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "aarch64-apple-darwin",
    "s390x-unknown-linux-gnu",
    "riscv64gc-unknown-linux-gnu",
]


def readelf_ok(data: bytes, tmp: Path) -> str:
    path = tmp / "a.cwasm"
    path.write_bytes(data)
    out = subprocess.run(
        ["readelf", "-S", "-s", "-h", "-W", str(path)], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stderr == ""
    assert "Warning" not in out.stdout
    return out.stdout


def pyelftools_ok(data: bytes) -> ELFFile:
    elf = ELFFile(io.BytesIO(data))
    names = [s.name for s in elf.iter_sections()]
    assert names[-3:] == [".symtab", ".strtab", ".shstrtab"]
    for sec in elf.iter_sections():
        sec.data()
    list(elf.get_section_by_name(".symtab").iter_symbols())
    return elf


def expected_memory(t: ModuleTranslation, memory: int) -> dict[int, int]:
    """Byte address → value after applying the module's active segments to ``memory``."""
    out: dict[int, int] = {}
    for seg in t.data:
        if seg.mode == SegmentMode.ACTIVE and seg.memory_index == memory:
            assert seg.offset is not None
            base = seg.offset.ops[0].value & 0xFFFFFFFF
            for i, b in enumerate(seg.data):
                out[base + i] = b
    return out


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_build_read_equal(data: st.DataObject, tmp_path: Path) -> None:
    t = data.draw(translations())
    code = data.draw(compiled_code(t.module))
    target = data.draw(st.sampled_from(TARGETS))
    engine = EngineMetadata(
        target=target,
        address_map=data.draw(st.booleans()),
        memory_init_cow=data.draw(st.booleans()),
        opt_level=data.draw(st.integers(0, 3)),
    )
    debug = data.draw(st.booleans())
    blob = build_artifact(t, code, engine, debug_info=debug)

    pyelftools_ok(blob)
    readelf_ok(blob, tmp_path)

    a = Artifact.from_bytes(blob, engine)
    page = page_align_for(target)
    assert a.engine == engine
    assert a.elf.e_machine, a.elf.big_endian == machine_for(target)
    assert a.text_offset % page == 0 and a.text_size % page == 0
    assert bytes(a.text[: len(code.text)]) == code.text
    assert not any(a.text[len(code.text) : -SEAL_SIZE])  # zero padding, then the code seal
    assert a.bti == code.bti

    layout = plan_data(t, page_size=page, memory_init_cow=engine.memory_init_cow)
    assert a.info.module == t.module
    assert (a.info.name, a.info.num_data) == (t.names.module, len(t.data))
    # the only module's data starts .rodata.wasm: active chunks, then passive segments
    assert a.info.memory_initialization == layout.memory_initialization
    assert a.info.passive_data == tuple(
        (idx, DataRange(r.start + layout.active_size, r.end + layout.active_size))
        for idx, r in layout.passive_data_map
    )
    assert a.info.funcs == code.funcs
    assert a.info.wasm_to_array_trampolines == code.wasm_to_array_trampolines
    assert a.info.meta.code_section_offset == t.code_section_offset
    assert a.info.meta.has_wasm_debuginfo == debug
    assert a.info.meta.has_unparsed_debuginfo == (bool(t.dwarf) and not debug)

    for offset, trap in code.traps:
        assert a.lookup_trap_code(offset) is trap
    if engine.address_map:
        for offset, pos in code.address_map:
            assert a.lookup_file_pos(offset) == pos
    else:
        assert a.section(".wasmtime.addrmap") is None
        assert all(a.lookup_file_pos(o) is None for o, _ in code.address_map)
    for i in range(len(t.module.functions)):
        assert a.func_name(i) == t.names.functions.get(i)

    init = a.info.memory_initialization
    if isinstance(init, SegmentedMemoryInitialization):
        active = [s for s in t.data if s.mode == SegmentMode.ACTIVE]
        assert [bytes(a.data(s.data)) for s in init.segments] == [s.data for s in active]
    else:
        for mem, image in enumerate(init.map):
            expected = {k: v for k, v in expected_memory(t, mem).items() if v}
            if image is None:
                assert not expected
                continue
            assert (a.data_offset + image.data.start) % page == 0
            got = bytes(a.data(image.data))
            assert {image.offset + i: b for i, b in enumerate(got) if b} == expected
    passive = [s.data for s in t.data if s.mode == SegmentMode.PASSIVE]
    assert [bytes(a.data(r)) for _, r in a.info.passive_data] == passive
    if debug:
        got_dwarf = {
            sid: bytes(a.section_data(".wasmtime.dwarf")[r.start : r.end])
            for sid, r in a.info.meta.dwarf
        }
        want = {7: t.dwarf.get(".debug_info"), 0: t.dwarf.get(".debug_abbrev")}
        assert got_dwarf == {
            sid: t.wasm[s:e] for sid, span in want.items() if span for s, e in [span] if e > s
        }
    else:
        assert a.info.meta.dwarf == ()

    symbols = [(s.name, s.value, s.size) for s in a.elf.symbols[1:]]
    n_imp = t.module.num_imported_funcs
    expected_syms = [
        (function_symbol_name(n_imp + i, t.names.functions.get(n_imp + i)), *_loc(f.wasm_func_loc))
        for i, f in enumerate(code.funcs)
    ]
    expected_syms += [
        (f"wasm[0]::array_to_wasm_trampoline[{n_imp + i}]", *_loc(f.array_to_wasm_trampoline))
        for i, f in enumerate(code.funcs)
        if f.array_to_wasm_trampoline is not None
    ]
    expected_syms += [
        (f"signatures[{ty}]::wasm_to_array_trampoline", *_loc(loc))
        for ty, loc in code.wasm_to_array_trampolines
    ]
    assert symbols == expected_syms


def _loc(loc: FunctionLoc | None) -> tuple[int, int]:
    assert loc is not None
    return loc.start, loc.length


def _t28_like() -> tuple[ModuleTranslation, CompiledCode]:
    from .test_meminit import FIXED, to_translation

    t = to_translation(FIXED["t28"])
    t.names.functions = {0: "add"}
    from cwasm.wasm.types import FuncType, ValType

    t.module = replace(t.module, types=(FuncType((ValType.I32,), (ValType.I32,)),), functions=(0,))
    code = CompiledCode(
        text=b"\x90" * 40,
        funcs=(CompiledFunctionInfo(0x41, FunctionLoc(0, 12), FunctionLoc(32, 8)),),
        wasm_to_array_trampolines=((0, FunctionLoc(12, 20)),),
        traps=((4, Trap.IntegerDivisionByZero),),
        address_map=((0, None), (4, 0x46)),
    )
    return t, code


def test_section_order_and_header_values(tmp_path: Path) -> None:
    t, code = _t28_like()
    engine = EngineMetadata(target="x86_64-unknown-linux-gnu")
    blob = build_artifact(t, code, engine)
    f = ElfFile.parse(blob)
    assert [s.name for s in f.sections] == [
        "",
        ".wasmtime.engine",
        ".wasmtime.bti",
        ".text",
        ".wasmtime.addrmap",
        ".wasmtime.traps",
        ".rodata.wasm",
        ".name.wasm",
        ".wasmtime.info",
        ".cwasm.mac",
        ".cwasm.checksum",
        ".symtab",
        ".strtab",
        ".shstrtab",
    ]
    assert (f.osabi, f.e_type, f.e_machine, f.e_flags) == (200, 1, EM_X86_64, 1)
    text = f.section(".text")
    assert text is not None and (text.offset, text.size, text.addralign, text.flags) == (
        0x1000,
        0x1000,
        0x1000,
        0x6,
    )
    rodata = f.section(".rodata.wasm")
    assert rodata is not None and rodata.addralign == 0x1000 and rodata.offset % 0x1000 == 0
    assert rodata.size == 0x1008  # 4 KiB image + "passive!", as Wasmtime lays out t28
    out = readelf_ok(blob, tmp_path)
    assert "wasm[0]::function[0]::add" in out


def test_symbol_names_are_cleaned_like_wasmtime() -> None:
    assert clean_symbol_name("add") == "add"
    assert clean_symbol_name("caf\u00e9\0\1\2odd??name") == "caf?odd?name"
    assert clean_symbol_name("with spaces  here") == "with?spaces?here"
    assert clean_symbol_name("x" * 200) == "x" * 96
    assert clean_symbol_name("\u00e9" + "y" * 200) == "?" + "y" * 95
    assert function_symbol_name(3, None) == "wasm[0]::function[3]"
    assert function_symbol_name(3, "a b") == "wasm[0]::function[3]::a?b"


def test_symbol_names_match_a_genuine_wasmtime_artifact() -> None:
    from .genuine import artifact

    f = ElfFile.parse(artifact("names"))
    names = [s.name for s in f.symbols if s.name.startswith("wasm[0]::function")]
    assert names == [
        function_symbol_name(1, "caf\u00e9\0\1\2odd??name"),
        function_symbol_name(
            2,
            "a_very_long_name_that_goes_on_and_on_and_on_well_past_the_ninety_six_"
            "character_limit_of_wasmtime_symbols",
        ),
        function_symbol_name(3, None),
    ]


def test_names_and_dwarf_sections() -> None:
    t, code = _t28_like()
    t.wasm = b"\0asm\1\0\0\0" + b"ABBREV" + b"INFO!!" + b"LINE"
    t.dwarf = {".debug_info": (14, 20), ".debug_abbrev": (8, 14), ".debug_line": (20, 24)}
    t.names.functions = {0: "add", 5: "imported-later"}
    engine = EngineMetadata(target="x86_64-unknown-linux-gnu")
    w = ElfWriter(EM_X86_64)
    builder = ObjectBuilder(w, triple=engine.target, debug_info=True)
    info = builder.append(t, code.funcs, code.wasm_to_array_trampolines)
    # DWARF appended in Wasmtime's order (abbrev, info, line) and listed sorted by id
    assert [(sid, r.start, r.end) for sid, r in info.meta.dwarf] == [
        (0, 0, 6),
        (7, 6, 12),
        (8, 12, 16),
    ]
    assert [(n.idx, n.offset, n.len) for n in info.func_names] == [(0, 0, 3), (5, 3, 14)]
    builder.serialize_info(info)
    f = ElfFile.parse(builder.finish())
    dwarf = f.section(".wasmtime.dwarf")
    assert dwarf is not None and dwarf.flags == 0
    assert bytes(f.section_data(dwarf)) == b"ABBREVINFO!!LINE"
    names = f.section(".name.wasm")
    assert names is not None and bytes(f.section_data(names)) == b"addimported-later"


def test_no_names_means_no_name_section() -> None:
    t, code = _t28_like()
    t.names.functions = {}
    f = ElfFile.parse(build_artifact(t, code, EngineMetadata(target="x86_64-unknown-linux-gnu")))
    assert f.section(".name.wasm") is None and f.section(".wasmtime.dwarf") is None


def test_finish_to_file_is_atomic(tmp_path: Path) -> None:
    t, code = _t28_like()
    engine = EngineMetadata(target="x86_64-unknown-linux-gnu")
    target = tmp_path / "out.cwasm"
    target.write_bytes(b"old contents")
    w = ElfWriter(EM_X86_64)
    builder = ObjectBuilder(w, triple=engine.target)
    builder.serialize_info(builder.append(t, code.funcs))
    builder.finish_to_file(target)
    assert os.listdir(tmp_path) == ["out.cwasm"]
    data = target.read_bytes()
    assert data.startswith(b"\x7fELF") and ElfFile.parse(data).section(".cwasm.checksum")
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_builder_rejects_bad_input() -> None:
    t, code = _t28_like()
    engine = EngineMetadata(target="x86_64-unknown-linux-gnu")
    bad_loc = CompiledFunctionInfo(0, FunctionLoc(30, 100))
    with pytest.raises(ArtifactError, match="outside the code"):
        build_artifact(t, CompiledCode(code.text, (bad_loc,)), engine)
    with pytest.raises(ArtifactError, match="unsupported"):
        build_artifact(t, code, EngineMetadata(target="mips-unknown-linux-gnu"))
    with pytest.raises(ValueError, match="ascending"):
        build_artifact(
            t,
            CompiledCode(code.text, code.funcs, traps=((5, Trap.Interrupt), (1, Trap.Interrupt))),
            engine,
        )


def test_address_map_none_is_no_file_pos() -> None:
    t, code = _t28_like()
    a = Artifact.from_bytes(
        build_artifact(t, code, EngineMetadata(target="x86_64-unknown-linux-gnu"))
    )
    assert a.lookup_file_pos(0) is None and a.lookup_file_pos(3) is None
    assert a.lookup_file_pos(4) == 0x46 and a.lookup_file_pos(10_000) == 0x46
    assert NO_FILE_POS == 0xFFFFFFFF
