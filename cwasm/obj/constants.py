"""Every constant of the artifact format, in one place (Wasmtime v28's ``obj.rs``).

Each section name is documented with its encoding. All multi-byte integers in
the Wasmtime-defined sections are little-endian and read unaligned (alignment 1).
"""

from __future__ import annotations

from typing import Final

#: ``e_ident[EI_OSABI]`` of every artifact.
ELFOSABI_WASMTIME: Final = 200
#: ``e_flags``: the artifact holds one compiled core module.
EF_WASMTIME_MODULE: Final = 1 << 0
#: ``e_flags``: the artifact holds a compiled component.
EF_WASMTIME_COMPONENT: Final = 1 << 1
#: ``.text`` ``sh_flags`` bit: the text is not native code (Pulley bytecode); do
#: not make it executable. Numerically equal to SHF_WRITE; never set by v28 writers.
SH_WASMTIME_NOT_EXECUTED: Final = 1 << 0

#: Native code of every function and trampoline. Page-aligned, padded to whole pages.
ELF_TEXT: Final = ".text"

#: Unwind tables (CIEs, FDEs, a zero terminator) of the code in ``.text``, which it
#: follows; its pointers are PC-relative to where it is mapped: right after ``.text``
#: (``cwasm.obj.eh_frame``).
ELF_EH_FRAME: Final = ".eh_frame"

#: Text offset → wasm module offset.
#: ``u32 count``, ``count × u32`` text offsets (ascending), ``count × u32`` wasm
#: offsets (0xFFFFFFFF: no position). Looked up with ``lookup_file_pos``
#: (greatest entry ≤ the offset).
ELF_WASMTIME_ADDRMAP: Final = ".wasmtime.addrmap"

#: Text offset of each trapping instruction → trap code.
#: ``u32 count``, ``count × u32`` text offsets (ascending), ``count × u8`` trap
#: codes (see ``Trap``). Looked up with ``lookup_trap_code`` (exact match).
ELF_WASMTIME_TRAPS: Final = ".wasmtime.traps"

#: One byte: 1 if branch-target identification is enabled (aarch64), else 0.
ELF_WASM_BTI: Final = ".wasmtime.bti"

#: Engine metadata checked before loading: ``u8 version`` (0), ``u8 len``, the
#: version string, then a postcard-encoded metadata record. Wasmtime writes its
#: package version ("28.0.0") and its ``Metadata``; cwasm writes the artifact format
#: ("cwasm-format-1") and its ``EngineMetadata`` (see ``engine.py``).
ELF_WASM_ENGINE: Final = ".wasmtime.engine"

#: Active data (Segmented chunks or page-aligned Static memory images) followed by
#: passive data segments; ranges into it live in ``.wasmtime.info``.
ELF_WASM_DATA: Final = ".rodata.wasm"

#: Postcard-encoded compiled-module information. Wasmtime: the tuple
#: ``(CompiledModuleInfo, ModuleTypes)``; cwasm: a varint ``INFO_FORMAT_VERSION`` then
#: its own ``CompiledModuleInfo`` (see ``info/``), no trailing bytes.
ELF_WASMTIME_INFO: Final = ".wasmtime.info"

#: Function names of the wasm ``name`` section, concatenated without separators,
#: sorted by function index; ``(index, offset, length)`` triples live in the info.
ELF_NAME_DATA: Final = ".name.wasm"

#: Raw wasm DWARF custom sections (``.debug_*``), concatenated; their
#: ``(section id, range)`` pairs live in the info's metadata.
ELF_WASMTIME_DWARF: Final = ".wasmtime.dwarf"

#: cwasm's own section (not in Wasmtime), just before the checksum: 32 bytes, a keyed
#: BLAKE2b-256 of the whole file computed with the MAC and the checksum set to zero, or
#: 32 zero bytes in an artifact written without a key (see ``integrity.py``).
ELF_CWASM_MAC: Final = ".cwasm.mac"

#: cwasm's own section (not in Wasmtime), the last user section: 4 bytes, the CRC-32
#: (little-endian) of the whole file computed with these 4 bytes set to zero.
ELF_CWASM_CHECKSUM: Final = ".cwasm.checksum"

#: The version byte at the start of ``.wasmtime.engine``.
ENGINE_SECTION_VERSION: Final = 0
#: Wasmtime's producer string for the v28 artifacts it writes.
WASMTIME_V28_VERSION: Final = "28.0.0"

#: ``e_machine`` values per architecture.
EM_X86_64: Final = 62
EM_AARCH64: Final = 183
EM_S390: Final = 22
EM_RISCV: Final = 243

# --- Generic ELF64 values used by the writer and reader (System V gABI). ---

ELF_MAGIC: Final = b"\x7fELF"
ELFCLASS32: Final = 1
ELFCLASS64: Final = 2
ELFDATA2LSB: Final = 1
ELFDATA2MSB: Final = 2
EV_CURRENT: Final = 1
ET_REL: Final = 1
#: Sizes of the ELF64 file header, section header, symbol and ``Elf64_Rela``/``Elf64_Rel``.
ELF64_EHDR_SIZE: Final = 64
ELF64_SHDR_SIZE: Final = 64
ELF64_SYM_SIZE: Final = 24
ELF64_RELA_SIZE: Final = 24
ELF64_REL_SIZE: Final = 16
#: ``struct`` formats (without the byte-order prefix) of those records; the header's
#: starts after ``e_ident`` (16 bytes), which is read separately.
ELF64_EHDR_TAIL_FORMAT: Final = "HHIQQQIHHHHHH"
ELF64_SHDR_FORMAT: Final = "IIQQQQIIQQ"
ELF64_SYM_FORMAT: Final = "IBBHQQ"
ELF64_RELA_FORMAT: Final = "QQq"
ELF64_REL_FORMAT: Final = "QQ"

SHT_NULL: Final = 0
SHT_PROGBITS: Final = 1
SHT_SYMTAB: Final = 2
SHT_STRTAB: Final = 3
SHT_RELA: Final = 4
SHT_NOBITS: Final = 8
SHT_REL: Final = 9
SHT_SYMTAB_SHNDX: Final = 18

SHF_WRITE: Final = 0x1
SHF_ALLOC: Final = 0x2
SHF_EXECINSTR: Final = 0x4
SHF_INFO_LINK: Final = 0x40

SHN_UNDEF: Final = 0
SHN_LORESERVE: Final = 0xFF00
SHN_ABS: Final = 0xFFF1
SHN_COMMON: Final = 0xFFF2
SHN_XINDEX: Final = 0xFFFF

STB_LOCAL: Final = 0
STB_GLOBAL: Final = 1
STB_WEAK: Final = 2
STT_NOTYPE: Final = 0
STT_OBJECT: Final = 1
STT_FUNC: Final = 2
STT_SECTION: Final = 3
STV_DEFAULT: Final = 0
STV_HIDDEN: Final = 2

#: Absolute 64-bit relocation type per ``e_machine`` (the only kind Wasmtime leaves in ``.text``).
R_X86_64_64: Final = 1
R_AARCH64_ABS64: Final = 257
R_RISCV_64: Final = 2
R_390_64: Final = 22

# Relocation types the pre-linker resolves in LLVM's relocatable objects (psABIs).
R_X86_64_PC32: Final = 2
R_X86_64_PLT32: Final = 4
R_X86_64_32: Final = 10
R_X86_64_32S: Final = 11
R_X86_64_PC64: Final = 24
R_AARCH64_ABS32: Final = 258
R_AARCH64_PREL64: Final = 260
R_AARCH64_PREL32: Final = 261
R_AARCH64_PREL16: Final = 262
R_AARCH64_ADR_PREL_LO21: Final = 274
R_AARCH64_ADR_PREL_PG_HI21: Final = 275
R_AARCH64_ADD_ABS_LO12_NC: Final = 277
R_AARCH64_LDST8_ABS_LO12_NC: Final = 278
R_AARCH64_TSTBR14: Final = 279
R_AARCH64_CONDBR19: Final = 280
R_AARCH64_JUMP26: Final = 282
R_AARCH64_CALL26: Final = 283
R_AARCH64_LDST16_ABS_LO12_NC: Final = 284
R_AARCH64_LDST32_ABS_LO12_NC: Final = 285
R_AARCH64_LDST64_ABS_LO12_NC: Final = 286
R_AARCH64_LDST128_ABS_LO12_NC: Final = 299

#: Wasm address-map entry meaning "no source position".
NO_FILE_POS: Final = 0xFFFFFFFF


def machine_for(triple: str) -> tuple[int, bool]:
    """``(e_machine, big_endian)`` of the artifact for a target triple (docs/artifact-format.md §1).

    Pulley targets pretend to be riscv64, as Wasmtime v28 does. Raises ``ValueError``
    for an architecture the format has no loadable ELF64 mapping for.
    """
    arch = triple.split("-", 1)[0]
    if arch == "x86_64":
        return EM_X86_64, False
    if arch in ("aarch64", "arm64"):
        return EM_AARCH64, False
    if arch == "s390x":
        return EM_S390, True
    if arch.startswith("riscv64") or arch in ("pulley32", "pulley64"):
        return EM_RISCV, False
    raise ValueError(f"target architecture {arch!r} is unsupported")


def page_align_for(triple: str) -> int:
    """Compile-time page alignment ``P`` for a target (docs/artifact-format.md, conventions)."""
    arch = triple.split("-", 1)[0]
    if arch in ("aarch64", "arm64"):
        if any(os_ in triple for os_ in ("darwin", "macos", "ios", "tvos")):
            return 0x4000
        return 0x10000
    return 0x1000


def function_alignment_for(triple: str) -> int:
    """Wasmtime v28's alignment of each wasm function in ``.text`` (the ISA's preferred
    function alignment); cwasm's pre-linked code keeps LLVM's own alignment."""
    arch = triple.split("-", 1)[0]
    if arch in ("x86_64", "aarch64", "arm64"):
        return 32
    if arch in ("s390x", "riscv64"):
        return 4
    return 1
