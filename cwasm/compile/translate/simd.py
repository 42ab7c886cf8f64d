"""Translation of the fixed-width SIMD instructions (the 0xFD prefix) to LLVM vector IR.

A v128 travels on the operand stack as ``<2 x i64>``; each instruction bitcasts its
operands to the lane shape it works on (``<16 x i8>``, ``<4 x float>``...) and its
result back, and LLVM folds the casts away. Floating-point arithmetic uses the
constrained intrinsics, like the scalar instructions, so NaN results stay quiet;
integer saturation, min/max, abs and popcount use LLVM's generic vector intrinsics.
This module holds the lane-shape helpers and the lane, arithmetic, comparison and
bitwise instructions; ``simd_memory`` (v128 loads and stores) and ``simd_convert``
(narrowing, widening and int/float conversions) build on its helpers. Each exports its
handlers as ``HANDLERS``, by operator name, for ``dispatch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cwasm.compile.irmodule import ATTR_STRICTFP
from cwasm.compile.translate.driver import Handler
from cwasm.compile.translate.numeric import STRICT
from cwasm.wasm.operators import BY_NAME

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator

V = "<2 x i64>"

#: lane type and count of each shape
SHAPES: dict[str, tuple[str, int]] = {
    "i8x16": ("i8", 16),
    "i16x8": ("i16", 8),
    "i32x4": ("i32", 4),
    "i64x2": ("i64", 2),
    "f32x4": ("float", 4),
    "f64x2": ("double", 2),
}
_SUFFIX = {"i8": "i8", "i16": "i16", "i32": "i32", "i64": "i64", "float": "f32", "double": "f64"}
BITS = {"i8": 8, "i16": 16, "i32": 32, "i64": 64, "float": 32, "double": 64}
_INT_OF = {"float": "i32", "double": "i64"}


def vty(elem: str, n: int) -> str:
    """The LLVM vector type ``<n x elem>``."""
    return f"<{n} x {elem}>"


def vsuffix(elem: str, n: int) -> str:
    """LLVM's overload suffix for a vector type: ``v16i8``, ``v4f32``..."""
    return f"v{n}{_SUFFIX[elem]}"


def as_shape(t: FunctionTranslator, v: str, shape: str) -> str:
    """``v`` (a ``<2 x i64>``) bitcast to ``shape``'s vector type."""
    elem, n = SHAPES[shape]
    if shape == "i64x2":
        return v
    return t.val(f"bitcast {V} {v} to {vty(elem, n)}")


def from_shape(t: FunctionTranslator, v: str, shape: str) -> str:
    """``v`` (of ``shape``'s vector type) bitcast back to ``<2 x i64>``."""
    elem, n = SHAPES[shape]
    if shape == "i64x2":
        return v
    return t.val(f"bitcast {vty(elem, n)} {v} to {V}")


def push_as(t: FunctionTranslator, v: str, shape: str) -> None:
    """Push ``v`` (of ``shape``'s vector type) as a v128."""
    t.push(V, from_shape(t, v, shape))


def splat_value(t: FunctionTranslator, elem: str, n: int, scalar: str) -> str:
    """An ``<n x elem>`` vector with ``scalar`` in every lane."""
    ins = t.val(f"insertelement {vty(elem, n)} poison, {elem} {scalar}, i32 0")
    return t.val(
        f"shufflevector {vty(elem, n)} {ins}, {vty(elem, n)} poison, <{n} x i32> zeroinitializer"
    )


def const_splat(elem: str, n: int, value: int | str) -> str:
    """The constant ``<n x elem>`` vector with ``value`` in every lane."""
    return f"splat ({elem} {value})"


def intrinsic(t: FunctionTranslator, base: str, ret: str, args: list[tuple[str, str]]) -> str:
    """Call the overloaded intrinsic ``llvm.<base>``; ``base`` includes the suffix."""
    fn = t.mod.declare(f"llvm.{base}", ret, ", ".join(ty for ty, _ in args))
    return t.val(f"call {ret} {fn}({', '.join(f'{ty} {v}' for ty, v in args)})")


def strict_call(t: FunctionTranslator, base: str, ret: str, args: list[tuple[str, str]]) -> str:
    """Call the constrained (strict floating-point) intrinsic ``base``."""
    fn = t.mod.declare(
        f"llvm.experimental.constrained.{base}",
        ret,
        ", ".join([ty for ty, _ in args] + ["metadata", "metadata"]),
    )
    argtext = ", ".join(f"{ty} {v}" for ty, v in args)
    return t.val(f"call {ret} {fn}({argtext}, {STRICT}) {ATTR_STRICTFP}")


def shuffle(t: FunctionTranslator, ty: str, a: str, b: str, lanes: list[int]) -> str:
    """The lanes ``lanes`` of ``a`` and ``b`` (both of type ``ty``), concatenated."""
    mask = ", ".join(f"i32 {i}" for i in lanes)
    return t.val(f"shufflevector {ty} {a}, {ty} {b}, <{len(lanes)} x i32> <{mask}>")


# --- registration helpers ---


HANDLERS: dict[str, Handler] = {}


def on(HANDLERS, name: str, h: Handler) -> None:
    assert name not in HANDLERS, name
    HANDLERS[name] = h


def _binop(shape: str, inst: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        push_as(t, t.val(f"{inst} {vty(elem, n)} {a}, {b}"), shape)

    return h


def _intr2(shape: str, name: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        r = intrinsic(t, f"{name}.{vsuffix(elem, n)}", ty, [(ty, a), (ty, b)])
        push_as(t, r, shape)

    return h


def _intr1(shape: str, name: str, extra: str = "") -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), shape)
        args = [(ty, a)]
        if extra:
            args.append(("i1", extra))
        push_as(t, intrinsic(t, f"{name}.{vsuffix(elem, n)}", ty, args), shape)

    return h


def _strict2(shape: str, op: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        push_as(t, strict_call(t, f"{op}.{vsuffix(elem, n)}", ty, [(ty, a), (ty, b)]), shape)

    return h


def _strict_sqrt(shape: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), shape)
        push_as(t, strict_call(t, f"sqrt.{vsuffix(elem, n)}", ty, [(ty, a)]), shape)

    return h


def _fminmax(shape: str, name: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)
    sfx = vsuffix(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        r = intrinsic(t, f"{name}.{sfx}", ty, [(ty, a), (ty, b)])
        nan = t.val(f"fcmp uno {ty} {a}, {b}")
        q = strict_call(t, f"fadd.{sfx}", ty, [(ty, a), (ty, b)])
        push_as(t, t.val(f"select <{n} x i1> {nan}, {ty} {q}, {ty} {r}"), shape)

    return h


def _pminmax(shape: str, is_min: bool) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        # pmin: b < a ? b : a;  pmax: a < b ? b : a
        c = t.val(f"fcmp olt {ty} {b}, {a}") if is_min else t.val(f"fcmp olt {ty} {a}, {b}")
        push_as(t, t.val(f"select <{n} x i1> {c}, {ty} {b}, {ty} {a}"), shape)

    return h


def _cmp(shape: str, pred: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)
    is_float = elem in _INT_OF
    ielem = _INT_OF.get(elem, elem)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        c = t.val(f"{'fcmp' if is_float else 'icmp'} {pred} {ty} {a}, {b}")
        r = t.val(f"sext <{n} x i1> {c} to {vty(ielem, n)}")
        t.push(V, t.val(f"bitcast {vty(ielem, n)} {r} to {V}") if ielem != "i64" else r)

    return h


def _shift(shape: str, inst: str) -> Handler:
    elem, n = SHAPES[shape]
    bits = BITS[elem]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        count = t.pop()
        a = as_shape(t, t.pop(), shape)
        m = t.val(f"and i32 {count}, {bits - 1}")
        if bits < 32:
            m = t.val(f"trunc i32 {m} to {elem}")
        elif bits > 32:
            m = t.val(f"zext i32 {m} to {elem}")
        s = splat_value(t, elem, n, m)
        push_as(t, t.val(f"{inst} {vty(elem, n)} {a}, {s}"), shape)

    return h


def _splat(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        x = t.pop()
        if elem in ("i8", "i16"):
            x = t.val(f"trunc i32 {x} to {elem}")
        push_as(t, splat_value(t, elem, n, x), shape)

    return h


def _extract(shape: str, ext: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, lane: int) -> None:
        a = as_shape(t, t.pop(), shape)
        x = t.val(f"extractelement {vty(elem, n)} {a}, i32 {lane}")
        if ext:
            t.push("i32", t.val(f"{ext} {elem} {x} to i32"))
        else:
            t.push(elem, x)

    return h


def _replace(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, lane: int) -> None:
        x = t.pop()
        a = as_shape(t, t.pop(), shape)
        if elem in ("i8", "i16"):
            x = t.val(f"trunc i32 {x} to {elem}")
        push_as(t, t.val(f"insertelement {vty(elem, n)} {a}, {elem} {x}, i32 {lane}"), shape)

    return h


def _neg(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), shape)
        if elem in _INT_OF:
            push_as(t, t.val(f"fneg {vty(elem, n)} {a}"), shape)
        else:
            push_as(t, t.val(f"sub {vty(elem, n)} zeroinitializer, {a}"), shape)

    return h


def _all_true(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), shape)
        c = t.val(f"icmp ne {vty(elem, n)} {a}, zeroinitializer")
        r = intrinsic(t, f"vector.reduce.and.v{n}i1", "i1", [(f"<{n} x i1>", c)])
        t.push("i32", t.val(f"zext i1 {r} to i32"))

    return h


def _bitmask(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = as_shape(t, t.pop(), shape)
        c = t.val(f"icmp slt {vty(elem, n)} {a}, zeroinitializer")
        bits = t.val(f"bitcast <{n} x i1> {c} to i{n}")
        t.push("i32", t.val(f"zext i{n} {bits} to i32") if n < 32 else bits)

    return h


def _avgr_u(shape: str) -> Handler:
    elem, n = SHAPES[shape]
    wide_elem = "i16" if elem == "i8" else "i32"
    ty, wide = vty(elem, n), vty(wide_elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = as_shape(t, t.pop(), shape)
        a = as_shape(t, t.pop(), shape)
        xa = t.val(f"zext {ty} {a} to {wide}")
        xb = t.val(f"zext {ty} {b} to {wide}")
        s = t.val(f"add {wide} {xa}, {xb}")
        s = t.val(f"add {wide} {s}, {const_splat(wide_elem, n, 1)}")
        s = t.val(f"lshr {wide} {s}, {const_splat(wide_elem, n, 1)}")
        push_as(t, t.val(f"trunc {wide} {s} to {ty}"), shape)

    return h


def _q15mulr(t: FunctionTranslator, _imm: Any) -> None:
    ty, wide = "<8 x i16>", "<8 x i32>"
    b = as_shape(t, t.pop(), "i16x8")
    a = as_shape(t, t.pop(), "i16x8")
    xa = t.val(f"sext {ty} {a} to {wide}")
    xb = t.val(f"sext {ty} {b} to {wide}")
    p = t.val(f"mul {wide} {xa}, {xb}")
    p = t.val(f"add {wide} {p}, splat (i32 16384)")
    p = t.val(f"ashr {wide} {p}, splat (i32 15)")
    p = intrinsic(t, "smin.v8i32", wide, [(wide, p), (wide, "splat (i32 32767)")])
    push_as(t, t.val(f"trunc {wide} {p} to {ty}"), "i16x8")


def _dot(t: FunctionTranslator, _imm: Any) -> None:
    ty, wide = "<8 x i16>", "<8 x i32>"
    b = as_shape(t, t.pop(), "i16x8")
    a = as_shape(t, t.pop(), "i16x8")
    p = t.val(
        f"mul {wide} {t.val(f'sext {ty} {a} to {wide}')}, {t.val(f'sext {ty} {b} to {wide}')}"
    )
    even = shuffle(t, wide, p, "poison", [0, 2, 4, 6])
    odd = shuffle(t, wide, p, "poison", [1, 3, 5, 7])
    push_as(t, t.val(f"add <4 x i32> {even}, {odd}"), "i32x4")


def _swizzle(t: FunctionTranslator, _imm: Any) -> None:
    ty = "<16 x i8>"
    idx = as_shape(t, t.pop(), "i8x16")
    a = as_shape(t, t.pop(), "i8x16")
    arch = t.mod.arch
    if arch == "x86_64":
        # pshufb zeroes a lane whose index has bit 7 set: saturating +112 sets it for >= 16
        adj = intrinsic(t, "uadd.sat.v16i8", ty, [(ty, idx), (ty, "splat (i8 112)")])
        r = intrinsic(t, "x86.ssse3.pshuf.b.128", ty, [(ty, a), (ty, adj)])
    elif arch in ("aarch64", "arm64"):
        r = intrinsic(t, "aarch64.neon.tbl1.v16i8", ty, [(ty, a), (ty, idx)])
    else:
        r = "zeroinitializer"
        for i in range(16):
            j = t.val(f"extractelement {ty} {idx}, i32 {i}")
            ok = t.val(f"icmp ult i8 {j}, 16")
            m = t.val(f"and i8 {j}, 15")
            v = t.val(f"extractelement {ty} {a}, i8 {m}")
            s = t.val(f"select i1 {ok}, i8 {v}, i8 0")
            r = t.val(f"insertelement {ty} {r}, i8 {s}, i32 {i}")
    push_as(t, r, "i8x16")


def _shuffle_op(t: FunctionTranslator, lanes: bytes) -> None:
    b = as_shape(t, t.pop(), "i8x16")
    a = as_shape(t, t.pop(), "i8x16")
    push_as(t, shuffle(t, "<16 x i8>", a, b, list(lanes)), "i8x16")


def _const(t: FunctionTranslator, data: bytes) -> None:
    lo = int.from_bytes(data[:8], "little", signed=True)
    hi = int.from_bytes(data[8:], "little", signed=True)
    t.push(V, f"<i64 {lo}, i64 {hi}>")


def _bitwise(inst: str) -> Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        t.push(V, t.val(f"{inst} {V} {a}, {b}"))

    return h


def _not(t: FunctionTranslator, _imm: Any) -> None:
    a = t.pop()
    t.push(V, t.val(f"xor {V} {a}, splat (i64 -1)"))


def _andnot(t: FunctionTranslator, _imm: Any) -> None:
    b = t.pop()
    a = t.pop()
    nb = t.val(f"xor {V} {b}, splat (i64 -1)")
    t.push(V, t.val(f"and {V} {a}, {nb}"))


def _bitselect(t: FunctionTranslator, _imm: Any) -> None:
    c = t.pop()
    b = t.pop()
    a = t.pop()
    x = t.val(f"and {V} {a}, {c}")
    nc = t.val(f"xor {V} {c}, splat (i64 -1)")
    y = t.val(f"and {V} {b}, {nc}")
    t.push(V, t.val(f"or {V} {x}, {y}"))


def _any_true(t: FunctionTranslator, _imm: Any) -> None:
    a = t.pop()
    w = t.val(f"bitcast {V} {a} to i128")
    c = t.val(f"icmp ne i128 {w}, 0")
    t.push("i32", t.val(f"zext i1 {c} to i32"))


def _register() -> None:
    on(HANDLERS, "v128.const", _const)
    on(HANDLERS, "i8x16.shuffle", _shuffle_op)
    on(HANDLERS, "i8x16.swizzle", _swizzle)
    for shape in SHAPES:
        on(HANDLERS, f"{shape}.splat", _splat(shape))
    for shape in ("i8x16", "i16x8"):
        on(HANDLERS, f"{shape}.extract_lane_s", _extract(shape, "sext"))
        on(HANDLERS, f"{shape}.extract_lane_u", _extract(shape, "zext"))
    for shape in ("i32x4", "i64x2", "f32x4", "f64x2"):
        on(HANDLERS, f"{shape}.extract_lane", _extract(shape, ""))
    for shape in SHAPES:
        on(HANDLERS, f"{shape}.replace_lane", _replace(shape))
    icmp = {
        "eq": "eq",
        "ne": "ne",
        "lt_s": "slt",
        "lt_u": "ult",
        "gt_s": "sgt",
        "gt_u": "ugt",
        "le_s": "sle",
        "le_u": "ule",
        "ge_s": "sge",
        "ge_u": "uge",
    }
    for shape in ("i8x16", "i16x8", "i32x4", "i64x2"):
        for name, pred in icmp.items():
            if f"{shape}.{name}" in BY_NAME:
                on(HANDLERS, f"{shape}.{name}", _cmp(shape, pred))
    fcmp = {"eq": "oeq", "ne": "une", "lt": "olt", "gt": "ogt", "le": "ole", "ge": "oge"}
    for shape in ("f32x4", "f64x2"):
        for name, pred in fcmp.items():
            on(HANDLERS, f"{shape}.{name}", _cmp(shape, pred))
    on(HANDLERS, "v128.not", _not)
    on(HANDLERS, "v128.and", _bitwise("and"))
    on(HANDLERS, "v128.or", _bitwise("or"))
    on(HANDLERS, "v128.xor", _bitwise("xor"))
    on(HANDLERS, "v128.andnot", _andnot)
    on(HANDLERS, "v128.bitselect", _bitselect)
    on(HANDLERS, "v128.any_true", _any_true)
    for shape in ("i8x16", "i16x8", "i32x4", "i64x2"):
        on(HANDLERS, f"{shape}.abs", _intr1(shape, "abs", "false"))
        on(HANDLERS, f"{shape}.neg", _neg(shape))
        on(HANDLERS, f"{shape}.all_true", _all_true(shape))
        on(HANDLERS, f"{shape}.bitmask", _bitmask(shape))
        on(HANDLERS, f"{shape}.shl", _shift(shape, "shl"))
        on(HANDLERS, f"{shape}.shr_s", _shift(shape, "ashr"))
        on(HANDLERS, f"{shape}.shr_u", _shift(shape, "lshr"))
        on(HANDLERS, f"{shape}.add", _binop(shape, "add"))
        on(HANDLERS, f"{shape}.sub", _binop(shape, "sub"))
    on(HANDLERS, "i8x16.popcnt", _intr1("i8x16", "ctpop"))
    for shape in ("i16x8", "i32x4", "i64x2"):
        on(HANDLERS, f"{shape}.mul", _binop(shape, "mul"))
    for shape in ("i8x16", "i16x8"):
        on(HANDLERS, f"{shape}.add_sat_s", _intr2(shape, "sadd.sat"))
        on(HANDLERS, f"{shape}.add_sat_u", _intr2(shape, "uadd.sat"))
        on(HANDLERS, f"{shape}.sub_sat_s", _intr2(shape, "ssub.sat"))
        on(HANDLERS, f"{shape}.sub_sat_u", _intr2(shape, "usub.sat"))
        on(HANDLERS, f"{shape}.avgr_u", _avgr_u(shape))
    for shape in ("i8x16", "i16x8", "i32x4"):
        on(HANDLERS, f"{shape}.min_s", _intr2(shape, "smin"))
        on(HANDLERS, f"{shape}.min_u", _intr2(shape, "umin"))
        on(HANDLERS, f"{shape}.max_s", _intr2(shape, "smax"))
        on(HANDLERS, f"{shape}.max_u", _intr2(shape, "umax"))
    on(HANDLERS, "i16x8.q15mulr_sat_s", _q15mulr)
    on(HANDLERS, "i32x4.dot_i16x8_s", _dot)
    for shape in ("f32x4", "f64x2"):
        on(HANDLERS, f"{shape}.abs", _intr1(shape, "fabs"))
        on(HANDLERS, f"{shape}.neg", _neg(shape))
        on(HANDLERS, f"{shape}.sqrt", _strict_sqrt(shape))
        on(HANDLERS, f"{shape}.ceil", _intr1(shape, "ceil"))
        on(HANDLERS, f"{shape}.floor", _intr1(shape, "floor"))
        on(HANDLERS, f"{shape}.trunc", _intr1(shape, "trunc"))
        on(HANDLERS, f"{shape}.nearest", _intr1(shape, "roundeven"))
        for name, op in (("add", "fadd"), ("sub", "fsub"), ("mul", "fmul"), ("div", "fdiv")):
            on(HANDLERS, f"{shape}.{name}", _strict2(shape, op))
        on(HANDLERS, f"{shape}.min", _fminmax(shape, "minimum"))
        on(HANDLERS, f"{shape}.max", _fminmax(shape, "maximum"))
        on(HANDLERS, f"{shape}.pmin", _pminmax(shape, True))
        on(HANDLERS, f"{shape}.pmax", _pminmax(shape, False))


_register()
