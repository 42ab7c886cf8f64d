"""Reading instructions: opcodes, types and every kind of immediates, with the
reference interpreter's wording for malformed encodings."""

from __future__ import annotations

from typing import Any, Final

from cwasm.errors import MalformedError
from cwasm.wasm.ops.info import (
    BLOCK_EMPTY,
    CATCH_ALL,
    CATCH_ALL_REF,
    IMM_ATOMIC_FENCE,
    IMM_ATOMIC_MEMARG,
    IMM_BLOCKTYPE,
    IMM_BR_ON_CAST,
    IMM_BR_TABLE,
    IMM_CALL_INDIRECT,
    IMM_DATA,
    IMM_ELEM,
    IMM_F32,
    IMM_F64,
    IMM_FUNC,
    IMM_GLOBAL,
    IMM_HEAPTYPE,
    IMM_I32,
    IMM_I64,
    IMM_LABEL,
    IMM_LANE,
    IMM_LOCAL,
    IMM_MEMARG,
    IMM_MEMARG_LANE,
    IMM_MEMORY,
    IMM_MEMORY_COPY,
    IMM_MEMORY_INIT,
    IMM_NONE,
    IMM_REFTYPE,
    IMM_SELECT_TYPES,
    IMM_SHUFFLE,
    IMM_TABLE,
    IMM_TABLE_COPY,
    IMM_TABLE_INIT,
    IMM_TAG,
    IMM_TRY_TABLE,
    IMM_TYPE,
    IMM_TYPE_PAIR,
    IMM_V128,
    NUM_IMM_KINDS,
    OPERATORS,
    PREFIXES,
    REFTYPE_BY_BYTE,
    SUPPORTED_HEAPS,
    VALTYPE_BY_BYTE,
    VALTYPE_BYTES,
    split_opcode_id,
)
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import CONCRETE_HEAP, REF_NULL_PREFIX, REF_PREFIX, ValueType, ref_type


def illegal_opcode(prefix: int | None, sub: int, offset: int) -> MalformedError:
    """The error for an opcode that no instruction has, worded as the spec's decoder does.

    The reference interpreter names the prefix of a 0xFC or 0xFE opcode, but of a SIMD
    (0xFD) opcode only the sub-opcode.
    """
    if prefix == 0xFC or prefix == 0xFE or prefix == 0xFB:
        return MalformedError(f"illegal opcode {prefix:02x} {sub:02x}", offset)
    return MalformedError(f"illegal opcode {sub:02x}", offset)


def illegal_opcode_id(code: int, offset: int) -> MalformedError:
    """``illegal_opcode`` for an opcode id (one that no instruction has)."""
    prefix, sub = split_opcode_id(code)
    return illegal_opcode(prefix, sub, offset)


def read_opcode(r: BinaryReader) -> int:
    """Read one opcode (with its prefix) and return its id; unknown ones are malformed."""
    start = r.pos
    if start >= r.end:
        raise MalformedError(r.eof_message, start)
    b = r.data[start]
    r.pos = start + 1  # r.u8() inlined: this runs once per instruction
    if b >= 0xFB and b <= 0xFE:
        sub = r.u32()
        _, first, end = PREFIXES[b - 0xFB]
        code = first + sub
        if code >= end or OPERATORS[code] is None:
            raise illegal_opcode(b, sub, start)
        return code
    if OPERATORS[b] is None:
        raise illegal_opcode(None, b, start)
    return b


def _not_a_type(r: BinaryReader, start: int) -> MalformedError:
    """The error for the byte at ``start``, which encodes no type of the one wanted.

    The spec's decoder reads a type as a one-byte signed LEB128 (so a continuation bit
    makes it too long), tries the number and vector types, and reports the failure of
    its last attempt, the reference types.
    """
    if r.data[start] & 0x80:
        return MalformedError("integer representation too long", start + 1)
    return MalformedError("malformed reference type", start)


def read_heap_type(r: BinaryReader) -> int:
    """A heap type (an s33: a type index, or an abstract type as a negative number),
    as its code: a ``HeapType`` or ``CONCRETE_HEAP + type index``."""
    start = r.pos
    v = r.s33()
    if v >= 0:
        if v > 0xFFFF_FFFF:
            raise MalformedError("integer too large", start)
        return CONCRETE_HEAP + v
    code = v + 0x80
    if code not in SUPPORTED_HEAPS:
        raise MalformedError("malformed heap type", start)
    return code


def read_value_type(r: BinaryReader) -> ValueType:
    """A value type: one byte, or ``0x63 ht`` / ``0x64 ht`` (``(ref null? ht)``)."""
    start = r.pos
    b = r.u8()
    t = VALTYPE_BY_BYTE[b]
    if t is not None:
        return t
    if b == REF_NULL_PREFIX or b == REF_PREFIX:
        return ref_type(b == REF_NULL_PREFIX, read_heap_type(r))
    raise _not_a_type(r, start)


def read_ref_type(r: BinaryReader) -> ValueType:
    """A reference type: a shorthand byte, or ``0x63 ht`` / ``0x64 ht``."""
    start = r.pos
    b = r.u8()
    t = REFTYPE_BY_BYTE[b]
    if t is not None:
        return t
    if b == REF_NULL_PREFIX or b == REF_PREFIX:
        return ref_type(b == REF_NULL_PREFIX, read_heap_type(r))
    raise _not_a_type(r, start)


def read_valtype(r: BinaryReader) -> int:
    """A value type as its byte (a plain int)."""
    return int(read_value_type(r))


def read_reftype(r: BinaryReader) -> int:
    """``ref.null``'s heap type, as the code of its nullable reference type."""
    return int(ref_type(True, read_heap_type(r)))


def read_blocktype(r: BinaryReader) -> int:
    """A block type: ``BLOCK_EMPTY``, ``-valtype``, or a type index (>= 0)."""
    b = r.peek()
    if b == 0x40:
        r.pos += 1
        return BLOCK_EMPTY
    if b in VALTYPE_BYTES:
        r.pos += 1
        return -b
    if b == REF_NULL_PREFIX or b == REF_PREFIX:
        return -int(read_value_type(r))
    start = r.pos
    try:
        index = r.s33()
    except MalformedError:
        index = -1
    if index >= 0:
        return index
    # neither a type index nor a value type: the spec's decoder tries the type index
    # first and reports why the byte is no value type
    r.pos = start + 1
    raise _not_a_type(r, start)


def read_zero_byte(r: BinaryReader) -> int:
    """A reserved memory-index byte, which must be 0x00 (``zero byte expected``)."""
    start = r.pos
    if r.u8() != 0:
        raise MalformedError("zero byte expected", start)
    return 0


#: the memarg flags bit saying a memory index follows the flags (multi-memory)
MEMARG_HAS_MEMORY: Final = 0x40


def read_memarg(r: BinaryReader) -> tuple[int, int, int]:
    """(alignment exponent, offset, memory index). Flags with bit 6 set carry a memory
    index after them (else memory 0); an exponent above 32, or flags of 128 and more,
    are malformed. The offset is a u64 (memory64; validation bounds a 32-bit memory's)."""
    align, memory = _memarg_flags(r)
    return align, r.u64(), memory


def read_memarg_32(r: BinaryReader) -> tuple[int, int, int]:
    """``read_memarg`` without memory64: the offset is a u32 (Wasm 2.0)."""
    align, memory = _memarg_flags(r)
    return align, r.u32(), memory


def _memarg_flags(r: BinaryReader) -> tuple[int, int]:
    """A memarg's (alignment exponent, memory index)."""
    flags = r.u32()
    memory = 0
    if flags >= MEMARG_HAS_MEMORY:
        if flags >= 2 * MEMARG_HAS_MEMORY:
            raise MalformedError("malformed memop flags", r.pos - 1)
        memory = r.u32()
        flags -= MEMARG_HAS_MEMORY
    if flags > 32:
        raise MalformedError("malformed memop flags", r.pos - 1)
    return flags, memory


def read_br_table(r: BinaryReader) -> tuple[tuple[int, ...], int]:
    """(targets, default) of ``br_table``."""
    u32 = r.u32
    targets = tuple([u32() for _ in range(r.len32())])
    return targets, u32()


def read_select_types(r: BinaryReader) -> tuple[int, ...]:
    """The value types of a typed ``select``."""
    return tuple([read_valtype(r) for _ in range(r.len32())])


def read_try_table(r: BinaryReader) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """(block type, catch clauses) of ``try_table``; a clause is (kind, tag, label), the
    tag -1 for ``catch_all`` and ``catch_all_ref``."""
    bt = read_blocktype(r)
    catches = []
    for _ in range(r.len32()):
        start = r.pos
        kind = r.u8()
        if kind > CATCH_ALL_REF:
            raise MalformedError("malformed handler kind", start)
        tag = r.u32() if kind < CATCH_ALL else -1
        catches.append((kind, tag, r.u32()))
    return bt, tuple(catches)


def _none(r: BinaryReader) -> None:
    return None


def _pair(r: BinaryReader) -> tuple[int, int]:
    first = r.u32()
    return first, r.u32()


def _memarg_lane(r: BinaryReader) -> tuple[int, int, int, int]:
    align, offset, memory = read_memarg(r)
    return align, offset, r.u8(), memory


def _memarg_lane_32(r: BinaryReader) -> tuple[int, int, int, int]:
    align, offset, memory = read_memarg_32(r)
    return align, offset, r.u8(), memory


def _memory_init(r: BinaryReader) -> tuple[int, int]:
    index = r.u32()
    return index, r.u32()


def _v128(r: BinaryReader) -> bytes:
    return r.bytes(16)


def _atomic_fence(r: BinaryReader) -> None:
    read_zero_byte(r)


def _heap_type_code(r: BinaryReader) -> int:
    return read_heap_type(r)


def read_br_on_cast(r: BinaryReader) -> tuple[int, int, int]:
    """``br_on_cast``'s flags byte (bit 0: the source type is nullable, bit 1: the
    target type is), label and two heap types: (label, source type, target type)."""
    at = r.pos
    flags = r.u8()
    if flags > 3:
        raise MalformedError("malformed br_on_cast flags", at)
    label = r.u32()
    source = ref_type(bool(flags & 1), read_heap_type(r))
    target = ref_type(bool(flags & 2), read_heap_type(r))
    return label, int(source), int(target)


_readers: dict[int, Any] = {
    IMM_NONE: _none,
    IMM_BLOCKTYPE: read_blocktype,
    IMM_LABEL: BinaryReader.u32,
    IMM_BR_TABLE: read_br_table,
    IMM_FUNC: BinaryReader.u32,
    IMM_CALL_INDIRECT: _pair,
    IMM_LOCAL: BinaryReader.u32,
    IMM_GLOBAL: BinaryReader.u32,
    IMM_TABLE: BinaryReader.u32,
    IMM_MEMARG: read_memarg,
    IMM_MEMARG_LANE: _memarg_lane,
    IMM_LANE: BinaryReader.u8,
    IMM_SHUFFLE: _v128,
    IMM_I32: BinaryReader.s32,
    IMM_I64: BinaryReader.s64,
    IMM_F32: BinaryReader.f32_bits,
    IMM_F64: BinaryReader.f64_bits,
    IMM_V128: _v128,
    IMM_SELECT_TYPES: read_select_types,
    IMM_REFTYPE: read_reftype,
    IMM_MEMORY: BinaryReader.u32,
    IMM_MEMORY_INIT: _memory_init,
    IMM_MEMORY_COPY: _pair,
    IMM_DATA: BinaryReader.u32,
    IMM_ELEM: BinaryReader.u32,
    IMM_TABLE_INIT: _pair,
    IMM_TABLE_COPY: _pair,
    IMM_TYPE: BinaryReader.u32,
    IMM_ATOMIC_MEMARG: read_memarg,
    IMM_ATOMIC_FENCE: _atomic_fence,
    IMM_TAG: BinaryReader.u32,
    IMM_TRY_TABLE: read_try_table,
    IMM_TYPE_PAIR: _pair,
    IMM_HEAPTYPE: _heap_type_code,
    IMM_BR_ON_CAST: read_br_on_cast,
}
assert len(_readers) == NUM_IMM_KINDS

# READ_IMMEDIATES[kind](reader) -> the immediates of that kind (see the module docstring)
READ_IMMEDIATES: tuple[Any, ...] = tuple(_readers[k] for k in range(NUM_IMM_KINDS))
# the same without memory64: memarg offsets are u32s (Wasm 2.0's malformed encodings)
_readers_32 = {
    **_readers,
    IMM_MEMARG: read_memarg_32,
    IMM_MEMARG_LANE: _memarg_lane_32,
    IMM_ATOMIC_MEMARG: read_memarg_32,
}
READ_IMMEDIATES_32: tuple[Any, ...] = tuple(_readers_32[k] for k in range(NUM_IMM_KINDS))


def read_immediates(r: BinaryReader, op: int) -> Any:
    """Read the immediates of the instruction with opcode id ``op``."""
    info = OPERATORS[op]
    assert info is not None
    return READ_IMMEDIATES[info.imm](r)
