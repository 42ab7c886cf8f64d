"""``.wasmtime.traps``: the trap-code enum, the section encoder and the exact-offset lookup."""

from __future__ import annotations

import enum
import itertools
import operator
import struct
from collections.abc import Iterable

from cwasm.obj.errors import CorruptArtifactError

_U32 = struct.Struct("<I")


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
    offsets = bytearray(_U32.pack(len(items)))
    codes = bytearray()
    previous = -1
    for offset, trap in items:
        if not 0 <= offset <= 0xFFFFFFFF:
            raise ValueError(f"trap offset {offset:#x} does not fit in 32 bits")
        if offset <= previous:
            raise ValueError(
                f"trap offsets are not strictly ascending ({offset:#x} after {previous:#x})"
            )
        previous = offset
        offsets += _U32.pack(offset)
        codes.append(Trap(trap))
    return bytes(offsets + codes)


def _trap_arrays(section: bytes | memoryview) -> int | None:
    """The entry count if the section holds that many entries, else None."""
    if len(section) < 4:
        return None
    count: int = _U32.unpack_from(section, 0)[0]
    if 4 + count * 5 > len(section):
        return None
    return count


def lookup_trap_code(section: bytes | memoryview, text_offset: int) -> Trap | None:
    """The trap recorded exactly at ``text_offset``, or None (binary search, no full decode)."""
    count = _trap_arrays(section)
    if count is None:
        return None
    unpack = _U32.unpack_from
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
    if len(section) < 4:
        raise CorruptArtifactError(
            f"`.wasmtime.traps` is {len(section)} bytes, too small for its entry count"
        )
    count = _U32.unpack_from(section, 0)[0]
    if 4 + 5 * count != len(section):
        raise CorruptArtifactError(
            f"`.wasmtime.traps` claims {count} entries ({4 + 5 * count} bytes) "
            f"but is {len(section)} bytes"
        )
    offsets = struct.unpack_from(f"<{count}I", section, 4)
    codes = bytes(section[4 + 4 * count :])
    return list(zip(offsets, codes, strict=True))


def strictly_ascending(values: tuple[int, ...]) -> bool:
    """True if every value is greater than the one before (a C-level pairwise scan)."""
    return all(map(operator.lt, values, itertools.islice(values, 1, None)))


_VALID_CODES = bytes(range(len(Trap)))


def check_trap_table(section: bytes | memoryview, text_size: int) -> None:
    """Check ``.wasmtime.traps`` without building per-entry tuples: exact size, strictly
    ascending offsets inside ``.text`` of ``text_size`` bytes, and known trap codes."""
    if len(section) < 4:
        raise CorruptArtifactError(
            f"`.wasmtime.traps` is {len(section)} bytes, too small for its entry count"
        )
    count: int = _U32.unpack_from(section, 0)[0]
    if 4 + 5 * count != len(section):
        raise CorruptArtifactError(
            f"`.wasmtime.traps` claims {count} entries ({4 + 5 * count} bytes) "
            f"but is {len(section)} bytes"
        )
    if not count:
        return
    offsets: tuple[int, ...] = struct.unpack_from(f"<{count}I", section, 4)
    if not strictly_ascending(offsets):
        raise CorruptArtifactError("`.wasmtime.traps` offsets are not strictly ascending")
    if offsets[-1] >= text_size:
        raise CorruptArtifactError(
            f"trap offset {offsets[-1]:#x} is outside `.text` ({text_size:#x} bytes)"
        )
    codes = bytes(section[4 + 4 * count :])
    if codes.translate(None, _VALID_CODES):
        i = next(i for i, c in enumerate(codes) if c >= len(Trap))
        raise CorruptArtifactError(f"unknown trap code {codes[i]} at text offset {offsets[i]:#x}")
