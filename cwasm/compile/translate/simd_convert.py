"""Translation of the SIMD conversions: narrowing with saturation, widening (extend,
extmul, extadd_pairwise) and conversions between integer and floating-point lanes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cwasm.compile.irmodule import ATTR_STRICTFP
from cwasm.compile.translate.driver import Handler
from cwasm.compile.translate.simd import (
    BITS,
    SHAPES,
    as_shape,
    const_splat,
    intrinsic,
    on,
    push_as,
    shuffle,
    strict_call,
    vsuffix,
    vty,
)

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator

HANDLERS: dict[str, Handler] = {}


def _narrow(dst: str, signed: bool) -> Handler:
    delem, n = SHAPES[dst]  # i8 x16 or i16 x8
    selem = "i16" if delem == "i8" else "i32"
    src = "i16x8" if delem == "i8" else "i32x4"
    wide = vty(selem, n)
    half = vty(selem, n // 2)
    dbits = BITS[delem]
    lo, hi = (-(1 << (dbits - 1)), (1 << (dbits - 1)) - 1) if signed else (0, (1 << dbits) - 1)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), src)
        a = as_shape(t, t.pop(), src)
        cat = shuffle(t, half, a, b, list(range(n)))
        sfx = vsuffix(selem, n)
        x = intrinsic(t, f"smax.{sfx}", wide, [(wide, cat), (wide, const_splat(selem, n, lo))])
        x = intrinsic(t, f"smin.{sfx}", wide, [(wide, x), (wide, const_splat(selem, n, hi))])
        push_as(t, t.val(f"trunc {wide} {x} to {vty(delem, n)}"), dst)

    return h


def _half(t: FunctionTranslator, v: str, elem: str, n: int, high: bool) -> str:
    """The low or high half of an ``<n x elem>`` vector."""
    start = n // 2 if high else 0
    return shuffle(t, vty(elem, n), v, "poison", list(range(start, start + n // 2)))


def _extend(dst: str, high: bool, signed: bool) -> Handler:
    delem, dn = SHAPES[dst]
    src = {"i16x8": "i8x16", "i32x4": "i16x8", "i64x2": "i32x4"}[dst]
    selem, sn = SHAPES[src]
    ext = "sext" if signed else "zext"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), src)
        part = _half(t, a, selem, sn, high)
        push_as(t, t.val(f"{ext} {vty(selem, dn)} {part} to {vty(delem, dn)}"), dst)

    return h


def _extmul(dst: str, high: bool, signed: bool) -> Handler:
    delem, dn = SHAPES[dst]
    src = {"i16x8": "i8x16", "i32x4": "i16x8", "i64x2": "i32x4"}[dst]
    selem, sn = SHAPES[src]
    ext = "sext" if signed else "zext"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), src)
        a = as_shape(t, t.pop(), src)
        xa = t.val(f"{ext} {vty(selem, dn)} {_half(t, a, selem, sn, high)} to {vty(delem, dn)}")
        xb = t.val(f"{ext} {vty(selem, dn)} {_half(t, b, selem, sn, high)} to {vty(delem, dn)}")
        push_as(t, t.val(f"mul {vty(delem, dn)} {xa}, {xb}"), dst)

    return h


def _extadd_pairwise(dst: str, signed: bool) -> Handler:
    delem, dn = SHAPES[dst]
    src = "i8x16" if dst == "i16x8" else "i16x8"
    selem, sn = SHAPES[src]
    ext = "sext" if signed else "zext"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), src)
        even = shuffle(t, vty(selem, sn), a, "poison", list(range(0, sn, 2)))
        odd = shuffle(t, vty(selem, sn), a, "poison", list(range(1, sn, 2)))
        xe = t.val(f"{ext} {vty(selem, dn)} {even} to {vty(delem, dn)}")
        xo = t.val(f"{ext} {vty(selem, dn)} {odd} to {vty(delem, dn)}")
        push_as(t, t.val(f"add {vty(delem, dn)} {xe}, {xo}"), dst)

    return h


def _trunc_sat(src: str, signed: bool) -> Handler:
    selem, sn = SHAPES[src]
    op = "fptosi" if signed else "fptoui"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), src)
        r = intrinsic(
            t, f"{op}.sat.v{sn}i32.{vsuffix(selem, sn)}", f"<{sn} x i32>", [(vty(selem, sn), a)]
        )
        if sn == 2:  # the f64x2 forms fill the upper lanes with zeros
            r = shuffle(t, "<2 x i32>", r, "zeroinitializer", [0, 1, 2, 3])
        push_as(t, r, "i32x4")

    return h


def _convert(signed: bool) -> Handler:
    op = "sitofp" if signed else "uitofp"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), "i32x4")
        push_as(t, t.val(f"{op} <4 x i32> {a} to <4 x float>"), "f32x4")

    return h


def _convert_low(signed: bool) -> Handler:
    op = "sitofp" if signed else "uitofp"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), "i32x4")
        lo = shuffle(t, "<4 x i32>", a, "poison", [0, 1])
        push_as(t, t.val(f"{op} <2 x i32> {lo} to <2 x double>"), "f64x2")

    return h


def _demote(t: FunctionTranslator, _imm: Any) -> None:
    a = as_shape(t, t.pop(), "f64x2")
    r = strict_call(t, "fptrunc.v2f32.v2f64", "<2 x float>", [("<2 x double>", a)])
    push_as(t, shuffle(t, "<2 x float>", r, "zeroinitializer", [0, 1, 2, 3]), "f32x4")


def _promote(t: FunctionTranslator, _imm: Any) -> None:
    a = as_shape(t, t.pop(), "f32x4")
    lo = shuffle(t, "<4 x float>", a, "poison", [0, 1])
    fn = t.mod.declare(
        "llvm.experimental.constrained.fpext.v2f64.v2f32", "<2 x double>", "<2 x float>, metadata"
    )
    r = t.val(
        f'call <2 x double> {fn}(<2 x float> {lo}, metadata !"fpexcept.strict") {ATTR_STRICTFP}'
    )
    push_as(t, r, "f64x2")


def _register() -> None:
    on(HANDLERS, "i8x16.narrow_i16x8_s", _narrow("i8x16", True))
    on(HANDLERS, "i8x16.narrow_i16x8_u", _narrow("i8x16", False))
    on(HANDLERS, "i16x8.narrow_i32x4_s", _narrow("i16x8", True))
    on(HANDLERS, "i16x8.narrow_i32x4_u", _narrow("i16x8", False))
    for dst, src in (("i16x8", "i8x16"), ("i32x4", "i16x8"), ("i64x2", "i32x4")):
        for half in ("low", "high"):
            for sign in ("s", "u"):
                high, signed = half == "high", sign == "s"
                on(HANDLERS, f"{dst}.extend_{half}_{src}_{sign}", _extend(dst, high, signed))
                on(HANDLERS, f"{dst}.extmul_{half}_{src}_{sign}", _extmul(dst, high, signed))
    on(HANDLERS, "i16x8.extadd_pairwise_i8x16_s", _extadd_pairwise("i16x8", True))
    on(HANDLERS, "i16x8.extadd_pairwise_i8x16_u", _extadd_pairwise("i16x8", False))
    on(HANDLERS, "i32x4.extadd_pairwise_i16x8_s", _extadd_pairwise("i32x4", True))
    on(HANDLERS, "i32x4.extadd_pairwise_i16x8_u", _extadd_pairwise("i32x4", False))
    on(HANDLERS, "i32x4.trunc_sat_f32x4_s", _trunc_sat("f32x4", True))
    on(HANDLERS, "i32x4.trunc_sat_f32x4_u", _trunc_sat("f32x4", False))
    on(HANDLERS, "i32x4.trunc_sat_f64x2_s_zero", _trunc_sat("f64x2", True))
    on(HANDLERS, "i32x4.trunc_sat_f64x2_u_zero", _trunc_sat("f64x2", False))
    on(HANDLERS, "f32x4.convert_i32x4_s", _convert(True))
    on(HANDLERS, "f32x4.convert_i32x4_u", _convert(False))
    on(HANDLERS, "f64x2.convert_low_i32x4_s", _convert_low(True))
    on(HANDLERS, "f64x2.convert_low_i32x4_u", _convert_low(False))
    on(HANDLERS, "f32x4.demote_f64x2_zero", _demote)
    on(HANDLERS, "f64x2.promote_low_f32x4", _promote)


_register()
