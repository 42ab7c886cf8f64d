"""Tests of the structural instruction decoder (cwasm/wasm/instructions.py)."""

from __future__ import annotations

import struct

import pytest

from cwasm.errors import MalformedError
from cwasm.wasm import operators as ops
from cwasm.wasm.instructions import NON_CONSTANT, read_instructions
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import ConstOpKind, ValType
from tests.unit.test_operators import SAMPLE_IMMEDIATES

END = b"\x0b"
ALL = [info for info in ops.OPERATORS if info is not None]


def step_over(data: bytes, consts: list[tuple[int, int, int]] | None = None) -> tuple[bool, int]:
    r = BinaryReader(data)
    uses_data = read_instructions(r, consts)
    return uses_data, r.pos


def error_of(data: bytes) -> MalformedError:
    with pytest.raises(MalformedError) as info:
        step_over(data)
    return info.value


@pytest.mark.parametrize("info", ALL, ids=lambda info: info.name)
def test_every_instruction_of_the_table_is_stepped_over(info: ops.OpInfo) -> None:
    code = info.encoding + SAMPLE_IMMEDIATES[info.imm]
    if info.name == "else":
        code = b"\x41\x00\x04\x40" + code  # i32.const 0, if: the else needs its if
    elif info.name == "end":
        code = b"\x02\x40" + code  # it closes a block
    if info.imm in (ops.IMM_BLOCKTYPE, ops.IMM_TRY_TABLE) or info.name == "else":
        code += END  # close the block
    data = code + END + b"\xff"  # the byte after the final end is not read
    uses_data = info.imm in (ops.IMM_MEMORY_INIT, ops.IMM_DATA) or info.name in (
        "array.new_data",
        "array.init_data",
    )
    assert step_over(data) == (uses_data, len(data) - 1)


def test_unused_opcodes_are_illegal_with_the_spec_wording() -> None:
    checked = 0
    for code in range(ops.NUM_OPCODE_IDS):
        if ops.OPERATORS[code] is not None or code in (0xFB, 0xFC, 0xFD, 0xFE):
            continue
        if code < ops.FC_BASE:
            data, message = bytes([code]), f"illegal opcode {code:02x}"
        elif code < ops.FD_BASE:
            sub = code - ops.FC_BASE
            data, message = b"\xfc" + _uleb(sub), f"illegal opcode fc {sub:02x}"
        elif code < ops.FE_BASE:
            sub = code - ops.FD_BASE
            data, message = b"\xfd" + _uleb(sub), f"illegal opcode {sub:02x}"
        elif code >= ops.FB_BASE:
            sub = code - ops.FB_BASE
            data, message = b"\xfb" + _uleb(sub), f"illegal opcode fb {sub:02x}"
        else:
            sub = code - ops.FE_BASE
            data, message = b"\xfe" + _uleb(sub), f"illegal opcode fe {sub:02x}"
        e = error_of(b"\x01" + data + END)  # after a nop
        assert (e.message, e.offset) == (message, 1)
        checked += 1
    # 256 one-byte values, 256 + 288 + 79 sub-opcodes, minus 437 + 20 (relaxed SIMD)
    # + 67 (threads) instructions and 3 prefixes, minus the 4 typed function reference
    # instructions (0x14, 0xD4..0xD6), the 3 tail calls (0x12, 0x13, 0x15) and the 3
    # exception-handling ones (0x08, 0x0A, 0x1F), and GC's ref.eq (0xD3) and 0xFB prefix
    # (its 31 sub-opcodes are all instructions)
    assert checked == 3 * 256 + 0x20 + 0x4F - 437 - 20 - 67 - 3 - 4 - 3 - 3 - 2
    e = error_of(b"\xfd\xa0\x02" + END)  # sub-opcode 0x120, beyond the table
    assert (e.message, e.offset) == ("illegal opcode 120", 0)
    e = error_of(b"\xfe\x4f" + END)  # past the last atomic, i64.atomic.rmw32.cmpxchg_u
    assert (e.message, e.offset) == ("illegal opcode fe 4f", 0)


@pytest.mark.parametrize(
    ("code", "message", "offset"),
    [
        (b"\x05" + END, "END opcode expected", 0),  # else outside any if
        (b"\x02\x40\x05" + END + END, "END opcode expected", 2),  # else closing a block
        (b"\x41\x00\x04\x40\x05\x05" + END + END, "END opcode expected", 5),  # two elses
        (b"\x02\x40" + END, "unexpected end", 3),  # the block's end is not the last
        (b"\x02\x50" + END + END, "malformed reference type", 1),
        (b"\x0e\x09\x00" + END, "length out of bounds", 1),
        (b"\x1c\x01\x7a" + END, "malformed reference type", 2),
        (b"\xd0\x7f" + END, "malformed heap type", 1),  # Wasm 3.0's wording
        (b"\x28\x21\x00" + END, "malformed memop flags", 1),
        (b"\xfc\x0a\x00\x80\x80\x80\x80\x10" + END, "integer too large", 7),  # memory.copy
    ],
)
def test_malformed_sequences(code: bytes, message: str, offset: int) -> None:
    e = error_of(code)
    assert (e.message, e.offset) == (message, offset)


def test_outermost_instructions_are_collected_as_constant_operators() -> None:
    v128 = bytes(range(16))
    parts = [
        b"\x41\x7f",  # i32.const -1
        b"\x42\x80\x7f",  # i64.const -128
        b"\x43" + struct.pack("<f", 1.5),
        b"\x44" + struct.pack("<d", -2.0),
        b"\xfd\x0c" + v128,  # v128.const
        b"\x23\x03",  # global.get 3
        b"\xd0\x6f",  # ref.null extern
        b"\xd2\x05",  # ref.func 5
        b"\x6a",  # i32.add: constant (extended constant expressions)
        b"\x6b",  # i32.sub
        b"\x7e",  # i64.mul
        b"\x6c",  # i32.mul
        b"\x71",  # i32.and: not constant
        b"\x02\x40\x41\x00\x1a" + END,  # a block: only the block itself is outermost
        b"\xfd\x0e",  # i8x16.swizzle: not constant
    ]
    consts: list[tuple[int, int, int]] = []
    data = b"".join(parts) + END
    assert step_over(data, consts) == (False, len(data))
    offsets = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]
    assert consts == [
        (ConstOpKind.I32_CONST, 0xFFFF_FFFF, offsets[0]),
        (ConstOpKind.I64_CONST, 2**64 - 128, offsets[1]),
        (ConstOpKind.F32_CONST, struct.unpack("<I", struct.pack("<f", 1.5))[0], offsets[2]),
        (ConstOpKind.F64_CONST, struct.unpack("<Q", struct.pack("<d", -2.0))[0], offsets[3]),
        (ConstOpKind.V128_CONST, int.from_bytes(v128, "little"), offsets[4]),
        (ConstOpKind.GLOBAL_GET, 3, offsets[5]),
        (ConstOpKind.REF_NULL, int(ValType.EXTERNREF), offsets[6]),
        (ConstOpKind.REF_FUNC, 5, offsets[7]),
        (ConstOpKind.I32_ADD, 0, offsets[8]),
        (ConstOpKind.I32_SUB, 0, offsets[9]),
        (ConstOpKind.I64_MUL, 0, offsets[10]),
        (ConstOpKind.I32_MUL, 0, offsets[11]),
        (NON_CONSTANT, ops.BY_NAME["i32.and"], offsets[12]),
        (NON_CONSTANT, ops.BY_NAME["block"], offsets[13]),
        (NON_CONSTANT, ops.BY_NAME["i8x16.swizzle"], offsets[14]),
    ]


def test_constant_operators_are_those_of_wasm_3() -> None:
    """Wasm 2.0's constant operators, the extended constant expressions' arithmetic and
    GC's allocations and conversions."""
    names = {ops.OPERATORS[op].name for op in ops.CONST_OP_KINDS}  # type: ignore[union-attr]
    assert names == {
        "i32.const",
        "i64.const",
        "f32.const",
        "f64.const",
        "v128.const",
        "global.get",
        "ref.null",
        "ref.func",
        "i32.add",
        "i32.sub",
        "i32.mul",
        "i64.add",
        "i64.sub",
        "i64.mul",
        "struct.new",
        "struct.new_default",
        "array.new",
        "array.new_default",
        "array.new_fixed",
        "ref.i31",
        "any.convert_extern",
        "extern.convert_any",
    }
    assert set(ops.CONST_OP_KINDS.values()) == set(ConstOpKind)


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)
