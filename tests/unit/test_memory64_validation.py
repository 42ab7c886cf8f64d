"""Validation of memory64 (Wasm 3.0): each memory and table instruction takes the index
type of its memory or table (i64 for a 64-bit one, ``memory.copy``'s length the smaller
of two), memarg offsets are u64s (at most 2^32-1 for a 32-bit memory), segment offsets
have the index type; without memory64, offsets are Wasm 2.0's u32s."""

from __future__ import annotations

import pytest

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm import decode_module
from tests.unit.test_decoder import body, functype, leb, module, section, vec, wat

MEMORIES = "(memory $m64 i64 1) (memory $m32 1) (table $t64 i64 2 funcref) (table $t32 2 funcref)"

VALID = [
    "(drop (i32.load $m64 (i64.const 0)))",
    "(i64.store $m64 offset=0x1_0000_0000 (i64.const 0) (i64.const 1))",
    "(drop (v128.load $m64 (i64.const 0)))",
    "(drop (i32.atomic.load $m64 (i64.const 0)))",
    "(drop (i64.add (memory.size $m64) (memory.grow $m64 (i64.const 1))))",
    "(memory.fill $m64 (i64.const 0) (i32.const 0) (i64.const 1))",
    "(memory.copy $m64 $m64 (i64.const 0) (i64.const 0) (i64.const 1))",
    "(memory.copy $m64 $m32 (i64.const 0) (i32.const 0) (i32.const 1))",
    "(memory.copy $m32 $m64 (i32.const 0) (i64.const 0) (i32.const 1))",
    "(memory.init $m64 $d (i64.const 0) (i32.const 0) (i32.const 1))",
    "(drop (table.get $t64 (i64.const 0)))",
    "(drop (i64.add (table.size $t64) (table.grow $t64 (ref.null func) (i64.const 1))))",
    "(table.fill $t64 (i64.const 0) (ref.null func) (i64.const 1))",
    "(table.copy $t64 $t32 (i64.const 0) (i32.const 0) (i32.const 1))",
    "(table.init $t64 $e (i64.const 0) (i32.const 0) (i32.const 1))",
    "(drop (call_indirect $t64 (result i32) (i64.const 0)))",
]

INVALID = [
    "(drop (i32.load $m64 (i32.const 0)))",
    "(drop (i32.load $m32 (i64.const 0)))",
    "(drop (i32.atomic.load $m64 (i32.const 0)))",
    "(drop (i32.add (memory.size $m64) (i32.const 0)))",
    "(memory.fill $m64 (i64.const 0) (i32.const 0) (i32.const 1))",
    "(memory.copy $m64 $m32 (i64.const 0) (i32.const 0) (i64.const 1))",
    "(memory.init $m64 $d (i32.const 0) (i32.const 0) (i32.const 1))",
    "(drop (table.get $t64 (i32.const 0)))",
    "(table.copy $t64 $t32 (i64.const 0) (i32.const 0) (i64.const 1))",
    "(drop (call_indirect $t64 (result i32) (i32.const 0)))",
]


def _module(code: str) -> bytes:
    return wat(
        f'(module {MEMORIES} (type (func (result i32))) (data $d "x")'
        f" (elem $e funcref (ref.null func)) (func {code}))"
    )


@pytest.mark.parametrize("code", VALID)
def test_index_types_of_64_bit_memories_and_tables(code: str) -> None:
    decode_module(_module(code))


@pytest.mark.parametrize("code", INVALID)
def test_wrong_index_type_is_a_type_mismatch(code: str) -> None:
    with pytest.raises(InvalidError, match="type mismatch"):
        decode_module(_module(code))


def test_segment_offsets_have_the_index_type() -> None:
    decode_module(wat('(module (memory i64 1) (data (i64.const 8) "x"))'))
    with pytest.raises(InvalidError, match="type mismatch"):
        decode_module(wat('(module (memory i64 1) (data (i32.const 8) "x"))'))
    decode_module(wat("(module (table i64 1 funcref) (elem (i64.const 0) func))"))
    with pytest.raises(InvalidError, match="type mismatch"):
        decode_module(wat("(module (table i64 1 funcref) (elem (i32.const 0) func))"))


def _load_with_offset(memory_flags: bytes, offset: bytes) -> bytes:
    """``(drop (i32.load offset=<offset> (<index type>.const 0)))`` with one memory."""
    const = b"\x42\x00" if memory_flags[0] & 4 else b"\x41\x00"
    code = const + b"\x28\x02" + offset + b"\x1a\x0b"
    return module(
        section(1, vec([functype()])),
        section(3, vec([b"\x00"])),
        section(5, vec([memory_flags])),
        section(10, vec([body(code)])),
    )


def test_memarg_offsets_are_u64s() -> None:
    big = leb(1 << 40)
    decode_module(_load_with_offset(b"\x04\x01", big))
    decode_module(_load_with_offset(b"\x04\x01", leb((1 << 64) - 1)))
    decode_module(_load_with_offset(b"\x00\x01", leb((1 << 32) - 1)))
    with pytest.raises(InvalidError, match="offset out of range"):
        decode_module(_load_with_offset(b"\x00\x01", big))
    # without memory64: Wasm 2.0's u32 offsets, malformed past 32 bits
    with pytest.raises(MalformedError, match="integer representation too long"):
        decode_module(_load_with_offset(b"\x00\x01", big), memory64=False)
