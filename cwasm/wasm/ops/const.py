"""The constant instructions: the ones a constant expression may contain."""

from __future__ import annotations

from typing import Any, Final

from cwasm.wasm.ops.info import BY_NAME
from cwasm.wasm.types import ConstOpKind

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
