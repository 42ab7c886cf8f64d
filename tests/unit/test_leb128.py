"""LEB128 decoding in BinaryReader: limits, overlong encodings and the spec's error wording."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cwasm.errors import MalformedError
from cwasm.wasm.reader import BinaryReader


def uleb(n: int, min_len: int = 1) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n or len(out) + 1 < min_len:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def read(method: str, data: bytes) -> tuple[int, int]:
    r = BinaryReader(data)
    value = getattr(r, method)()
    return value, r.pos


def error(method: str, data: bytes) -> MalformedError:
    with pytest.raises(MalformedError) as info:
        getattr(BinaryReader(data), method)()
    return info.value


# -- unsigned -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, value",
    [
        (b"\x00", 0),
        (b"\x7f", 127),
        (b"\x80\x01", 128),
        (b"\xe5\x8e\x26", 624485),
        (b"\xff\xff\xff\xff\x0f", 0xFFFF_FFFF),
        # overlong encodings are fine as long as they fit in ceil(32/7) bytes
        (b"\x80\x00", 0),
        (b"\x80\x80\x80\x80\x00", 0),
        (b"\x82\x80\x80\x80\x00", 2),
    ],
)
def test_u32_values(data: bytes, value: int) -> None:
    assert read("u32", data) == (value, len(data))


def test_u32_trailing_bytes_are_not_consumed() -> None:
    assert read("u32", b"\x05\xff") == (5, 1)


@pytest.mark.parametrize(
    "data, message, offset",
    [
        (b"\x80\x80\x80\x80\x80\x00", "integer representation too long", 5),
        (b"\xff\xff\xff\xff\x1f", "integer too large", 4),
        (b"\x82\x80\x80\x80\x70", "integer too large", 4),
        (b"\x82\x80\x80\x80\x10", "integer too large", 4),
        # unused bits are checked before the continuation bit, as the spec does
        (b"\x80\x80\x80\x80\x90\x00", "integer too large", 4),
        (b"\x80\x80\x80\x80\x8f\x00", "integer representation too long", 5),
        (b"\x80\x80", "unexpected end", 2),
        (b"", "unexpected end", 0),
    ],
)
def test_u32_errors(data: bytes, message: str, offset: int) -> None:
    e = error("u32", data)
    assert e.message == message
    assert e.offset == offset


def test_u64_limits() -> None:
    max64 = b"\xff" * 9 + b"\x01"
    assert read("u64", max64) == (2**64 - 1, 10)
    assert read("u64", b"\x80" * 9 + b"\x00") == (0, 10)
    assert error("u64", b"\xff" * 9 + b"\x02").message == "integer too large"
    assert error("u64", b"\x80" * 10 + b"\x00").message == "integer representation too long"


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=5))
def test_u32_roundtrip(n: int, min_len: int) -> None:
    data = uleb(n, min_len)
    assert read("u32", data) == (n, len(data))


# -- signed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, data, value",
    [
        ("s32", b"\x00", 0),
        ("s32", b"\x7f", -1),
        ("s32", b"\x3f", 63),
        ("s32", b"\x40", -64),
        ("s32", b"\xc0\x00", 64),
        ("s32", b"\xff\xff\xff\xff\x07", 2**31 - 1),
        ("s32", b"\x80\x80\x80\x80\x78", -(2**31)),
        ("s32", b"\xff\xff\xff\xff\x7f", -1),  # overlong -1
        ("s32", b"\x80\x80\x80\x80\x00", 0),  # overlong 0
        ("s33", b"\xff\xff\xff\xff\x0f", 2**32 - 1),
        ("s33", b"\x80\x80\x80\x80\x70", -(2**32)),
        ("s33", b"\x40", -64),
        ("s64", b"\xff" * 9 + b"\x00", 2**63 - 1),
        ("s64", b"\x80" * 9 + b"\x7f", -(2**63)),
        ("s64", b"\xff" * 9 + b"\x7f", -1),
    ],
)
def test_signed_values(method: str, data: bytes, value: int) -> None:
    assert read(method, data) == (value, len(data))


@pytest.mark.parametrize(
    "method, data, message",
    [
        ("s32", b"\xff\xff\xff\xff\x0f", "integer too large"),  # 2**31
        ("s32", b"\x80\x80\x80\x80\x70", "integer too large"),  # below -(2**31)
        ("s32", b"\x80\x80\x80\x80\x80\x00", "integer representation too long"),
        ("s33", b"\xff\xff\xff\xff\x1f", "integer too large"),  # 2**32
        ("s33", b"\x80\x80\x80\x80\x60", "integer too large"),  # below -(2**32)
        ("s33", b"\x80\x80\x80\x80\x80\x00", "integer representation too long"),
        ("s64", b"\xff" * 9 + b"\x01", "integer too large"),  # 2**63
        ("s64", b"\x80" * 9 + b"\x7e", "integer too large"),  # below -(2**63)
        ("s64", b"\x80" * 10 + b"\x00", "integer representation too long"),
        ("s64", b"\x80", "unexpected end"),
    ],
)
def test_signed_errors(method: str, data: bytes, message: str) -> None:
    assert error(method, data).message == message


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_s32_roundtrip(n: int) -> None:
    data = sleb(n)
    assert read("s32", data) == (n, len(data))


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_s64_roundtrip(n: int) -> None:
    data = sleb(n)
    assert read("s64", data) == (n, len(data))


@given(st.integers(min_value=2**31, max_value=2**40))
def test_s32_out_of_range_is_rejected(n: int) -> None:
    with pytest.raises(MalformedError):
        BinaryReader(sleb(n)).s32()


# -- reader bounds --------------------------------------------------------------------


def test_end_bounds_reads_and_eof_message() -> None:
    r = BinaryReader(b"\x80\x80\x01", 0, 2, eof_message="unexpected end of section or function")
    with pytest.raises(MalformedError) as info:
        r.u32()
    assert info.value.message == "unexpected end of section or function"
    assert info.value.offset == 2
