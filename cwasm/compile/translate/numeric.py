"""Scalar numeric instructions and constants: integer and floating-point arithmetic,
comparisons, conversions.

Floating-point arithmetic uses LLVM's constrained intrinsics (``STRICT``), so NaN
results stay quiet; integer division and float-to-int truncation check their traps.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from cwasm.compile.irmodule import ATTR_STRICTFP, f64_hex
from cwasm.compile.translate.driver import Handler, TranslatorCore
from cwasm.obj.traps import Trap

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator

#: the rounding and exception arguments of the constrained floating-point intrinsics
STRICT = 'metadata !"round.tonearest", metadata !"fpexcept.strict"'


class NumericMixin(TranslatorCore):
    """Constants and the numeric instructions that need more than one IR line."""

    def op_i32_const(self, v: int) -> None:
        self.push("i32", str(v))

    def op_i64_const(self, v: int) -> None:
        self.push("i64", str(v))

    def op_f32_const(self, bits: int) -> None:
        self.push("float", self.f32_bits_const(bits))

    def f32_bits_const(self, bits: int) -> str:
        if (bits >> 23) & 0xFF == 0xFF:  # inf/NaN: keep the exact payload
            return self.val(f"bitcast i32 {bits} to float")
        return f64_hex(struct.unpack("<f", bits.to_bytes(4, "little"))[0])

    def op_f64_const(self, bits: int) -> None:
        self.push("double", f"0x{bits:016X}")

    def int_div(self, ty: str, signed: bool, rem: bool) -> None:
        b = self.pop()
        a = self.pop()
        self.trap_if(self.val(f"icmp eq {ty} {b}, 0"), Trap.IntegerDivisionByZero)
        if signed:
            minv = "-2147483648" if ty == "i32" else "-9223372036854775808"
            if rem:
                # INT_MIN rem -1 is 0 in wasm but faults on x86: divide by 1 instead
                m1 = self.val(f"icmp eq {ty} {b}, -1")
                b = self.val(f"select i1 {m1}, {ty} 1, {ty} {b}")
                self.push(ty, self.val(f"srem {ty} {a}, {b}"))
            else:
                m1 = self.val(f"icmp eq {ty} {b}, -1")
                mn = self.val(f"icmp eq {ty} {a}, {minv}")
                ov = self.val(f"and i1 {m1}, {mn}")
                self.trap_if(ov, Trap.IntegerOverflow)
                self.push(ty, self.val(f"sdiv {ty} {a}, {b}"))
        else:
            self.push(ty, self.val(f"{'urem' if rem else 'udiv'} {ty} {a}, {b}"))

    def trunc_checked(self, fty: str, ity: str, signed: bool) -> None:
        x = self.pop()
        self.trap_if(self.val(f"fcmp uno {fty} {x}, {x}"), Trap.BadConversionToInteger)
        bits = 32 if ity == "i32" else 64
        if signed:
            hi = 2.0 ** (bits - 1)
            if bits == 32 and fty == "double":
                lo_ok = self.val(f"fcmp ogt {fty} {x}, {f64_hex(-hi - 1.0)}")
            else:
                lo_ok = self.val(f"fcmp oge {fty} {x}, {f64_hex(-hi)}")
        else:
            hi = 2.0**bits
            lo_ok = self.val(f"fcmp ogt {fty} {x}, {f64_hex(-1.0)}")
        hi_ok = self.val(f"fcmp olt {fty} {x}, {f64_hex(hi)}")
        ok = self.val(f"and i1 {lo_ok}, {hi_ok}")
        bad = self.val(f"xor i1 {ok}, true")
        self.trap_if(bad, Trap.IntegerOverflow)
        self.push(ity, self.val(f"{'fptosi' if signed else 'fptoui'} {fty} {x} to {ity}"))


def _binop(ty: str, inst: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        t.push(ty, t.val(f"{inst} {ty} {a}, {b}"))

    return h


def _shift(ty: str, inst: str) -> Handler:
    mask = 31 if ty == "i32" else 63

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        m = t.val(f"and {ty} {b}, {mask}")
        t.push(ty, t.val(f"{inst} {ty} {a}, {m}"))

    return h


def _icmp(ty: str, cond: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        c = t.val(f"icmp {cond} {ty} {a}, {b}")
        t.push("i32", t.val(f"zext i1 {c} to i32"))

    return h


def _fcmp(ty: str, cond: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        c = t.val(f"fcmp {cond} {ty} {a}, {b}")
        t.push("i32", t.val(f"zext i1 {c} to i32"))

    return h


def _eqz(ty: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        c = t.val(f"icmp eq {ty} {a}, 0")
        t.push("i32", t.val(f"zext i1 {c} to i32"))

    return h


def _intrinsic1(ty: str, name: str, extra: str = "") -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}{extra})"))

    return h


def _intrinsic2(ty: str, name: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}, {ty} {b})"))

    return h


def _minmax(ty: str, name: str) -> Handler:
    suffix = "f32" if ty == "float" else "f64"
    add = f"llvm.experimental.constrained.fadd.{suffix}"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        r = t.val(f"call {ty} {t.mod.use(name)}({ty} {a}, {ty} {b})")
        # a NaN result must be quiet (an arithmetic NaN): let an addition produce it
        nan = t.val(f"fcmp uno {ty} {a}, {b}")
        q = t.val(f"call {ty} {t.mod.use(add)}({ty} {a}, {ty} {b}, {STRICT}) {ATTR_STRICTFP}")
        t.push(ty, t.val(f"select i1 {nan}, {ty} {q}, {ty} {r}"))

    return h


def _rot(ty: str, name: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}, {ty} {a}, {ty} {b})"))

    return h


def _strict2(ty: str, op: str) -> Handler:
    suffix = "f32" if ty == "float" else "f64"
    name = f"llvm.experimental.constrained.{op}.{suffix}"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}, {ty} {b}, {STRICT}) {ATTR_STRICTFP}"))

    return h


def _strict_sqrt(ty: str) -> Handler:
    suffix = "f32" if ty == "float" else "f64"
    name = f"llvm.experimental.constrained.sqrt.{suffix}"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}, {STRICT}) {ATTR_STRICTFP}"))

    return h


def _fneg(ty: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        t.push(ty, t.val(f"fneg {ty} {a}"))

    return h


def _div(ty: str, signed: bool, rem: bool) -> Handler:
    return lambda t, _imm: t.int_div(ty, signed, rem)


def _cast(src: str, dst: str, inst: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        t.push(dst, t.val(f"{inst} {src} {a} to {dst}"))

    return h


def _extend_s(ty: str, narrow: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        n = t.val(f"trunc {ty} {a} to {narrow}")
        t.push(ty, t.val(f"sext {narrow} {n} to {ty}"))

    return h


def _trunc(fty: str, ity: str, signed: bool) -> Handler:
    return lambda t, _imm: t.trunc_checked(fty, ity, signed)


def _trunc_sat(fty: str, ity: str, signed: bool) -> Handler:
    fs = "f32" if fty == "float" else "f64"
    name = f"llvm.{'fptosi' if signed else 'fptoui'}.sat.{ity}.{fs}"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ity, t.val(f"call {ity} {fn}({fty} {a})"))

    return h


def _demote(t: FunctionTranslator, _imm: Any) -> None:
    a = t.pop()
    fn = t.mod.use("llvm.experimental.constrained.fptrunc.f32.f64")
    t.push("float", t.val(f"call float {fn}(double {a}, {STRICT}) {ATTR_STRICTFP}"))


def _promote(t: FunctionTranslator, _imm: Any) -> None:
    a = t.pop()
    fn = t.mod.use("llvm.experimental.constrained.fpext.f64.f32")
    t.push(
        "double",
        t.val(f'call double {fn}(float {a}, metadata !"fpexcept.strict") {ATTR_STRICTFP}'),
    )


def _numeric_handlers() -> dict[str, Handler]:
    h: dict[str, Handler] = {}
    for w, ty in (("i32", "i32"), ("i64", "i64")):
        h[f"{w}.eqz"] = _eqz(ty)
        for n, c in (
            ("eq", "eq"),
            ("ne", "ne"),
            ("lt_s", "slt"),
            ("lt_u", "ult"),
            ("gt_s", "sgt"),
            ("gt_u", "ugt"),
            ("le_s", "sle"),
            ("le_u", "ule"),
            ("ge_s", "sge"),
            ("ge_u", "uge"),
        ):
            h[f"{w}.{n}"] = _icmp(ty, c)
        for n, inst in (("add", "add"), ("sub", "sub"), ("mul", "mul")):
            h[f"{w}.{n}"] = _binop(ty, inst)
        for n, inst in (("and", "and"), ("or", "or"), ("xor", "xor")):
            h[f"{w}.{n}"] = _binop(ty, inst)
        for n, inst in (("shl", "shl"), ("shr_s", "ashr"), ("shr_u", "lshr")):
            h[f"{w}.{n}"] = _shift(ty, inst)
        h[f"{w}.rotl"] = _rot(ty, f"llvm.fshl.{ty}")
        h[f"{w}.rotr"] = _rot(ty, f"llvm.fshr.{ty}")
        h[f"{w}.clz"] = _intrinsic1(ty, f"llvm.ctlz.{ty}", ", i1 false")
        h[f"{w}.ctz"] = _intrinsic1(ty, f"llvm.cttz.{ty}", ", i1 false")
        h[f"{w}.popcnt"] = _intrinsic1(ty, f"llvm.ctpop.{ty}")
        h[f"{w}.div_s"] = _div(ty, True, False)
        h[f"{w}.div_u"] = _div(ty, False, False)
        h[f"{w}.rem_s"] = _div(ty, True, True)
        h[f"{w}.rem_u"] = _div(ty, False, True)
    for w, ty in (("f32", "float"), ("f64", "double")):
        for n, c in (("eq", "oeq"), ("ne", "une"), ("lt", "olt"), ("gt", "ogt")):
            h[f"{w}.{n}"] = _fcmp(ty, c)
        for n, c in (("le", "ole"), ("ge", "oge")):
            h[f"{w}.{n}"] = _fcmp(ty, c)
        h[f"{w}.abs"] = _intrinsic1(ty, f"llvm.fabs.{w}")
        h[f"{w}.neg"] = _fneg(ty)
        h[f"{w}.ceil"] = _intrinsic1(ty, f"llvm.ceil.{w}")
        h[f"{w}.floor"] = _intrinsic1(ty, f"llvm.floor.{w}")
        h[f"{w}.trunc"] = _intrinsic1(ty, f"llvm.trunc.{w}")
        h[f"{w}.nearest"] = _intrinsic1(ty, f"llvm.roundeven.{w}")
        h[f"{w}.sqrt"] = _strict_sqrt(ty)
        for n, op in (("add", "fadd"), ("sub", "fsub"), ("mul", "fmul"), ("div", "fdiv")):
            h[f"{w}.{n}"] = _strict2(ty, op)
        h[f"{w}.min"] = _minmax(ty, f"llvm.minimum.{w}")
        h[f"{w}.max"] = _minmax(ty, f"llvm.maximum.{w}")
        h[f"{w}.copysign"] = _intrinsic2(ty, f"llvm.copysign.{w}")
    h["i32.wrap_i64"] = _cast("i64", "i32", "trunc")
    h["i64.extend_i32_s"] = _cast("i32", "i64", "sext")
    h["i64.extend_i32_u"] = _cast("i32", "i64", "zext")
    for w, fty in (("f32", "float"), ("f64", "double")):
        for iw in ("i32", "i64"):
            h[f"{iw}.trunc_{w}_s"] = _trunc(fty, iw, True)
            h[f"{iw}.trunc_{w}_u"] = _trunc(fty, iw, False)
            h[f"{iw}.trunc_sat_{w}_s"] = _trunc_sat(fty, iw, True)
            h[f"{iw}.trunc_sat_{w}_u"] = _trunc_sat(fty, iw, False)
            h[f"{w}.convert_{iw}_s"] = _cast(iw, fty, "sitofp")
            h[f"{w}.convert_{iw}_u"] = _cast(iw, fty, "uitofp")
    h["f32.demote_f64"] = _demote
    h["f64.promote_f32"] = _promote
    h["i32.reinterpret_f32"] = _cast("float", "i32", "bitcast")
    h["i64.reinterpret_f64"] = _cast("double", "i64", "bitcast")
    h["f32.reinterpret_i32"] = _cast("i32", "float", "bitcast")
    h["f64.reinterpret_i64"] = _cast("i64", "double", "bitcast")
    h["i32.extend8_s"] = _extend_s("i32", "i8")
    h["i32.extend16_s"] = _extend_s("i32", "i16")
    h["i64.extend8_s"] = _extend_s("i64", "i8")
    h["i64.extend16_s"] = _extend_s("i64", "i16")
    h["i64.extend32_s"] = _extend_s("i64", "i32")
    return h


HANDLERS: dict[str, Handler] = {
    "i32.const": NumericMixin.op_i32_const,
    "i64.const": NumericMixin.op_i64_const,
    "f32.const": NumericMixin.op_f32_const,
    "f64.const": NumericMixin.op_f64_const,
    **_numeric_handlers(),
}
