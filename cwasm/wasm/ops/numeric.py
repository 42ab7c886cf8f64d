"""The numeric instructions: constants, comparisons, arithmetic and conversions."""

from __future__ import annotations

from cwasm.wasm.ops.info import (
    F32,
    F64,
    FC_BASE,
    I32,
    I64,
    IMM_F32,
    IMM_F64,
    IMM_I32,
    IMM_I64,
    IMM_NONE,
)
from cwasm.wasm.ops.info import FLOAT_BIN as _FLOAT_BIN
from cwasm.wasm.ops.info import FLOAT_CMP as _FLOAT_CMP
from cwasm.wasm.ops.info import FLOAT_UN as _FLOAT_UN
from cwasm.wasm.ops.info import INT_BIN as _INT_BIN
from cwasm.wasm.ops.info import INT_CMP as _INT_CMP
from cwasm.wasm.ops.info import define as _def
from cwasm.wasm.ops.info import define_group as _group

# --- numeric ---
_def(0x41, "i32.const", IMM_I32, (), (I32,))
_def(0x42, "i64.const", IMM_I64, (), (I64,))
_def(0x43, "f32.const", IMM_F32, (), (F32,))
_def(0x44, "f64.const", IMM_F64, (), (F64,))


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
