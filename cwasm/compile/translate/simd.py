"""Translation of the fixed-width SIMD instructions (the 0xFD prefix) to LLVM vector IR.

A v128 travels on the operand stack as ``<2 x i64>``; each instruction bitcasts its
operands to the lane shape it works on (``<16 x i8>``, ``<4 x float>``...) and its
result back, and LLVM folds the casts away. Floating-point arithmetic uses the
constrained intrinsics, like the scalar instructions, so NaN results stay quiet;
integer saturation, min/max, abs and popcount use LLVM's generic vector intrinsics.
Its handlers are exported as ``HANDLERS``, by operator name, for ``dispatch``.
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
_BITS = {"i8": 8, "i16": 16, "i32": 32, "i64": 64, "float": 32, "double": 64}
_INT_OF = {"float": "i32", "double": "i64"}


def vty(elem: str, n: int) -> str:
    return f"<{n} x {elem}>"


def vsuffix(elem: str, n: int) -> str:
    """LLVM's overload suffix for a vector type: ``v16i8``, ``v4f32``..."""
    return f"v{n}{_SUFFIX[elem]}"


def _as(t: FunctionTranslator, v: str, shape: str) -> str:
    elem, n = SHAPES[shape]
    if shape == "i64x2":
        return v
    return t.val(f"bitcast {V} {v} to {vty(elem, n)}")


def _back(t: FunctionTranslator, v: str, shape: str) -> str:
    elem, n = SHAPES[shape]
    if shape == "i64x2":
        return v
    return t.val(f"bitcast {vty(elem, n)} {v} to {V}")


def _push_as(t: FunctionTranslator, v: str, shape: str) -> None:
    t.push(V, _back(t, v, shape))


def _splat_value(t: FunctionTranslator, elem: str, n: int, scalar: str) -> str:
    ins = t.val(f"insertelement {vty(elem, n)} poison, {elem} {scalar}, i32 0")
    return t.val(
        f"shufflevector {vty(elem, n)} {ins}, {vty(elem, n)} poison, <{n} x i32> zeroinitializer"
    )


def _const_splat(elem: str, n: int, value: int | str) -> str:
    return f"splat ({elem} {value})"


def _intrinsic(t: FunctionTranslator, base: str, ret: str, args: list[tuple[str, str]]) -> str:
    """Call the overloaded intrinsic ``llvm.<base>``; ``base`` includes the suffix."""
    fn = t.mod.declare(f"llvm.{base}", ret, ", ".join(ty for ty, _ in args))
    return t.val(f"call {ret} {fn}({', '.join(f'{ty} {v}' for ty, v in args)})")


def _strict_call(t: FunctionTranslator, base: str, ret: str, args: list[tuple[str, str]]) -> str:
    fn = t.mod.declare(
        f"llvm.experimental.constrained.{base}",
        ret,
        ", ".join([ty for ty, _ in args] + ["metadata", "metadata"]),
    )
    argtext = ", ".join(f"{ty} {v}" for ty, v in args)
    return t.val(f"call {ret} {fn}({argtext}, {STRICT}) {ATTR_STRICTFP}")


def _shuffle(t: FunctionTranslator, ty: str, a: str, b: str, lanes: list[int]) -> str:
    mask = ", ".join(f"i32 {i}" for i in lanes)
    return t.val(f"shufflevector {ty} {a}, {ty} {b}, <{len(lanes)} x i32> <{mask}>")


# --- registration helpers ---


HANDLERS: dict[str, Handler] = {}


def _on(name: str, h: Handler) -> None:
    assert name not in HANDLERS, name
    HANDLERS[name] = h


def _binop(shape: str, inst: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), shape)
        a = _as(t, t.pop(), shape)
        _push_as(t, t.val(f"{inst} {vty(elem, n)} {a}, {b}"), shape)

    return h


def _intr2(shape: str, name: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), shape)
        a = _as(t, t.pop(), shape)
        r = _intrinsic(t, f"{name}.{vsuffix(elem, n)}", ty, [(ty, a), (ty, b)])
        _push_as(t, r, shape)

    return h


def _intr1(shape: str, name: str, extra: str = "") -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), shape)
        args = [(ty, a)]
        if extra:
            args.append(("i1", extra))
        _push_as(t, _intrinsic(t, f"{name}.{vsuffix(elem, n)}", ty, args), shape)

    return h


def _strict2(shape: str, op: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), shape)
        a = _as(t, t.pop(), shape)
        _push_as(t, _strict_call(t, f"{op}.{vsuffix(elem, n)}", ty, [(ty, a), (ty, b)]), shape)

    return h


def _strict_sqrt(shape: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), shape)
        _push_as(t, _strict_call(t, f"sqrt.{vsuffix(elem, n)}", ty, [(ty, a)]), shape)

    return h


def _fminmax(shape: str, name: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)
    sfx = vsuffix(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), shape)
        a = _as(t, t.pop(), shape)
        r = _intrinsic(t, f"{name}.{sfx}", ty, [(ty, a), (ty, b)])
        nan = t.val(f"fcmp uno {ty} {a}, {b}")
        q = _strict_call(t, f"fadd.{sfx}", ty, [(ty, a), (ty, b)])
        _push_as(t, t.val(f"select <{n} x i1> {nan}, {ty} {q}, {ty} {r}"), shape)

    return h


def _pminmax(shape: str, is_min: bool) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), shape)
        a = _as(t, t.pop(), shape)
        # pmin: b < a ? b : a;  pmax: a < b ? b : a
        c = t.val(f"fcmp olt {ty} {b}, {a}") if is_min else t.val(f"fcmp olt {ty} {a}, {b}")
        _push_as(t, t.val(f"select <{n} x i1> {c}, {ty} {b}, {ty} {a}"), shape)

    return h


def _cmp(shape: str, pred: str) -> Handler:
    elem, n = SHAPES[shape]
    ty = vty(elem, n)
    is_float = elem in _INT_OF
    ielem = _INT_OF.get(elem, elem)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), shape)
        a = _as(t, t.pop(), shape)
        c = t.val(f"{'fcmp' if is_float else 'icmp'} {pred} {ty} {a}, {b}")
        r = t.val(f"sext <{n} x i1> {c} to {vty(ielem, n)}")
        t.push(V, t.val(f"bitcast {vty(ielem, n)} {r} to {V}") if ielem != "i64" else r)

    return h


def _shift(shape: str, inst: str) -> Handler:
    elem, n = SHAPES[shape]
    bits = _BITS[elem]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        count = t.pop()
        a = _as(t, t.pop(), shape)
        m = t.val(f"and i32 {count}, {bits - 1}")
        if bits < 32:
            m = t.val(f"trunc i32 {m} to {elem}")
        elif bits > 32:
            m = t.val(f"zext i32 {m} to {elem}")
        s = _splat_value(t, elem, n, m)
        _push_as(t, t.val(f"{inst} {vty(elem, n)} {a}, {s}"), shape)

    return h


def _splat(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        x = t.pop()
        if elem in ("i8", "i16"):
            x = t.val(f"trunc i32 {x} to {elem}")
        _push_as(t, _splat_value(t, elem, n, x), shape)

    return h


def _extract(shape: str, ext: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, lane: int) -> None:
        a = _as(t, t.pop(), shape)
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
        a = _as(t, t.pop(), shape)
        if elem in ("i8", "i16"):
            x = t.val(f"trunc i32 {x} to {elem}")
        _push_as(t, t.val(f"insertelement {vty(elem, n)} {a}, {elem} {x}, i32 {lane}"), shape)

    return h


def _neg(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), shape)
        if elem in _INT_OF:
            _push_as(t, t.val(f"fneg {vty(elem, n)} {a}"), shape)
        else:
            _push_as(t, t.val(f"sub {vty(elem, n)} zeroinitializer, {a}"), shape)

    return h


def _all_true(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), shape)
        c = t.val(f"icmp ne {vty(elem, n)} {a}, zeroinitializer")
        r = _intrinsic(t, f"vector.reduce.and.v{n}i1", "i1", [(f"<{n} x i1>", c)])
        t.push("i32", t.val(f"zext i1 {r} to i32"))

    return h


def _bitmask(shape: str) -> Handler:
    elem, n = SHAPES[shape]

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), shape)
        c = t.val(f"icmp slt {vty(elem, n)} {a}, zeroinitializer")
        bits = t.val(f"bitcast <{n} x i1> {c} to i{n}")
        t.push("i32", t.val(f"zext i{n} {bits} to i32") if n < 32 else bits)

    return h


def _narrow(dst: str, signed: bool) -> Handler:
    delem, n = SHAPES[dst]  # i8 x16 or i16 x8
    selem = "i16" if delem == "i8" else "i32"
    src = "i16x8" if delem == "i8" else "i32x4"
    wide = vty(selem, n)
    half = vty(selem, n // 2)
    dbits = _BITS[delem]
    lo, hi = (-(1 << (dbits - 1)), (1 << (dbits - 1)) - 1) if signed else (0, (1 << dbits) - 1)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), src)
        a = _as(t, t.pop(), src)
        cat = _shuffle(t, half, a, b, list(range(n)))
        sfx = vsuffix(selem, n)
        x = _intrinsic(t, f"smax.{sfx}", wide, [(wide, cat), (wide, _const_splat(selem, n, lo))])
        x = _intrinsic(t, f"smin.{sfx}", wide, [(wide, x), (wide, _const_splat(selem, n, hi))])
        _push_as(t, t.val(f"trunc {wide} {x} to {vty(delem, n)}"), dst)

    return h


def _half(t: FunctionTranslator, v: str, elem: str, n: int, high: bool) -> str:
    """The low or high half of an ``<n x elem>`` vector."""
    start = n // 2 if high else 0
    return _shuffle(t, vty(elem, n), v, "poison", list(range(start, start + n // 2)))


def _extend(dst: str, high: bool, signed: bool) -> Handler:
    delem, dn = SHAPES[dst]
    src = {"i16x8": "i8x16", "i32x4": "i16x8", "i64x2": "i32x4"}[dst]
    selem, sn = SHAPES[src]
    ext = "sext" if signed else "zext"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), src)
        part = _half(t, a, selem, sn, high)
        _push_as(t, t.val(f"{ext} {vty(selem, dn)} {part} to {vty(delem, dn)}"), dst)

    return h


def _extmul(dst: str, high: bool, signed: bool) -> Handler:
    delem, dn = SHAPES[dst]
    src = {"i16x8": "i8x16", "i32x4": "i16x8", "i64x2": "i32x4"}[dst]
    selem, sn = SHAPES[src]
    ext = "sext" if signed else "zext"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), src)
        a = _as(t, t.pop(), src)
        xa = t.val(f"{ext} {vty(selem, dn)} {_half(t, a, selem, sn, high)} to {vty(delem, dn)}")
        xb = t.val(f"{ext} {vty(selem, dn)} {_half(t, b, selem, sn, high)} to {vty(delem, dn)}")
        _push_as(t, t.val(f"mul {vty(delem, dn)} {xa}, {xb}"), dst)

    return h


def _extadd_pairwise(dst: str, signed: bool) -> Handler:
    delem, dn = SHAPES[dst]
    src = "i8x16" if dst == "i16x8" else "i16x8"
    selem, sn = SHAPES[src]
    ext = "sext" if signed else "zext"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), src)
        even = _shuffle(t, vty(selem, sn), a, "poison", list(range(0, sn, 2)))
        odd = _shuffle(t, vty(selem, sn), a, "poison", list(range(1, sn, 2)))
        xe = t.val(f"{ext} {vty(selem, dn)} {even} to {vty(delem, dn)}")
        xo = t.val(f"{ext} {vty(selem, dn)} {odd} to {vty(delem, dn)}")
        _push_as(t, t.val(f"add {vty(delem, dn)} {xe}, {xo}"), dst)

    return h


def _avgr_u(shape: str) -> Handler:
    elem, n = SHAPES[shape]
    wide_elem = "i16" if elem == "i8" else "i32"
    ty, wide = vty(elem, n), vty(wide_elem, n)

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = _as(t, t.pop(), shape)
        a = _as(t, t.pop(), shape)
        xa = t.val(f"zext {ty} {a} to {wide}")
        xb = t.val(f"zext {ty} {b} to {wide}")
        s = t.val(f"add {wide} {xa}, {xb}")
        s = t.val(f"add {wide} {s}, {_const_splat(wide_elem, n, 1)}")
        s = t.val(f"lshr {wide} {s}, {_const_splat(wide_elem, n, 1)}")
        _push_as(t, t.val(f"trunc {wide} {s} to {ty}"), shape)

    return h


def _q15mulr(t: FunctionTranslator, _imm: Any) -> None:
    ty, wide = "<8 x i16>", "<8 x i32>"
    b = _as(t, t.pop(), "i16x8")
    a = _as(t, t.pop(), "i16x8")
    xa = t.val(f"sext {ty} {a} to {wide}")
    xb = t.val(f"sext {ty} {b} to {wide}")
    p = t.val(f"mul {wide} {xa}, {xb}")
    p = t.val(f"add {wide} {p}, splat (i32 16384)")
    p = t.val(f"ashr {wide} {p}, splat (i32 15)")
    p = _intrinsic(t, "smin.v8i32", wide, [(wide, p), (wide, "splat (i32 32767)")])
    _push_as(t, t.val(f"trunc {wide} {p} to {ty}"), "i16x8")


def _dot(t: FunctionTranslator, _imm: Any) -> None:
    ty, wide = "<8 x i16>", "<8 x i32>"
    b = _as(t, t.pop(), "i16x8")
    a = _as(t, t.pop(), "i16x8")
    p = t.val(
        f"mul {wide} {t.val(f'sext {ty} {a} to {wide}')}, {t.val(f'sext {ty} {b} to {wide}')}"
    )
    even = _shuffle(t, wide, p, "poison", [0, 2, 4, 6])
    odd = _shuffle(t, wide, p, "poison", [1, 3, 5, 7])
    _push_as(t, t.val(f"add <4 x i32> {even}, {odd}"), "i32x4")


def _swizzle(t: FunctionTranslator, _imm: Any) -> None:
    ty = "<16 x i8>"
    idx = _as(t, t.pop(), "i8x16")
    a = _as(t, t.pop(), "i8x16")
    arch = t.mod.arch
    if arch == "x86_64":
        # pshufb zeroes a lane whose index has bit 7 set: saturating +112 sets it for >= 16
        adj = _intrinsic(t, "uadd.sat.v16i8", ty, [(ty, idx), (ty, "splat (i8 112)")])
        r = _intrinsic(t, "x86.ssse3.pshuf.b.128", ty, [(ty, a), (ty, adj)])
    elif arch in ("aarch64", "arm64"):
        r = _intrinsic(t, "aarch64.neon.tbl1.v16i8", ty, [(ty, a), (ty, idx)])
    else:
        r = "zeroinitializer"
        for i in range(16):
            j = t.val(f"extractelement {ty} {idx}, i32 {i}")
            ok = t.val(f"icmp ult i8 {j}, 16")
            m = t.val(f"and i8 {j}, 15")
            v = t.val(f"extractelement {ty} {a}, i8 {m}")
            s = t.val(f"select i1 {ok}, i8 {v}, i8 0")
            r = t.val(f"insertelement {ty} {r}, i8 {s}, i32 {i}")
    _push_as(t, r, "i8x16")


def _shuffle_op(t: FunctionTranslator, lanes: bytes) -> None:
    b = _as(t, t.pop(), "i8x16")
    a = _as(t, t.pop(), "i8x16")
    _push_as(t, _shuffle(t, "<16 x i8>", a, b, list(lanes)), "i8x16")


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


# --- memory ---


def _load(t: FunctionTranslator, memarg: tuple[int, int]) -> None:
    addr = t.pop()
    p = t.mem_addr(addr, memarg[1], 16)
    t.push(V, t.heap_load(f"{V}", p))


def _store(t: FunctionTranslator, memarg: tuple[int, int]) -> None:
    v = t.pop()
    addr = t.pop()
    p = t.mem_addr(addr, memarg[1], 16)
    t.heap_store(V, v, p)


def _load_extend(selem: str, delem: str, signed: bool) -> Handler:
    n = 64 // _BITS[selem]
    dst = {"i16": "i16x8", "i32": "i32x4", "i64": "i64x2"}[delem]

    def h(t: FunctionTranslator, memarg: tuple[int, int]) -> None:
        addr = t.pop()
        p = t.mem_addr(addr, memarg[1], 8)
        v = t.heap_load(f"{vty(selem, n)}", p)
        ext = "sext" if signed else "zext"
        _push_as(t, t.val(f"{ext} {vty(selem, n)} {v} to {vty(delem, n)}"), dst)

    return h


def _load_splat(elem: str) -> Handler:
    n = 128 // _BITS[elem]
    shape = {"i8": "i8x16", "i16": "i16x8", "i32": "i32x4", "i64": "i64x2"}[elem]

    def h(t: FunctionTranslator, memarg: tuple[int, int]) -> None:
        addr = t.pop()
        p = t.mem_addr(addr, memarg[1], _BITS[elem] // 8)
        x = t.heap_load(f"{elem}", p)
        _push_as(t, _splat_value(t, elem, n, x), shape)

    return h


def _load_zero(elem: str) -> Handler:
    n = 128 // _BITS[elem]
    shape = "i32x4" if elem == "i32" else "i64x2"

    def h(t: FunctionTranslator, memarg: tuple[int, int]) -> None:
        addr = t.pop()
        p = t.mem_addr(addr, memarg[1], _BITS[elem] // 8)
        x = t.heap_load(f"{elem}", p)
        _push_as(
            t, t.val(f"insertelement {vty(elem, n)} zeroinitializer, {elem} {x}, i32 0"), shape
        )

    return h


def _load_lane(elem: str) -> Handler:
    n = 128 // _BITS[elem]
    shape = {"i8": "i8x16", "i16": "i16x8", "i32": "i32x4", "i64": "i64x2"}[elem]

    def h(t: FunctionTranslator, imm: tuple[int, int, int]) -> None:
        _align, offset, lane = imm
        v = _as(t, t.pop(), shape)
        addr = t.pop()
        p = t.mem_addr(addr, offset, _BITS[elem] // 8)
        x = t.heap_load(f"{elem}", p)
        _push_as(t, t.val(f"insertelement {vty(elem, n)} {v}, {elem} {x}, i32 {lane}"), shape)

    return h


def _store_lane(elem: str) -> Handler:
    n = 128 // _BITS[elem]
    shape = {"i8": "i8x16", "i16": "i16x8", "i32": "i32x4", "i64": "i64x2"}[elem]

    def h(t: FunctionTranslator, imm: tuple[int, int, int]) -> None:
        _align, offset, lane = imm
        v = _as(t, t.pop(), shape)
        addr = t.pop()
        x = t.val(f"extractelement {vty(elem, n)} {v}, i32 {lane}")
        p = t.mem_addr(addr, offset, _BITS[elem] // 8)
        t.heap_store(elem, x, p)

    return h


# --- conversions ---


def _trunc_sat(src: str, signed: bool) -> Handler:
    selem, sn = SHAPES[src]
    op = "fptosi" if signed else "fptoui"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), src)
        r = _intrinsic(
            t, f"{op}.sat.v{sn}i32.{vsuffix(selem, sn)}", f"<{sn} x i32>", [(vty(selem, sn), a)]
        )
        if sn == 2:  # the f64x2 forms fill the upper lanes with zeros
            r = _shuffle(t, "<2 x i32>", r, "zeroinitializer", [0, 1, 2, 3])
        _push_as(t, r, "i32x4")

    return h


def _convert(signed: bool) -> Handler:
    op = "sitofp" if signed else "uitofp"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), "i32x4")
        _push_as(t, t.val(f"{op} <4 x i32> {a} to <4 x float>"), "f32x4")

    return h


def _convert_low(signed: bool) -> Handler:
    op = "sitofp" if signed else "uitofp"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = _as(t, t.pop(), "i32x4")
        lo = _shuffle(t, "<4 x i32>", a, "poison", [0, 1])
        _push_as(t, t.val(f"{op} <2 x i32> {lo} to <2 x double>"), "f64x2")

    return h


def _demote(t: FunctionTranslator, _imm: Any) -> None:
    a = _as(t, t.pop(), "f64x2")
    r = _strict_call(t, "fptrunc.v2f32.v2f64", "<2 x float>", [("<2 x double>", a)])
    _push_as(t, _shuffle(t, "<2 x float>", r, "zeroinitializer", [0, 1, 2, 3]), "f32x4")


def _promote(t: FunctionTranslator, _imm: Any) -> None:
    a = _as(t, t.pop(), "f32x4")
    lo = _shuffle(t, "<4 x float>", a, "poison", [0, 1])
    fn = t.mod.declare(
        "llvm.experimental.constrained.fpext.v2f64.v2f32", "<2 x double>", "<2 x float>, metadata"
    )
    r = t.val(
        f'call <2 x double> {fn}(<2 x float> {lo}, metadata !"fpexcept.strict") {ATTR_STRICTFP}'
    )
    _push_as(t, r, "f64x2")


def _register() -> None:
    _on("v128.load", _load)
    _on("v128.store", _store)
    for bits, delem in ((8, "i16"), (16, "i32"), (32, "i64")):
        selem = f"i{bits}"
        n = 64 // bits
        _on(f"v128.load{bits}x{n}_s", _load_extend(selem, delem, True))
        _on(f"v128.load{bits}x{n}_u", _load_extend(selem, delem, False))
    for elem in ("i8", "i16", "i32", "i64"):
        bits = _BITS[elem]
        _on(f"v128.load{bits}_splat", _load_splat(elem))
        _on(f"v128.load{bits}_lane", _load_lane(elem))
        _on(f"v128.store{bits}_lane", _store_lane(elem))
    _on("v128.load32_zero", _load_zero("i32"))
    _on("v128.load64_zero", _load_zero("i64"))
    _on("v128.const", _const)
    _on("i8x16.shuffle", _shuffle_op)
    _on("i8x16.swizzle", _swizzle)
    for shape in SHAPES:
        _on(f"{shape}.splat", _splat(shape))
    for shape in ("i8x16", "i16x8"):
        _on(f"{shape}.extract_lane_s", _extract(shape, "sext"))
        _on(f"{shape}.extract_lane_u", _extract(shape, "zext"))
    for shape in ("i32x4", "i64x2", "f32x4", "f64x2"):
        _on(f"{shape}.extract_lane", _extract(shape, ""))
    for shape in SHAPES:
        _on(f"{shape}.replace_lane", _replace(shape))
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
                _on(f"{shape}.{name}", _cmp(shape, pred))
    fcmp = {"eq": "oeq", "ne": "une", "lt": "olt", "gt": "ogt", "le": "ole", "ge": "oge"}
    for shape in ("f32x4", "f64x2"):
        for name, pred in fcmp.items():
            _on(f"{shape}.{name}", _cmp(shape, pred))
    _on("v128.not", _not)
    _on("v128.and", _bitwise("and"))
    _on("v128.or", _bitwise("or"))
    _on("v128.xor", _bitwise("xor"))
    _on("v128.andnot", _andnot)
    _on("v128.bitselect", _bitselect)
    _on("v128.any_true", _any_true)
    for shape in ("i8x16", "i16x8", "i32x4", "i64x2"):
        _on(f"{shape}.abs", _intr1(shape, "abs", "false"))
        _on(f"{shape}.neg", _neg(shape))
        _on(f"{shape}.all_true", _all_true(shape))
        _on(f"{shape}.bitmask", _bitmask(shape))
        _on(f"{shape}.shl", _shift(shape, "shl"))
        _on(f"{shape}.shr_s", _shift(shape, "ashr"))
        _on(f"{shape}.shr_u", _shift(shape, "lshr"))
        _on(f"{shape}.add", _binop(shape, "add"))
        _on(f"{shape}.sub", _binop(shape, "sub"))
    _on("i8x16.popcnt", _intr1("i8x16", "ctpop"))
    for shape in ("i16x8", "i32x4", "i64x2"):
        _on(f"{shape}.mul", _binop(shape, "mul"))
    for shape in ("i8x16", "i16x8"):
        _on(f"{shape}.add_sat_s", _intr2(shape, "sadd.sat"))
        _on(f"{shape}.add_sat_u", _intr2(shape, "uadd.sat"))
        _on(f"{shape}.sub_sat_s", _intr2(shape, "ssub.sat"))
        _on(f"{shape}.sub_sat_u", _intr2(shape, "usub.sat"))
        _on(f"{shape}.avgr_u", _avgr_u(shape))
    for shape in ("i8x16", "i16x8", "i32x4"):
        _on(f"{shape}.min_s", _intr2(shape, "smin"))
        _on(f"{shape}.min_u", _intr2(shape, "umin"))
        _on(f"{shape}.max_s", _intr2(shape, "smax"))
        _on(f"{shape}.max_u", _intr2(shape, "umax"))
    _on("i8x16.narrow_i16x8_s", _narrow("i8x16", True))
    _on("i8x16.narrow_i16x8_u", _narrow("i8x16", False))
    _on("i16x8.narrow_i32x4_s", _narrow("i16x8", True))
    _on("i16x8.narrow_i32x4_u", _narrow("i16x8", False))
    for dst, src in (("i16x8", "i8x16"), ("i32x4", "i16x8"), ("i64x2", "i32x4")):
        for half in ("low", "high"):
            for sign in ("s", "u"):
                high, signed = half == "high", sign == "s"
                _on(f"{dst}.extend_{half}_{src}_{sign}", _extend(dst, high, signed))
                _on(f"{dst}.extmul_{half}_{src}_{sign}", _extmul(dst, high, signed))
    _on("i16x8.extadd_pairwise_i8x16_s", _extadd_pairwise("i16x8", True))
    _on("i16x8.extadd_pairwise_i8x16_u", _extadd_pairwise("i16x8", False))
    _on("i32x4.extadd_pairwise_i16x8_s", _extadd_pairwise("i32x4", True))
    _on("i32x4.extadd_pairwise_i16x8_u", _extadd_pairwise("i32x4", False))
    _on("i16x8.q15mulr_sat_s", _q15mulr)
    _on("i32x4.dot_i16x8_s", _dot)
    for shape in ("f32x4", "f64x2"):
        _on(f"{shape}.abs", _intr1(shape, "fabs"))
        _on(f"{shape}.neg", _neg(shape))
        _on(f"{shape}.sqrt", _strict_sqrt(shape))
        _on(f"{shape}.ceil", _intr1(shape, "ceil"))
        _on(f"{shape}.floor", _intr1(shape, "floor"))
        _on(f"{shape}.trunc", _intr1(shape, "trunc"))
        _on(f"{shape}.nearest", _intr1(shape, "roundeven"))
        for name, op in (("add", "fadd"), ("sub", "fsub"), ("mul", "fmul"), ("div", "fdiv")):
            _on(f"{shape}.{name}", _strict2(shape, op))
        _on(f"{shape}.min", _fminmax(shape, "minimum"))
        _on(f"{shape}.max", _fminmax(shape, "maximum"))
        _on(f"{shape}.pmin", _pminmax(shape, True))
        _on(f"{shape}.pmax", _pminmax(shape, False))
    _on("i32x4.trunc_sat_f32x4_s", _trunc_sat("f32x4", True))
    _on("i32x4.trunc_sat_f32x4_u", _trunc_sat("f32x4", False))
    _on("i32x4.trunc_sat_f64x2_s_zero", _trunc_sat("f64x2", True))
    _on("i32x4.trunc_sat_f64x2_u_zero", _trunc_sat("f64x2", False))
    _on("f32x4.convert_i32x4_s", _convert(True))
    _on("f32x4.convert_i32x4_u", _convert(False))
    _on("f64x2.convert_low_i32x4_s", _convert_low(True))
    _on("f64x2.convert_low_i32x4_u", _convert_low(False))
    _on("f32x4.demote_f64x2_zero", _demote)
    _on("f64x2.promote_low_f32x4", _promote)


_register()
