"""ELF64 files, read with every offset, size, index and string bounds-checked.

The reader never trusts the input: any problem raises ``ElfError`` (an ``ArtifactError``)
instead of ``IndexError`` or ``struct.error``. It reads cwasm's and Wasmtime's artifacts
(big- or little-endian) and the relocatable objects LLVM writes for the pre-linker:
sections by name, the symbol table, and the ``REL``/``RELA`` relocations of each section.
The writer is in ``elfwriter``.
"""

from __future__ import annotations

import itertools
import mmap
import struct
import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple

from cwasm.obj.constants import (
    ELF64_EHDR_SIZE,
    ELF64_EHDR_TAIL_FORMAT,
    ELF64_REL_FORMAT,
    ELF64_REL_SIZE,
    ELF64_RELA_FORMAT,
    ELF64_RELA_SIZE,
    ELF64_SHDR_FORMAT,
    ELF64_SHDR_SIZE,
    ELF64_SYM_FORMAT,
    ELF64_SYM_SIZE,
    ELF_MAGIC,
    ELFCLASS32,
    ELFCLASS64,
    ELFDATA2LSB,
    ELFDATA2MSB,
    EV_CURRENT,
    SHN_LORESERVE,
    SHN_XINDEX,
    SHT_NOBITS,
    SHT_NULL,
    SHT_REL,
    SHT_RELA,
    SHT_STRTAB,
    SHT_SYMTAB,
)
from cwasm.obj.errors import ElfError
from cwasm.obj.memo import VerdictMemo

Buffer = bytes | bytearray | memoryview | mmap.mmap
#: this host's byte order as a ``struct`` prefix
_NATIVE = "<" if sys.byteorder == "little" else ">"


class ElfSection(NamedTuple):
    """One section header (a named tuple: built for every section on every load). Its
    ``index`` field hides ``tuple.index``, which nothing calls on a section."""

    index: int  # type: ignore[assignment]
    name: str
    sh_type: int
    flags: int
    offset: int
    size: int
    addralign: int
    link: int
    info: int
    entsize: int


class ElfSymbol(NamedTuple):
    """One symbol table entry (a named tuple: artifacts hold many, read on every load)."""

    name: str
    value: int
    size: int
    bind: int
    type: int
    other: int
    shndx: int


#: what ``ElfFile.find_symbols`` found, by the exact bytes it searched
FOUND_SYMBOLS: VerdictMemo[dict[str, ElfSymbol]] = VerdictMemo()


@dataclass(frozen=True)
class ElfRela:
    offset: int
    sym: int
    type: int
    addend: int


def _cstring(table: bytes, offset: int, kind: str, index: int) -> str:
    """The NUL-terminated string at ``offset`` of a string table's data."""
    if offset >= len(table):
        raise ElfError(
            f"name of {kind} [{index}]: string offset {offset:#x} is outside its string table"
        )
    end = table.find(b"\0", offset)
    if end < 0:
        raise ElfError(f"name of {kind} [{index}]: string at {offset:#x} is not NUL-terminated")
    try:
        return table[offset:end].decode("utf-8")
    except UnicodeDecodeError:
        raise ElfError(
            f"name of {kind} [{index}]: string at {offset:#x} is not valid UTF-8"
        ) from None


def _string_starts(table: bytes) -> dict[int, str]:
    """The string at each offset of an ASCII string table where a string starts (0 and after
    every NUL), the terminated ones only; empty for other tables. Reading names through it
    costs a lookup each instead of a search; any other offset goes through ``_cstring``."""
    if not table.isascii():
        return {}
    parts = table.decode("ascii").split("\0")
    parts.pop()  # after the last NUL: not terminated
    offsets = itertools.accumulate((len(p) + 1 for p in parts), initial=0)
    return dict(zip(offsets, parts, strict=False))


def _indices(values: tuple[int, ...], value: int) -> list[int]:
    """Every index of ``value`` in ``values`` (searched at C speed)."""
    out: list[int] = []
    start = 0
    while True:
        try:
            i = values.index(value, start)
        except ValueError:
            return out
        out.append(i)
        start = i + 1


def _check_symbol_section(index: int, shndx: int, nsections: int) -> None:
    """Refuse symbol ``index`` if its section index names no section (``ElfError``)."""
    if shndx == SHN_XINDEX:
        raise ElfError(f"symbol [{index}] uses extended section indices (unsupported)")
    if nsections <= shndx < SHN_LORESERVE:
        raise ElfError(f"symbol [{index}] refers to section [{shndx}], which does not exist")


class ElfFile:
    """A parsed, bounds-checked ELF64 file. ``parse`` raises ``ElfError`` on anything malformed."""

    def __init__(self) -> None:
        self.data: memoryview = memoryview(b"")
        self.ei_class = ELFCLASS64
        self.ei_data = ELFDATA2LSB
        self.osabi = 0
        self.abiversion = 0
        self.e_type = 0
        self.e_machine = 0
        self.e_flags = 0
        self.e_shoff = 0
        self.e_shnum = 0
        self.e_shstrndx = 0
        self.sections: list[ElfSection] = []
        self._symbols: list[ElfSymbol] | None = None
        self._endian = "<"
        self.symtab_index: int | None = None
        self.relocations: dict[int, list[ElfRela]] = {}

    @property
    def symbols(self) -> list[ElfSymbol]:
        """Every symbol, index order. Decoded and checked (section index in range, name
        inside the string table, terminated, UTF-8) on first use, ``ElfError`` if one is
        bad: ``parse`` checks only the table's placement, so a loader that reads a few
        symbols (``find_symbols``) does not pay for all of them."""
        if self._symbols is None:
            self._symbols = self._decode_symbols()
        return self._symbols

    def find_symbols(self, names: Collection[str]) -> dict[str, ElfSymbol]:
        """The symbols called one of ``names`` (the last one of a name wins, as in a dict
        built from ``symbols``), each checked as ``symbols`` checks it, without decoding
        the others: only the string-table offsets where those names lie are matched."""
        if self._symbols is not None or self.symtab_index is None:
            return {s.name: s for s in self.symbols if s.name in names}
        symtab = self.sections[self.symtab_index]
        table = bytes(self.section_data(self.sections[symtab.link]))
        raw = self.data[symtab.offset : symtab.offset + symtab.size]
        # the answer depends on these bytes and nothing else (see ``cwasm.obj.memo``)
        key = (bytes(raw), table, len(self.sections), self._endian, tuple(names))
        found = FOUND_SYMBOLS.get(key)
        if found is None:
            found = self._find_symbols(names, raw, table)
            FOUND_SYMBOLS.put(key, found)
        return dict(found)

    def _find_symbols(
        self, names: Collection[str], raw: memoryview, table: bytes
    ) -> dict[str, ElfSymbol]:
        wanted: dict[int, str] = {}
        for name in names:
            needle = name.encode("utf-8") + b"\0"
            pos = table.find(needle)
            while pos >= 0:
                wanted[pos] = name
                pos = table.find(needle, pos + 1)
        found: dict[str, ElfSymbol] = {}
        if not wanted:
            return found
        sym = struct.Struct(self._endian + ELF64_SYM_FORMAT)
        # st_name is the first u32 of each entry: the column, read in one go
        if self._endian == _NATIVE:
            st_names = tuple(raw.cast("I")[:: ELF64_SYM_SIZE // 4])
        else:
            st_names = struct.unpack(f"{self._endian}{len(raw) // 4}I", raw)[:: ELF64_SYM_SIZE // 4]
        hits = sorted(
            i
            for offset in wanted
            for i in _indices(st_names, offset)  # usually one each
        )
        nsections = len(self.sections)
        for i in hits:
            st_name, st_info, st_other, st_shndx, st_value, st_size = sym.unpack_from(
                raw, i * ELF64_SYM_SIZE
            )
            _check_symbol_section(i, st_shndx, nsections)
            name = wanted[st_name]
            found[name] = ElfSymbol(
                name, st_value, st_size, st_info >> 4, st_info & 0xF, st_other, st_shndx
            )
        return found

    @property
    def big_endian(self) -> bool:
        return self.ei_data == ELFDATA2MSB

    def section(self, name: str) -> ElfSection | None:
        """The first section called ``name``, or None."""
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def section_data(self, sec: ElfSection) -> memoryview:
        """A view of the section's bytes in the file (empty for ``SHT_NOBITS``)."""
        if sec.sh_type == SHT_NOBITS:
            return memoryview(b"")
        return self.data[sec.offset : sec.offset + sec.size]

    @classmethod
    def parse(cls, data: Buffer) -> ElfFile:
        self = cls()
        try:
            view = memoryview(data)
        except TypeError:
            raise ElfError("ELF input must be a bytes-like object") from None
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        self.data = view
        size = len(view)

        if bytes(view[:4]) != ELF_MAGIC:
            raise ElfError("not an ELF file: missing the \\x7fELF magic number")
        if size < ELF64_EHDR_SIZE:
            raise ElfError(
                f"file too small for an ELF64 header ({size} bytes, need {ELF64_EHDR_SIZE})"
            )
        ident = bytes(view[:16])
        self.ei_class, self.ei_data = ident[4], ident[5]
        self.osabi, self.abiversion = ident[7], ident[8]
        if self.ei_class == ELFCLASS32:
            raise ElfError("unsupported ELF class: ELF32 (artifacts are always ELF64)")
        if self.ei_class != ELFCLASS64:
            raise ElfError(f"invalid ELF class {self.ei_class}")
        if self.ei_data not in (ELFDATA2LSB, ELFDATA2MSB):
            raise ElfError(f"invalid ELF data encoding {self.ei_data}")
        if ident[6] != EV_CURRENT:
            raise ElfError(f"unsupported ELF identification version {ident[6]}")
        e = ">" if self.big_endian else "<"
        (
            self.e_type,
            self.e_machine,
            e_version,
            _e_entry,
            _e_phoff,
            self.e_shoff,
            self.e_flags,
            _e_ehsize,
            _e_phentsize,
            _e_phnum,
            e_shentsize,
            e_shnum,
            e_shstrndx,
        ) = struct.unpack_from(e + ELF64_EHDR_TAIL_FORMAT, view, 16)
        if e_version != EV_CURRENT:
            raise ElfError(f"unsupported ELF version {e_version}")

        shdr = struct.Struct(e + ELF64_SHDR_FORMAT)
        shoff = self.e_shoff
        shnum = e_shnum
        shstrndx = e_shstrndx
        if shoff == 0:
            if shnum != 0:
                raise ElfError(f"{shnum} section headers declared but the table offset is 0")
        else:
            if e_shentsize != ELF64_SHDR_SIZE:
                raise ElfError(f"section header size is {e_shentsize}, expected 64")
            if shoff % 8:
                raise ElfError(f"section header table offset {shoff:#x} is not 8-byte aligned")
            if shoff + ELF64_SHDR_SIZE > size:
                raise ElfError(
                    f"section header table at {shoff:#x} lies outside the file ({size:#x} bytes)"
                )
            if shnum == 0 or shstrndx == SHN_XINDEX:
                # Extended numbering: the real values live in section header 0.
                sh0 = shdr.unpack_from(view, shoff)
                if shnum == 0:
                    shnum = sh0[5]
                if shstrndx == SHN_XINDEX:
                    shstrndx = sh0[6]
            if shoff + shnum * ELF64_SHDR_SIZE > size:
                raise ElfError(
                    f"section header table ({shnum} entries at {shoff:#x}) extends past the "
                    f"end of the file ({size:#x} bytes)"
                )
        self.e_shnum = shnum
        self.e_shstrndx = shstrndx

        raw = list(shdr.iter_unpack(view[shoff : shoff + shnum * ELF64_SHDR_SIZE]))
        sections = self._sections_of_regular_file(raw, view, shstrndx)
        if sections is None:  # something is wrong: the checks below say what
            sections = self._checked_sections(raw, view, shstrndx)
        self.sections = sections

        self._endian = e
        self._check_symbol_table()
        self._parse_relocations(e)
        return self

    @staticmethod
    def _sections_of_regular_file(
        raw: list[tuple[int, ...]], view: memoryview, shstrndx: int
    ) -> list[ElfSection] | None:
        """The sections, in one pass, if every header passes ``_checked_sections``'s checks
        and every name starts a string of an ASCII section name table; None otherwise (for
        ``_checked_sections`` to name the problem)."""
        shnum = len(raw)
        if not shnum:
            return []
        if not 0 < shstrndx < shnum or raw[shstrndx][1] != SHT_STRTAB:
            return None
        size = len(view)
        str_hdr = raw[shstrndx]
        names = _string_starts(bytes(view[str_hdr[4] : str_hdr[4] + str_hdr[5]]))
        sections: list[ElfSection] = []
        append = sections.append
        new = tuple.__new__
        for i, (n, sh_type, flags, _a, offset, sec_size, link, info, align, entsize) in enumerate(
            raw
        ):
            # the null section's name is not read
            name = "" if i == 0 and sh_type == SHT_NULL else names.get(n)
            if name is None:
                return None
            if align & (align - 1) or (
                sh_type != SHT_NOBITS
                and (offset + sec_size > size or sec_size and align > 1 and offset % align)
            ):
                return None
            append(
                new(
                    ElfSection,
                    (i, name, sh_type, flags, offset, sec_size, align, link, info, entsize),
                )
            )
        return sections

    @staticmethod
    def _checked_sections(
        raw: list[tuple[int, ...]], view: memoryview, shstrndx: int
    ) -> list[ElfSection]:
        """The sections, each header checked in turn (``ElfError`` for the first problem)."""
        size = len(view)
        shnum = len(raw)
        for i, (_n, sh_type, _f, _a, offset, sec_size, _l, _i, align, _es) in enumerate(raw):
            if sh_type != SHT_NOBITS and offset + sec_size > size:
                raise ElfError(
                    f"section [{i}] data (offset {offset:#x}, size {sec_size:#x}) extends past "
                    f"the end of the file ({size:#x} bytes)"
                )
            if align & (align - 1):
                raise ElfError(f"section [{i}] alignment {align:#x} is not a power of two")

        names: list[str] = [""] * shnum
        if shnum:
            if not 0 < shstrndx < shnum:
                raise ElfError(f"section name table index {shstrndx} is out of range")
            str_hdr = raw[shstrndx]
            if str_hdr[1] != SHT_STRTAB:
                raise ElfError(f"section name table [{shstrndx}] is not a string table")
            table = bytes(view[str_hdr[4] : str_hdr[4] + str_hdr[5]])
            for i, fields in enumerate(raw):
                if i == 0 and fields[1] == SHT_NULL:
                    continue
                names[i] = _cstring(table, fields[0], "section", i)

        sections: list[ElfSection] = []
        for i, f in enumerate(raw):
            sec = ElfSection(i, names[i], f[1], f[2], f[4], f[5], f[8], f[6], f[7], f[9])
            if sec.sh_type != SHT_NOBITS and sec.size and sec.addralign > 1:
                if sec.offset % sec.addralign:
                    raise ElfError(f"section `{sec.name}` isn't aligned to {sec.addralign:#x}")
            sections.append(sec)

        return sections

    def _check_symbol_table(self) -> None:
        """The symbol table's placement: at most one, whole entries, a string table link."""
        symtabs = [s for s in self.sections if s.sh_type == SHT_SYMTAB]
        if not symtabs:
            return
        if len(symtabs) > 1:
            raise ElfError("more than one symbol table")
        symtab = symtabs[0]
        self.symtab_index = symtab.index
        if symtab.entsize not in (0, ELF64_SYM_SIZE):
            raise ElfError(f"symbol table entry size is {symtab.entsize}, expected 24")
        if symtab.size % ELF64_SYM_SIZE:
            raise ElfError(f"symbol table size {symtab.size:#x} is not a multiple of 24")
        if not 0 < symtab.link < len(self.sections):
            raise ElfError(f"symbol table string table index {symtab.link} is out of range")
        strtab = self.sections[symtab.link]
        if strtab.sh_type != SHT_STRTAB:
            raise ElfError(f"symbol table link [{symtab.link}] is not a string table")
        if symtab.info > symtab.size // ELF64_SYM_SIZE:
            raise ElfError(
                f"symbol table claims {symtab.info} locals but has "
                f"{symtab.size // ELF64_SYM_SIZE} symbols"
            )

    def _decode_symbols(self) -> list[ElfSymbol]:
        """Every symbol, each checked (``symbols``)."""
        symbols: list[ElfSymbol] = []
        if self.symtab_index is None:
            return symbols
        symtab = self.sections[self.symtab_index]
        strtab = self.sections[symtab.link]
        names = bytes(self.section_data(strtab))
        starts = _string_starts(names)
        sym = struct.Struct(self._endian + ELF64_SYM_FORMAT)
        raw = self.data[symtab.offset : symtab.offset + symtab.size]
        nsections = len(self.sections)
        append = symbols.append
        new = tuple.__new__
        for i, (st_name, st_info, st_other, st_shndx, st_value, st_size) in enumerate(
            sym.iter_unpack(raw)
        ):
            if st_shndx >= nsections and st_shndx < SHN_LORESERVE or st_shndx == SHN_XINDEX:
                _check_symbol_section(i, st_shndx, nsections)
            name = starts.get(st_name)
            if name is None:  # inside another string, or bad: the checked path
                name = _cstring(names, st_name, "symbol", i) if st_name else ""
            append(
                new(
                    ElfSymbol,
                    (name, st_value, st_size, st_info >> 4, st_info & 0xF, st_other, st_shndx),
                )
            )
        return symbols

    def _parse_relocations(self, e: str) -> None:
        for sec in self.sections:
            if sec.sh_type not in (SHT_RELA, SHT_REL):
                continue
            rela = sec.sh_type == SHT_RELA
            entsize = ELF64_RELA_SIZE if rela else ELF64_REL_SIZE
            if sec.entsize not in (0, entsize):
                raise ElfError(
                    f"relocation section `{sec.name}` entry size is {sec.entsize}, expected {entsize}"
                )
            if sec.size % entsize:
                raise ElfError(
                    f"relocation section `{sec.name}` size {sec.size:#x} is not a multiple "
                    f"of {entsize}"
                )
            if self.symtab_index is None or sec.link != self.symtab_index:
                raise ElfError(f"relocation section `{sec.name}` does not link to the symbol table")
            if not 0 < sec.info < len(self.sections):
                raise ElfError(
                    f"relocation section `{sec.name}` targets section [{sec.info}], "
                    "which does not exist"
                )
            fmt = struct.Struct(e + (ELF64_RELA_FORMAT if rela else ELF64_REL_FORMAT))
            out = self.relocations.setdefault(sec.info, [])
            for i in range(sec.size // entsize):
                fields = fmt.unpack_from(self.data, sec.offset + i * entsize)
                r_offset, r_info = fields[0], fields[1]
                addend = fields[2] if rela else 0
                sym = r_info >> 32
                if sym >= len(self.symbols):
                    raise ElfError(
                        f"relocation [{i}] of `{sec.name}` refers to symbol {sym}, "
                        "which does not exist"
                    )
                out.append(ElfRela(r_offset, sym, r_info & 0xFFFFFFFF, addend))
