"""The validator's own LEB128 readers, and a bridge to the shared immediate readers.

Positions are indices into the body's bytes; ``base`` turns them into module offsets
for errors.
"""

from __future__ import annotations

from typing import Any, Final

from cwasm.errors import MalformedError
from cwasm.wasm import operators as ops
from cwasm.wasm.reader import BinaryReader

# These LEB128 readers follow BinaryReader's rules and wording; they exist because
# linkers pad relocated indices and constants to 5 bytes, which makes multi-byte
# values common. Reading past the body raises IndexError (see validate_function_body).


def read_u32(code: bytes, pos: int, base: int) -> tuple[int, int]:
    """A u32 LEB128 at ``pos``: (value, position after it)."""
    result = 0
    shift = 0
    p = pos
    while shift < 28:
        b = code[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, p
        shift += 7
    b = code[p]  # the fifth byte may only carry the top 4 bits
    if (b & 0x7F) >> 4:
        raise MalformedError("integer too large", base + p)
    if b & 0x80:
        raise MalformedError("integer representation too long", base + p + 1)
    return result | (b << 28), p + 1


def read_u64(code: bytes, pos: int, base: int) -> tuple[int, int]:
    """A u64 LEB128 at ``pos``: (value, position after it)."""
    result = 0
    shift = 0
    p = pos
    while shift < 63:
        b = code[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, p
        shift += 7
    b = code[p]  # the tenth byte may only carry the top bit
    if (b & 0x7F) >> 1:
        raise MalformedError("integer too large", base + p)
    if b & 0x80:
        raise MalformedError("integer representation too long", base + p + 1)
    return result | (b << 63), p + 1


# the bits of the final byte of a maximal-length signed LEB128 that must all equal
# its sign bit
S32_LAST_MASK: Final = 0x78
S64_LAST_MASK: Final = 0x7F


def skip_sleb(code: bytes, pos: int, base: int, max_bytes: int, last_mask: int) -> int:
    """The position after a signed LEB128 of at most ``max_bytes`` bytes."""
    p = pos
    last = pos + max_bytes - 1
    while p < last:
        if code[p] < 0x80:
            return p + 1
        p += 1
    b = code[p]
    high = b & last_mask
    if high and high != last_mask:
        raise MalformedError("integer too large", base + p)
    if b & 0x80:
        raise MalformedError("integer representation too long", base + p + 1)
    return p + 1


def read_with(code: bytes, pos: int, base: int, kind: int) -> tuple[Any, int]:
    """Immediates of ``kind`` at ``pos`` read by the shared readers: (value, next position)."""
    r = BinaryReader(code, pos)
    try:
        v = ops.READ_IMMEDIATES[kind](r)
    except MalformedError as e:
        raise MalformedError(e.message, e.offset + base) from None
    return v, r.pos
