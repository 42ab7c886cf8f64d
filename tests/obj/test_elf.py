"""The ELF writer reproduces genuine Wasmtime artifacts; the reader rejects malformed files."""

from __future__ import annotations

import io
import struct
import subprocess

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import given, settings
from hypothesis import strategies as st

from cwasm.errors import ArtifactError
from cwasm.obj import constants as C
from cwasm.obj.elf import ElfFile
from cwasm.obj.elfwriter import ElfWriter
from cwasm.obj.errors import ElfError

from .genuine import FLOOR_WAT, WATS, artifact


def rebuild(data: bytes) -> bytes:
    """Re-emit a file from its parsed parts (user sections, symbols, relocations)."""
    f = ElfFile.parse(data)
    w = ElfWriter(
        f.e_machine,
        e_flags=f.e_flags,
        big_endian=f.big_endian,
        osabi=f.osabi,
        abiversion=f.abiversion,
        e_type=f.e_type,
    )
    handles: dict[int, int] = {}
    for sec in f.sections[1:]:
        if sec.sh_type in (C.SHT_SYMTAB, C.SHT_STRTAB, C.SHT_RELA):
            continue
        h = w.add_section(sec.name, sec.sh_type, sec.flags, entsize=sec.entsize)
        w.set_section_data(h, bytes(f.section_data(sec)), max(sec.addralign, 1))
        handles[sec.index] = h
    symbols: dict[int, int] = {}
    for i, s in enumerate(f.symbols[1:], 1):
        section = handles.get(s.shndx)
        symbols[i] = w.add_symbol(
            s.name,
            s.value,
            s.size,
            bind=s.bind,
            type=s.type,
            other=s.other,
            section=section,
            shndx=s.shndx if section is None else 0,
        )
    for target, relas in f.relocations.items():
        for r in relas:
            w.add_relocation(handles[target], r.offset, symbols[r.sym], r.type, r.addend)
    return w.emit()


GENUINE = [(name, False) for name in WATS] + [(FLOOR_WAT, True)]


@pytest.mark.parametrize(("name", "no_sse41"), GENUINE, ids=[*WATS, "libcall-reloc"])
def test_writer_reproduces_wasmtime_artifacts_byte_for_byte(name: str, no_sse41: bool) -> None:
    original = artifact(name, no_sse41=no_sse41)
    assert rebuild(original) == original


def test_relocation_artifact_really_has_a_relocation() -> None:
    f = ElfFile.parse(artifact(FLOOR_WAT, no_sse41=True))
    text = f.section(".text")
    assert text is not None
    relas = f.relocations[text.index]
    assert len(relas) == 1
    sym = f.symbols[relas[0].sym]
    assert sym.name == "libcall_floor32"
    assert (sym.bind, sym.shndx, relas[0].type) == (C.STB_GLOBAL, C.SHN_UNDEF, C.R_X86_64_64)
    # .rela.text's header follows .text's; its data comes after .strtab
    rela = f.sections[text.index + 1]
    assert rela.name == ".rela.text" and rela.info == text.index


@pytest.mark.parametrize("name", list(WATS))
def test_reader_agrees_with_pyelftools(name: str) -> None:
    data = artifact(name)
    ours = ElfFile.parse(data)
    theirs = ELFFile(io.BytesIO(data))
    assert ours.e_shnum == theirs.num_sections()
    assert ours.e_machine == 62 and ours.osabi == 200 and ours.e_flags == 1
    for sec, ref in zip(ours.sections, theirs.iter_sections(), strict=True):
        assert sec.name == ref.name
        assert (sec.offset, sec.size, sec.addralign) == (
            ref["sh_offset"],
            ref["sh_size"],
            ref["sh_addralign"],
        )
        assert bytes(ours.section_data(sec)) == ref.data()
    refsyms = list(theirs.get_section_by_name(".symtab").iter_symbols())
    assert [(s.name, s.value, s.size, s.shndx) for s in ours.symbols] == [
        (r.name, r["st_value"], r["st_size"], _shndx(r["st_shndx"])) for r in refsyms
    ]


def _shndx(v: object) -> int:
    return {"SHN_UNDEF": 0, "SHN_ABS": C.SHN_ABS}.get(v, v) if isinstance(v, str) else int(v)  # type: ignore[call-overload]


def test_string_table_sorts_by_reversed_bytes_and_merges_tails() -> None:
    w = ElfWriter(C.EM_X86_64)
    text = w.add_section(".text", C.SHT_PROGBITS, C.SHF_ALLOC | C.SHF_EXECINSTR)
    w.append_section_data(text, b"\xc3", 16)
    sym = w.add_symbol("ext", bind=C.STB_GLOBAL)
    w.add_relocation(text, 0, sym, C.R_X86_64_64)
    for name in ("abc", "bc", "c", "xbc"):
        w.add_symbol(name, 0, 1, type=C.STT_FUNC, section=text)
    data = w.emit()
    f = ElfFile.parse(data)
    strtab = f.section(".strtab")
    assert strtab is not None
    # sorted by reversed bytes, descending: "ext" > "xbc" > "abc" > ("bc", "c": tails)
    assert bytes(f.section_data(strtab)) == b"\0ext\0xbc\0abc\0"
    names = {s.name: s for s in f.symbols}
    assert set(names) == {"", "abc", "bc", "c", "xbc", "ext"}
    shstrtab = f.section(".shstrtab")
    assert shstrtab is not None
    assert bytes(f.section_data(shstrtab)).count(b".text") == 1  # tail of .rela.text
    # locals first, then the global; sh_info counts the null symbol too
    assert [s.name for s in f.symbols] == ["", "abc", "bc", "c", "xbc", "ext"]
    symtab = f.section(".symtab")
    assert symtab is not None and symtab.info == 5
    assert f.relocations[1][0].sym == 5


def test_append_section_data_alignment_rule() -> None:
    w = ElfWriter(C.EM_X86_64)
    s = w.add_section(".rodata.wasm", C.SHT_PROGBITS, C.SHF_ALLOC)
    assert w.append_section_data(s, b"abc", 1) == 0
    assert w.append_section_data(s, b"d", 8) == 8
    assert w.section_align(s) == 8
    assert w.append_section_data(s, b"", 4) == 12
    assert w.append_section_data(s, b"e", 2) == 12
    assert w.section_size(s) == 13
    w.set_section_data(s, b"xy", 2)
    assert (w.section_size(s), w.section_align(s)) == (2, 2)
    with pytest.raises(ValueError):
        w.append_section_data(s, b"", 3)


def test_zero_length_section_gets_an_aligned_offset() -> None:
    w = ElfWriter(C.EM_X86_64)
    a = w.add_section(".a", C.SHT_PROGBITS, C.SHF_ALLOC)
    w.append_section_data(a, b"x", 1)
    b = w.add_section(".b", C.SHT_PROGBITS, C.SHF_ALLOC)
    w.set_section_data(b, b"", 0x1000)
    f = ElfFile.parse(w.emit())
    sec = f.section(".b")
    assert sec is not None and sec.offset == 0x1000 and sec.size == 0
    assert w.section_file_offset(b) == 0x1000


@pytest.mark.parametrize(("machine", "big"), [(C.EM_S390, True), (C.EM_AARCH64, False)])
def test_other_machines_and_big_endian_are_valid_elf(machine: int, big: bool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = ElfWriter(machine, big_endian=big)
    text = w.add_section(".text", C.SHT_PROGBITS, C.SHF_ALLOC | C.SHF_EXECINSTR)
    w.append_section_data(text, b"\x07\x07" * 8, 0x1000)
    w.add_symbol("wasm[0]::function[0]", 0, 16, type=C.STT_FUNC, section=text)
    data = w.emit()
    ours = ElfFile.parse(data)
    assert ours.big_endian == big and ours.e_machine == machine
    assert ours.symbols[1].name == "wasm[0]::function[0]" and ours.symbols[1].size == 16
    ref = ELFFile(io.BytesIO(data))
    assert ref.little_endian == (not big)
    assert ref.get_section_by_name(".text").data() == b"\x07\x07" * 8
    path = tmp_path / "x.o"
    path.write_bytes(data)
    out = subprocess.run(
        ["readelf", "-h", "-S", "-s", "-W", str(path)], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stderr == "" and "Warning" not in out.stdout


def test_extended_section_numbering_round_trips() -> None:
    w = ElfWriter(C.EM_X86_64)
    for i in range(C.SHN_LORESERVE):
        w.add_section(f".s{i}", C.SHT_PROGBITS, 0)
    data = w.emit()
    e_shnum, e_shstrndx = struct.unpack_from("<HH", data, 60)
    assert (e_shnum, e_shstrndx) == (0, C.SHN_XINDEX)
    f = ElfFile.parse(data)
    assert f.e_shnum == C.SHN_LORESERVE + 4
    assert f.sections[-1].name == ".shstrtab"
    assert f.sections[C.SHN_LORESERVE].name == f".s{C.SHN_LORESERVE - 1}"


# --- the reader's checks


def _t28() -> bytearray:
    return bytearray(artifact("t28"))


def _patch(data: bytearray, fmt: str, offset: int, *values: int) -> bytes:
    struct.pack_into(fmt, data, offset, *values)
    return bytes(data)


def _shdr(data: bytes, index: int) -> int:
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    return shoff + 64 * index


def _bad_cases() -> list[tuple[str, bytes, str]]:
    d = bytes(_t28())
    symtab = ElfFile.parse(d).section(".symtab")
    assert symtab is not None
    cases = [
        ("empty", b"", "magic"),
        ("wasm", b"\0asm\x01\0\0\0", "magic"),
        ("elf32", b"\x7fELF\x01\x01\x01" + bytes(60), "ELF32"),
        ("bad-class", b"\x7fELF\x07\x01\x01" + bytes(60), "class"),
        ("bad-data", b"\x7fELF\x02\x03\x01" + bytes(60), "data encoding"),
        ("short-header", d[:40], "too small"),
        ("bad-version", _patch(_t28(), "<I", 20, 7), "version"),
        ("shentsize", _patch(_t28(), "<H", 58, 40), "section header size"),
        ("shoff-past-end", _patch(_t28(), "<Q", 0x28, len(d) - 32), "outside the file"),
        ("shoff-misaligned", _patch(_t28(), "<Q", 0x28, 0x4331), "aligned"),
        ("shnum-too-big", _patch(_t28(), "<H", 60, 200), "extends past"),
        ("shstrndx", _patch(_t28(), "<H", 62, 99), "out of range"),
        ("section-past-end", _patch(_t28(), "<Q", _shdr(d, 3) + 32, 1 << 40), "past the end"),
        ("bad-align", _patch(_t28(), "<Q", _shdr(d, 3) + 48, 3), "power of two"),
        ("misaligned", _patch(_t28(), "<Q", _shdr(d, 3) + 24, 0x1001), "isn't aligned"),
        ("name-offset", _patch(_t28(), "<I", _shdr(d, 3), 0xFFFF), "outside its string table"),
        ("symtab-size", _patch(_t28(), "<Q", _shdr(d, 10) + 32, 25), "multiple of 24"),
        ("symtab-link", _patch(_t28(), "<I", _shdr(d, 10) + 40, 3), "not a string table"),
        ("symtab-info", _patch(_t28(), "<I", _shdr(d, 10) + 44, 99), "locals"),
        ("sym-shndx", _patch(_t28(), "<H", symtab.offset + 24 + 6, 77), "does not exist"),
        ("sym-name", _patch(_t28(), "<I", symtab.offset + 24, 0xFFFFF), "string table"),
    ]
    unterminated = bytearray(d)
    shstr = ElfFile.parse(d).section(".shstrtab")
    assert shstr is not None
    unterminated[shstr.offset + shstr.size - 1] = ord("x")
    cases.append(("unterminated", bytes(unterminated), "NUL-terminated"))
    return cases


@pytest.mark.parametrize(("label", "data", "message"), _bad_cases(), ids=lambda v: str(v)[:20])
def test_reader_rejects_malformed_files(label: str, data: bytes, message: str) -> None:
    with pytest.raises(ElfError) as info:
        assert ElfFile.parse(data).symbols is None  # the entries are checked when first read
    assert message in str(info.value), (label, str(info.value))


def test_symbols_are_checked_when_read_and_found_without_decoding_the_rest() -> None:
    d = bytes(_t28())
    f = ElfFile.parse(d)
    symtab = f.section(".symtab")
    assert symtab is not None
    everything = f.symbols
    name = everything[1].name
    assert ElfFile.parse(d).find_symbols([name, "no such symbol"]) == {name: everything[1]}
    # a bad entry is refused by whoever reads it, and by nobody who does not
    bad_second = _patch(_t28(), "<H", symtab.offset + 2 * 24 + 6, 77)
    assert ElfFile.parse(bad_second).find_symbols([name]) == {name: everything[1]}
    with pytest.raises(ElfError, match=r"symbol \[2\] refers to section \[77\]"):
        assert ElfFile.parse(bad_second).symbols is None
    bad_first = _patch(_t28(), "<H", symtab.offset + 24 + 6, 77)
    with pytest.raises(ElfError, match=r"symbol \[1\] refers to section \[77\]"):
        ElfFile.parse(bad_first).find_symbols([name])


def test_relocation_checks() -> None:
    d = bytearray(artifact(FLOOR_WAT, no_sse41=True))
    f = ElfFile.parse(bytes(d))
    rela = f.section(".rela.text")
    assert rela is not None
    bad_sym = bytearray(d)
    struct.pack_into("<Q", bad_sym, rela.offset + 8, (99 << 32) | 1)
    with pytest.raises(ElfError, match="symbol 99"):
        ElfFile.parse(bytes(bad_sym))
    bad_target = bytearray(d)
    struct.pack_into("<I", bad_target, _shdr(bytes(d), rela.index) + 44, 500)
    with pytest.raises(ElfError, match="targets section"):
        ElfFile.parse(bytes(bad_target))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_reader_never_raises_anything_but_artifact_errors(data: st.DataObject) -> None:
    base = bytearray(artifact("t28"))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    try:
        f = ElfFile.parse(bytes(base[:cut]))
    except ArtifactError:
        return
    for sec in f.sections:
        assert len(f.section_data(sec)) in (0, sec.size)
