"""The instruction table's definitions: opcode ids, value type bytes, immediate kinds,
``OpInfo``, and the ``OPERATORS`` / ``BY_NAME`` tables that the group modules fill in
(see ``cwasm.wasm.operators``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cwasm.wasm.types import HeapType, ValType, ValueType, val_type

FC_BASE: Final = 0x100
FD_BASE: Final = 0x200
FE_BASE: Final = 0x320  # after 0xFD 0x00..0x11F (relaxed SIMD ends at 0x113)
FB_BASE: Final = FE_BASE + 0x4F  # 0xFE 0x00..0x4E
NUM_OPCODE_IDS: Final = FB_BASE + 0x1F  # GC: 0xFB 0x00..0x1E

# value types as plain ints (hot paths compare ints, not enum members)
I32: Final = int(ValType.I32)
I64: Final = int(ValType.I64)
F32: Final = int(ValType.F32)
F64: Final = int(ValType.F64)
V128: Final = int(ValType.V128)
FUNCREF: Final = int(ValType.FUNCREF)
EXTERNREF: Final = int(ValType.EXTERNREF)
#: the abstract heap types (Wasm 3.0's, GC's and exception handling's included); other
#: codes are refused as malformed
SUPPORTED_HEAPS: Final = frozenset(HeapType)
#: the one-byte reference types: the shorthands of the nullable supported ones
REFTYPE_BYTES: Final = frozenset(int(h) for h in SUPPORTED_HEAPS)
#: the one-byte value types (number, vector and shorthand reference types)
VALTYPE_BYTES: Final = frozenset((I32, I64, F32, F64, V128)) | REFTYPE_BYTES
# the value type encoded by each byte alone, or None
VALTYPE_BY_BYTE: Final[tuple[ValueType | None, ...]] = tuple(
    val_type(b) if b in VALTYPE_BYTES else None for b in range(256)
)
REFTYPE_BY_BYTE: Final[tuple[ValueType | None, ...]] = tuple(
    val_type(b) if b in REFTYPE_BYTES else None for b in range(256)
)
BLOCK_EMPTY: Final = -0x40

# immediate kinds
IMM_NONE: Final = 0
IMM_BLOCKTYPE: Final = 1
IMM_LABEL: Final = 2
IMM_BR_TABLE: Final = 3
IMM_FUNC: Final = 4
IMM_CALL_INDIRECT: Final = 5
IMM_LOCAL: Final = 6
IMM_GLOBAL: Final = 7
IMM_TABLE: Final = 8
IMM_MEMARG: Final = 9
IMM_MEMARG_LANE: Final = 10
IMM_LANE: Final = 11
IMM_SHUFFLE: Final = 12
IMM_I32: Final = 13
IMM_I64: Final = 14
IMM_F32: Final = 15
IMM_F64: Final = 16
IMM_V128: Final = 17
IMM_SELECT_TYPES: Final = 18
IMM_REFTYPE: Final = 19
IMM_MEMORY: Final = 20
IMM_MEMORY_INIT: Final = 21
IMM_MEMORY_COPY: Final = 22
IMM_DATA: Final = 23
IMM_ELEM: Final = 24
IMM_TABLE_INIT: Final = 25
IMM_TABLE_COPY: Final = 26
IMM_TYPE: Final = 27
IMM_ATOMIC_MEMARG: Final = 28
IMM_ATOMIC_FENCE: Final = 29
IMM_TAG: Final = 30
IMM_TRY_TABLE: Final = 31
IMM_TYPE_PAIR: Final = 32  # GC: a type index and a field, count, data, elem or type index
IMM_HEAPTYPE: Final = 33  # GC: ref.test, ref.cast
IMM_BR_ON_CAST: Final = 34  # GC: br_on_cast, br_on_cast_fail
NUM_IMM_KINDS: Final = 35

#: the prefix byte of each prefixed opcode range: (prefix, first id, end id)
PREFIXES: Final = (
    (0xFB, FB_BASE, NUM_OPCODE_IDS),
    (0xFC, FC_BASE, FD_BASE),
    (0xFD, FD_BASE, FE_BASE),
    (0xFE, FE_BASE, FB_BASE),
)
_PREFIX_BASE: Final = {p: first for p, first, _ in PREFIXES}

#: the catch clause kinds of ``try_table`` (exception handling)
CATCH: Final = 0
CATCH_REF: Final = 1
CATCH_ALL: Final = 2
CATCH_ALL_REF: Final = 3


@dataclass(frozen=True, slots=True)
class OpInfo:
    """One instruction's encoding, immediates and (when fixed) stack effect."""

    code: int  # opcode id
    name: str
    imm: int
    params: tuple[int, ...] | None
    results: tuple[int, ...]
    align: int = -1
    lanes: int = 0

    @property
    def prefix(self) -> int | None:
        """The prefix byte (0xFC, 0xFD or 0xFE), or None for a single-byte opcode."""
        return split_opcode_id(self.code)[0]

    @property
    def sub_opcode(self) -> int:
        """The opcode byte, or the sub-opcode after the prefix."""
        return split_opcode_id(self.code)[1]

    @property
    def encoding(self) -> bytes:
        """The canonical bytes of the opcode (prefix and LEB128 sub-opcode)."""
        prefix = self.prefix
        if prefix is None:
            return bytes([self.code])
        out = bytearray([prefix])
        n = self.sub_opcode
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out.append(b | 0x80)
            else:
                out.append(b)
                return bytes(out)


def split_opcode_id(code: int) -> tuple[int | None, int]:
    """(prefix byte or None, opcode byte or sub-opcode) of an opcode id."""
    for prefix, first, end in PREFIXES:
        if first <= code < end:
            return prefix, code - first
    return None, code


def opcode_id(prefix: int | None, sub: int) -> int:
    """The opcode id of a single-byte opcode (prefix None) or of ``prefix sub``."""
    if prefix is None:
        return sub
    if prefix in _PREFIX_BASE:
        return _PREFIX_BASE[prefix] + sub
    raise ValueError(f"not an opcode prefix: {prefix:#x}")


OPERATORS: list[OpInfo | None] = [None] * NUM_OPCODE_IDS
BY_NAME: dict[str, int] = {}


def define(
    code: int,
    name: str,
    imm: int = IMM_NONE,
    params: tuple[int, ...] | None = None,
    results: tuple[int, ...] = (),
    align: int = -1,
    lanes: int = 0,
) -> None:
    """Add the instruction ``name`` with opcode id ``code`` to ``OPERATORS`` and ``BY_NAME``."""
    assert OPERATORS[code] is None, name
    OPERATORS[code] = OpInfo(code, name, imm, params, results, align, lanes)
    BY_NAME[name] = code


def define_group(first: int, prefix: str, names: str, params: tuple[int, ...], result: int) -> int:
    """Define consecutive opcodes sharing one signature; returns the next opcode."""
    code = first
    for n in names.split():
        if n != "-":  # '-' marks an unused opcode inside a run
            define(code, f"{prefix}.{n}", IMM_NONE, params, (result,))
        code += 1
    return code


#: the names of the instructions of each run of one shape (numeric and SIMD)
INT_CMP: Final = "eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u"
FLOAT_CMP: Final = "eq ne lt gt le ge"
INT_BIN: Final = "add sub mul div_s div_u rem_s rem_u and or xor shl shr_s shr_u rotl rotr"
FLOAT_UN: Final = "abs neg ceil floor trunc nearest sqrt"
FLOAT_BIN: Final = "add sub mul div min max copysign"
