"""The framing `.wasmtime.addrmap` and `.wasmtime.traps` share: a u32 count, that many
strictly ascending u32 text offsets, then that many fixed-size values (all little-endian)."""

from __future__ import annotations

import itertools
import operator
import struct
from collections.abc import Sequence

from cwasm.obj.errors import CorruptArtifactError

U32 = struct.Struct("<I")


def pack_offsets(offsets: list[int], noun: str) -> bytes:
    """The count and the text offsets of a table; ``ValueError`` unless the offsets fit in
    32 bits and ascend strictly (the values follow, written by the caller)."""
    previous = -1
    for offset in offsets:
        if not 0 <= offset <= 0xFFFFFFFF:
            raise ValueError(f"{noun} offset {offset:#x} does not fit in 32 bits")
        if offset <= previous:
            raise ValueError(
                f"{noun} offsets are not strictly ascending ({offset:#x} after {previous:#x})"
            )
        previous = offset
    return struct.pack(f"<I{len(offsets)}I", len(offsets), *offsets)


def table_count(section: bytes | memoryview, value_size: int) -> int | None:
    """The entry count if the section is large enough to hold that many entries, else None
    (what the lookups use: they never raise)."""
    if len(section) < 4:
        return None
    count: int = U32.unpack_from(section, 0)[0]
    if 4 + (4 + value_size) * count > len(section):
        return None
    return count


def check_table_size(section: bytes | memoryview, name: str, value_size: int) -> int:
    """The entry count; ``CorruptArtifactError`` unless the section size matches it exactly
    (the cheap check made at load; the entries are checked at first lookup)."""
    if len(section) < 4:
        raise CorruptArtifactError(
            f"`{name}` is {len(section)} bytes, too small for its entry count"
        )
    count: int = U32.unpack_from(section, 0)[0]
    size = 4 + (4 + value_size) * count
    if size != len(section):
        raise CorruptArtifactError(
            f"`{name}` claims {count} entries ({size} bytes) but is {len(section)} bytes"
        )
    return count


def read_offset_table(
    section: bytes | memoryview, name: str, value_size: int
) -> tuple[tuple[int, ...], bytes | memoryview]:
    """The text offsets and the bytes of the values; the section size must match exactly."""
    count = check_table_size(section, name, value_size)
    offsets: tuple[int, ...] = struct.unpack_from(f"<{count}I", section, 4)
    return offsets, section[4 + 4 * count :]


def check_offsets(offsets: tuple[int, ...], name: str, noun: str, text_size: int) -> None:
    """Offsets must ascend strictly and lie inside ``.text`` of ``text_size`` bytes."""
    if not offsets:
        return
    if not strictly_ascending(offsets):
        raise CorruptArtifactError(f"`{name}` offsets are not strictly ascending")
    if offsets[-1] >= text_size:
        raise CorruptArtifactError(
            f"{noun} offset {offsets[-1]:#x} is outside `.text` ({text_size:#x} bytes)"
        )


def strictly_ascending(values: Sequence[int]) -> bool:
    """True if every value is greater than the one before (a C-level pairwise scan)."""
    return all(map(operator.lt, values, itertools.islice(values, 1, None)))
