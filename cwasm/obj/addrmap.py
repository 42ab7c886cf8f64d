"""``.wasmtime.addrmap``: native text offset → wasm module offset, its encoder and lookup."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from cwasm.obj.constants import ELF_WASMTIME_ADDRMAP, NO_FILE_POS
from cwasm.obj.offset_table import (
    U32,
    check_offsets,
    pack_offsets,
    read_offset_table,
    table_count,
)


def encode_address_map(entries: Iterable[tuple[int, int | None]]) -> bytes:
    """Encode ``(text offset, wasm offset or None)`` pairs with strictly ascending text offsets.

    ``None`` (or ``NO_FILE_POS``) marks code with no source position.
    """
    items = list(entries)
    positions = [NO_FILE_POS if pos is None else pos for _, pos in items]
    for wasm in positions:
        if not 0 <= wasm <= 0xFFFFFFFF:
            raise ValueError(f"wasm offset {wasm:#x} does not fit in 32 bits")
    head = pack_offsets([offset for offset, _ in items], "address-map")
    return head + struct.pack(f"<{len(positions)}I", *positions)


def lookup_file_pos(section: bytes | memoryview, text_offset: int) -> int | None:
    """Wasm offset of the greatest entry ≤ ``text_offset``; None if there is none, the entry
    has no position, or the section is malformed. Binary search, no full decode."""
    count = table_count(section, 4)
    if count is None:
        return None
    unpack = U32.unpack_from
    # first index whose offset is > text_offset
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        if unpack(section, 4 + 4 * mid)[0] <= text_offset:
            lo = mid + 1
        else:
            hi = mid
    if lo == 0:
        return None
    pos: int = unpack(section, 4 + 4 * count + 4 * (lo - 1))[0]
    return None if pos == NO_FILE_POS else pos


def decode_address_map(section: bytes | memoryview) -> list[tuple[int, int]]:
    """All ``(text offset, wasm offset)`` entries (``NO_FILE_POS`` kept as is)."""
    offsets, raw = read_offset_table(section, ELF_WASMTIME_ADDRMAP, 4)
    positions = struct.unpack_from(f"<{len(offsets)}I", raw)
    return list(zip(offsets, positions, strict=True))


def check_address_map(section: bytes | memoryview, text_size: int) -> None:
    """Check ``.wasmtime.addrmap`` without building per-entry tuples: exact size and strictly
    ascending text offsets inside ``.text`` of ``text_size`` bytes."""
    offsets, _ = read_offset_table(section, ELF_WASMTIME_ADDRMAP, 4)
    check_offsets(offsets, ELF_WASMTIME_ADDRMAP, "address-map", text_size)
