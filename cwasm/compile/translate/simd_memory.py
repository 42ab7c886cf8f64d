"""Translation of the SIMD memory instructions: v128 loads and stores, extending, splatting,
zero-filling and single-lane loads and stores (through the environment's ``mem_addr``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cwasm.compile.translate.driver import Handler
from cwasm.compile.translate.simd import (
    BITS,
    V,
    as_shape,
    on,
    push_as,
    splat_value,
    vty,
)

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator

HANDLERS: dict[str, Handler] = {}


def _load(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
    addr = t.pop()
    p = t.mem_addr(addr, memarg[1], 16, memarg[2])
    t.push(V, t.heap_load(f"{V}", p))


def _store(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
    v = t.pop()
    addr = t.pop()
    p = t.mem_addr(addr, memarg[1], 16, memarg[2])
    t.heap_store(V, v, p)


def _load_extend(selem: str, delem: str, signed: bool) -> Handler:
    n = 64 // BITS[selem]
    dst = {"i16": "i16x8", "i32": "i32x4", "i64": "i64x2"}[delem]

    def h(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
        addr = t.pop()
        p = t.mem_addr(addr, memarg[1], 8, memarg[2])
        v = t.heap_load(f"{vty(selem, n)}", p)
        ext = "sext" if signed else "zext"
        push_as(t, t.val(f"{ext} {vty(selem, n)} {v} to {vty(delem, n)}"), dst)

    return h


def _load_splat(elem: str) -> Handler:
    n = 128 // BITS[elem]
    shape = {"i8": "i8x16", "i16": "i16x8", "i32": "i32x4", "i64": "i64x2"}[elem]

    def h(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
        addr = t.pop()
        p = t.mem_addr(addr, memarg[1], BITS[elem] // 8, memarg[2])
        x = t.heap_load(f"{elem}", p)
        push_as(t, splat_value(t, elem, n, x), shape)

    return h


def _load_zero(elem: str) -> Handler:
    n = 128 // BITS[elem]
    shape = "i32x4" if elem == "i32" else "i64x2"

    def h(t: FunctionTranslator, memarg: tuple[int, int, int]) -> None:
        addr = t.pop()
        p = t.mem_addr(addr, memarg[1], BITS[elem] // 8, memarg[2])
        x = t.heap_load(f"{elem}", p)
        push_as(t, t.val(f"insertelement {vty(elem, n)} zeroinitializer, {elem} {x}, i32 0"), shape)

    return h


def _load_lane(elem: str) -> Handler:
    n = 128 // BITS[elem]
    shape = {"i8": "i8x16", "i16": "i16x8", "i32": "i32x4", "i64": "i64x2"}[elem]

    def h(t: FunctionTranslator, imm: tuple[int, int, int, int]) -> None:
        _align, offset, lane, memory = imm
        v = as_shape(t, t.pop(), shape)
        addr = t.pop()
        p = t.mem_addr(addr, offset, BITS[elem] // 8, memory)
        x = t.heap_load(f"{elem}", p)
        push_as(t, t.val(f"insertelement {vty(elem, n)} {v}, {elem} {x}, i32 {lane}"), shape)

    return h


def _store_lane(elem: str) -> Handler:
    n = 128 // BITS[elem]
    shape = {"i8": "i8x16", "i16": "i16x8", "i32": "i32x4", "i64": "i64x2"}[elem]

    def h(t: FunctionTranslator, imm: tuple[int, int, int, int]) -> None:
        _align, offset, lane, memory = imm
        v = as_shape(t, t.pop(), shape)
        addr = t.pop()
        x = t.val(f"extractelement {vty(elem, n)} {v}, i32 {lane}")
        p = t.mem_addr(addr, offset, BITS[elem] // 8, memory)
        t.heap_store(elem, x, p)

    return h


def _register() -> None:
    on(HANDLERS, "v128.load", _load)
    on(HANDLERS, "v128.store", _store)
    for bits, delem in ((8, "i16"), (16, "i32"), (32, "i64")):
        selem = f"i{bits}"
        n = 64 // bits
        on(HANDLERS, f"v128.load{bits}x{n}_s", _load_extend(selem, delem, True))
        on(HANDLERS, f"v128.load{bits}x{n}_u", _load_extend(selem, delem, False))
    for elem in ("i8", "i16", "i32", "i64"):
        bits = BITS[elem]
        on(HANDLERS, f"v128.load{bits}_splat", _load_splat(elem))
        on(HANDLERS, f"v128.load{bits}_lane", _load_lane(elem))
        on(HANDLERS, f"v128.store{bits}_lane", _store_lane(elem))
    on(HANDLERS, "v128.load32_zero", _load_zero("i32"))
    on(HANDLERS, "v128.load64_zero", _load_zero("i64"))


_register()
