"""Memory initialization planning: Static page-aligned memory images or Segmented data.

Decides exactly as Wasmtime v28's ``try_static_init(P, 16 MiB)`` (docs/artifact-format.md §1): a
module gets Static images when every active segment has a constant offset, targets a
defined memory, lies within the memory's minimum size, the page size is at least ``P``,
and each image is dense enough (span < 2 × data, or span < 16 MiB). Otherwise the active
segments are kept verbatim (Segmented). The result lists the ``.rodata.wasm`` chunks in
order, with ranges relative to the module's first active chunk (active) or first passive
chunk (passive); ``ObjectBuilder.append`` rebases them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cwasm.obj.info import (
    DataRange,
    MemoryInitialization,
    MemoryInitializer,
    SegmentedMemoryInitialization,
    StaticMemoryInitialization,
    StaticMemoryInitializer,
)
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import ConstExpr, ConstOpKind, SegmentMode

#: Wasmtime's default ``memory_guaranteed_dense_image_size``.
DENSE_IMAGE_SIZE = 16 << 20
#: The only wasm page size of WebAssembly 2.0.
WASM_PAGE_SIZE = 0x10000


@dataclass(frozen=True, slots=True)
class DataLayout:
    """The module's share of ``.rodata.wasm``, before placement in the section."""

    data: tuple[bytes, ...]  # active chunks, placed adjacently
    data_align: int | None  # alignment of the first active chunk (None: 1)
    passive_data: tuple[bytes, ...]  # passive segments in module order
    memory_initialization: MemoryInitialization  # ranges relative to the first active chunk
    passive_data_map: tuple[tuple[int, DataRange], ...]  # relative to the first passive chunk

    @property
    def active_size(self) -> int:
        return sum(len(c) for c in self.data)


def _const_offset(expr: ConstExpr | None) -> int | None:
    """The unsigned offset of an ``i32.const`` expression, or None if it is not constant."""
    if expr is None or len(expr.ops) != 1 or expr.ops[0].kind != ConstOpKind.I32_CONST:
        return None
    return expr.ops[0].value & 0xFFFFFFFF


def _segmented(
    translation: ModuleTranslation,
) -> tuple[tuple[bytes, ...], SegmentedMemoryInitialization]:
    chunks: list[bytes] = []
    inits: list[MemoryInitializer] = []
    total = 0
    for seg in translation.data:
        if seg.mode != SegmentMode.ACTIVE:
            continue
        assert seg.offset is not None
        inits.append(
            MemoryInitializer(seg.memory_index, seg.offset, DataRange(total, total + len(seg.data)))
        )
        chunks.append(bytes(seg.data))
        total += len(seg.data)
    return tuple(chunks), SegmentedMemoryInitialization(tuple(inits))


@dataclass
class _MemoryExtent:
    data_size: int = 0
    min_addr: int | None = None
    max_addr: int = 0
    segments: list[tuple[int, bytes]] | None = None


def _try_static(
    translation: ModuleTranslation, page_size: int, dense_image_size: int
) -> tuple[tuple[bytes, ...], StaticMemoryInitialization] | None:
    memories = translation.module.memories
    extents = [_MemoryExtent(segments=[]) for _ in memories]
    for seg in translation.data:
        if seg.mode != SegmentMode.ACTIVE:
            continue
        if seg.memory_index >= len(memories):
            return None
        start = _const_offset(seg.offset)
        if start is None:
            return None
        end = start + len(seg.data)
        if end > memories[seg.memory_index].limits.min * WASM_PAGE_SIZE:
            return None
        if seg.memory_index < translation.module.num_imported_memories:
            return None
        ext = extents[seg.memory_index]
        if seg.data:
            ext.data_size += len(seg.data)
            ext.min_addr = start if ext.min_addr is None else min(ext.min_addr, start)
            ext.max_addr = max(ext.max_addr, end)
            assert ext.segments is not None
            ext.segments.append((start, bytes(seg.data)))

    for ext in extents:
        if ext.data_size == 0:
            continue
        assert ext.min_addr is not None
        if WASM_PAGE_SIZE < page_size:
            return None
        span = ext.max_addr - ext.min_addr
        if span < 2 * ext.data_size or span < dense_image_size:
            continue
        return None

    chunks: list[bytes] = []
    images: list[StaticMemoryInitializer | None] = []
    total = 0
    for ext in extents:
        if ext.data_size == 0 or ext.min_addr is None or not ext.segments:
            images.append(None)
            continue
        image = bytearray(ext.max_addr - ext.min_addr)
        for start, data in ext.segments:
            pos = start - ext.min_addr
            image[pos : pos + len(data)] = data
        offset = ext.min_addr
        stripped = image.rstrip(b"\0")
        if stripped:
            lead = len(stripped) - len(stripped.lstrip(b"\0"))
            image = stripped[lead:]
            offset += lead
        # an all-zero image is kept as is
        length = len(image)
        prefix = offset % page_size
        if prefix:
            chunks.append(bytes(prefix))
            offset -= prefix
            length += prefix
        chunks.append(bytes(image))
        if length % page_size:
            pad = page_size - length % page_size
            chunks.append(bytes(pad))
            length += pad
        images.append(StaticMemoryInitializer(offset, DataRange(total, total + length)))
        total += length
    return tuple(chunks), StaticMemoryInitialization(tuple(images))


def plan_data(
    translation: ModuleTranslation,
    *,
    page_size: int,
    memory_init_cow: bool = True,
    dense_image_size: int = DENSE_IMAGE_SIZE,
) -> DataLayout:
    """Choose Static or Segmented initialization and list the module's data chunks.

    ``page_size`` is the target's page alignment ``P`` (``page_align_for``); Static
    images are only attempted when ``memory_init_cow`` is on, as in Wasmtime.
    """
    passive: list[bytes] = []
    passive_map: list[tuple[int, DataRange]] = []
    total = 0
    for index, seg in enumerate(translation.data):
        if seg.mode == SegmentMode.PASSIVE:
            passive.append(bytes(seg.data))
            passive_map.append((index, DataRange(total, total + len(seg.data))))
            total += len(seg.data)

    static = _try_static(translation, page_size, dense_image_size) if memory_init_cow else None
    if static is not None:
        chunks, init = static
        return DataLayout(chunks, page_size, tuple(passive), init, tuple(passive_map))
    seg_chunks, seg_init = _segmented(translation)
    return DataLayout(seg_chunks, None, tuple(passive), seg_init, tuple(passive_map))
