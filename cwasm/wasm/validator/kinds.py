"""The function-body validator's dispatch tables: the handler kind of every opcode id
and the data its case in ``body``'s hot loop needs, built once from ``OPERATORS``."""

from __future__ import annotations

from typing import Any, Final

from cwasm.wasm import operators as ops
from cwasm.wasm.operators import I32, OPERATORS, VALTYPE_BYTES
from cwasm.wasm.validator.stack import FRAME_BLOCK, FRAME_IF, FRAME_LOOP

# handler kinds, one per opcode id, numbered by how often real code uses them (the
# hot loop tests them in this order, as int literals)
K_ILLEGAL: Final = 0
K_NUM2: Final = 1  # fixed effect (a b -> r), no immediates
K_LOAD: Final = 2
K_LOCAL_SET: Final = 3
K_LOCAL_TEE: Final = 4
K_END: Final = 5
K_BLOCK: Final = 6  # block, loop, if
K_BR_IF: Final = 7
K_CALL: Final = 8
K_STORE: Final = 9
K_CONST: Final = 10
K_BR: Final = 11
K_NUM1: Final = 12  # fixed effect (a -> r), no immediates
K_GLOBAL: Final = 13  # global.get, global.set
K_DROP: Final = 14
K_UNREACHABLE: Final = 15
K_STATIC: Final = 16  # any other fixed effect, with immediates to check
K_ELSE: Final = 17
K_SELECT: Final = 18
K_SELECT_T: Final = 19
K_RETURN: Final = 20
K_BR_TABLE: Final = 21
K_CALL_INDIRECT: Final = 22
K_NOP: Final = 23
K_OTHER: Final = 24  # reference and table instructions
K_LOCAL_GET: Final = 25  # handled before the kind lookup, as is i32.const
K_TYPED_REF: Final = 26  # call_ref, ref.as_non_null, br_on_null, br_on_non_null
K_RETURN_CALL: Final = 27  # return_call, return_call_indirect, return_call_ref (tail calls)
K_EXCEPTION: Final = 28  # throw, throw_ref, try_table
K_GC: Final = 29  # the GC instructions typed by their immediates (validator.gc)

_NAMED_KINDS: Final = {
    "unreachable": K_UNREACHABLE,
    "nop": K_NOP,
    "block": K_BLOCK,
    "loop": K_BLOCK,
    "if": K_BLOCK,
    "else": K_ELSE,
    "end": K_END,
    "br": K_BR,
    "br_if": K_BR_IF,
    "br_table": K_BR_TABLE,
    "return": K_RETURN,
    "call": K_CALL,
    "call_indirect": K_CALL_INDIRECT,
    "return_call": K_RETURN_CALL,
    "return_call_indirect": K_RETURN_CALL,
    "return_call_ref": K_RETURN_CALL,
    "drop": K_DROP,
    "select": K_SELECT,
    "select_t": K_SELECT_T,
    "local.get": K_LOCAL_GET,
    "local.set": K_LOCAL_SET,
    "local.tee": K_LOCAL_TEE,
    "global.get": K_GLOBAL,
    "global.set": K_GLOBAL,
    "call_ref": K_TYPED_REF,
    "ref.as_non_null": K_TYPED_REF,
    "br_on_null": K_TYPED_REF,
    "br_on_non_null": K_TYPED_REF,
    "throw": K_EXCEPTION,
    "throw_ref": K_EXCEPTION,
    "try_table": K_EXCEPTION,
}
FRAME_KINDS: Final = {0x02: FRAME_BLOCK, 0x03: FRAME_LOOP, 0x04: FRAME_IF}
EMPTY: Final[list[int]] = []
SINGLE: Final = {t: [t] for t in VALTYPE_BYTES}  # block types of one value type

_CONST_SIZES: Final = {ops.IMM_F32: 4, ops.IMM_F64: 8, ops.IMM_V128: 16}


def _build_tables() -> tuple[list[int], list[Any]]:
    kinds = [K_ILLEGAL] * ops.NUM_OPCODE_IDS
    # per opcode: the data its handler needs (see the cases of _validate)
    data: list[Any] = [None] * ops.NUM_OPCODE_IDS
    for info in OPERATORS:
        if info is None:
            continue
        code = info.code
        if info.name in _NAMED_KINDS:
            kinds[code] = _NAMED_KINDS[info.name]
        elif code in ops.GC_OPS and info.params is None:
            kinds[code] = K_GC
        elif info.params is None:
            kinds[code] = K_OTHER
        elif info.imm == ops.IMM_NONE and len(info.params) in (1, 2) and len(info.results) == 1:
            p = info.params
            kinds[code] = K_NUM1 if len(p) == 1 else K_NUM2
            data[code] = (p[0], p[-1], info.results[0])
        elif info.imm == ops.IMM_MEMARG and info.params == (I32,) and len(info.results) == 1:
            kinds[code] = K_LOAD
            data[code] = (info.align, info.results[0])
        elif info.imm == ops.IMM_MEMARG and len(info.params) == 2 and not info.results:
            kinds[code] = K_STORE
            data[code] = (info.align, info.params[1])
        elif info.imm in (ops.IMM_I32, ops.IMM_I64, ops.IMM_F32, ops.IMM_F64, ops.IMM_V128):
            kinds[code] = K_CONST
            data[code] = (info.imm, info.results[0], _CONST_SIZES.get(info.imm, 0))
        else:
            kinds[code] = K_STATIC
    return kinds, data


KINDS, DATA = _build_tables()
#: the opcode ids after each prefix byte 0xFB, 0xFC, 0xFD, 0xFE: (first, end)
PREFIX_RANGES: Final = (
    (ops.FB_BASE, ops.NUM_OPCODE_IDS),
    (ops.FC_BASE, ops.FD_BASE),
    (ops.FD_BASE, ops.FE_BASE),
    (ops.FE_BASE, ops.FB_BASE),
)
# fixed stack effects as lists, for the generic K_STATIC path
PARAMS: Final = [list(i.params) if i and i.params is not None else [] for i in OPERATORS]
RESULTS: Final = [list(i.results) if i else [] for i in OPERATORS]
