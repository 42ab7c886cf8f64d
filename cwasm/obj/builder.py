"""ObjectBuilder and ``build_artifact``: compiled code + module translation → artifact bytes.

Sections are created in Wasmtime v28's order (docs/artifact-format.md): ``.wasmtime.engine``,
``.wasmtime.bti``, ``.text`` (page-aligned, padded to whole pages), ``.wasmtime.addrmap``,
``.wasmtime.traps``, ``.rodata.wasm``, ``.name.wasm``, ``.wasmtime.dwarf``,
``.wasmtime.info``, then cwasm's ``.cwasm.mac`` and ``.cwasm.checksum``; the ELF writer adds
``.symtab``, ``.strtab`` and ``.shstrtab``. The last ``SEAL_SIZE`` bytes of ``.text`` hold
the code seal (see ``integrity.py``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from cwasm.errors import ArtifactError
from cwasm.obj import eh_frame
from cwasm.obj.addrmap import encode_address_map
from cwasm.obj.bti import encode_bti
from cwasm.obj.constants import (
    EF_WASMTIME_MODULE,
    ELF_CWASM_CHECKSUM,
    ELF_CWASM_MAC,
    ELF_EH_FRAME,
    ELF_NAME_DATA,
    ELF_TEXT,
    ELF_WASM_BTI,
    ELF_WASM_DATA,
    ELF_WASM_ENGINE,
    ELF_WASMTIME_ADDRMAP,
    ELF_WASMTIME_DWARF,
    ELF_WASMTIME_INFO,
    ELF_WASMTIME_TRAPS,
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHT_PROGBITS,
    STT_FUNC,
    machine_for,
    page_align_for,
)
from cwasm.obj.elfwriter import ElfWriter
from cwasm.obj.engine import EngineMetadata, encode_engine_section
from cwasm.obj.info import (
    CompiledFunctionInfo,
    CompiledModuleInfo,
    DataRange,
    FunctionLoc,
    FunctionName,
    MemoryInitialization,
    Metadata,
    SegmentedMemoryInitialization,
    StaticMemoryInitialization,
    encode_info,
)
from cwasm.obj.integrity import CHECKSUM_SIZE, MAC_SIZE, SEAL_SIZE, seal_artifact
from cwasm.obj.meminit import DataLayout, plan_data
from cwasm.obj.traps import Trap, encode_traps
from cwasm.wasm.translation import ModuleTranslation

#: Wasm DWARF custom sections copied into ``.wasmtime.dwarf``, in Wasmtime's order, with
#: their gimli ``SectionId``. (``.debug_aranges`` is never kept by Wasmtime v28.)
DWARF_SECTIONS: tuple[tuple[str, int], ...] = (
    (".debug_abbrev", 0),
    (".debug_addr", 1),
    (".debug_info", 7),
    (".debug_line", 8),
    (".debug_line_str", 9),
    (".debug_str", 18),
    (".debug_str_offsets", 19),
    (".debug_ranges", 16),
    (".debug_rnglists", 17),
    (".debug_cu_index", 3),
)

MAX_SYMBOL_NAME = 96


def clean_symbol_name(name: str) -> str:
    """A wasm function name made safe for a symbol, as Wasmtime does: runs of characters
    that are not graphic ASCII become one ``?``, and the result is cut to 96 characters."""

    def bad(c: str) -> bool:
        return not ("!" <= c <= "~")

    if not any(bad(c) for c in name):
        return name[:MAX_SYMBOL_NAME]
    out: list[str] = []
    last = "\0"
    for c in name:
        c = "?" if bad(c) else c
        if not (last == "?" and c == "?"):
            out.append(c)
        last = c
    return "".join(out[:MAX_SYMBOL_NAME])


def function_symbol_name(func_index: int, name: str | None, module: int = 0) -> str:
    """``wasm[M]::function[F]`` or ``wasm[M]::function[F]::<clean name>``."""
    base = f"wasm[{module}]::function[{func_index}]"
    return base if name is None else f"{base}::{clean_symbol_name(name)}"


@dataclass(frozen=True, slots=True)
class CompiledCode:
    """What the compiler hands the artifact layer for one module.

    ``text`` is pre-linked, position-independent code with no relocations left. Function
    locations are text offsets; wasm functions must be laid out in DefinedFuncIndex order
    without overlapping (the reader checks it: text offset → function lookups rely on
    it). ``traps`` and ``address_map`` need strictly ascending offsets. ``extra_symbols``
    are ``(name, offset, size)`` of any further code (helpers, builtins) the compiler
    wants named in ``.symtab``.
    """

    text: bytes
    funcs: tuple[CompiledFunctionInfo, ...]  # DefinedFuncIndex order
    wasm_to_array_trampolines: tuple[tuple[int, FunctionLoc], ...] = ()  # by type index
    traps: tuple[tuple[int, Trap], ...] = ()  # (text offset, trap), ascending
    address_map: tuple[tuple[int, int | None], ...] = ()  # (text offset, wasm offset)
    extra_symbols: tuple[tuple[str, int, int], ...] = ()
    bti: bool = False
    #: unwind records and their pointer fixups (``cwasm.obj.eh_frame.place``)
    eh_frame: bytes = b""
    eh_fixups: tuple[tuple[int, int, int], ...] = ()


def _rebase(init: MemoryInitialization, by: int) -> MemoryInitialization:
    def shift(r: DataRange) -> DataRange:
        return DataRange(r.start + by, r.end + by)

    if isinstance(init, SegmentedMemoryInitialization):
        return SegmentedMemoryInitialization(
            tuple(replace(s, data=shift(s.data)) for s in init.segments)
        )
    return StaticMemoryInitialization(
        tuple(None if s is None else replace(s, data=shift(s.data)) for s in init.map)
    )


class ObjectBuilder:
    """Adds the compiler-independent sections of one module to an ``ElfWriter``.

    Creating it creates ``.rodata.wasm``; ``append`` fills it and the name/DWARF
    sections and returns the module's ``CompiledModuleInfo``; ``serialize_info`` writes
    ``.wasmtime.info``; ``finish`` adds the checksum and returns the file.
    """

    def __init__(
        self,
        writer: ElfWriter,
        *,
        triple: str,
        memory_init_cow: bool = True,
        debug_info: bool = False,
    ) -> None:
        self.writer = writer
        self.triple = triple
        self.page_size = page_align_for(triple)
        self.memory_init_cow = memory_init_cow
        self.debug_info = debug_info
        self.data = writer.add_section(ELF_WASM_DATA, SHT_PROGBITS, SHF_ALLOC)
        self.names: int | None = None
        self.dwarf: int | None = None

    def plan(self, translation: ModuleTranslation) -> DataLayout:
        return plan_data(
            translation, page_size=self.page_size, memory_init_cow=self.memory_init_cow
        )

    def append(
        self,
        translation: ModuleTranslation,
        funcs: tuple[CompiledFunctionInfo, ...] | list[CompiledFunctionInfo],
        wasm_to_array_trampolines: tuple[tuple[int, FunctionLoc], ...]
        | list[tuple[int, FunctionLoc]] = (),
        *,
        layout: DataLayout | None = None,
    ) -> CompiledModuleInfo:
        """Place the module's data, names and DWARF; return its ``CompiledModuleInfo``."""
        if layout is None:
            layout = self.plan(translation)
        w = self.writer
        align = layout.data_align or 1
        data_offset = w.append_section_data(self.data, b"", align)
        for i, chunk in enumerate(layout.data):
            w.append_section_data(self.data, chunk, align if i == 0 else 1)
        for chunk in layout.passive_data:
            w.append_section_data(self.data, chunk, 1)
        if w.section_size(self.data) > 0xFFFFFFFF:
            raise ArtifactError("data segments too large (> 4 GiB)")

        func_names: list[FunctionName] = []
        names = translation.names.functions
        if names:
            if self.names is None:
                self.names = w.add_section(ELF_NAME_DATA, SHT_PROGBITS, SHF_ALLOC)
            for idx in sorted(names):
                raw = names[idx].encode("utf-8")
                offset = w.append_section_data(self.names, raw, 1)
                if offset + len(raw) > 0xFFFFFFFF:
                    raise ArtifactError("name section too large (> 4 GiB)")
                func_names.append(FunctionName(idx, offset, len(raw)))

        dwarf: list[tuple[int, DataRange]] = []
        if self.debug_info:
            for name, section_id in DWARF_SECTIONS:
                span = translation.dwarf.get(name)
                if span is None or span[1] <= span[0]:
                    continue
                if self.dwarf is None:
                    self.dwarf = w.add_section(ELF_WASMTIME_DWARF, SHT_PROGBITS, 0)
                payload = translation.wasm[span[0] : span[1]]
                offset = w.append_section_data(self.dwarf, payload, 1)
                dwarf.append((section_id, DataRange(offset, offset + len(payload))))
            dwarf.sort(key=lambda d: d[0])

        is_pulley = self.triple.split("-", 1)[0] in ("pulley32", "pulley64")
        if is_pulley and wasm_to_array_trampolines:
            raise ArtifactError("Pulley artifacts have no wasm-to-array trampolines")
        passive_start = data_offset + layout.active_size
        return CompiledModuleInfo(
            module=translation.module,
            name=translation.names.module,
            memory_initialization=_rebase(layout.memory_initialization, data_offset),
            passive_data=tuple(
                (idx, DataRange(r.start + passive_start, r.end + passive_start))
                for idx, r in layout.passive_data_map
            ),
            num_data=len(translation.data),
            funcs=tuple(funcs),
            func_names=tuple(func_names),
            wasm_to_array_trampolines=tuple(wasm_to_array_trampolines),
            meta=Metadata(
                has_unparsed_debuginfo=bool(translation.dwarf) and not self.debug_info,
                code_section_offset=translation.code_section_offset,
                has_wasm_debuginfo=self.debug_info,
                is_pulley=is_pulley,
                dwarf=tuple(dwarf),
            ),
        )

    def serialize_info(self, info: CompiledModuleInfo) -> None:
        """Create ``.wasmtime.info`` holding ``info``."""
        section = self.writer.add_section(ELF_WASMTIME_INFO, SHT_PROGBITS, SHF_ALLOC)
        self.writer.set_section_data(section, encode_info(info), 1)

    def finish(self, key: bytes | None = None) -> bytes:
        """Add ``.cwasm.mac`` and ``.cwasm.checksum``; return the artifact with its code
        seal, its MAC under ``key`` (zeros without one) and its checksum written."""
        mac = self.writer.add_section(ELF_CWASM_MAC, SHT_PROGBITS, 0)
        self.writer.set_section_data(mac, bytes(MAC_SIZE), 1)
        section = self.writer.add_section(ELF_CWASM_CHECKSUM, SHT_PROGBITS, 0)
        self.writer.set_section_data(section, bytes(CHECKSUM_SIZE), 1)
        return seal_artifact(self.writer.emit(), key)

    def finish_to_file(self, path: str | os.PathLike[str], key: bytes | None = None) -> None:
        """``finish`` and write the file atomically (same-directory temp file, fsync, rename)."""
        write_atomically(path, self.finish(key))


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the new one."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _function_symbols(
    translation: ModuleTranslation, code: CompiledCode
) -> list[tuple[str, int, int]]:
    """Wasmtime v28's symbol for every function and trampoline, in text bucket order."""
    n_imp = translation.module.num_imported_funcs
    out = [
        (
            function_symbol_name(n_imp + i, translation.names.functions.get(n_imp + i)),
            f.wasm_func_loc.start,
            f.wasm_func_loc.length,
        )
        for i, f in enumerate(code.funcs)
    ]
    for i, f in enumerate(code.funcs):
        t = f.array_to_wasm_trampoline
        if t is not None:
            out.append((f"wasm[0]::array_to_wasm_trampoline[{n_imp + i}]", t.start, t.length))
    for ty, loc in code.wasm_to_array_trampolines:
        out.append((f"signatures[{ty}]::wasm_to_array_trampoline", loc.start, loc.length))
    out.extend(code.extra_symbols)
    return out


def build_artifact(
    translation: ModuleTranslation,
    code: CompiledCode,
    engine: EngineMetadata,
    *,
    debug_info: bool = False,
    key: bytes | None = None,
) -> bytes:
    """Lay out one compiled core module as a complete artifact (with a MAC under ``key``)."""
    try:
        e_machine, big_endian = machine_for(engine.target)
    except ValueError as e:
        raise ArtifactError(str(e)) from None
    page = page_align_for(engine.target)
    w = ElfWriter(e_machine, e_flags=EF_WASMTIME_MODULE, big_endian=big_endian)

    engine_section = w.add_section(ELF_WASM_ENGINE, SHT_PROGBITS, SHF_ALLOC)
    w.append_section_data(engine_section, encode_engine_section(engine), 1)
    bti = w.add_section(ELF_WASM_BTI, SHT_PROGBITS, SHF_ALLOC)
    w.append_section_data(bti, encode_bti(code.bti), 1)

    text = w.add_section(ELF_TEXT, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR)
    # the code seal takes the last bytes of the (zero-padded) section
    sealed = len(code.text) + SEAL_SIZE
    padded = sealed + (-sealed) % page
    if padded > 0xFFFFFFFF:
        raise ArtifactError("text section too large (> 4 GiB)")
    w.set_section_data(text, code.text + bytes(padded - len(code.text)), page)
    for name, value, size in _function_symbols(translation, code):
        if value + size > len(code.text):
            raise ArtifactError(f"symbol {name} ({value:#x}+{size:#x}) lies outside the code")
        w.add_symbol(name, value, size, type=STT_FUNC, section=text)
    if code.eh_frame:
        unwind = w.add_section(ELF_EH_FRAME, SHT_PROGBITS, SHF_ALLOC)
        w.append_section_data(unwind, eh_frame.place(code.eh_frame, code.eh_fixups, padded), 1)

    if engine.address_map:
        addrmap = w.add_section(ELF_WASMTIME_ADDRMAP, SHT_PROGBITS, SHF_ALLOC)
        w.append_section_data(addrmap, encode_address_map(code.address_map), 1)
    traps = w.add_section(ELF_WASMTIME_TRAPS, SHT_PROGBITS, SHF_ALLOC)
    w.append_section_data(traps, encode_traps(code.traps), 1)

    builder = ObjectBuilder(
        w,
        triple=engine.target,
        memory_init_cow=engine.memory_init_cow,
        debug_info=debug_info,
    )
    info = builder.append(translation, code.funcs, code.wasm_to_array_trampolines)
    builder.serialize_info(info)
    return builder.finish(key)
