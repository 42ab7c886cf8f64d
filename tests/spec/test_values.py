"""Unit tests of the harness's value conversion and result matching."""

from __future__ import annotations

from cwasm.wast.values import HostRef, arg_value, describe_expected, result_matches


def test_integer_args_are_bit_patterns() -> None:
    assert arg_value({"type": "i32", "value": "4294967295"}) == 0xFFFFFFFF
    assert arg_value({"type": "i64", "value": "1"}) == 1


def test_v128_lanes_pack_little_endian() -> None:
    v = arg_value({"type": "v128", "lane_type": "i16", "value": ["1", "2"] + ["0"] * 6})
    assert v == 1 | (2 << 16)


def test_nan_patterns() -> None:
    canonical32 = {"type": "f32", "value": "nan:canonical"}
    arithmetic32 = {"type": "f32", "value": "nan:arithmetic"}
    assert result_matches(canonical32, 0x7FC00000)
    assert result_matches(canonical32, 0xFFC00000)
    assert not result_matches(canonical32, 0x7FC00001)
    assert result_matches(arithmetic32, 0x7FC00001)
    assert not result_matches(arithmetic32, 0x7F800001)  # signalling
    assert result_matches({"type": "f64", "value": "nan:canonical"}, 0x7FF8000000000000)
    assert not result_matches({"type": "f64", "value": "nan:canonical"}, 0x7FF0000000000001)


def test_exact_float_bits() -> None:
    assert result_matches({"type": "f32", "value": "2147483648"}, 0x80000000)  # -0.0
    assert not result_matches({"type": "f32", "value": "0"}, 0x80000000)


def test_references() -> None:
    assert arg_value({"type": "externref", "value": "null"}) is None
    assert result_matches({"type": "externref", "value": "3"}, HostRef(3))
    assert not result_matches({"type": "externref", "value": "3"}, HostRef(4))
    assert result_matches({"type": "funcref", "value": "null"}, None)
    assert result_matches({"type": "funcref"}, object())


def test_expected_values_read_like_actual_ones() -> None:
    assert describe_expected({"type": "i32", "value": "3"}) == "i32 0x3"
    assert describe_expected({"type": "f32", "value": "nan:canonical"}) == "f32 nan:canonical"
    lanes = {"type": "v128", "lane_type": "i32", "value": ["1", "2", "3", "4"]}
    assert describe_expected(lanes) == "v128 i32x4 [1, 2, 3, 4]"
    assert describe_expected({"type": "funcref", "value": "null"}) == "funcref null"
    assert describe_expected({"type": "externref"}) == "externref (any)"


def test_either_matches_any_alternative() -> None:
    either = {
        "type": "either",
        "values": [{"type": "i32", "value": "1"}, {"type": "f32", "value": "nan:canonical"}],
    }
    assert result_matches(either, 1)
    assert result_matches(either, 0x7FC00000)
    assert not result_matches(either, 2)
    assert describe_expected(either) == "either(i32 0x1 | f32 nan:canonical)"
