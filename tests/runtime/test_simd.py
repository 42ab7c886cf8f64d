"""SIMD values crossing the Python boundary, and a few lane operations against wasmtime-py."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from cwasm.api import Engine, Instance, Module, Store
from tests.runtime.wat import wat

SIMD = """
(module
  (memory 1)
  (func (export "add") (param v128 v128) (result v128) local.get 0 local.get 1 i32x4.add)
  (func (export "min") (param v128 v128) (result v128) local.get 0 local.get 1 f32x4.min)
  (func (export "shuf") (param v128 v128) (result v128)
    local.get 0 local.get 1 i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31)
  (func (export "swz") (param v128 v128) (result v128) local.get 0 local.get 1 i8x16.swizzle)
  (func (export "mask") (param v128) (result i32) local.get 0 i8x16.bitmask)
  (func (export "narrow") (param v128 v128) (result v128)
    local.get 0 local.get 1 i8x16.narrow_i16x8_s)
  (func (export "dot") (param v128 v128) (result v128) local.get 0 local.get 1 i32x4.dot_i16x8_s)
  (func (export "lane") (param i32 v128) (result v128)
    local.get 0 local.get 1 v128.store
    local.get 0 i32.const 16 i32.add
    local.get 0 v128.load16_splat
    v128.store
    local.get 0 i32.const 16 i32.add v128.load)
)
"""

v128s = st.integers(0, (1 << 128) - 1)


def lanes(v: int, bits: int, signed: bool = False) -> list[int]:
    mask = (1 << bits) - 1
    out = [(v >> (i * bits)) & mask for i in range(128 // bits)]
    if signed:
        out = [x - (1 << bits) if x >> (bits - 1) else x for x in out]
    return out


def pack(values: list[int], bits: int) -> int:
    mask = (1 << bits) - 1
    return sum((x & mask) << (i * bits) for i, x in enumerate(values))


def reference(name: str, a: int, b: int) -> int:
    """wasm semantics written out lane by lane (wasmtime-py 28 cannot pass v128 values)."""
    if name == "add":
        return pack([x + y for x, y in zip(lanes(a, 32), lanes(b, 32), strict=True)], 32)
    if name == "shuf":
        both = lanes(a, 8) + lanes(b, 8)
        return pack(
            [both[i] for i in (0, 17, 2, 19, 4, 21, 6, 23, 8, 25, 10, 27, 12, 29, 14, 31)], 8
        )
    if name == "swz":
        src = lanes(a, 8)
        return pack([src[i] if i < 16 else 0 for i in lanes(b, 8)], 8)
    if name == "narrow":
        sat = [max(-128, min(127, x)) for x in lanes(a, 16, True) + lanes(b, 16, True)]
        return pack(sat, 8)
    if name == "dot":
        p = [x * y for x, y in zip(lanes(a, 16, True), lanes(b, 16, True), strict=True)]
        return pack([p[2 * i] + p[2 * i + 1] for i in range(4)], 32)
    raise ValueError(name)


ENGINE = Engine()
STORE = Store(ENGINE)
EX = Instance(STORE, Module(ENGINE, wat(SIMD)), []).exports(STORE)


@settings(max_examples=60, deadline=None)
@given(a=v128s, b=v128s)
def test_lane_operations_follow_the_spec(a: int, b: int) -> None:
    for name in ("add", "shuf", "swz", "narrow", "dot"):
        assert EX[name](STORE, a, b) == reference(name, a, b), name
        assert EX[name].call_raw(STORE, [a, b]) == [reference(name, a, b)]
    assert EX["mask"](STORE, a) == sum(1 << i for i, x in enumerate(lanes(a, 8)) if x >= 128)
    first16 = a & 0xFFFF
    assert EX["lane"](STORE, 64, a) == pack([first16] * 8, 16)


def test_float_lanes_keep_nan_quiet() -> None:
    snan = struct.unpack("<I", struct.pack("<I", 0x7FA00000))[0]
    one = 0x3F800000
    a = snan | (one << 32)
    b = one | (one << 32)
    r = EX["min"].call_raw(STORE, [a, b])[0]
    lane0 = r & 0xFFFFFFFF
    assert lane0 & 0x7FC00000 == 0x7FC00000  # an arithmetic (quiet) NaN
    assert (r >> 32) & 0xFFFFFFFF == one
