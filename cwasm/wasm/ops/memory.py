"""The memory instructions: loads, stores, size, grow and bulk memory."""

from __future__ import annotations

from cwasm.wasm.ops.info import (
    F32,
    F64,
    FC_BASE,
    I32,
    I64,
    IMM_DATA,
    IMM_MEMARG,
    IMM_MEMORY,
    IMM_MEMORY_COPY,
    IMM_MEMORY_INIT,
)
from cwasm.wasm.ops.info import define as _def

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
