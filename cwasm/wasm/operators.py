"""The table of every WebAssembly instruction (2.0's, relaxed SIMD and the threads proposal's
atomics): opcode, text name, immediates, stack effect.

Opcode ids
----------
Every instruction has one small integer *opcode id*, so that one flat list lookup
finds it:

* a single-byte opcode is its byte (``0x6A`` is ``i32.add``);
* ``0xFC n`` (saturating truncation, bulk memory, table ops) is ``FC_BASE + n``;
* ``0xFD n`` (fixed-width SIMD) is ``FD_BASE + n``;
* ``0xFE n`` (threads: atomic memory accesses, wait/notify, fence) is ``FE_BASE + n``;
* ``0xFB n`` (GC: structs, arrays, i31, casts) is ``FB_BASE + n``.

``opcode_id(prefix, sub)`` computes it, ``BY_NAME["i32.add"]`` finds it by text name.
``OPERATORS[id]`` is the instruction's ``OpInfo`` or ``None`` for an unused id.

OpInfo
------
``name``     the text-format name (``v128.load8x8_s``)
``imm``      the kind of immediates, one of the ``IMM_*`` constants
``params`` / ``results``
             the fixed stack effect as value-type bytes (``ValType`` values as plain
             ints), or ``params is None`` when the effect depends on the immediates or
             the context (control, variable, reference, table and parametric
             instructions); such instructions need a hand-written handler
``align``    for memory accesses, the natural alignment (log2 of the access size): the
             largest alignment exponent a memarg may carry (the only one, for an
             atomic access); ``-1`` otherwise
``lanes``    for lane immediates, the number of lanes (the lane index must be smaller)

Reading instructions
--------------------
A decoding loop looks like this (the validator and the translator both use it)::

    r = BinaryReader(wasm, body.code_start, body.end)
    while ...:
        start = r.pos
        op = read_opcode(r)                    # opcode id; "illegal opcode" if unknown
        info = OPERATORS[op]
        imm = READ_IMMEDIATES[info.imm](r)     # see below; may raise MalformedError
        ...dispatch on op...

``READ_IMMEDIATES[kind](reader)`` returns, per kind:

====================  =====================================================================
``IMM_NONE``          ``None``
``IMM_BLOCKTYPE``     ``int``: ``BLOCK_EMPTY`` (-0x40), ``-valtype`` (-0x7F for i32...), or
                      a type index (>= 0)
``IMM_LABEL``         ``int`` relative depth
``IMM_BR_TABLE``      ``tuple[tuple[int, ...], int]``: (targets, default)
``IMM_FUNC``          ``int`` function index (``call``, ``return_call``, ``ref.func``)
``IMM_CALL_INDIRECT`` ``tuple[int, int]``: (type index, table index) (``call_indirect``,
                      ``return_call_indirect``)
``IMM_LOCAL``         ``int``
``IMM_GLOBAL``        ``int``
``IMM_TABLE``         ``int`` table index
``IMM_MEMARG``        ``tuple[int, int, int]``: (alignment exponent, offset, memory index)
``IMM_MEMARG_LANE``   ``tuple[int, int, int, int]``: (alignment exponent, offset, lane,
                      memory index)
``IMM_LANE``          ``int`` lane index (a byte)
``IMM_SHUFFLE``       ``bytes``: 16 lane indices
``IMM_I32``           ``int`` (signed)
``IMM_I64``           ``int`` (signed)
``IMM_F32``           ``int``: the raw IEEE bits (u32), so NaN payloads survive
``IMM_F64``           ``int``: the raw IEEE bits (u64)
``IMM_V128``          ``bytes``: 16 bytes, little-endian
``IMM_SELECT_TYPES``  ``tuple[int, ...]``: value types of a typed ``select``
``IMM_REFTYPE``       ``int``: the code of ``(ref null ht)`` for the heap type ``ht``
                      written (``ref.null``): FUNCREF, EXTERNREF, a ``RefType``'s
``IMM_TYPE``          ``int`` type index (``call_ref``, ``return_call_ref``)
``IMM_TAG``           ``int`` tag index (``throw``)
``IMM_TRY_TABLE``     ``tuple[int, tuple[tuple[int, int, int], ...]]``: the block type and
                      the catch clauses, each (kind, tag index or -1, label)
``IMM_MEMORY``        ``int``: the memory index
``IMM_MEMORY_INIT``   ``tuple[int, int]``: (data segment index, memory index)
``IMM_MEMORY_COPY``   ``tuple[int, int]``: (destination memory, source memory)
``IMM_DATA``          ``int`` data segment index
``IMM_ELEM``          ``int`` element segment index
``IMM_TABLE_INIT``    ``tuple[int, int]``: (element segment index, table index)
``IMM_TABLE_COPY``    ``tuple[int, int]``: (destination table, source table)
``IMM_ATOMIC_MEMARG`` ``tuple[int, int, int]``: (alignment exponent, offset, memory index) of an atomic
                      access, whose alignment must be exactly the natural one
``IMM_ATOMIC_FENCE``  ``None`` (the reserved byte is checked to be 0)
``IMM_TYPE_PAIR``     ``tuple[int, int]``: a type index and a field index (``struct.get``),
                      a count (``array.new_fixed``), a data or element segment index or
                      a source type index (``array.copy``)
``IMM_HEAPTYPE``      ``int``: a heap type's code (``ref.test``, ``ref.cast``)
``IMM_BR_ON_CAST``    ``tuple[int, int, int]``: the label and the codes of the two
                      reference types (``br_on_cast``, ``br_on_cast_fail``)
====================  =====================================================================

Malformed encodings raise ``MalformedError`` with the reference interpreter's wording
and offsets (``illegal opcode 06``, ``zero byte expected``, ``malformed memop flags``,
``malformed reference type``...). These readers are the project's one definition of
how instructions are encoded: the decoder (``cwasm.wasm.instructions``), the validator
and the translator all read instructions through them.

Constant expressions
--------------------
``CONST_OP_KINDS`` maps the opcode id of each instruction allowed in a Wasm 2.0
constant expression to its ``ConstOpKind``; ``const_op_value`` turns that
instruction's immediates into the ``ConstOp`` value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from cwasm.errors import MalformedError
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import (
    CONCRETE_HEAP,
    REF_NULL_PREFIX,
    REF_PREFIX,
    ConstOpKind,
    HeapType,
    ValType,
    ValueType,
    ref_type,
    val_type,
)

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
_PREFIXES: Final = (
    (0xFB, FB_BASE, NUM_OPCODE_IDS),
    (0xFC, FC_BASE, FD_BASE),
    (0xFD, FD_BASE, FE_BASE),
    (0xFE, FE_BASE, FB_BASE),
)
_PREFIX_BASE: Final = {p: first for p, first, _ in _PREFIXES}

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
        return _split(self.code)[0]

    @property
    def sub_opcode(self) -> int:
        """The opcode byte, or the sub-opcode after the prefix."""
        return _split(self.code)[1]

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


def _split(code: int) -> tuple[int | None, int]:
    """(prefix byte or None, opcode byte or sub-opcode) of an opcode id."""
    for prefix, first, end in _PREFIXES:
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


def _def(
    code: int,
    name: str,
    imm: int = IMM_NONE,
    params: tuple[int, ...] | None = None,
    results: tuple[int, ...] = (),
    align: int = -1,
    lanes: int = 0,
) -> None:
    assert OPERATORS[code] is None, name
    OPERATORS[code] = OpInfo(code, name, imm, params, results, align, lanes)
    BY_NAME[name] = code


# --- control, parametric, variable, table, reference (context-dependent effects) ---
_def(0x00, "unreachable")
_def(0x01, "nop", params=())
_def(0x02, "block", IMM_BLOCKTYPE)
_def(0x03, "loop", IMM_BLOCKTYPE)
_def(0x04, "if", IMM_BLOCKTYPE)
_def(0x05, "else")
_def(0x0B, "end")
_def(0x0C, "br", IMM_LABEL)
_def(0x0D, "br_if", IMM_LABEL)
_def(0x0E, "br_table", IMM_BR_TABLE)
_def(0x0F, "return")
_def(0x10, "call", IMM_FUNC)
_def(0x11, "call_indirect", IMM_CALL_INDIRECT)
_def(0x12, "return_call", IMM_FUNC)  # tail calls (WebAssembly 3.0)
_def(0x13, "return_call_indirect", IMM_CALL_INDIRECT)
_def(0x1A, "drop")
_def(0x1B, "select")
_def(0x1C, "select_t", IMM_SELECT_TYPES)  # text form: select (result t)
_def(0x20, "local.get", IMM_LOCAL)
_def(0x21, "local.set", IMM_LOCAL)
_def(0x22, "local.tee", IMM_LOCAL)
_def(0x23, "global.get", IMM_GLOBAL)
_def(0x24, "global.set", IMM_GLOBAL)
_def(0x25, "table.get", IMM_TABLE)
_def(0x26, "table.set", IMM_TABLE)
_def(0xD0, "ref.null", IMM_REFTYPE)
_def(0xD1, "ref.is_null")
_def(0xD2, "ref.func", IMM_FUNC)
# typed function references (Wasm 3.0)
_def(0x14, "call_ref", IMM_TYPE)
_def(0x15, "return_call_ref", IMM_TYPE)  # tail calls and typed function references
_def(0xD4, "ref.as_non_null")
_def(0xD5, "br_on_null", IMM_LABEL)
_def(0xD6, "br_on_non_null", IMM_LABEL)
# exception handling (Wasm 3.0)
_def(0x08, "throw", IMM_TAG)
_def(0x0A, "throw_ref")
_def(0x1F, "try_table", IMM_TRY_TABLE)
_def(FC_BASE + 12, "table.init", IMM_TABLE_INIT)
_def(FC_BASE + 13, "elem.drop", IMM_ELEM, ())
_def(FC_BASE + 14, "table.copy", IMM_TABLE_COPY)
_def(FC_BASE + 15, "table.grow", IMM_TABLE)
_def(FC_BASE + 16, "table.size", IMM_TABLE)
_def(FC_BASE + 17, "table.fill", IMM_TABLE)

# --- memory ---
for _code, _name, _ty, _align in (
    (0x28, "i32.load", I32, 2),
    (0x29, "i64.load", I64, 3),
    (0x2A, "f32.load", F32, 2),
    (0x2B, "f64.load", F64, 3),
    (0x2C, "i32.load8_s", I32, 0),
    (0x2D, "i32.load8_u", I32, 0),
    (0x2E, "i32.load16_s", I32, 1),
    (0x2F, "i32.load16_u", I32, 1),
    (0x30, "i64.load8_s", I64, 0),
    (0x31, "i64.load8_u", I64, 0),
    (0x32, "i64.load16_s", I64, 1),
    (0x33, "i64.load16_u", I64, 1),
    (0x34, "i64.load32_s", I64, 2),
    (0x35, "i64.load32_u", I64, 2),
):
    _def(_code, _name, IMM_MEMARG, (I32,), (_ty,), _align)
for _code, _name, _ty, _align in (
    (0x36, "i32.store", I32, 2),
    (0x37, "i64.store", I64, 3),
    (0x38, "f32.store", F32, 2),
    (0x39, "f64.store", F64, 3),
    (0x3A, "i32.store8", I32, 0),
    (0x3B, "i32.store16", I32, 1),
    (0x3C, "i64.store8", I64, 0),
    (0x3D, "i64.store16", I64, 1),
    (0x3E, "i64.store32", I64, 2),
):
    _def(_code, _name, IMM_MEMARG, (I32, _ty), (), _align)
_def(0x3F, "memory.size", IMM_MEMORY, (), (I32,))
_def(0x40, "memory.grow", IMM_MEMORY, (I32,), (I32,))
_def(FC_BASE + 8, "memory.init", IMM_MEMORY_INIT, (I32, I32, I32), ())
_def(FC_BASE + 9, "data.drop", IMM_DATA, (), ())
_def(FC_BASE + 10, "memory.copy", IMM_MEMORY_COPY, (I32, I32, I32), ())
_def(FC_BASE + 11, "memory.fill", IMM_MEMORY, (I32, I32, I32), ())

# --- numeric ---
_def(0x41, "i32.const", IMM_I32, (), (I32,))
_def(0x42, "i64.const", IMM_I64, (), (I64,))
_def(0x43, "f32.const", IMM_F32, (), (F32,))
_def(0x44, "f64.const", IMM_F64, (), (F64,))


def _group(first: int, prefix: str, names: str, params: tuple[int, ...], result: int) -> int:
    """Define consecutive opcodes sharing one signature; returns the next opcode."""
    code = first
    for n in names.split():
        if n != "-":  # '-' marks an unused opcode inside a run
            _def(code, f"{prefix}.{n}", IMM_NONE, params, (result,))
        code += 1
    return code


_INT_CMP = "eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u"
_FLOAT_CMP = "eq ne lt gt le ge"
_INT_BIN = "add sub mul div_s div_u rem_s rem_u and or xor shl shr_s shr_u rotl rotr"
_FLOAT_UN = "abs neg ceil floor trunc nearest sqrt"
_FLOAT_BIN = "add sub mul div min max copysign"

_group(0x45, "i32", "eqz", (I32,), I32)
_group(0x46, "i32", _INT_CMP, (I32, I32), I32)
_group(0x50, "i64", "eqz", (I64,), I32)
_group(0x51, "i64", _INT_CMP, (I64, I64), I32)
_group(0x5B, "f32", _FLOAT_CMP, (F32, F32), I32)
_group(0x61, "f64", _FLOAT_CMP, (F64, F64), I32)
_group(0x67, "i32", "clz ctz popcnt", (I32,), I32)
_group(0x6A, "i32", _INT_BIN, (I32, I32), I32)
_group(0x79, "i64", "clz ctz popcnt", (I64,), I64)
_group(0x7C, "i64", _INT_BIN, (I64, I64), I64)
_group(0x8B, "f32", _FLOAT_UN, (F32,), F32)
_group(0x92, "f32", _FLOAT_BIN, (F32, F32), F32)
_group(0x99, "f64", _FLOAT_UN, (F64,), F64)
_group(0xA0, "f64", _FLOAT_BIN, (F64, F64), F64)
for _code, _name, _src, _dst in (
    (0xA7, "i32.wrap_i64", I64, I32),
    (0xA8, "i32.trunc_f32_s", F32, I32),
    (0xA9, "i32.trunc_f32_u", F32, I32),
    (0xAA, "i32.trunc_f64_s", F64, I32),
    (0xAB, "i32.trunc_f64_u", F64, I32),
    (0xAC, "i64.extend_i32_s", I32, I64),
    (0xAD, "i64.extend_i32_u", I32, I64),
    (0xAE, "i64.trunc_f32_s", F32, I64),
    (0xAF, "i64.trunc_f32_u", F32, I64),
    (0xB0, "i64.trunc_f64_s", F64, I64),
    (0xB1, "i64.trunc_f64_u", F64, I64),
    (0xB2, "f32.convert_i32_s", I32, F32),
    (0xB3, "f32.convert_i32_u", I32, F32),
    (0xB4, "f32.convert_i64_s", I64, F32),
    (0xB5, "f32.convert_i64_u", I64, F32),
    (0xB6, "f32.demote_f64", F64, F32),
    (0xB7, "f64.convert_i32_s", I32, F64),
    (0xB8, "f64.convert_i32_u", I32, F64),
    (0xB9, "f64.convert_i64_s", I64, F64),
    (0xBA, "f64.convert_i64_u", I64, F64),
    (0xBB, "f64.promote_f32", F32, F64),
    (0xBC, "i32.reinterpret_f32", F32, I32),
    (0xBD, "i64.reinterpret_f64", F64, I64),
    (0xBE, "f32.reinterpret_i32", I32, F32),
    (0xBF, "f64.reinterpret_i64", I64, F64),
    (0xC0, "i32.extend8_s", I32, I32),
    (0xC1, "i32.extend16_s", I32, I32),
    (0xC2, "i64.extend8_s", I64, I64),
    (0xC3, "i64.extend16_s", I64, I64),
    (0xC4, "i64.extend32_s", I64, I64),
    (FC_BASE + 0, "i32.trunc_sat_f32_s", F32, I32),
    (FC_BASE + 1, "i32.trunc_sat_f32_u", F32, I32),
    (FC_BASE + 2, "i32.trunc_sat_f64_s", F64, I32),
    (FC_BASE + 3, "i32.trunc_sat_f64_u", F64, I32),
    (FC_BASE + 4, "i64.trunc_sat_f32_s", F32, I64),
    (FC_BASE + 5, "i64.trunc_sat_f32_u", F32, I64),
    (FC_BASE + 6, "i64.trunc_sat_f64_s", F64, I64),
    (FC_BASE + 7, "i64.trunc_sat_f64_u", F64, I64),
):
    _def(_code, _name, IMM_NONE, (_src,), (_dst,))

# --- SIMD (0xFD) ---
_V = (V128,)
_VV = (V128, V128)
_S = FD_BASE

for _sub, _name, _align in (
    (0, "v128.load", 4),
    (1, "v128.load8x8_s", 3),
    (2, "v128.load8x8_u", 3),
    (3, "v128.load16x4_s", 3),
    (4, "v128.load16x4_u", 3),
    (5, "v128.load32x2_s", 3),
    (6, "v128.load32x2_u", 3),
    (7, "v128.load8_splat", 0),
    (8, "v128.load16_splat", 1),
    (9, "v128.load32_splat", 2),
    (10, "v128.load64_splat", 3),
    (92, "v128.load32_zero", 2),
    (93, "v128.load64_zero", 3),
):
    _def(_S + _sub, _name, IMM_MEMARG, (I32,), _V, _align)
_def(_S + 11, "v128.store", IMM_MEMARG, (I32, V128), (), 4)
_def(_S + 12, "v128.const", IMM_V128, (), _V)
_def(_S + 13, "i8x16.shuffle", IMM_SHUFFLE, _VV, _V)
_def(_S + 14, "i8x16.swizzle", IMM_NONE, _VV, _V)
for _sub, _shape, _ty in (
    (15, "i8x16", I32),
    (16, "i16x8", I32),
    (17, "i32x4", I32),
    (18, "i64x2", I64),
    (19, "f32x4", F32),
    (20, "f64x2", F64),
):
    _def(_S + _sub, f"{_shape}.splat", IMM_NONE, (_ty,), _V)
for _sub, _name, _ty, _lanes, _replace in (
    (21, "i8x16.extract_lane_s", I32, 16, False),
    (22, "i8x16.extract_lane_u", I32, 16, False),
    (23, "i8x16.replace_lane", I32, 16, True),
    (24, "i16x8.extract_lane_s", I32, 8, False),
    (25, "i16x8.extract_lane_u", I32, 8, False),
    (26, "i16x8.replace_lane", I32, 8, True),
    (27, "i32x4.extract_lane", I32, 4, False),
    (28, "i32x4.replace_lane", I32, 4, True),
    (29, "i64x2.extract_lane", I64, 2, False),
    (30, "i64x2.replace_lane", I64, 2, True),
    (31, "f32x4.extract_lane", F32, 4, False),
    (32, "f32x4.replace_lane", F32, 4, True),
    (33, "f64x2.extract_lane", F64, 2, False),
    (34, "f64x2.replace_lane", F64, 2, True),
):
    if _replace:
        _def(_S + _sub, _name, IMM_LANE, (V128, _ty), _V, lanes=_lanes)
    else:
        _def(_S + _sub, _name, IMM_LANE, _V, (_ty,), lanes=_lanes)
_group(_S + 35, "i8x16", _INT_CMP, _VV, V128)
_group(_S + 45, "i16x8", _INT_CMP, _VV, V128)
_group(_S + 55, "i32x4", _INT_CMP, _VV, V128)
_group(_S + 65, "f32x4", _FLOAT_CMP, _VV, V128)
_group(_S + 71, "f64x2", _FLOAT_CMP, _VV, V128)
_def(_S + 77, "v128.not", IMM_NONE, _V, _V)
_group(_S + 78, "v128", "and andnot or xor", _VV, V128)
_def(_S + 82, "v128.bitselect", IMM_NONE, (V128, V128, V128), _V)
_def(_S + 83, "v128.any_true", IMM_NONE, _V, (I32,))
for _sub, _name, _align, _lanes in (
    (84, "load8_lane", 0, 16),
    (85, "load16_lane", 1, 8),
    (86, "load32_lane", 2, 4),
    (87, "load64_lane", 3, 2),
):
    _def(_S + _sub, f"v128.{_name}", IMM_MEMARG_LANE, (I32, V128), _V, _align, _lanes)
    _store = _name.replace("load", "store")
    _def(_S + _sub + 4, f"v128.{_store}", IMM_MEMARG_LANE, (I32, V128), (), _align, _lanes)
_def(_S + 94, "f32x4.demote_f64x2_zero", IMM_NONE, _V, _V)
_def(_S + 95, "f64x2.promote_low_f32x4", IMM_NONE, _V, _V)

# 0xFD 96..255: unary (v -> v), binary (v v -> v), tests/bitmask (v -> i32), shifts (v i32 -> v)
_UN, _BIN, _TEST, _SHIFT = 0, 1, 2, 3
_SIMD_SIGS = {_UN: (_V, V128), _BIN: (_VV, V128), _TEST: (_V, I32), _SHIFT: ((V128, I32), V128)}
_SIMD_REST: tuple[tuple[int, str, int], ...] = (
    (96, "i8x16.abs", _UN),
    (97, "i8x16.neg", _UN),
    (98, "i8x16.popcnt", _UN),
    (99, "i8x16.all_true", _TEST),
    (100, "i8x16.bitmask", _TEST),
    (101, "i8x16.narrow_i16x8_s", _BIN),
    (102, "i8x16.narrow_i16x8_u", _BIN),
    (103, "f32x4.ceil", _UN),
    (104, "f32x4.floor", _UN),
    (105, "f32x4.trunc", _UN),
    (106, "f32x4.nearest", _UN),
    (107, "i8x16.shl", _SHIFT),
    (108, "i8x16.shr_s", _SHIFT),
    (109, "i8x16.shr_u", _SHIFT),
    (110, "i8x16.add", _BIN),
    (111, "i8x16.add_sat_s", _BIN),
    (112, "i8x16.add_sat_u", _BIN),
    (113, "i8x16.sub", _BIN),
    (114, "i8x16.sub_sat_s", _BIN),
    (115, "i8x16.sub_sat_u", _BIN),
    (116, "f64x2.ceil", _UN),
    (117, "f64x2.floor", _UN),
    (118, "i8x16.min_s", _BIN),
    (119, "i8x16.min_u", _BIN),
    (120, "i8x16.max_s", _BIN),
    (121, "i8x16.max_u", _BIN),
    (122, "f64x2.trunc", _UN),
    (123, "i8x16.avgr_u", _BIN),
    (124, "i16x8.extadd_pairwise_i8x16_s", _UN),
    (125, "i16x8.extadd_pairwise_i8x16_u", _UN),
    (126, "i32x4.extadd_pairwise_i16x8_s", _UN),
    (127, "i32x4.extadd_pairwise_i16x8_u", _UN),
    (128, "i16x8.abs", _UN),
    (129, "i16x8.neg", _UN),
    (130, "i16x8.q15mulr_sat_s", _BIN),
    (131, "i16x8.all_true", _TEST),
    (132, "i16x8.bitmask", _TEST),
    (133, "i16x8.narrow_i32x4_s", _BIN),
    (134, "i16x8.narrow_i32x4_u", _BIN),
    (135, "i16x8.extend_low_i8x16_s", _UN),
    (136, "i16x8.extend_high_i8x16_s", _UN),
    (137, "i16x8.extend_low_i8x16_u", _UN),
    (138, "i16x8.extend_high_i8x16_u", _UN),
    (139, "i16x8.shl", _SHIFT),
    (140, "i16x8.shr_s", _SHIFT),
    (141, "i16x8.shr_u", _SHIFT),
    (142, "i16x8.add", _BIN),
    (143, "i16x8.add_sat_s", _BIN),
    (144, "i16x8.add_sat_u", _BIN),
    (145, "i16x8.sub", _BIN),
    (146, "i16x8.sub_sat_s", _BIN),
    (147, "i16x8.sub_sat_u", _BIN),
    (148, "f64x2.nearest", _UN),
    (149, "i16x8.mul", _BIN),
    (150, "i16x8.min_s", _BIN),
    (151, "i16x8.min_u", _BIN),
    (152, "i16x8.max_s", _BIN),
    (153, "i16x8.max_u", _BIN),
    (155, "i16x8.avgr_u", _BIN),
    (156, "i16x8.extmul_low_i8x16_s", _BIN),
    (157, "i16x8.extmul_high_i8x16_s", _BIN),
    (158, "i16x8.extmul_low_i8x16_u", _BIN),
    (159, "i16x8.extmul_high_i8x16_u", _BIN),
    (160, "i32x4.abs", _UN),
    (161, "i32x4.neg", _UN),
    (163, "i32x4.all_true", _TEST),
    (164, "i32x4.bitmask", _TEST),
    (167, "i32x4.extend_low_i16x8_s", _UN),
    (168, "i32x4.extend_high_i16x8_s", _UN),
    (169, "i32x4.extend_low_i16x8_u", _UN),
    (170, "i32x4.extend_high_i16x8_u", _UN),
    (171, "i32x4.shl", _SHIFT),
    (172, "i32x4.shr_s", _SHIFT),
    (173, "i32x4.shr_u", _SHIFT),
    (174, "i32x4.add", _BIN),
    (177, "i32x4.sub", _BIN),
    (181, "i32x4.mul", _BIN),
    (182, "i32x4.min_s", _BIN),
    (183, "i32x4.min_u", _BIN),
    (184, "i32x4.max_s", _BIN),
    (185, "i32x4.max_u", _BIN),
    (186, "i32x4.dot_i16x8_s", _BIN),
    (188, "i32x4.extmul_low_i16x8_s", _BIN),
    (189, "i32x4.extmul_high_i16x8_s", _BIN),
    (190, "i32x4.extmul_low_i16x8_u", _BIN),
    (191, "i32x4.extmul_high_i16x8_u", _BIN),
    (192, "i64x2.abs", _UN),
    (193, "i64x2.neg", _UN),
    (195, "i64x2.all_true", _TEST),
    (196, "i64x2.bitmask", _TEST),
    (199, "i64x2.extend_low_i32x4_s", _UN),
    (200, "i64x2.extend_high_i32x4_s", _UN),
    (201, "i64x2.extend_low_i32x4_u", _UN),
    (202, "i64x2.extend_high_i32x4_u", _UN),
    (203, "i64x2.shl", _SHIFT),
    (204, "i64x2.shr_s", _SHIFT),
    (205, "i64x2.shr_u", _SHIFT),
    (206, "i64x2.add", _BIN),
    (209, "i64x2.sub", _BIN),
    (213, "i64x2.mul", _BIN),
    (214, "i64x2.eq", _BIN),
    (215, "i64x2.ne", _BIN),
    (216, "i64x2.lt_s", _BIN),
    (217, "i64x2.gt_s", _BIN),
    (218, "i64x2.le_s", _BIN),
    (219, "i64x2.ge_s", _BIN),
    (220, "i64x2.extmul_low_i32x4_s", _BIN),
    (221, "i64x2.extmul_high_i32x4_s", _BIN),
    (222, "i64x2.extmul_low_i32x4_u", _BIN),
    (223, "i64x2.extmul_high_i32x4_u", _BIN),
    (224, "f32x4.abs", _UN),
    (225, "f32x4.neg", _UN),
    (227, "f32x4.sqrt", _UN),
    (228, "f32x4.add", _BIN),
    (229, "f32x4.sub", _BIN),
    (230, "f32x4.mul", _BIN),
    (231, "f32x4.div", _BIN),
    (232, "f32x4.min", _BIN),
    (233, "f32x4.max", _BIN),
    (234, "f32x4.pmin", _BIN),
    (235, "f32x4.pmax", _BIN),
    (236, "f64x2.abs", _UN),
    (237, "f64x2.neg", _UN),
    (239, "f64x2.sqrt", _UN),
    (240, "f64x2.add", _BIN),
    (241, "f64x2.sub", _BIN),
    (242, "f64x2.mul", _BIN),
    (243, "f64x2.div", _BIN),
    (244, "f64x2.min", _BIN),
    (245, "f64x2.max", _BIN),
    (246, "f64x2.pmin", _BIN),
    (247, "f64x2.pmax", _BIN),
    (248, "i32x4.trunc_sat_f32x4_s", _UN),
    (249, "i32x4.trunc_sat_f32x4_u", _UN),
    (250, "f32x4.convert_i32x4_s", _UN),
    (251, "f32x4.convert_i32x4_u", _UN),
    (252, "i32x4.trunc_sat_f64x2_s_zero", _UN),
    (253, "i32x4.trunc_sat_f64x2_u_zero", _UN),
    (254, "f64x2.convert_low_i32x4_s", _UN),
    (255, "f64x2.convert_low_i32x4_u", _UN),
)
for _sub, _name, _sig in _SIMD_REST:
    _p, _r = _SIMD_SIGS[_sig]
    _def(_S + _sub, _name, IMM_NONE, _p, (_r,))

# 0xFD 0x100..0x113: relaxed SIMD (WebAssembly 3.0)
_TERN = 4
_SIMD_SIGS[_TERN] = ((V128, V128, V128), V128)
RELAXED_SIMD: tuple[tuple[int, str, int], ...] = (
    (0x100, "i8x16.relaxed_swizzle", _BIN),
    (0x101, "i32x4.relaxed_trunc_f32x4_s", _UN),
    (0x102, "i32x4.relaxed_trunc_f32x4_u", _UN),
    (0x103, "i32x4.relaxed_trunc_f64x2_s_zero", _UN),
    (0x104, "i32x4.relaxed_trunc_f64x2_u_zero", _UN),
    (0x105, "f32x4.relaxed_madd", _TERN),
    (0x106, "f32x4.relaxed_nmadd", _TERN),
    (0x107, "f64x2.relaxed_madd", _TERN),
    (0x108, "f64x2.relaxed_nmadd", _TERN),
    (0x109, "i8x16.relaxed_laneselect", _TERN),
    (0x10A, "i16x8.relaxed_laneselect", _TERN),
    (0x10B, "i32x4.relaxed_laneselect", _TERN),
    (0x10C, "i64x2.relaxed_laneselect", _TERN),
    (0x10D, "f32x4.relaxed_min", _BIN),
    (0x10E, "f32x4.relaxed_max", _BIN),
    (0x10F, "f64x2.relaxed_min", _BIN),
    (0x110, "f64x2.relaxed_max", _BIN),
    (0x111, "i16x8.relaxed_q15mulr_s", _BIN),
    (0x112, "i16x8.relaxed_dot_i8x16_i7x16_s", _BIN),
    (0x113, "i32x4.relaxed_dot_i8x16_i7x16_add_s", _TERN),
)
for _sub, _name, _sig in RELAXED_SIMD:
    _p, _r = _SIMD_SIGS[_sig]
    _def(_S + _sub, _name, IMM_NONE, _p, (_r,))
#: the opcode ids of the relaxed SIMD instructions
RELAXED_SIMD_OPS: frozenset[int] = frozenset(_S + sub for sub, _, _ in RELAXED_SIMD)


# --- threads (0xFE): atomic memory accesses, wait/notify, fence ---
_A = FE_BASE
_def(_A + 0x00, "memory.atomic.notify", IMM_ATOMIC_MEMARG, (I32, I32), (I32,), 2)
_def(_A + 0x01, "memory.atomic.wait32", IMM_ATOMIC_MEMARG, (I32, I32, I64), (I32,), 2)
_def(_A + 0x02, "memory.atomic.wait64", IMM_ATOMIC_MEMARG, (I32, I64, I64), (I32,), 3)
_def(_A + 0x03, "atomic.fence", IMM_ATOMIC_FENCE, (), ())
#: the access widths of each run of seven atomic loads, stores and RMW operators:
#: (value type, access size log2, width suffix)
_ATOMIC_WIDTHS: Final = (
    (I32, 2, ""),
    (I64, 3, ""),
    (I32, 0, "8"),
    (I32, 1, "16"),
    (I64, 0, "8"),
    (I64, 1, "16"),
    (I64, 2, "32"),
)
_TYPE_NAMES: Final = {I32: "i32", I64: "i64"}
for _k, (_ty, _align, _w) in enumerate(_ATOMIC_WIDTHS):
    _t = _TYPE_NAMES[_ty]
    _u = "_u" if _w else ""
    _def(_A + 0x10 + _k, f"{_t}.atomic.load{_w}{_u}", IMM_ATOMIC_MEMARG, (I32,), (_ty,), _align)
    _def(_A + 0x17 + _k, f"{_t}.atomic.store{_w}", IMM_ATOMIC_MEMARG, (I32, _ty), (), _align)
    for _g, _op in enumerate(("add", "sub", "and", "or", "xor", "xchg")):
        _name = f"{_t}.atomic.rmw{_w}.{_op}{_u}"
        _def(_A + 0x1E + 7 * _g + _k, _name, IMM_ATOMIC_MEMARG, (I32, _ty), (_ty,), _align)
    _name = f"{_t}.atomic.rmw{_w}.cmpxchg{_u}"
    _def(_A + 0x48 + _k, _name, IMM_ATOMIC_MEMARG, (I32, _ty, _ty), (_ty,), _align)
#: the opcode ids of the threads proposal's instructions
ATOMIC_OPS: frozenset[int] = frozenset(
    c for c in range(FE_BASE, FB_BASE) if OPERATORS[c] is not None
)

# --- GC (Wasm 3.0): structs, arrays, i31 references, casts ---
_I31REF: Final = int(HeapType.I31)  # (ref null i31)
_def(0xD3, "ref.eq", IMM_NONE, (int(HeapType.EQ), int(HeapType.EQ)), (I32,))
for _k, _name, _imm in (
    (0, "struct.new", IMM_TYPE),
    (1, "struct.new_default", IMM_TYPE),
    (2, "struct.get", IMM_TYPE_PAIR),
    (3, "struct.get_s", IMM_TYPE_PAIR),
    (4, "struct.get_u", IMM_TYPE_PAIR),
    (5, "struct.set", IMM_TYPE_PAIR),
    (6, "array.new", IMM_TYPE),
    (7, "array.new_default", IMM_TYPE),
    (8, "array.new_fixed", IMM_TYPE_PAIR),
    (9, "array.new_data", IMM_TYPE_PAIR),
    (10, "array.new_elem", IMM_TYPE_PAIR),
    (11, "array.get", IMM_TYPE),
    (12, "array.get_s", IMM_TYPE),
    (13, "array.get_u", IMM_TYPE),
    (14, "array.set", IMM_TYPE),
    (16, "array.fill", IMM_TYPE),
    (17, "array.copy", IMM_TYPE_PAIR),
    (18, "array.init_data", IMM_TYPE_PAIR),
    (19, "array.init_elem", IMM_TYPE_PAIR),
    (20, "ref.test", IMM_HEAPTYPE),
    (21, "ref.test_null", IMM_HEAPTYPE),
    (22, "ref.cast", IMM_HEAPTYPE),
    (23, "ref.cast_null", IMM_HEAPTYPE),
    (24, "br_on_cast", IMM_BR_ON_CAST),
    (25, "br_on_cast_fail", IMM_BR_ON_CAST),
    (26, "any.convert_extern", IMM_NONE),
    (27, "extern.convert_any", IMM_NONE),
):
    _def(FB_BASE + _k, _name, _imm)
_def(FB_BASE + 15, "array.len", IMM_NONE, (int(HeapType.ARRAY),), (I32,))
_def(FB_BASE + 28, "ref.i31", IMM_NONE, (I32,), (int(ref_type(False, HeapType.I31)),))
_def(FB_BASE + 29, "i31.get_s", IMM_NONE, (_I31REF,), (I32,))
_def(FB_BASE + 30, "i31.get_u", IMM_NONE, (_I31REF,), (I32,))
#: the opcode ids of the GC proposal's instructions
GC_OPS: frozenset[int] = frozenset(
    c for c in (0xD3, *range(FB_BASE, NUM_OPCODE_IDS)) if OPERATORS[c] is not None
)


# --- constant instructions ---

# The instructions a constant expression may contain (Wasm 2.0's and the extended
# constant expressions' integer arithmetic), as Wasmtime's ConstOp kinds (validation
# further restricts global.get to immutable globals).
CONST_OP_KINDS: Final[dict[int, ConstOpKind]] = {
    BY_NAME[_name]: _kind
    for _name, _kind in (
        ("i32.const", ConstOpKind.I32_CONST),
        ("i64.const", ConstOpKind.I64_CONST),
        ("f32.const", ConstOpKind.F32_CONST),
        ("f64.const", ConstOpKind.F64_CONST),
        ("v128.const", ConstOpKind.V128_CONST),
        ("global.get", ConstOpKind.GLOBAL_GET),
        ("ref.null", ConstOpKind.REF_NULL),
        ("ref.func", ConstOpKind.REF_FUNC),
        ("i32.add", ConstOpKind.I32_ADD),
        ("i32.sub", ConstOpKind.I32_SUB),
        ("i32.mul", ConstOpKind.I32_MUL),
        ("i64.add", ConstOpKind.I64_ADD),
        ("i64.sub", ConstOpKind.I64_SUB),
        ("i64.mul", ConstOpKind.I64_MUL),
        ("struct.new", ConstOpKind.STRUCT_NEW),
        ("struct.new_default", ConstOpKind.STRUCT_NEW_DEFAULT),
        ("array.new", ConstOpKind.ARRAY_NEW),
        ("array.new_default", ConstOpKind.ARRAY_NEW_DEFAULT),
        ("array.new_fixed", ConstOpKind.ARRAY_NEW_FIXED),
        ("ref.i31", ConstOpKind.REF_I31),
        ("any.convert_extern", ConstOpKind.ANY_CONVERT_EXTERN),
        ("extern.convert_any", ConstOpKind.EXTERN_CONVERT_ANY),
    )
}


def const_op_value(kind: int, imm: Any) -> int:
    """The ``ConstOp`` value of a constant instruction, from its immediates as read.

    Integer constants become their two's complement bits, ``v128.const`` its 16 bytes
    as a little-endian u128; the other immediates are already the value.
    """
    if kind == ConstOpKind.I32_CONST:
        return int(imm) & 0xFFFF_FFFF
    if kind == ConstOpKind.I64_CONST:
        return int(imm) & 0xFFFF_FFFF_FFFF_FFFF
    if kind == ConstOpKind.V128_CONST:
        return int.from_bytes(imm, "little")
    if imm is None:  # the arithmetic operators have no immediate
        return 0
    if kind == ConstOpKind.ARRAY_NEW_FIXED:  # (type index, count)
        return imm[0] | imm[1] << 32
    return int(imm)


# --- reading ---


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
    prefix, sub = _split(code)
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
        _, first, end = _PREFIXES[b - 0xFB]
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
