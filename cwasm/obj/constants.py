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
#: producer version string, then a postcard-encoded metadata record.
ELF_WASM_ENGINE: Final = ".wasmtime.engine"

#: Active data (Segmented chunks or page-aligned Static memory images) followed by
#: passive data segments; ranges into it live in ``.wasmtime.info``.
ELF_WASM_DATA: Final = ".rodata.wasm"

#: Postcard-encoded compiled-module information (``CompiledModuleInfo`` and types).
ELF_WASMTIME_INFO: Final = ".wasmtime.info"

#: Function names of the wasm ``name`` section, concatenated without separators,
#: sorted by function index; ``(index, offset, length)`` triples live in the info.
ELF_NAME_DATA: Final = ".name.wasm"

#: Raw wasm DWARF custom sections (``.debug_*``), concatenated; their
#: ``(section id, range)`` pairs live in the info's metadata.
ELF_WASMTIME_DWARF: Final = ".wasmtime.dwarf"

#: cwasm's own section: integrity checksum over the artifact (not in Wasmtime).
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

#: Wasm address-map entry meaning "no source position".
NO_FILE_POS: Final = 0xFFFFFFFF


def page_align_for(triple: str) -> int:
    """Compile-time page alignment ``P`` for a target (FORMAT.md §1.4)."""
    arch = triple.split("-", 1)[0]
    if arch in ("aarch64", "arm64"):
        if any(os_ in triple for os_ in ("darwin", "macos", "ios", "tvos")):
            return 0x4000
        return 0x10000
    return 0x1000


def function_alignment_for(triple: str) -> int:
    """Alignment of each wasm function in ``.text`` (FORMAT.md §2.3)."""
    arch = triple.split("-", 1)[0]
    if arch in ("x86_64", "aarch64", "arm64"):
        return 32
    if arch in ("s390x", "riscv64"):
        return 4
    return 1
