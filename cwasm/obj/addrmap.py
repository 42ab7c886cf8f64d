"""``.wasmtime.addrmap``: native text offset → wasm module offset, its encoder and lookup."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from cwasm.obj.constants import NO_FILE_POS
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.traps import strictly_ascending

_U32 = struct.Struct("<I")


def encode_address_map(entries: Iterable[tuple[int, int | None]]) -> bytes:
    """Encode ``(text offset, wasm offset or None)`` pairs with strictly ascending text offsets.

    ``None`` (or ``NO_FILE_POS``) marks code with no source position.
    """
    items = list(entries)
    offsets = bytearray(_U32.pack(len(items)))
    positions = bytearray()
    previous = -1
    for offset, pos in items:
        if not 0 <= offset <= 0xFFFFFFFF:
            raise ValueError(f"address-map text offset {offset:#x} does not fit in 32 bits")
        if offset <= previous:
            raise ValueError(
                f"address-map offsets are not strictly ascending ({offset:#x} after {previous:#x})"
            )
        previous = offset
        wasm = NO_FILE_POS if pos is None else pos
        if not 0 <= wasm <= 0xFFFFFFFF:
            raise ValueError(f"wasm offset {wasm:#x} does not fit in 32 bits")
        offsets += _U32.pack(offset)
        positions += _U32.pack(wasm)
    return bytes(offsets + positions)


def lookup_file_pos(section: bytes | memoryview, text_offset: int) -> int | None:
    """Wasm offset of the greatest entry ≤ ``text_offset``; None if there is none, the entry
    has no position, or the section is malformed. Binary search, no full decode."""
    if len(section) < 4:
        return None
    count: int = _U32.unpack_from(section, 0)[0]
    if 4 + 8 * count > len(section):
        return None
    unpack = _U32.unpack_from
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
    if len(section) < 4:
        raise CorruptArtifactError(
            f"`.wasmtime.addrmap` is {len(section)} bytes, too small for its entry count"
        )
    count = _U32.unpack_from(section, 0)[0]
    if 4 + 8 * count != len(section):
        raise CorruptArtifactError(
            f"`.wasmtime.addrmap` claims {count} entries ({4 + 8 * count} bytes) "
            f"but is {len(section)} bytes"
        )
    offsets = struct.unpack_from(f"<{count}I", section, 4)
    positions = struct.unpack_from(f"<{count}I", section, 4 + 4 * count)
    return list(zip(offsets, positions, strict=True))


def check_address_map(section: bytes | memoryview, text_size: int) -> None:
    """Check ``.wasmtime.addrmap`` without building per-entry tuples: exact size and strictly
    ascending text offsets inside ``.text`` of ``text_size`` bytes."""
    if len(section) < 4:
        raise CorruptArtifactError(
            f"`.wasmtime.addrmap` is {len(section)} bytes, too small for its entry count"
        )
    count: int = _U32.unpack_from(section, 0)[0]
    if 4 + 8 * count != len(section):
        raise CorruptArtifactError(
            f"`.wasmtime.addrmap` claims {count} entries ({4 + 8 * count} bytes) "
            f"but is {len(section)} bytes"
        )
    if not count:
        return
    offsets: tuple[int, ...] = struct.unpack_from(f"<{count}I", section, 4)
    if not strictly_ascending(offsets):
        raise CorruptArtifactError("`.wasmtime.addrmap` offsets are not strictly ascending")
    if offsets[-1] >= text_size:
        raise CorruptArtifactError(
            f"address-map offset {offsets[-1]:#x} is outside `.text` ({text_size:#x} bytes)"
        )
