"""Static vs Segmented memory initialization, differentially against Wasmtime v28.

Each case is built twice: as WAT compiled by wasmtime-py 28 (default settings: copy-on-write
memory images on, 4 KiB page alignment on x86-64), and as a ModuleTranslation given to our
ObjectBuilder. The ``.rodata.wasm`` bytes and alignment must be identical.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
import wasmtime
from elftools.elf.elffile import ELFFile
from hypothesis import given, settings
from hypothesis import strategies as st

from cwasm.obj.builder import ObjectBuilder
from cwasm.obj.constants import EM_X86_64
from cwasm.obj.elf import ElfFile
from cwasm.obj.elfwriter import ElfWriter
from cwasm.obj.info import (
    DataRange,
    SegmentedMemoryInitialization,
    StaticMemoryInitialization,
    StaticMemoryInitializer,
)
from cwasm.obj.meminit import plan_data
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import (
    ConstExpr,
    ConstOp,
    ConstOpKind,
    DataSegment,
    ExternKind,
    GlobalType,
    Import,
    Limits,
    MemoryType,
    SegmentMode,
    ValType,
)

TRIPLE = "x86_64-unknown-linux-gnu"
_ENGINE = wasmtime.Engine()


@dataclass
class Seg:
    memory: int  # memory index
    offset: int | None  # None: global.get of the imported global
    data: bytes


@dataclass
class Case:
    imported_memory: bool
    memories: list[int]  # min pages of defined memories
    active: list[Seg]
    passive: list[bytes]
    passive_first: bool = False


def _escape(b: bytes) -> str:
    return "".join(f"\\{x:02x}" for x in b)


def to_wat(case: Case) -> str:
    lines = ['(import "env" "g" (global $g i32))']
    if case.imported_memory:
        lines.append('(import "env" "m" (memory 1))')
    lines += [f"(memory {pages})" for pages in case.memories]
    datas = []
    for seg in case.active:
        off = "(global.get $g)" if seg.offset is None else f"(i32.const {seg.offset})"
        datas.append(f'(data (memory {seg.memory}) {off} "{_escape(seg.data)}")')
    passive = [f'(data "{_escape(p)}")' for p in case.passive]
    lines += passive + datas if case.passive_first else datas + passive
    return "(module " + "\n".join(lines) + ")"


def to_translation(case: Case) -> ModuleTranslation:
    g = GlobalType(ValType.I32, False)
    imports = [Import("env", "g", ExternKind.GLOBAL, g)]
    memories = []
    if case.imported_memory:
        mem = MemoryType(Limits(1))
        imports.append(Import("env", "m", ExternKind.MEMORY, mem))
        memories.append(mem)
    memories += [MemoryType(Limits(p)) for p in case.memories]
    module = ModuleRecord(
        imports=tuple(imports),
        memories=tuple(memories),
        globals=(g,),
        num_imported_memories=1 if case.imported_memory else 0,
        num_imported_globals=1,
    )
    t = ModuleTranslation(wasm=b"", module=module)
    active = []
    for seg in case.active:
        if seg.offset is None:
            expr = ConstExpr((ConstOp(ConstOpKind.GLOBAL_GET, 0),))
        else:
            # the decoder keeps i32.const values signed
            signed = seg.offset - (1 << 32) if seg.offset >= 1 << 31 else seg.offset
            expr = ConstExpr((ConstOp(ConstOpKind.I32_CONST, signed),))
        active.append(DataSegment(SegmentMode.ACTIVE, seg.data, seg.memory, expr))
    passive = [DataSegment(SegmentMode.PASSIVE, p) for p in case.passive]
    t.data = passive + active if case.passive_first else active + passive
    return t


def ours(case: Case) -> tuple[bytes, int]:
    w = ElfWriter(EM_X86_64)
    builder = ObjectBuilder(w, triple=TRIPLE)
    builder.append(to_translation(case), ())
    f = ElfFile.parse(w.emit())
    sec = f.section(".rodata.wasm")
    assert sec is not None
    return bytes(f.section_data(sec)), sec.addralign


def wasmtimes(case: Case) -> tuple[bytes, int]:
    elf = ELFFile(io.BytesIO(wasmtime.Module(_ENGINE, to_wat(case)).serialize()))
    sec = elf.get_section_by_name(".rodata.wasm")
    return sec.data(), sec["sh_addralign"]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    imported = draw(st.booleans())
    memories = draw(st.lists(st.integers(0, 3), max_size=2))
    nmem = len(memories) + imported
    active = []
    if nmem:
        for _ in range(draw(st.integers(0, 5))):
            mem = draw(st.integers(0, nmem - 1))
            offset = draw(
                st.none()
                | st.integers(0, 3 * 0x10000 + 10)
                | st.sampled_from([0, 0x1000, 0xFFF, 0xFFFFFFFF])
            )
            data = draw(
                st.binary(max_size=24)
                | st.sampled_from([b"", b"\0\0\0", b"\0ab\0"])
                | st.integers(0, 5000).map(lambda n: bytes([1]) * n)
            )
            active.append(Seg(mem, offset, data))
    passive = draw(st.lists(st.binary(max_size=12), max_size=3))
    return Case(imported, memories, active, passive, draw(st.booleans()))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_data_layout_matches_wasmtime(case: Case) -> None:
    assert ours(case) == wasmtimes(case)


FIXED = {
    "t28": Case(False, [1], [Seg(0, 16, b"hello world")], [b"passive!"]),
    "empty": Case(False, [], [], []),
    "overlap": Case(False, [1], [Seg(0, 10, b"aaaaaaaa"), Seg(0, 12, b"bb"), Seg(0, 9, b"c")], []),
    "all-zero": Case(False, [1], [Seg(0, 0x1234, b"\0\0\0\0")], []),
    "two-memories": Case(False, [1, 2], [Seg(1, 0x10005, b"x"), Seg(0, 3, b"y")], [b"p"]),
    "empty-segment-only": Case(False, [1], [Seg(0, 5, b"")], []),
    "empty-segment-far": Case(False, [1], [Seg(0, 0, b"a"), Seg(0, 60000, b"")], []),
    "out-of-bounds": Case(False, [1], [Seg(0, 0xFFFF, b"ab")], []),
    "imported-memory": Case(True, [1], [Seg(0, 0, b"a")], []),
    "global-offset": Case(False, [1], [Seg(0, None, b"a"), Seg(0, 0, b"b")], []),
    # sparse but under 16 MiB: still a static image
    "sparse-small": Case(False, [32], [Seg(0, 0, b"a"), Seg(0, 0x1F0000, b"b")], []),
    # sparse and over 16 MiB: too costly, stays segmented
    "sparse-large": Case(False, [400], [Seg(0, 0, b"a"), Seg(0, 0x1800000, b"b")], []),
}


@pytest.mark.parametrize("name", list(FIXED))
def test_fixed_layouts_match_wasmtime(name: str) -> None:
    assert ours(FIXED[name]) == wasmtimes(FIXED[name])


def test_plan_records_static_images_and_passive_ranges() -> None:
    layout = plan_data(to_translation(FIXED["two-memories"]), page_size=0x1000)
    assert layout.data_align == 0x1000
    init = layout.memory_initialization
    assert init == StaticMemoryInitialization(
        (
            StaticMemoryInitializer(0, DataRange(0, 0x1000)),
            StaticMemoryInitializer(0x10000, DataRange(0x1000, 0x2000)),
        )
    )
    assert layout.active_size == 0x2000
    assert layout.passive_data == (b"p",)
    assert layout.passive_data_map == ((2, DataRange(0, 1)),)  # after the two active


def test_plan_segmented_keeps_segments_verbatim() -> None:
    case = FIXED["global-offset"]
    layout = plan_data(to_translation(case), page_size=0x1000)
    assert layout.data_align is None
    assert layout.data == (b"a", b"b")
    init = layout.memory_initialization
    assert isinstance(init, SegmentedMemoryInitialization)
    assert [s.data for s in init.segments] == [DataRange(0, 1), DataRange(1, 2)]
    assert init.segments[0].offset.ops[0].kind == ConstOpKind.GLOBAL_GET


def test_copy_on_write_off_means_segmented() -> None:
    layout = plan_data(to_translation(FIXED["t28"]), page_size=0x1000, memory_init_cow=False)
    assert isinstance(layout.memory_initialization, SegmentedMemoryInitialization)
    assert layout.data == (b"hello world",)


def test_page_size_larger_than_wasm_page_refuses_static() -> None:
    layout = plan_data(to_translation(FIXED["t28"]), page_size=0x20000)
    assert isinstance(layout.memory_initialization, SegmentedMemoryInitialization)
    # the 64 KiB aarch64-linux page still allows images
    layout = plan_data(to_translation(FIXED["t28"]), page_size=0x10000)
    assert isinstance(layout.memory_initialization, StaticMemoryInitialization)
    assert layout.active_size == 0x10000
