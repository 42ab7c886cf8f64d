"""Translation of the relaxed SIMD instructions (WebAssembly 3.0, ``0xFD 0x100..0x113``).

The proposal lets each of these instructions give one of a few results where the
hardware differs (NaNs, out-of-range indices or conversions, partial masks, high-bit
bytes). cwasm picks what Wasmtime picks, so that both engines agree:

* on x86-64 (unless ``Config.wasm_relaxed_simd_deterministic``), the result of the
  x86 instruction Wasmtime emits: ``pshufb`` (swizzle), ``cvttps2dq``/``cvttpd2dq``
  (signed truncations), ``pblendvb``/``blendvps``/``blendvpd`` (laneselect on the top
  bit of each mask lane; i16x8 has no such instruction and is a bitselect),
  ``minps``-style ``pmin``/``pmax`` (min/max), ``pmulhrsw`` (q15mulr) and ``pmaddubsw``
  (dot products, the second operand's bytes unsigned and the sums of pairs saturated
  to i16); the multiply-adds are fused when the host has FMA (the engine then compiles
  with it), else a multiply and an add; the unsigned truncations are the saturating
  ones;
* otherwise (other targets, or deterministic), the proposal's deterministic semantics:
  the non-relaxed swizzle, saturating truncations, fused multiply-adds, bitselect,
  ``min``/``max``, ``q15mulr_sat_s`` and signed-by-signed dot products.

Exports ``HANDLERS``, by operator name, for ``dispatch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cwasm.compile.translate import simd, simd_convert
from cwasm.compile.translate.driver import Handler
from cwasm.compile.translate.simd import (
    SHAPES,
    V,
    as_shape,
    intrinsic,
    push_as,
    shuffle,
    strict_call,
    vsuffix,
    vty,
)

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator

HANDLERS: dict[str, Handler] = {}

_B16, _H8, _W4 = "<16 x i8>", "<8 x i16>", "<4 x i32>"


def _x86(t: FunctionTranslator) -> bool:
    """Whether this function follows Wasmtime's x86-64 choices."""
    return t.mod.arch == "x86_64" and not t.mod.relaxed_simd_deterministic


def _choose(x86: Handler, portable: Handler) -> Handler:
    def h(t: FunctionTranslator, imm: Any) -> None:
        (x86 if _x86(t) else portable)(t, imm)

    return h


def _pshufb(t: FunctionTranslator, _imm: Any) -> None:
    idx = as_shape(t, t.pop(), "i8x16")
    a = as_shape(t, t.pop(), "i8x16")
    push_as(t, intrinsic(t, "x86.ssse3.pshuf.b.128", _B16, [(_B16, a), (_B16, idx)]), "i8x16")


def _cvtt(src: str) -> Handler:
    """x86's truncations: NaN and out-of-range lanes give INT32_MIN."""
    elem, n = SHAPES[src]
    name = "x86.sse2.cvttps2dq" if src == "f32x4" else "x86.sse2.cvttpd2dq"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), src)
        push_as(t, intrinsic(t, name, _W4, [(vty(elem, n), a)]), "i32x4")

    return h


def _madd(shape: str, negate: bool) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)
    sfx = vsuffix(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        c = as_shape(t, t.pop(), shape)
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        if t.mod.arch == "x86_64" and t.mod.fma:
            # the instruction Wasmtime emits, so that of several NaN operands the same one
            # wins, unnegated (LLVM's choice of form would follow its register allocation)
            form = ("vfnmadd213p" if negate else "vfmadd213p") + ("s" if elem == "float" else "d")
            r = t.val(
                f'call {ty} asm "{form} $3, $2, $0", "=x,0,x,x"({ty} {a}, {ty} {b}, {ty} {c})'
            )
            push_as(t, r, shape)
            return
        if negate:
            a = t.val(f"fneg {ty} {a}")
        if t.mod.arch != "x86_64":
            r = strict_call(t, f"fma.{sfx}", ty, [(ty, a), (ty, b), (ty, c)])
        else:  # no FMA on the host: Wasmtime multiplies, then adds
            p = strict_call(t, f"fmul.{sfx}", ty, [(ty, a), (ty, b)])
            r = strict_call(t, f"fadd.{sfx}", ty, [(ty, p), (ty, c)])
        push_as(t, r, shape)

    return h


def _bitselect(t: FunctionTranslator, _imm: Any) -> None:
    c = t.pop()
    b = t.pop()
    a = t.pop()
    x = t.val(f"and {V} {a}, {c}")
    nc = t.val(f"xor {V} {c}, splat (i64 -1)")
    y = t.val(f"and {V} {b}, {nc}")
    t.push(V, t.val(f"or {V} {x}, {y}"))


def _blendv(shape: str) -> Handler:
    """x86's blends: each lane from ``a`` if its mask lane's top bit is set, else ``b``."""
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        c = as_shape(t, t.pop(), shape)
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        top = t.val(f"icmp slt {ty} {c}, zeroinitializer")
        push_as(t, t.val(f"select <{n} x i1> {top}, {ty} {a}, {ty} {b}"), shape)

    return h


def _pmulhrsw(t: FunctionTranslator, _imm: Any) -> None:
    b = as_shape(t, t.pop(), "i16x8")
    a = as_shape(t, t.pop(), "i16x8")
    push_as(t, intrinsic(t, "x86.ssse3.pmul.hr.sw.128", _H8, [(_H8, a), (_H8, b)]), "i16x8")


def _dot16(t: FunctionTranslator, a: str, b: str) -> str:
    """The i16x8 dot product of the byte vectors ``a`` and ``b``, as Wasmtime computes it."""
    if _x86(t):  # pmaddubsw: b's bytes unsigned, a's signed, pair sums saturated
        return intrinsic(t, "x86.ssse3.pmadd.ub.sw.128", _H8, [(_B16, b), (_B16, a)])
    # deterministic: both signed, pair sums wrapping in i16
    xa = t.val(f"sext {_B16} {a} to <16 x i16>")
    xb = t.val(f"sext {_B16} {b} to <16 x i16>")
    p = t.val(f"mul <16 x i16> {xa}, {xb}")
    even = shuffle(t, "<16 x i16>", p, "poison", list(range(0, 16, 2)))
    odd = shuffle(t, "<16 x i16>", p, "poison", list(range(1, 16, 2)))
    return t.val(f"add {_H8} {even}, {odd}")


def _dot(t: FunctionTranslator, _imm: Any) -> None:
    b = as_shape(t, t.pop(), "i8x16")
    a = as_shape(t, t.pop(), "i8x16")
    push_as(t, _dot16(t, a, b), "i16x8")


def _dot_add(t: FunctionTranslator, _imm: Any) -> None:
    c = as_shape(t, t.pop(), "i32x4")
    b = as_shape(t, t.pop(), "i8x16")
    a = as_shape(t, t.pop(), "i8x16")
    d = t.val(f"sext {_H8} {_dot16(t, a, b)} to <8 x i32>")
    even = shuffle(t, "<8 x i32>", d, "poison", [0, 2, 4, 6])
    odd = shuffle(t, "<8 x i32>", d, "poison", [1, 3, 5, 7])
    s = t.val(f"add {_W4} {even}, {odd}")
    push_as(t, t.val(f"add {_W4} {s}, {c}"), "i32x4")


def _register() -> None:
    on = simd.on
    det_swizzle = simd.HANDLERS["i8x16.swizzle"]
    on(HANDLERS, "i8x16.relaxed_swizzle", _choose(_pshufb, det_swizzle))
    for src, zero in (("f32x4", ""), ("f64x2", "_zero")):
        signed, unsigned = f"{src}_s{zero}", f"{src}_u{zero}"
        on(
            HANDLERS,
            f"i32x4.relaxed_trunc_{signed}",
            _choose(_cvtt(src), simd_convert.HANDLERS[f"i32x4.trunc_sat_{signed}"]),
        )
        # Wasmtime translates the unsigned ones as the saturating instructions everywhere
        on(
            HANDLERS,
            f"i32x4.relaxed_trunc_{unsigned}",
            simd_convert.HANDLERS[f"i32x4.trunc_sat_{unsigned}"],
        )
    for shape in ("f32x4", "f64x2"):
        on(HANDLERS, f"{shape}.relaxed_madd", _madd(shape, False))
        on(HANDLERS, f"{shape}.relaxed_nmadd", _madd(shape, True))
        for op in ("min", "max"):
            on(
                HANDLERS,
                f"{shape}.relaxed_{op}",
                _choose(simd.HANDLERS[f"{shape}.p{op}"], simd.HANDLERS[f"{shape}.{op}"]),
            )
    for shape in ("i8x16", "i32x4", "i64x2"):
        on(HANDLERS, f"{shape}.relaxed_laneselect", _choose(_blendv(shape), _bitselect))
    on(HANDLERS, "i16x8.relaxed_laneselect", _bitselect)
    on(
        HANDLERS,
        "i16x8.relaxed_q15mulr_s",
        _choose(_pmulhrsw, simd.HANDLERS["i16x8.q15mulr_sat_s"]),
    )
    on(HANDLERS, "i16x8.relaxed_dot_i8x16_i7x16_s", _dot)
    on(HANDLERS, "i32x4.relaxed_dot_i8x16_i7x16_add_s", _dot_add)


_register()
