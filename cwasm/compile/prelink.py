"""Pre-linking: turn LLVM's relocatable ELF object into one position-independent code blob.

LLVM emits code (``.text``), constant pools (``.rodata.cst*``) and jump tables
(``.rodata``) as separate sections joined by PC-relative relocations. This module
lays those sections out one after another (code first), resolves every relocation
against that layout, and returns the blob together with the symbol locations and
the DWARF line rows (whose addresses are blob offsets). The blob then needs no
load-time fixups: the loader copies it to any page-aligned address and runs it.

Writable data (``.data``, ``.bss``) and references to undefined symbols are
rejected: compiled code keeps all state in the vmctx and reaches everything else
through pointers stored there.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from cwasm.errors import CwasmError
from cwasm.obj.constants import (
    EM_AARCH64,
    EM_X86_64,
    ET_REL,
    R_AARCH64_ABS32,
    R_AARCH64_ADD_ABS_LO12_NC,
    R_AARCH64_ADR_PREL_LO21,
    R_AARCH64_ADR_PREL_PG_HI21,
    R_AARCH64_CALL26,
    R_AARCH64_CONDBR19,
    R_AARCH64_JUMP26,
    R_AARCH64_LDST8_ABS_LO12_NC,
    R_AARCH64_LDST16_ABS_LO12_NC,
    R_AARCH64_LDST32_ABS_LO12_NC,
    R_AARCH64_LDST64_ABS_LO12_NC,
    R_AARCH64_LDST128_ABS_LO12_NC,
    R_AARCH64_PREL16,
    R_AARCH64_PREL32,
    R_AARCH64_PREL64,
    R_AARCH64_TSTBR14,
    R_X86_64_32,
    R_X86_64_32S,
    R_X86_64_PC32,
    R_X86_64_PC64,
    R_X86_64_PLT32,
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHF_WRITE,
    SHN_ABS,
    SHN_UNDEF,
    SHT_NOBITS,
    STB_LOCAL,
    STT_FUNC,
    STT_OBJECT,
    STT_SECTION,
)
from cwasm.obj.elf import ElfFile, ElfSection
from cwasm.obj.errors import ElfError

__all__ = [
    "EM_AARCH64",
    "EM_X86_64",
    "LineRow",
    "LinkedCode",
    "PrelinkError",
    "decode_line_program",
    "parse_object",
    "prelink",
]


class PrelinkError(CwasmError):
    """The object file holds something a position-independent blob cannot contain."""


def parse_object(data: bytes) -> ElfFile:
    """Read LLVM's output: a little-endian ELF64 relocatable object (``ET_REL``)."""
    try:
        obj = ElfFile.parse(data)
    except ElfError as e:
        raise PrelinkError(f"LLVM did not produce a readable ELF64 object: {e}") from None
    if obj.big_endian or obj.e_type != ET_REL:
        raise PrelinkError("LLVM did not produce a little-endian ELF64 relocatable object")
    return obj


def _contents(obj: ElfFile, s: ElfSection) -> bytes:
    return bytes(obj.section_data(s))


@dataclass(slots=True)
class LineRow:
    """One row of the DWARF line table: from ``address`` on, code is at ``line:column``."""

    address: int
    line: int
    column: int
    end_sequence: bool


@dataclass(slots=True)
class LinkedCode:
    """The pre-linked blob and what was learnt while building it."""

    text: bytes
    #: symbol name -> (blob offset, size) for every function symbol
    functions: dict[str, tuple[int, int]]
    #: DWARF line rows with blob-offset addresses, in table order
    rows: list[LineRow]
    #: size of the code part (the first sections, all executable)
    code_size: int
    #: ELF machine of the object (EM_X86_64 or EM_AARCH64)
    machine: int
    #: the unwind tables of every object, one after another, without a terminator; their
    #: pointer fields are zero (``cwasm.obj.eh_frame.place`` fills them in)
    eh_frame: bytes = b""
    #: (field offset in ``eh_frame``, target offset in the blob, field width) of every
    #: pointer field
    eh_fixups: tuple[tuple[int, int, int], ...] = ()


def _align(n: int, a: int) -> int:
    return n if a <= 1 else (n + a - 1) // a * a


def prelink(obj: ElfFile, *more: ElfFile) -> LinkedCode:
    """Lay out the allocated sections of ``obj`` (and of ``more`` objects, compiled
    separately from parts of the same module) and resolve their relocations.

    The executable sections of every object come first, in object order (each
    object's ``.text`` leading its own), then the read-only data of every object in
    the same order. A symbol one object leaves undefined is resolved against the
    global symbols the others define; the line rows of every object follow one another.
    """
    objs = (obj, *more)
    # (object number, section index) -> blob offset
    placed: dict[tuple[int, int], int] = {}
    blob = bytearray()
    allocs: list[list[ElfSection]] = []
    for o in objs:
        alloc = [
            s
            for s in o.sections
            if s.flags & SHF_ALLOC
            and s.size > 0
            and s.name != ".eh_frame"
            and not s.name.startswith(_DW_REF)
        ]
        for s in alloc:
            if s.flags & SHF_WRITE or s.sh_type == SHT_NOBITS:
                raise PrelinkError(f"compiled code holds writable data (section {s.name!r})")
        # executable sections first, ".text" leading
        alloc.sort(key=lambda s: (s.name != ".text", not s.flags & SHF_EXECINSTR, s.index))
        allocs.append(alloc)
    code_size = 0
    for executable in (True, False):
        for n, alloc in enumerate(allocs):
            for s in alloc:
                if bool(s.flags & SHF_EXECINSTR) != executable:
                    continue
                start = _align(len(blob), s.addralign)
                blob += bytes(start - len(blob))
                placed[n, s.index] = start
                blob += _contents(objs[n], s)
                if executable:
                    code_size = len(blob)

    machine = obj.e_machine
    if machine not in (EM_X86_64, EM_AARCH64):
        raise PrelinkError(f"no pre-linker for ELF machine {machine}")
    if any(o.e_machine != machine for o in more):
        raise PrelinkError("the objects to pre-link are for different machines")
    exported: dict[str, int] = {}
    if more:
        for n, o in enumerate(objs):
            for sym in o.symbols:
                if sym.bind != STB_LOCAL and (n, sym.shndx) in placed and sym.name:
                    exported[sym.name] = placed[n, sym.shndx] + sym.value

    def symbol_address(n: int, sym_index: int) -> int:
        sym = objs[n].symbols[sym_index]
        if sym.shndx == SHN_UNDEF:
            if sym.name in exported:
                return exported[sym.name]
            raise PrelinkError(f"compiled code references the undefined symbol {sym.name!r}")
        if sym.shndx == SHN_ABS:
            return sym.value
        if (n, sym.shndx) not in placed:
            raise PrelinkError(f"compiled code references {sym.name!r} outside the code blob")
        return placed[n, sym.shndx] + sym.value

    apply = _x86_64 if machine == EM_X86_64 else _aarch64
    functions: dict[str, tuple[int, int]] = {}
    rows: list[LineRow] = []
    for n, (o, alloc) in enumerate(zip(objs, allocs, strict=True)):
        for s in alloc:
            for rel in o.relocations.get(s.index, ()):
                p = placed[n, s.index] + rel.offset
                target = symbol_address(n, rel.sym) + rel.addend
                apply(blob, p, rel.type, target, o.symbols[rel.sym].name)
        for fsym in o.symbols:
            if fsym.type in (STT_FUNC, STT_OBJECT) and (n, fsym.shndx) in placed:
                functions[fsym.name] = (placed[n, fsym.shndx] + fsym.value, fsym.size)
        line_sec = o.section(".debug_line")
        if line_sec is not None:
            data = bytearray(_contents(o, line_sec))
            for rel in o.relocations.get(line_sec.index, ()):
                lsym = o.symbols[rel.sym]
                base = placed.get((n, lsym.shndx), 0) if lsym.shndx != SHN_UNDEF else 0
                value = base + (0 if lsym.type == STT_SECTION else lsym.value) + rel.addend
                width = 8 if _RELOC_WIDTH.get((machine, rel.type), 8) == 8 else 4
                data[rel.offset : rel.offset + width] = value.to_bytes(
                    width, "little", signed=False
                )
            rows.extend(decode_line_program(bytes(data)))
    eh_frame = bytearray()
    eh_fixups: list[tuple[int, int, int]] = []
    for n, o in enumerate(objs):
        _merge_eh_frame(o, n, symbol_address, eh_frame, eh_fixups)
    return LinkedCode(
        bytes(blob), functions, rows, code_size, machine, bytes(eh_frame), tuple(eh_fixups)
    )


#: the sections LLVM gives the personality routine's indirect pointer (writable data)
_DW_REF = ".data.DW.ref."
#: the PC-relative relocations an ``.eh_frame`` holds, and their widths
_EH_PCREL = {
    (EM_X86_64, R_X86_64_PC32): 4,
    (EM_X86_64, R_X86_64_PC64): 8,
    (EM_AARCH64, R_AARCH64_PREL32): 4,
    (EM_AARCH64, R_AARCH64_PREL64): 8,
}


def _merge_eh_frame(
    o: ElfFile,
    n: int,
    symbol_address: Callable[[int, int], int],
    out: bytearray,
    fixups: list[tuple[int, int, int]],
) -> None:
    """Append object ``n``'s ``.eh_frame`` records to ``out`` (their pointer fields
    zeroed) and their fixups. The personality pointer LLVM makes indirect (through a
    ``DW.ref.`` data word) is made direct: the routine is in the blob too."""
    sec = o.section(".eh_frame")
    if sec is None or sec.size == 0:
        return
    base = len(out)
    data = bytearray(_contents(o, sec))
    # a DW.ref. section -> the symbol its data word points to
    dw_ref: dict[int, int] = {}
    for s in o.sections:
        if s.name.startswith(_DW_REF):
            for rel in o.relocations.get(s.index, ()):
                dw_ref[s.index] = rel.sym
    for rel in o.relocations.get(sec.index, ()):
        width = _EH_PCREL.get((o.e_machine, rel.type), 0)
        if not width or rel.offset + width > len(data):
            raise PrelinkError(f"unsupported relocation type {rel.type} in `.eh_frame`")
        sym = o.symbols[rel.sym]
        target_sym = dw_ref.get(sym.shndx, rel.sym)
        # S + A - P: the field itself is P, so S + A is the target (for the
        # personality, the routine the DW.ref. word holds)
        target = symbol_address(n, target_sym) + (rel.addend if target_sym == rel.sym else 0)
        data[rel.offset : rel.offset + width] = bytes(width)
        fixups.append((base + rel.offset, target, width))
    _direct_personality(data)
    out += data


def _direct_personality(data: bytearray) -> None:
    """Turn every CIE's indirect personality pointer encoding into a direct one."""
    pos = 0
    while pos + 8 <= len(data):
        length, ident = struct.unpack_from("<II", data, pos)
        if length == 0 or length == 0xFFFFFFFF:
            raise PrelinkError("LLVM's `.eh_frame` holds a record cwasm does not read")
        end = pos + 4 + length
        if ident == 0:
            nul = data.index(0, pos + 9)
            aug = bytes(data[pos + 9 : nul])
            if b"P" in aug:
                if not aug.startswith(b"zP"):
                    raise PrelinkError(f"unsupported CIE augmentation {aug!r}")
                q = nul + 1
                _, q = _uleb(data, q)
                _, q = _sleb(data, q)
                q = q + 1 if data[pos + 8] == 1 else _uleb(data, q)[1]
                _, q = _uleb(data, q)
                if data[q] & 0x7F not in (0x1B, 0x1C):
                    raise PrelinkError(f"unsupported personality encoding {data[q]:#x}")
                data[q] &= 0x7F  # pcrel | sdata4 or sdata8, no longer indirect
        pos = end


# relocation types whose patched field is 4 bytes wide (the rest: 8)
_RELOC_WIDTH = {
    (EM_X86_64, R_X86_64_32): 4,
    (EM_X86_64, R_X86_64_32S): 4,
    (EM_AARCH64, R_AARCH64_ABS32): 4,
}


def _fits(value: int, bits: int) -> bool:
    return -(1 << (bits - 1)) <= value < (1 << (bits - 1))


def _x86_64(blob: bytearray, p: int, rtype: int, target: int, name: str) -> None:
    if rtype in (R_X86_64_PC32, R_X86_64_PLT32):
        value = target - p
        if not _fits(value, 32):
            raise PrelinkError(f"PC32 relocation to {name!r} out of range")
        struct.pack_into("<i", blob, p, value)
    elif rtype == R_X86_64_PC64:
        struct.pack_into("<q", blob, p, target - p)
    else:
        raise PrelinkError(f"unsupported x86_64 relocation type {rtype} against {name!r}")


def _patch32(blob: bytearray, p: int, mask: int, bits: int) -> None:
    insn = struct.unpack_from("<I", blob, p)[0]
    struct.pack_into("<I", blob, p, (insn & ~mask) | (bits & mask))


# the low-12-bit relocations and the scale of their immediate
_LO12_SHIFT = {
    R_AARCH64_ADD_ABS_LO12_NC: 0,
    R_AARCH64_LDST8_ABS_LO12_NC: 0,
    R_AARCH64_LDST16_ABS_LO12_NC: 1,
    R_AARCH64_LDST32_ABS_LO12_NC: 2,
    R_AARCH64_LDST64_ABS_LO12_NC: 3,
    R_AARCH64_LDST128_ABS_LO12_NC: 4,
}


def _aarch64(blob: bytearray, p: int, rtype: int, target: int, name: str) -> None:
    if rtype == R_AARCH64_PREL32:
        struct.pack_into("<i", blob, p, target - p)
    elif rtype == R_AARCH64_PREL64:
        struct.pack_into("<q", blob, p, target - p)
    elif rtype == R_AARCH64_PREL16:
        struct.pack_into("<h", blob, p, target - p)
    elif rtype == R_AARCH64_ADR_PREL_PG_HI21:
        delta = ((target & ~0xFFF) - (p & ~0xFFF)) >> 12
        if not _fits(delta, 21):
            raise PrelinkError(f"ADRP relocation to {name!r} out of range")
        imm = delta & 0x1FFFFF
        _patch32(blob, p, (0x3 << 29) | (0x7FFFF << 5), ((imm & 3) << 29) | ((imm >> 2) << 5))
    elif rtype == R_AARCH64_ADR_PREL_LO21:
        imm = (target - p) & 0x1FFFFF
        _patch32(blob, p, (0x3 << 29) | (0x7FFFF << 5), ((imm & 3) << 29) | ((imm >> 2) << 5))
    elif rtype in _LO12_SHIFT:
        # ADD_ABS_LO12_NC and LDST{8,16,32,64,128}_ABS_LO12_NC: the low 12 bits, scaled
        shift = _LO12_SHIFT[rtype]
        lo = (target & 0xFFF) >> shift
        _patch32(blob, p, 0xFFF << 10, lo << 10)
    elif rtype in (R_AARCH64_JUMP26, R_AARCH64_CALL26):
        delta = (target - p) >> 2
        if not _fits(delta, 26):
            raise PrelinkError(f"branch relocation to {name!r} out of range")
        _patch32(blob, p, 0x3FFFFFF, delta & 0x3FFFFFF)
    elif rtype == R_AARCH64_CONDBR19:
        delta = (target - p) >> 2
        _patch32(blob, p, 0x7FFFF << 5, (delta & 0x7FFFF) << 5)
    elif rtype == R_AARCH64_TSTBR14:
        delta = (target - p) >> 2
        _patch32(blob, p, 0x3FFF << 5, (delta & 0x3FFF) << 5)
    else:
        raise PrelinkError(f"unsupported aarch64 relocation type {rtype} against {name!r}")


def _uleb(data: bytes | bytearray, p: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[p]
        p += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, p


def _sleb(data: bytes | bytearray, p: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[p]
        p += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, p


def decode_line_program(data: bytes) -> list[LineRow]:
    """Decode every line-number program (DWARF 4 or 5) in a ``.debug_line`` section."""
    rows: list[LineRow] = []
    pos = 0
    while pos + 4 <= len(data):
        unit_length = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        offset_size = 4
        if unit_length == 0xFFFFFFFF:
            unit_length = struct.unpack_from("<Q", data, pos)[0]
            pos += 8
            offset_size = 8
        unit_end = pos + unit_length
        version = struct.unpack_from("<H", data, pos)[0]
        pos += 2
        if version >= 5:
            pos += 2  # address_size, segment_selector_size
        header_length = int.from_bytes(data[pos : pos + offset_size], "little")
        pos += offset_size
        program = pos + header_length
        min_inst = data[pos]
        pos += 1
        if version >= 4:
            pos += 1  # maximum_operations_per_instruction
        line_base = struct.unpack_from("<b", data, pos + 1)[0]
        line_range = data[pos + 2]
        opcode_base = data[pos + 3]
        std_lengths = data[pos + 4 : pos + 4 + opcode_base - 1]
        _decode_rows(
            data, program, unit_end, min_inst, line_base, line_range, opcode_base, std_lengths, rows
        )
        pos = unit_end
    return rows


def _decode_rows(
    data: bytes,
    pos: int,
    end: int,
    min_inst: int,
    line_base: int,
    line_range: int,
    opcode_base: int,
    std_lengths: bytes,
    rows: list[LineRow],
) -> None:
    address, line, column = 0, 1, 0
    while pos < end:
        op = data[pos]
        pos += 1
        if op >= opcode_base:
            adj = op - opcode_base
            address += (adj // line_range) * min_inst
            line += line_base + adj % line_range
            rows.append(LineRow(address, line, column, False))
        elif op == 0:
            length, pos = _uleb(data, pos)
            sub = data[pos]
            if sub == 1:  # end_sequence
                rows.append(LineRow(address, line, column, True))
                address, line, column = 0, 1, 0
            elif sub == 2:  # set_address
                address = int.from_bytes(data[pos + 1 : pos + length], "little")
            pos += length
        elif op == 1:  # copy
            rows.append(LineRow(address, line, column, False))
        elif op == 2:  # advance_pc
            v, pos = _uleb(data, pos)
            address += v * min_inst
        elif op == 3:  # advance_line
            v, pos = _sleb(data, pos)
            line += v
        elif op == 5:  # set_column
            column, pos = _uleb(data, pos)
        elif op == 8:  # const_add_pc
            address += ((255 - opcode_base) // line_range) * min_inst
        elif op == 9:  # fixed_advance_pc
            address += struct.unpack_from("<H", data, pos)[0]
            pos += 2
        else:  # set_file, negate_stmt, set_basic_block, prologue/epilogue, isa...
            for _ in range(std_lengths[op - 1]):
                _, pos = _uleb(data, pos)
