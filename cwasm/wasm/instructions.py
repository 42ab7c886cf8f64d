"""Structural decoding of instruction sequences, as the spec's decoder does it, without typing.

``read_instructions`` steps over a sequence up to its closing ``end``, reporting
malformed encodings (illegal opcodes, bad immediates, misplaced ``else``) with the
reference interpreter's wording. It serves constant expressions, whose operators it
collects, and the decoder's check of function-body framing, which the spec performs
while decoding (before any validation).
"""

from __future__ import annotations

from cwasm.errors import MalformedError
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import ConstOpKind, ValType

# Marker kind for an instruction that is not a constant operator.
NON_CONSTANT = -1

_VALTYPES = {int(t): t for t in ValType}
VALTYPE_BY_BYTE: tuple[ValType | None, ...] = tuple(_VALTYPES.get(b) for b in range(256))
REFTYPE_BY_BYTE: tuple[ValType | None, ...] = tuple(
    t if t is not None and t.is_ref else None for t in VALTYPE_BY_BYTE
)


def read_value_type(r: BinaryReader) -> ValType:
    """Decode a value type (a one-byte signed LEB in the spec's decoder)."""
    b = r.u8()
    t = VALTYPE_BY_BYTE[b]
    if t is None:
        if b & 0x80:
            raise MalformedError("integer representation too long", r.pos)
        raise MalformedError("malformed reference type", r.pos - 1)
    return t


def read_ref_type(r: BinaryReader) -> ValType:
    """Decode a reference type (funcref or externref)."""
    b = r.u8()
    t = REFTYPE_BY_BYTE[b]
    if t is None:
        if b & 0x80:
            raise MalformedError("integer representation too long", r.pos)
        raise MalformedError("malformed reference type", r.pos - 1)
    return t


# Immediate shapes of the one-byte opcodes (index = opcode).
(
    _NONE,
    _ILLEGAL,
    _BLOCK,
    _IF,
    _ELSE,
    _END,
    _IDX,
    _IDX2,
    _BR_TABLE,
    _SELECT_T,
    _MEMARG,
    _ZERO,
    _I32,
    _I64,
    _F32,
    _F64,
    _REF_NULL,
    _GLOBAL_GET,
    _REF_FUNC,
    _PREFIX_FC,
    _PREFIX_FD,
) = range(21)


def _opcode_shapes() -> tuple[int, ...]:
    shapes = [_ILLEGAL] * 256
    for op in (0x00, 0x01, 0x0F, 0x1A, 0x1B, 0xD1, *range(0x45, 0xC5)):
        shapes[op] = _NONE
    for op in (0x0C, 0x0D, 0x10, 0x20, 0x21, 0x22, 0x24, 0x25, 0x26):
        shapes[op] = _IDX
    for op in range(0x28, 0x3F):
        shapes[op] = _MEMARG
    shapes[0x02] = shapes[0x03] = _BLOCK
    shapes[0x04] = _IF
    shapes[0x05] = _ELSE
    shapes[0x0B] = _END
    shapes[0x0E] = _BR_TABLE
    shapes[0x11] = _IDX2
    shapes[0x1C] = _SELECT_T
    shapes[0x23] = _GLOBAL_GET
    shapes[0x3F] = shapes[0x40] = _ZERO
    shapes[0x41] = _I32
    shapes[0x42] = _I64
    shapes[0x43] = _F32
    shapes[0x44] = _F64
    shapes[0xD0] = _REF_NULL
    shapes[0xD2] = _REF_FUNC
    shapes[0xFC] = _PREFIX_FC
    shapes[0xFD] = _PREFIX_FD
    return tuple(shapes)


_SHAPES = _opcode_shapes()

# SIMD opcodes (after 0xfd) that Wasm 2.0 leaves unassigned below 0x100.
_SIMD_GAPS = frozenset(
    (0x9A, 0xA2, 0xA5, 0xA6, 0xAF, 0xB0, 0xB2, 0xB3, 0xB4, 0xBB, 0xC2, 0xC5, 0xC6)
    + (0xCF, 0xD0, 0xD2, 0xD3, 0xD4, 0xE2, 0xEE)
)
V128_CONST = 0x0C
MEMORY_INIT = 0x08
DATA_DROP = 0x09

# Nesting frames while stepping over structured instructions.
_FRAME_BLOCK, _FRAME_IF, _FRAME_ELSE = range(3)


def _zero(r: BinaryReader) -> None:
    if r.u8() != 0:
        raise MalformedError("zero byte expected", r.pos - 1)


def _memarg(r: BinaryReader) -> None:
    align = r.u32()
    if align > 32:
        raise MalformedError("malformed memop flags", r.pos - 1)
    r.u32()


def _block_type(r: BinaryReader) -> None:
    b = r.peek()
    if b == 0x40 or VALTYPE_BY_BYTE[b] is not None:
        r.pos += 1
        return
    start = r.pos
    try:
        index = r.s33()
    except MalformedError:
        index = -1
    if index < 0:
        r.pos = start
        read_value_type(r)


def _prefix_fc(r: BinaryReader, pos: int) -> bool:
    """Step over a 0xfc instruction; True for memory.init and data.drop."""
    sub = r.u32()
    if sub <= 7:  # saturating truncations
        return False
    if sub == MEMORY_INIT:
        r.u32()
        _zero(r)
        return True
    if sub == DATA_DROP:
        r.u32()
        return True
    if sub == 10:  # memory.copy
        _zero(r)
        _zero(r)
    elif sub == 11:  # memory.fill
        _zero(r)
    elif sub in (12, 14):  # table.init, table.copy
        r.u32()
        r.u32()
    elif sub in (13, 15, 16, 17):  # elem.drop, table.grow/size/fill
        r.u32()
    else:
        raise MalformedError(f"illegal opcode fc {sub:02x}", pos)
    return False


def _prefix_fd(r: BinaryReader, sub: int, pos: int) -> None:
    if sub <= 11 or sub in (0x5C, 0x5D):  # loads, stores, load_zero
        _memarg(r)
    elif sub == V128_CONST or sub == 13:  # v128.const, i8x16.shuffle
        r.skip(16)
    elif 0x15 <= sub <= 0x22:  # extract/replace lane
        r.u8()
    elif 0x54 <= sub <= 0x5B:  # load/store lane
        _memarg(r)
        r.u8()
    elif sub > 0xFF or sub in _SIMD_GAPS:
        raise MalformedError(f"illegal opcode {sub:02x}", pos)


def _outermost(r: BinaryReader, op: int, shape: int, pos: int) -> tuple[int, int, int] | None:
    """Decode a constant operator as ``(kind, value, pos)``; None, reading nothing, otherwise.

    Other SIMD instructions are consumed too, and reported as ``NON_CONSTANT``.
    """
    if shape == _I32:
        return ConstOpKind.I32_CONST, r.s32() & 0xFFFF_FFFF, pos
    if shape == _I64:
        return ConstOpKind.I64_CONST, r.s64() & 0xFFFF_FFFF_FFFF_FFFF, pos
    if shape == _F32:
        return ConstOpKind.F32_CONST, r.f32_bits(), pos
    if shape == _F64:
        return ConstOpKind.F64_CONST, r.f64_bits(), pos
    if shape == _GLOBAL_GET:
        return ConstOpKind.GLOBAL_GET, r.u32(), pos
    if shape == _REF_FUNC:
        return ConstOpKind.REF_FUNC, r.u32(), pos
    if shape == _REF_NULL:
        return ConstOpKind.REF_NULL, int(read_ref_type(r)), pos
    if shape == _PREFIX_FD:
        sub = r.u32()
        if sub == V128_CONST:
            return ConstOpKind.V128_CONST, int.from_bytes(r.bytes(16), "little"), pos
        _prefix_fd(r, sub, pos)
        return NON_CONSTANT, op, pos
    return None


def read_instructions(r: BinaryReader, consts: list[tuple[int, int, int]] | None = None) -> bool:
    """Step over instructions through the ``end`` that closes the sequence.

    When ``consts`` is given, each outermost instruction is appended to it as
    ``(kind, value, offset)``: a ``ConstOpKind`` with its value, or ``NON_CONSTANT``.
    Returns whether ``memory.init`` or ``data.drop`` occurs (they need a data count).
    """
    frames: list[int] = []
    uses_data = False
    shapes = _SHAPES
    while True:
        pos = r.pos
        op = r.u8()
        shape = shapes[op]
        if shape == _END:
            if not frames:
                return uses_data
            frames.pop()
            continue
        if consts is not None and not frames:
            item = _outermost(r, op, shape, pos)
            if item is not None:
                consts.append(item)
                continue
            consts.append((NON_CONSTANT, op, pos))
        if shape == _NONE:
            pass
        elif shape in (_IDX, _GLOBAL_GET, _REF_FUNC):
            r.u32()
        elif shape == _MEMARG:
            _memarg(r)
        elif shape == _I32:
            r.s32()
        elif shape == _I64:
            r.s64()
        elif shape == _F32:
            r.skip(4)
        elif shape == _F64:
            r.skip(8)
        elif shape == _BLOCK:
            _block_type(r)
            frames.append(_FRAME_BLOCK)
        elif shape == _IF:
            _block_type(r)
            frames.append(_FRAME_IF)
        elif shape == _ELSE:
            if not frames or frames[-1] != _FRAME_IF:
                raise MalformedError("END opcode expected", pos)
            frames[-1] = _FRAME_ELSE
        elif shape == _IDX2:
            r.u32()
            r.u32()
        elif shape == _BR_TABLE:
            for _ in range(_vec_len(r)):
                r.u32()
            r.u32()
        elif shape == _SELECT_T:
            for _ in range(_vec_len(r)):
                read_value_type(r)
        elif shape == _ZERO:
            _zero(r)
        elif shape == _REF_NULL:
            read_ref_type(r)
        elif shape == _PREFIX_FC:
            uses_data |= _prefix_fc(r, pos)
        elif shape == _PREFIX_FD:
            _prefix_fd(r, r.u32(), pos)
        else:
            raise MalformedError(f"illegal opcode {op:02x}", pos)


def _vec_len(r: BinaryReader) -> int:
    p = r.pos
    n = r.u32()
    if n > r.end - p:
        raise MalformedError("length out of bounds", p)
    return n
