"""The GC instructions (Wasm 3.0): structs, arrays, i31 references, casts."""

from __future__ import annotations

from typing import Final

from cwasm.wasm.ops.info import (
    FB_BASE,
    I32,
    IMM_BR_ON_CAST,
    IMM_HEAPTYPE,
    IMM_NONE,
    IMM_TYPE,
    IMM_TYPE_PAIR,
    NUM_OPCODE_IDS,
    OPERATORS,
)
from cwasm.wasm.ops.info import define as _def
from cwasm.wasm.types import HeapType, ref_type

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
