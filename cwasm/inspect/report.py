"""Decode everything inside an artifact, cwasm's or Wasmtime v28's, for ``cwasm inspect``.

:func:`inspect_artifact` turns the bytes of an artifact into one JSON-ready dict:
ELF header, sections, symbols, relocations, engine metadata, functions (from the
symbols and from the info section), trap sites, the address map, data segments,
names, the decoded info itself and, on request, a disassembly of every function.
:func:`format_inspection` (from ``text``) renders it as text. The producer
is told apart by the version string of ``.wasmtime.engine`` ("28.0.0" for Wasmtime,
"cwasm-format-N" for cwasm). A section that does not decode does not stop the inspection: its
error is reported under ``"errors"`` and the rest is still shown.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from cwasm.errors import ArtifactError, CwasmError
from cwasm.inspect import disasm
from cwasm.inspect import wasmtime_v28 as wt
from cwasm.inspect.convert import Json, nonzero_ranges, preview, to_json
from cwasm.inspect.summary import cwasm_info_json, cwasm_module_summary, wasmtime_module_summary
from cwasm.inspect.text import format_inspection
from cwasm.obj import constants as C
from cwasm.obj import info as cw
from cwasm.obj.addrmap import decode_address_map, lookup_file_pos
from cwasm.obj.elf import ElfFile
from cwasm.obj.engine import decode_engine_section as decode_cwasm_engine
from cwasm.obj.engine import engine_version_string
from cwasm.obj.integrity import CHECKSUM_SIZE, artifact_checksum
from cwasm.obj.traps import Trap, decode_traps
from cwasm.wasm.summary import const_expr_text, func_type_text
from cwasm.wasm.types import ConstOpKind

__all__ = ["format_inspection", "inspect_artifact", "to_json"]


_MACHINES = {
    C.EM_X86_64: "x86_64",
    C.EM_AARCH64: "aarch64",
    C.EM_S390: "s390x",
    C.EM_RISCV: "riscv64",
    3: "x86",
    40: "arm",
}
_SECTION_TYPES = {
    C.SHT_NULL: "NULL",
    C.SHT_PROGBITS: "PROGBITS",
    C.SHT_SYMTAB: "SYMTAB",
    C.SHT_STRTAB: "STRTAB",
    C.SHT_RELA: "RELA",
    C.SHT_NOBITS: "NOBITS",
    C.SHT_REL: "REL",
}
_SYMBOL_TYPES = {
    C.STT_NOTYPE: "NOTYPE",
    C.STT_OBJECT: "OBJECT",
    C.STT_FUNC: "FUNC",
    C.STT_SECTION: "SECTION",
}
_SYMBOL_BINDS = {C.STB_LOCAL: "LOCAL", C.STB_GLOBAL: "GLOBAL", C.STB_WEAK: "WEAK"}
_RELOC_TYPES = {
    C.EM_X86_64: {C.R_X86_64_64: "R_X86_64_64"},
    C.EM_AARCH64: {C.R_AARCH64_ABS64: "R_AARCH64_ABS64"},
    C.EM_RISCV: {C.R_RISCV_64: "R_RISCV_64"},
    C.EM_S390: {C.R_390_64: "R_390_64"},
}


# --------------------------------------------------------------------------------------
# the inspection


@dataclasses.dataclass(frozen=True, slots=True)
class _Func:
    """One defined function as either producer's info records it."""

    start_srcloc: int
    loc: tuple[int, int] | None  # (text offset, length)
    array_to_wasm: tuple[int, int] | None
    stack_maps: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Segment:
    """An active data segment kept as is (Segmented initialization)."""

    memory: int
    offset_text: str
    offset: int | None  # the constant offset, if it is one
    start: int  # range in .rodata.wasm
    end: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Image:
    """A page-aligned memory image (Static initialization)."""

    offset: int
    start: int
    end: int


@dataclasses.dataclass(slots=True)
class _Range:
    start: int
    end: int
    label: str


class _Inspector:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.elf = ElfFile.parse(data)
        self.out: Json = {"file_size": len(data), "producer": "unknown"}
        self.errors: list[str] = []
        self.ranges: list[_Range] = []
        self.machine = self.elf.e_machine
        self._starts: list[int] = []
        self._addrmap_raw: bytes | None = None
        self._positions: dict[int, int | None] = {}

    def section_bytes(self, name: str) -> bytes | None:
        sec = self.elf.section(name)
        return None if sec is None else bytes(self.elf.section_data(sec))

    @contextmanager
    def part(self, what: str) -> Iterator[None]:
        """Run one decoding step; a failure is recorded instead of aborting."""
        try:
            yield
        except CwasmError as exc:
            self.errors.append(f"{what}: {exc}")

    def run(self, disassemble: bool) -> Json:
        self.header()
        self.sections()
        self.symbols()
        self.relocations()
        with self.part(C.ELF_WASM_ENGINE):
            self.engine()
        self.bti()
        self.checksum()
        if self.out.get("producer") in ("wasmtime", "cwasm"):
            with self.part(C.ELF_WASMTIME_INFO):
                self.info()
        self.functions_from_symbols()
        with self.part(C.ELF_WASMTIME_ADDRMAP):
            self.address_map()
        with self.part(C.ELF_WASMTIME_TRAPS):
            self.traps()
        if disassemble:
            self.out["disassembly"] = disasm.disassemble(
                self.machine,
                self.section_bytes(C.ELF_TEXT) or b"",
                [(r.label, r.start, r.end) for r in self.ranges],
                {t["text_offset"]: t["trap"] for t in self.out.get("traps") or []},
                self._positions,
            )
        self.out["errors"] = self.errors
        return self.out

    # -- ELF structure -----------------------------------------------------------------

    def header(self) -> None:
        elf = self.elf
        kinds = {C.EF_WASMTIME_MODULE: "module", C.EF_WASMTIME_COMPONENT: "component"}
        self.out["header"] = {
            "ei_class": elf.ei_class,
            "ei_data": elf.ei_data,
            "osabi": elf.osabi,
            "abiversion": elf.abiversion,
            "e_type": elf.e_type,
            "e_machine": elf.e_machine,
            "machine": _MACHINES.get(elf.e_machine, "unknown"),
            "e_flags": elf.e_flags,
            "kind": kinds.get(elf.e_flags, "unknown"),
            "e_shoff": elf.e_shoff,
            "e_shnum": elf.e_shnum,
            "e_shstrndx": elf.e_shstrndx,
        }

    def sections(self) -> None:
        rows = []
        for s in self.elf.sections[1:]:
            row: Json = s._asdict()
            row["type"] = _SECTION_TYPES.get(s.sh_type, hex(s.sh_type))
            row["flags_text"] = _section_flags(s.flags)
            rows.append(row)
        self.out["sections"] = rows

    def symbols(self) -> None:
        rows = []
        for i, sym in enumerate(self.elf.symbols):
            row: Json = {"index": i, **sym._asdict()}
            row["bind_name"] = _SYMBOL_BINDS.get(sym.bind, str(sym.bind))
            row["type_name"] = _SYMBOL_TYPES.get(sym.type, str(sym.type))
            rows.append(row)
        self.out["symbols"] = rows

    def relocations(self) -> None:
        names = {s.index: s.name for s in self.elf.sections}
        rows = []
        for target, relas in sorted(self.elf.relocations.items()):
            for r in relas:
                sym = self.elf.symbols[r.sym].name if r.sym < len(self.elf.symbols) else None
                rows.append(
                    {
                        "section": names.get(target, str(target)),
                        "offset": r.offset,
                        "type": r.type,
                        "type_name": _RELOC_TYPES.get(self.machine, {}).get(r.type, str(r.type)),
                        "symbol": sym,
                        "addend": r.addend,
                    }
                )
        self.out["relocations"] = rows

    def bti(self) -> None:
        raw = self.section_bytes(C.ELF_WASM_BTI)
        self.out["bti"] = raw[0] if raw is not None and len(raw) == 1 else None

    def checksum(self) -> None:
        sec = self.elf.section(C.ELF_CWASM_CHECKSUM)
        if sec is None:
            return
        stored = bytes(self.elf.section_data(sec))
        computed = None
        if len(stored) == CHECKSUM_SIZE:
            computed = artifact_checksum(self.data, sec.offset)
        self.out["checksum"] = {
            "stored": stored.hex(),
            "computed": None if computed is None else computed.hex(),
            "valid": stored == computed,
        }
        if stored != computed:
            self.errors.append(f"{C.ELF_CWASM_CHECKSUM}: the file does not match its checksum")

    # -- engine ------------------------------------------------------------------------

    def engine(self) -> None:
        raw = self.section_bytes(C.ELF_WASM_ENGINE)
        if raw is None:
            raise ArtifactError("section is missing")
        version = engine_version_string(raw)
        # cwasm writes its artifact format ("cwasm-format-N"); Wasmtime its own version
        if version.startswith("cwasm"):
            self.out["producer"] = "cwasm"
            self.out["engine"] = {"version": version, **to_json(decode_cwasm_engine(raw))}
            return
        self.out["producer"] = "wasmtime"
        eng = wt.decode_engine_section(raw)
        m = eng.metadata
        self.out["engine"] = {
            "version": eng.version,
            "target": m.target,
            "shared_flags": {s.name: str(s.value) for s in m.shared_flags},
            "isa_flags": {s.name: str(s.value) for s in m.isa_flags},
            "tunables": to_json(m.tunables),
            "features": to_json(m.features),
            "trailing_bytes": eng.trailing_bytes,
        }

    # -- the info section, either producer -------------------------------------------

    def info(self) -> None:
        if self.out["header"]["kind"] != "module":
            raise ArtifactError("only core-module info sections are decoded")
        raw = self.section_bytes(C.ELF_WASMTIME_INFO)
        if raw is None:
            raise ArtifactError("section is missing")
        if self.out.get("producer") == "cwasm":
            self.cwasm_info(raw)
        else:
            self.wasmtime_info(raw)

    def wasmtime_info(self, raw: bytes) -> None:
        decoded = wt.decode_module_info(raw)
        info, types, module = decoded.info, decoded.types, decoded.info.module
        self.out["info"] = {**to_json(info), "types": to_json(types)}
        self.out["info_trailing_bytes"] = decoded.trailing_bytes
        names = self.names([(n.idx, n.offset, n.len) for n in info.func_names])

        def type_text(func_index: int) -> str | None:
            if func_index >= len(module.functions):
                return None
            sig = module.functions[func_index].signature
            return str(types.wasm_types[sig]) if sig < len(types.wasm_types) else None

        self.functions(
            module.num_imported_funcs,
            [
                _Func(
                    f.start_srcloc,
                    _span(f.wasm_func_loc),
                    _span(f.array_to_wasm_trampoline),
                    len(f.stack_maps),
                )
                for f in info.funcs
            ],
            names,
            type_text,
            [(t, _span(loc)) for t, loc in info.wasm_to_array_trampolines],
        )
        self.out["module"] = wasmtime_module_summary(module, types, names)
        init = module.memory_initialization
        segments = None
        if init.segments is not None:
            segments = [
                _Segment(
                    s.memory_index, str(s.offset), s.offset.constant(), s.data.start, s.data.stop
                )
                for s in init.segments
            ]
        images = None
        if init.static_map is not None:
            images = [
                None if i is None else _Image(i.offset, i.data.start, i.data.stop)
                for i in init.static_map
            ]
        passive = [(index, r.start, r.stop) for index, r in module.passive_data_map]
        with self.part(C.ELF_WASM_DATA):
            self.data_segments(segments, images, passive)

    def cwasm_info(self, raw: bytes) -> None:
        info = cw.decode_info(raw)
        module = info.module
        self.out["info"] = cwasm_info_json(info)
        self.out["info_trailing_bytes"] = 0  # cwasm's decoder rejects trailing bytes
        names = self.names([(n.idx, n.offset, n.len) for n in info.func_names])

        def type_text(func_index: int) -> str | None:
            if func_index >= len(module.functions):
                return None
            ty = module.functions[func_index]
            return func_type_text(module.types[ty]) if ty < len(module.types) else None

        self.functions(
            module.num_imported_funcs,
            [
                _Func(f.start_srcloc, _span(f.wasm_func_loc), _span(f.array_to_wasm_trampoline), 0)
                for f in info.funcs
            ],
            names,
            type_text,
            [(t, _span(loc)) for t, loc in info.wasm_to_array_trampolines],
        )
        self.out["module"] = cwasm_module_summary(module, info.name, names)
        init = info.memory_initialization
        segments = images = None
        if isinstance(init, cw.SegmentedMemoryInitialization):
            segments = []
            for seg in init.segments:
                ops = seg.offset.ops
                constant = None
                if len(ops) == 1 and ops[0].kind in (ConstOpKind.I32_CONST, ConstOpKind.I64_CONST):
                    constant = ops[0].value
                text = const_expr_text(seg.offset) or ""
                segments.append(
                    _Segment(seg.memory_index, text, constant, seg.data.start, seg.data.end)
                )
        else:
            images = [
                None if i is None else _Image(i.offset, i.data.start, i.data.end) for i in init.map
            ]
        passive = [(index, r.start, r.end) for index, r in info.passive_data]
        with self.part(C.ELF_WASM_DATA):
            self.data_segments(segments, images, passive)

    def names(self, func_names: list[tuple[int, int, int]]) -> dict[int, str]:
        raw = self.section_bytes(C.ELF_NAME_DATA)
        result: dict[int, str] = {}
        rows = []
        for idx, offset, length in func_names:
            name: str | None = None
            if raw is not None and offset + length <= len(raw):
                name = raw[offset : offset + length].decode("utf-8", errors="replace")
                result[idx] = name
            else:
                self.errors.append(f"{C.ELF_NAME_DATA}: name of function {idx} out of bounds")
            rows.append({"func_index": idx, "offset": offset, "len": length, "name": name})
        self.out["names"] = {
            "section_size": None if raw is None else len(raw),
            "func_names": rows,
        }
        return result

    def functions(
        self,
        num_imported: int,
        funcs: list[_Func],
        names: dict[int, str],
        type_text: Callable[[int], str | None],
        wasm_to_array: list[tuple[int, tuple[int, int] | None]],
    ) -> None:
        rows = []
        for i, f in enumerate(funcs):
            func_index = num_imported + i
            name = names.get(func_index)
            label = f"function[{func_index}]" + (f" {name}" if name else "")
            self.add_range(f.loc, label)
            self.add_range(f.array_to_wasm, f"array_to_wasm_trampoline[{func_index}]")
            rows.append(
                {
                    "func_index": func_index,
                    "defined_index": i,
                    "name": name,
                    "type": type_text(func_index),
                    "start_srcloc": f.start_srcloc,
                    "text": _loc(f.loc),
                    "array_to_wasm_trampoline": _loc(f.array_to_wasm),
                    "stack_maps": f.stack_maps,
                }
            )
        self.out["functions"] = rows
        w2a = []
        for type_index, loc in wasm_to_array:
            self.add_range(loc, f"wasm_to_array_trampoline[{type_index}]")
            w2a.append({"type_index": type_index, "text": _loc(loc)})
        self.out["wasm_to_array_trampolines"] = w2a

    def add_range(self, loc: tuple[int, int] | None, label: str) -> None:
        if loc is not None:
            self.ranges.append(_Range(loc[0], loc[0] + loc[1], label))

    def data_segments(
        self,
        segments: list[_Segment] | None,
        images: list[_Image | None] | None,
        passive: list[tuple[int, int, int]],
    ) -> None:
        rodata = self.section_bytes(C.ELF_WASM_DATA)
        if rodata is None:
            raise ArtifactError("section is missing")

        def chunk(start: int, end: int) -> bytes:
            if end > len(rodata) or start > end:
                raise ArtifactError(f"range {start:#x}..{end:#x} exceeds the section")
            return rodata[start:end]

        entries: list[Json] = []
        for seg in segments or ():
            entries.append(
                {
                    "memory": seg.memory,
                    "offset": seg.offset_text,
                    "memory_offset": seg.offset,
                    "data": {"start": seg.start, "end": seg.end},
                    **preview(chunk(seg.start, seg.end)),
                }
            )
        for memory, image in enumerate(images or ()):
            if image is None:
                entries.append({"memory": memory, "image": None})
                continue
            body = chunk(image.start, image.end)
            entries.append(
                {
                    "memory": memory,
                    "memory_offset": image.offset,
                    "data": {"start": image.start, "end": image.end},
                    "nonzero_ranges": nonzero_ranges(body, image.offset),
                    **preview(body),
                }
            )
        kind = "Segmented" if segments is not None else "Static"
        self.out["memory_initialization"] = {"kind": kind, "entries": entries}
        self.out["passive_data"] = [
            {
                "data_index": index,
                "data": {"start": start, "end": end},
                **preview(chunk(start, end)),
            }
            for index, start, end in passive
        ]

    # -- symbols, traps, address map ---------------------------------------------------

    def functions_from_symbols(self) -> None:
        text = self.elf.section(C.ELF_TEXT)
        rows = []
        from_symbols = []
        for sym in self.elf.symbols:
            if sym.type == C.STT_FUNC and text is not None and sym.shndx == text.index:
                rows.append({"name": sym.name, "start": sym.value, "end": sym.value + sym.size})
                from_symbols.append(_Range(sym.value, sym.value + sym.size, sym.name))
        self.out["function_symbols"] = rows
        if from_symbols:  # symbol names are the most precise labels
            self.ranges = from_symbols
        self.ranges.sort(key=lambda r: r.start)
        self._starts = [r.start for r in self.ranges]

    def function_at(self, text_offset: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self._starts, text_offset) - 1
        if i >= 0 and text_offset < self.ranges[i].end:
            return self.ranges[i].label, text_offset - self.ranges[i].start
        return None

    def address_map(self) -> None:
        raw = self.section_bytes(C.ELF_WASMTIME_ADDRMAP)
        if raw is None:
            self.out["address_map"] = None
            return
        entries = decode_address_map(raw)
        self._addrmap_raw = raw
        self._positions = {o: None if p == C.NO_FILE_POS else p for o, p in entries}
        self.out["address_map"] = [
            {"text_offset": o, "wasm_offset": p, **self._where(o)}
            for o, p in self._positions.items()
        ]

    def file_pos(self, text_offset: int) -> int | None:
        """Wasm offset of a text offset, as the runtime's backtraces compute it."""
        if self._addrmap_raw is None:
            return None
        return lookup_file_pos(self._addrmap_raw, text_offset)

    def _where(self, text_offset: int) -> Json:
        hit = self.function_at(text_offset)
        if hit is None:
            return {"function": None, "function_offset": None}
        return {"function": hit[0], "function_offset": hit[1]}

    def traps(self) -> None:
        raw = self.section_bytes(C.ELF_WASMTIME_TRAPS)
        if raw is None:
            self.out["traps"] = None
            return
        rows = []
        for text_offset, code in decode_traps(raw):
            trap = Trap.from_code(code)
            rows.append(
                {
                    "text_offset": text_offset,
                    "code": code,
                    "trap": None if trap is None else trap.name,
                    "message": None if trap is None else f"wasm trap: {trap.message}",
                    "wasm_offset": self.file_pos(text_offset),
                    **self._where(text_offset),
                }
            )
        self.out["traps"] = rows


class _HasLoc(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def length(self) -> int: ...


def _span(loc: _HasLoc | None) -> tuple[int, int] | None:
    return None if loc is None else (loc.start, loc.length)


def _loc(loc: tuple[int, int] | None) -> Json | None:
    if loc is None:
        return None
    return {"start": loc[0], "end": loc[0] + loc[1], "length": loc[1]}


def _section_flags(flags: int) -> str:
    letters = [(0x1, "W"), (0x2, "A"), (0x4, "X"), (0x40, "I")]
    return "".join(ch for bit, ch in letters if flags & bit) or "-"


def inspect_artifact(data: bytes, *, disassemble: bool = False) -> Json:
    """Decode every part of an artifact into a JSON-ready dict.

    Raises :class:`ArtifactError` only when the file is not a readable ELF
    artifact at all; problems in individual sections are listed under ``"errors"``.
    """
    return _Inspector(bytes(data)).run(disassemble)
