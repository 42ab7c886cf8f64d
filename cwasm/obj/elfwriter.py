"""ELF64 relocatable files, written as the object crate 0.36.5 does (docs/artifact-format.md §1).

The writer reproduces the exact byte layout of Wasmtime v28 artifacts: sections in
creation order, each at its alignment; then ``.symtab`` (null symbol, locals, globals),
``.strtab``, relocation data, ``.shstrtab`` and the section header table. ``elf`` reads
them back.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from cwasm.obj.constants import (
    EF_WASMTIME_MODULE,
    ELF64_EHDR_SIZE,
    ELF64_EHDR_TAIL_FORMAT,
    ELF64_RELA_FORMAT,
    ELF64_RELA_SIZE,
    ELF64_SHDR_FORMAT,
    ELF64_SHDR_SIZE,
    ELF64_SYM_FORMAT,
    ELF64_SYM_SIZE,
    ELF_MAGIC,
    ELFCLASS64,
    ELFDATA2LSB,
    ELFDATA2MSB,
    ELFOSABI_WASMTIME,
    ET_REL,
    EV_CURRENT,
    SHF_INFO_LINK,
    SHN_LORESERVE,
    SHN_UNDEF,
    SHN_XINDEX,
    SHT_NOBITS,
    SHT_NULL,
    SHT_PROGBITS,
    SHT_RELA,
    SHT_STRTAB,
    SHT_SYMTAB,
    STB_LOCAL,
    STT_NOTYPE,
    STV_DEFAULT,
)


def _align_up(value: int, align: int) -> int:
    if align <= 1:
        return value
    return (value + align - 1) & ~(align - 1)


def _check_align(align: int) -> None:
    if align < 1 or align & (align - 1):
        raise ValueError(f"alignment {align} is not a power of two")


# ---------------------------------------------------------------------------
# Writer


class _StringTable:
    """A string table built like the object crate's: reversed-bytes sort and tail merging."""

    def __init__(self) -> None:
        self._strings: dict[bytes, int] = {}

    def add(self, s: bytes) -> None:
        if b"\0" in s:
            raise ValueError(f"ELF string {s!r} contains a NUL byte")
        self._strings.setdefault(s, 0)

    def build(self) -> bytes:
        out = bytearray(b"\0")
        previous = b""
        for s in sorted(self._strings, key=lambda b: b[::-1], reverse=True):
            if previous.endswith(s):
                self._strings[s] = len(out) - len(s) - 1
            else:
                self._strings[s] = len(out)
                out += s
                out.append(0)
                previous = s
        return bytes(out)

    def offset(self, s: bytes) -> int:
        return self._strings[s]


@dataclass
class _WSection:
    name: bytes
    sh_type: int
    flags: int
    entsize: int
    link: int
    info: int
    align: int = 1
    data: bytearray = field(default_factory=bytearray)
    relocations: list[tuple[int, int, int, int]] = field(default_factory=list)
    index: int = 0
    rela_index: int = 0
    offset: int = 0
    rela_offset: int = 0


@dataclass
class _WSymbol:
    name: bytes
    value: int
    size: int
    bind: int
    type: int
    other: int
    section: int | None
    shndx: int


class ElfWriter:
    """Builds an ELF64 ``ET_REL`` file section by section, then emits it in one go.

    Section and symbol handles are the integers returned by ``add_section`` and
    ``add_symbol``; ELF indices are only assigned by ``emit``.
    """

    def __init__(
        self,
        e_machine: int,
        *,
        e_flags: int = EF_WASMTIME_MODULE,
        big_endian: bool = False,
        osabi: int = ELFOSABI_WASMTIME,
        abiversion: int = 0,
        e_type: int = ET_REL,
    ) -> None:
        self.e_machine = e_machine
        self.e_flags = e_flags
        self.big_endian = big_endian
        self.osabi = osabi
        self.abiversion = abiversion
        self.e_type = e_type
        self._sections: list[_WSection] = []
        self._symbols: list[_WSymbol] = []
        self._offsets: list[int] | None = None

    # -- sections

    def add_section(
        self,
        name: str,
        sh_type: int = SHT_PROGBITS,
        flags: int = 0,
        *,
        entsize: int = 0,
        link: int = 0,
        info: int = 0,
    ) -> int:
        """Create an empty section (alignment 1) and return its handle."""
        self._sections.append(_WSection(name.encode("utf-8"), sh_type, flags, entsize, link, info))
        return len(self._sections) - 1

    def append_section_data(self, section: int, data: bytes | bytearray, align: int) -> int:
        """Append ``data`` at the next multiple of ``align``; returns its offset in the section.

        The section alignment becomes ``max(current, align)`` (the object crate's rule).
        """
        _check_align(align)
        sec = self._sections[section]
        sec.align = max(sec.align, align)
        offset = _align_up(len(sec.data), align)
        if offset > len(sec.data):
            sec.data.extend(bytes(offset - len(sec.data)))
        sec.data += data
        return offset

    def set_section_data(self, section: int, data: bytes | bytearray, align: int) -> None:
        """Replace the section's data and alignment outright."""
        _check_align(align)
        sec = self._sections[section]
        sec.data = bytearray(data)
        sec.align = align

    def section_size(self, section: int) -> int:
        return len(self._sections[section].data)

    def section_align(self, section: int) -> int:
        return self._sections[section].align

    # -- symbols and relocations

    def add_symbol(
        self,
        name: str,
        value: int = 0,
        size: int = 0,
        *,
        bind: int = STB_LOCAL,
        type: int = STT_NOTYPE,
        other: int = STV_DEFAULT,
        section: int | None = None,
        shndx: int = SHN_UNDEF,
    ) -> int:
        """Add a symbol defined in ``section`` (a handle) or with a raw ``shndx``; returns its handle."""
        if section is not None and not 0 <= section < len(self._sections):
            raise ValueError(f"no section with handle {section}")
        self._symbols.append(
            _WSymbol(name.encode("utf-8"), value, size, bind, type, other, section, shndx)
        )
        return len(self._symbols) - 1

    def add_relocation(
        self, section: int, offset: int, symbol: int, r_type: int, addend: int = 0
    ) -> None:
        """Add an ``Elf64_Rela`` entry to ``section`` (emitted as ``.rela<name>``)."""
        if not 0 <= symbol < len(self._symbols):
            raise ValueError(f"no symbol with handle {symbol}")
        self._sections[section].relocations.append((offset, symbol, r_type, addend))

    # -- output

    def section_file_offset(self, section: int) -> int:
        """File offset of a section's data in the last ``emit`` output."""
        if self._offsets is None:
            raise RuntimeError("section_file_offset() is only known after emit()")
        return self._offsets[section]

    def emit(self) -> bytes:
        """Lay out and serialize the whole file."""
        e = ">" if self.big_endian else "<"
        sections = self._sections
        shstrtab = _StringTable()
        strtab = _StringTable()

        # Section indices: each user section, with its .rela section right after it.
        index = 1
        for sec in sections:
            shstrtab.add(sec.name)
            sec.index = index
            index += 1
            if sec.relocations:
                shstrtab.add(b".rela" + sec.name)
                sec.rela_index = index
                index += 1
        symtab_index, strtab_index, shstrtab_index = index, index + 1, index + 2
        shnum = index + 3
        for name in (b".symtab", b".strtab", b".shstrtab"):
            shstrtab.add(name)

        cursor = ELF64_EHDR_SIZE
        for sec in sections:
            if sec.sh_type == SHT_NOBITS:
                sec.offset = _align_up(cursor, sec.align)
                continue
            cursor = _align_up(cursor, sec.align)
            sec.offset = cursor
            cursor += len(sec.data)

        # Symbol order: null, locals in creation order, then everything else.
        order = [i for i, s in enumerate(self._symbols) if s.bind == STB_LOCAL]
        num_locals = len(order) + 1
        order += [i for i, s in enumerate(self._symbols) if s.bind != STB_LOCAL]
        sym_index = {handle: pos + 1 for pos, handle in enumerate(order)}
        for s in self._symbols:
            if s.name:
                strtab.add(s.name)

        cursor = _align_up(cursor, 8)
        symtab_offset = cursor
        cursor += ELF64_SYM_SIZE * (len(order) + 1)
        strtab_data = strtab.build()
        strtab_offset = cursor
        cursor += len(strtab_data)
        for sec in sections:
            if sec.relocations:
                cursor = _align_up(cursor, 8)
                sec.rela_offset = cursor
                cursor += ELF64_RELA_SIZE * len(sec.relocations)
        shstrtab_data = shstrtab.build()
        shstrtab_offset = cursor
        cursor += len(shstrtab_data)
        cursor = _align_up(cursor, 8)
        shoff = cursor
        cursor += ELF64_SHDR_SIZE * shnum

        out = bytearray(cursor)
        ident = ELF_MAGIC + bytes(
            [
                ELFCLASS64,
                ELFDATA2MSB if self.big_endian else ELFDATA2LSB,
                EV_CURRENT,
                self.osabi,
                self.abiversion,
            ]
        )
        e_shnum = shnum if shnum < SHN_LORESERVE else 0
        e_shstrndx = shstrtab_index if shstrtab_index < SHN_LORESERVE else SHN_XINDEX
        out[0 : len(ident)] = ident
        struct.pack_into(
            e + ELF64_EHDR_TAIL_FORMAT,
            out,
            16,
            self.e_type,
            self.e_machine,
            EV_CURRENT,
            0,
            0,
            shoff,
            self.e_flags,
            ELF64_EHDR_SIZE,
            0,
            0,
            ELF64_SHDR_SIZE,
            e_shnum,
            e_shstrndx,
        )
        for sec in sections:
            if sec.sh_type != SHT_NOBITS:
                out[sec.offset : sec.offset + len(sec.data)] = sec.data

        sym_fmt = struct.Struct(e + ELF64_SYM_FORMAT)
        pos = symtab_offset + ELF64_SYM_SIZE
        for handle in order:
            s = self._symbols[handle]
            if s.section is not None:
                shndx = sections[s.section].index
            else:
                shndx = s.shndx
            if SHN_LORESERVE <= shndx < 0x10000 and s.section is not None:
                raise ValueError("symbol section index needs SHT_SYMTAB_SHNDX (unsupported)")
            st_info = (s.bind << 4) | (s.type & 0xF)
            name_off = strtab.offset(s.name) if s.name else 0
            sym_fmt.pack_into(out, pos, name_off, st_info, s.other, shndx, s.value, s.size)
            pos += ELF64_SYM_SIZE
        out[strtab_offset : strtab_offset + len(strtab_data)] = strtab_data

        rela_fmt = struct.Struct(e + ELF64_RELA_FORMAT)
        for sec in sections:
            pos = sec.rela_offset
            for r_offset, symbol, r_type, addend in sec.relocations:
                r_info = (sym_index[symbol] << 32) | (r_type & 0xFFFFFFFF)
                rela_fmt.pack_into(out, pos, r_offset, r_info, addend)
                pos += ELF64_RELA_SIZE
        out[shstrtab_offset : shstrtab_offset + len(shstrtab_data)] = shstrtab_data

        shdr = struct.Struct(e + ELF64_SHDR_FORMAT)

        def header(idx: int, *fields: int) -> None:
            shdr.pack_into(out, shoff + idx * ELF64_SHDR_SIZE, *fields)

        header(
            0,
            0,
            SHT_NULL,
            0,
            0,
            0,
            shnum if shnum >= SHN_LORESERVE else 0,
            shstrtab_index if shstrtab_index >= SHN_LORESERVE else 0,
            0,
            0,
            0,
        )
        for sec in sections:
            header(
                sec.index,
                shstrtab.offset(sec.name),
                sec.sh_type,
                sec.flags,
                0,
                sec.offset,
                len(sec.data),
                sec.link,
                sec.info,
                sec.align,
                sec.entsize,
            )
            if sec.relocations:
                header(
                    sec.rela_index,
                    shstrtab.offset(b".rela" + sec.name),
                    SHT_RELA,
                    SHF_INFO_LINK,
                    0,
                    sec.rela_offset,
                    ELF64_RELA_SIZE * len(sec.relocations),
                    symtab_index,
                    sec.index,
                    8,
                    ELF64_RELA_SIZE,
                )
        header(
            symtab_index,
            shstrtab.offset(b".symtab"),
            SHT_SYMTAB,
            0,
            0,
            symtab_offset,
            ELF64_SYM_SIZE * (len(order) + 1),
            strtab_index,
            num_locals,
            8,
            ELF64_SYM_SIZE,
        )
        header(
            strtab_index,
            shstrtab.offset(b".strtab"),
            SHT_STRTAB,
            0,
            0,
            strtab_offset,
            len(strtab_data),
            0,
            0,
            1,
            0,
        )
        header(
            shstrtab_index,
            shstrtab.offset(b".shstrtab"),
            SHT_STRTAB,
            0,
            0,
            shstrtab_offset,
            len(shstrtab_data),
            0,
            0,
            1,
            0,
        )
        self._offsets = [sec.offset for sec in sections]
        return bytes(out)
