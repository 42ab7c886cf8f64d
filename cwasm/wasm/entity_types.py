"""Reading the types of a module's entities (as its import, table, memory, tag and global
sections write them) and names, with the spec reference interpreter's wording."""

from __future__ import annotations

from cwasm.errors import MalformedError
from cwasm.wasm.operators import read_ref_type, read_value_type
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import GlobalType, Limits, MemoryType, TableType


def read_name(r: BinaryReader) -> str:
    """A name: a UTF-8 string after its byte length."""
    start = r.pos
    n = r.len32()
    raw = r.bytes(n)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedError("malformed UTF-8 encoding", start) from None


def read_limits(r: BinaryReader, allowed: int = 1) -> tuple[Limits, int]:
    """Limits and their flags byte (bit 0: a maximum follows, bit 1: shared, bit 2:
    64-bit indices, whose limits are u64s), whose bits must all be in ``allowed``."""
    flag = r.u8()
    if flag & 0x7F & ~allowed:
        raise MalformedError("integer too large", r.pos - 1)
    if flag & 0x80:
        raise MalformedError("integer representation too long", r.pos)
    read = r.u64 if flag & LIMITS_64 else r.u32
    minimum = read()
    return Limits(minimum, read() if flag & 1 else None), flag


#: the limits flag of a shared memory (threads)
LIMITS_SHARED = 0x02
#: the limits flag of a 64-bit memory or table (memory64)
LIMITS_64 = 0x04


def read_table_type(r: BinaryReader, memory64: bool = True) -> TableType:
    """A table type; with memory64, flags 4 and 5 make it a 64-bit table."""
    element = read_ref_type(r)
    limits, flag = read_limits(r, 1 | (LIMITS_64 if memory64 else 0))
    return TableType(element, limits, bool(flag & LIMITS_64))


def read_memory_type(r: BinaryReader, threads: bool, memory64: bool = True) -> MemoryType:
    """A memory type; with the threads proposal, flags 2 and 3 make it shared, with
    memory64, flags 4 to 7 make it 64-bit."""
    allowed = 1 | (LIMITS_SHARED if threads else 0) | (LIMITS_64 if memory64 else 0)
    limits, flag = read_limits(r, allowed)
    return MemoryType(limits, bool(flag & LIMITS_SHARED), bool(flag & LIMITS_64))


def read_tag_type(r: BinaryReader) -> int:
    """A tag type: the attribute byte (0, an exception) and a function type index."""
    if r.u8() != 0:
        raise MalformedError("malformed tag attribute", r.pos - 1)
    return r.u32()


def read_global_type(r: BinaryReader) -> GlobalType:
    """A global type: the value type and the mutability byte (0 or 1)."""
    content = read_value_type(r)
    mut = r.u8()
    if mut > 1:
        raise MalformedError("malformed mutability", r.pos - 1)
    return GlobalType(content, bool(mut))
