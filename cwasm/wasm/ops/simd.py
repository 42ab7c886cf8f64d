"""The fixed-width SIMD instructions (0xFD), relaxed SIMD included."""

from __future__ import annotations

from cwasm.wasm.ops.info import (
    F32,
    F64,
    FD_BASE,
    I32,
    I64,
    IMM_LANE,
    IMM_MEMARG,
    IMM_MEMARG_LANE,
    IMM_NONE,
    IMM_SHUFFLE,
    IMM_V128,
    V128,
)
from cwasm.wasm.ops.info import FLOAT_CMP as _FLOAT_CMP
from cwasm.wasm.ops.info import INT_CMP as _INT_CMP
from cwasm.wasm.ops.info import define as _def
from cwasm.wasm.ops.info import define_group as _group

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
