"""ELF64 relocatable files: a writer laid out as the object crate 0.36.5 does, and a checked reader.

The writer reproduces the exact byte layout of Wasmtime v28 artifacts (FORMAT.md §1.3):
sections in creation order, each at its alignment; then ``.symtab`` (null symbol, locals,
globals), ``.strtab``, relocation data, ``.shstrtab`` and the section header table.

The reader never trusts the input: every offset, size, index and string is bounds-checked,
and any problem raises ``ElfError`` (an ``ArtifactError``) instead of ``IndexError`` or
``struct.error``.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field

from cwasm.obj.constants import (
    EF_WASMTIME_MODULE,
    ELF64_EHDR_SIZE,
    ELF64_REL_SIZE,
    ELF64_RELA_SIZE,
    ELF64_SHDR_SIZE,
    ELF64_SYM_SIZE,
    ELF_MAGIC,
    ELFCLASS32,
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
    SHT_REL,
    SHT_RELA,
    SHT_STRTAB,
    SHT_SYMTAB,
    STB_LOCAL,
    STT_NOTYPE,
    STV_DEFAULT,
)
from cwasm.obj.errors import ElfError

Buffer = bytes | bytearray | memoryview | mmap.mmap

# e_ident (16 bytes) is handled separately; these are the fields that follow it.
_EHDR_TAIL = "HHIQQQIHHHHHH"
_SHDR = "IIQQQQIIQQ"
_SYM = "IBBHQQ"
_RELA = "QQq"
_REL = "QQ"


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
            e + _EHDR_TAIL,
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

        sym_fmt = struct.Struct(e + _SYM)
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

        rela_fmt = struct.Struct(e + _RELA)
        for sec in sections:
            pos = sec.rela_offset
            for r_offset, symbol, r_type, addend in sec.relocations:
                r_info = (sym_index[symbol] << 32) | (r_type & 0xFFFFFFFF)
                rela_fmt.pack_into(out, pos, r_offset, r_info, addend)
                pos += ELF64_RELA_SIZE
        out[shstrtab_offset : shstrtab_offset + len(shstrtab_data)] = shstrtab_data

        shdr = struct.Struct(e + _SHDR)

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


# ---------------------------------------------------------------------------
# Reader


@dataclass(frozen=True)
class ElfSection:
    index: int
    name: str
    sh_type: int
    flags: int
    offset: int
    size: int
    addralign: int
    link: int
    info: int
    entsize: int


@dataclass(frozen=True)
class ElfSymbol:
    name: str
    value: int
    size: int
    bind: int
    type: int
    other: int
    shndx: int


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
        self.symbols: list[ElfSymbol] = []
        self.symtab_index: int | None = None
        self.relocations: dict[int, list[ElfRela]] = {}

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
        ) = struct.unpack_from(e + _EHDR_TAIL, view, 16)
        if e_version != EV_CURRENT:
            raise ElfError(f"unsupported ELF version {e_version}")

        shdr = struct.Struct(e + _SHDR)
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

        raw = [shdr.unpack_from(view, shoff + i * ELF64_SHDR_SIZE) for i in range(shnum)]
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

        for i, f in enumerate(raw):
            sec = ElfSection(i, names[i], f[1], f[2], f[4], f[5], f[8], f[6], f[7], f[9])
            if sec.sh_type != SHT_NOBITS and sec.size and sec.addralign > 1:
                if sec.offset % sec.addralign:
                    raise ElfError(f"section `{sec.name}` isn't aligned to {sec.addralign:#x}")
            self.sections.append(sec)

        self._parse_symbols(e)
        self._parse_relocations(e)
        return self

    def _parse_symbols(self, e: str) -> None:
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
        names = bytes(self.section_data(strtab))
        count = symtab.size // ELF64_SYM_SIZE
        if symtab.info > count:
            raise ElfError(f"symbol table claims {symtab.info} locals but has {count} symbols")
        sym = struct.Struct(e + _SYM)
        raw = self.data[symtab.offset : symtab.offset + symtab.size]
        nsections = len(self.sections)
        append = self.symbols.append
        for i, (st_name, st_info, st_other, st_shndx, st_value, st_size) in enumerate(
            sym.iter_unpack(raw)
        ):
            if st_shndx >= nsections and st_shndx < SHN_LORESERVE or st_shndx == SHN_XINDEX:
                if st_shndx == SHN_XINDEX:
                    raise ElfError(f"symbol [{i}] uses extended section indices (unsupported)")
                raise ElfError(f"symbol [{i}] refers to section [{st_shndx}], which does not exist")
            name = _cstring(names, st_name, "symbol", i) if st_name else ""
            append(
                ElfSymbol(name, st_value, st_size, st_info >> 4, st_info & 0xF, st_other, st_shndx)
            )

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
            fmt = struct.Struct(e + (_RELA if rela else _REL))
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
