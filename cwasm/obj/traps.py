"""``.wasmtime.traps``: the trap-code enum, the section encoder and the exact-offset lookup."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from cwasm.obj.constants import ELF_WASMTIME_TRAPS
from cwasm.obj.errors import CorruptArtifactError
from cwasm.obj.offset_table import (
    U32,
    check_offsets,
    pack_offsets,
    read_offset_table,
    table_count,
)


class Trap(enum.IntEnum):
    """Why wasm code trapped, numbered as Wasmtime v28's ``Trap`` (the byte in the section)."""

    StackOverflow = 0
    MemoryOutOfBounds = 1
    HeapMisaligned = 2
    TableOutOfBounds = 3
    IndirectCallToNull = 4
    BadSignature = 5
    IntegerOverflow = 6
    IntegerDivisionByZero = 7
    BadConversionToInteger = 8
    UnreachableCodeReached = 9
    Interrupt = 10
    AlwaysTrapAdapter = 11
    OutOfFuel = 12
    AtomicWaitNonSharedMemory = 13
    NullReference = 14
    ArrayOutOfBounds = 15
    AllocationTooLarge = 16
    CastFailure = 17
    CannotEnterComponent = 18

    @property
    def message(self) -> str:
        """The trap's description, e.g. ``integer divide by zero``."""
        return _TRAP_MESSAGES[self]

    @classmethod
    def from_code(cls, code: int) -> Trap | None:
        """The trap for a section byte, or None for a byte no trap uses."""
        try:
            return cls(code)
        except ValueError:
            return None


_TRAP_MESSAGES = {
    Trap.StackOverflow: "call stack exhausted",
    Trap.MemoryOutOfBounds: "out of bounds memory access",
    Trap.HeapMisaligned: "unaligned atomic",
    Trap.TableOutOfBounds: "undefined element: out of bounds table access",
    Trap.IndirectCallToNull: "uninitialized element",
    Trap.BadSignature: "indirect call type mismatch",
    Trap.IntegerOverflow: "integer overflow",
    Trap.IntegerDivisionByZero: "integer divide by zero",
    Trap.BadConversionToInteger: "invalid conversion to integer",
    Trap.UnreachableCodeReached: "wasm `unreachable` instruction executed",
    Trap.Interrupt: "interrupt",
    Trap.AlwaysTrapAdapter: "degenerate component adapter called",
    Trap.OutOfFuel: "all fuel consumed by WebAssembly",
    Trap.AtomicWaitNonSharedMemory: "atomic wait on non-shared memory",
    Trap.NullReference: "null reference",
    Trap.ArrayOutOfBounds: "out of bounds array access",
    Trap.AllocationTooLarge: "allocation size too large",
    Trap.CastFailure: "cast failure",
    Trap.CannotEnterComponent: "cannot enter component instance",
}


def encode_traps(entries: Iterable[tuple[int, Trap]]) -> bytes:
    """Encode ``(text offset, trap)`` pairs, with strictly ascending offsets."""
    items = list(entries)
    codes = bytes(Trap(trap) for _, trap in items)
    return pack_offsets([offset for offset, _ in items], "trap") + codes


def lookup_trap_code(section: bytes | memoryview, text_offset: int) -> Trap | None:
    """The trap recorded exactly at ``text_offset``, or None (binary search, no full decode)."""
    count = table_count(section, 1)
    if count is None:
        return None
    unpack = U32.unpack_from
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        value = unpack(section, 4 + 4 * mid)[0]
        if value < text_offset:
            lo = mid + 1
        elif value > text_offset:
            hi = mid
        else:
            return Trap.from_code(section[4 + 4 * count + mid])
    return None


def decode_traps(section: bytes | memoryview) -> list[tuple[int, int]]:
    """All ``(text offset, raw trap byte)`` entries; the section size must match exactly."""
    offsets, codes = read_offset_table(section, ELF_WASMTIME_TRAPS, 1)
    return list(zip(offsets, bytes(codes), strict=True))


_VALID_CODES = bytes(range(len(Trap)))


def check_trap_table(section: bytes | memoryview, text_size: int) -> None:
    """Check ``.wasmtime.traps`` without building per-entry tuples: exact size, strictly
    ascending offsets inside ``.text`` of ``text_size`` bytes, and known trap codes."""
    offsets, raw = read_offset_table(section, ELF_WASMTIME_TRAPS, 1)
    check_offsets(offsets, ELF_WASMTIME_TRAPS, "trap", text_size)
    codes = bytes(raw)
    if codes.translate(None, _VALID_CODES):
        i = next(i for i, c in enumerate(codes) if c >= len(Trap))
        raise CorruptArtifactError(f"unknown trap code {codes[i]} at text offset {offsets[i]:#x}")
