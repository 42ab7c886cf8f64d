"""Validation of the GC proposal's instructions (Wasm 3.0), off the hot path: struct and
array allocation and access, ``ref.test``/``ref.cast``, ``br_on_cast``/``br_on_cast_fail``
and the conversions between ``any`` and ``extern``.

``ref.eq``, ``array.len``, ``ref.i31`` and ``i31.get_s/u`` have fixed stack effects and
are checked by the hot loop. Errors use the reference interpreter's wording.
"""

from __future__ import annotations

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm.gc_types import ArrayType, FieldType, StructType
from cwasm.wasm.operators import I32, OPERATORS
from cwasm.wasm.types import (
    CONCRETE_HEAP,
    KIND_FUNC,
    HeapType,
    is_ref_code,
    ref_type,
    val_subtype,
    val_type,
)
from cwasm.wasm.validator.context import BodyContext
from cwasm.wasm.validator.immediates import read_with
from cwasm.wasm.validator.stack import (
    LABEL_TYPES,
    UNKNOWN,
    matches,
    mismatch,
    pop_any,
    pop_one,
    pop_types,
)

_NUMERIC_OR_VECTOR = frozenset((0x7F, 0x7E, 0x7D, 0x7C, 0x7B))
_ANY_HEAPS = frozenset(
    (HeapType.ANY, HeapType.EQ, HeapType.I31, HeapType.STRUCT, HeapType.ARRAY, HeapType.NONE)
)
_FUNC_HEAPS = frozenset((HeapType.FUNC, HeapType.NOFUNC))
_EXTERN_HEAPS = frozenset((HeapType.EXTERN, HeapType.NOEXTERN))
_EXN_HEAPS = frozenset((HeapType.EXN, HeapType.NOEXN))


def top_heap(ctx: BodyContext, heap: int) -> int:
    """The top of the hierarchy heap type ``heap`` belongs to (any, func, extern, exn)."""
    if heap >= CONCRETE_HEAP:
        kinds = getattr(ctx.canon, "kinds", ())
        i = heap - CONCRETE_HEAP
        kind = kinds[i] if i < len(kinds) else KIND_FUNC
        return HeapType.FUNC if kind == KIND_FUNC else HeapType.ANY
    if heap in _ANY_HEAPS:
        return HeapType.ANY
    if heap in _FUNC_HEAPS:
        return HeapType.FUNC
    if heap in _EXTERN_HEAPS:
        return HeapType.EXTERN
    return HeapType.EXN


def _struct(ctx: BodyContext, index: int, at: int) -> StructType:
    if index >= ctx.num_types:
        raise InvalidError(f"unknown type {index}", at)
    t = ctx.module.types[index]
    if type(t) is not StructType:
        raise InvalidError(f"type mismatch: non-struct type {index}", at)
    return t


def _array(ctx: BodyContext, index: int, at: int) -> ArrayType:
    if index >= ctx.num_types:
        raise InvalidError(f"unknown type {index}", at)
    t = ctx.module.types[index]
    if type(t) is not ArrayType:
        raise InvalidError(f"type mismatch: non-array type {index}", at)
    return t


def _field(st: StructType, index: int, at: int) -> FieldType:
    if index >= len(st.fields):
        raise InvalidError(f"unknown field {index}", at)
    return st.fields[index]


def _check_get(name: str, f: FieldType, at: int) -> None:
    """``get`` reads an unpacked field, ``get_s``/``get_u`` a packed one."""
    if not f.is_packed and not name.endswith("get"):
        raise InvalidError("type mismatch: field is not packed", at)
    if f.is_packed and name.endswith("get"):
        raise InvalidError("type mismatch: field is packed", at)


def _defaultable(f: FieldType) -> bool:
    return f.is_packed or not is_ref_code(int(f.storage)) or val_type(int(f.storage)).nullable


def _ref(index: int, nullable: bool) -> int:
    return int(ref_type(nullable, CONCRETE_HEAP + index))


def _pop_ref(vals: list[int], height: int, unreach: bool, at: int) -> int:
    t = pop_any(vals, height, unreach, at)
    if t != UNKNOWN and not is_ref_code(t):
        raise mismatch(at)
    return t


def _data(ctx: BodyContext, index: int, at: int) -> None:
    if ctx.data_count is None:
        raise MalformedError("data count section required", at)
    if index >= ctx.data_count:
        raise InvalidError(f"unknown data segment {index}", at)


def _diff(t1: int, t2: int) -> int:
    """``t1 \\ t2``: ``t1`` made non-nullable when ``t2`` admits null."""
    r1, r2 = val_type(t1), val_type(t2)
    return int(ref_type(r1.nullable and not r2.nullable, r1.heap))


def check_gc(
    ctx: BodyContext,
    op: int,
    code: bytes,
    pos: int,
    base: int,
    start: int,
    vals: list[int],
    ctrl: list[list],
    height: int,
    unreach: bool,
) -> int:
    """Check one GC instruction (other than the fixed-effect ones); returns the
    position after it."""
    info = OPERATORS[op]
    assert info is not None
    name = info.name
    imm, pos = read_with(code, pos, base, info.imm)
    at = base + start
    push = vals.append
    if name.startswith("struct."):
        if name in ("struct.new", "struct.new_default"):
            st = _struct(ctx, imm, at)
            if name == "struct.new":
                pop_types(vals, height, unreach, [f.unpacked for f in st.fields], at)
            elif not all(map(_defaultable, st.fields)):
                raise InvalidError("type mismatch: field type is not defaultable", at)
            push(_ref(imm, False))
            return pos
        index, field = imm
        st = _struct(ctx, index, at)
        f = _field(st, field, at)
        if name == "struct.set":
            if not f.mutable:
                raise InvalidError("immutable field", at)
            pop_types(vals, height, unreach, [_ref(index, True), f.unpacked], at)
            return pos
        _check_get(name, f, at)
        pop_one(vals, height, unreach, _ref(index, True), at)
        push(f.unpacked)
        return pos
    if name.startswith("array."):
        return _check_array(ctx, name, imm, at, pos, vals, height, unreach)
    if name in ("ref.test", "ref.test_null", "ref.cast", "ref.cast_null"):
        heap = imm
        _check_heap(ctx, heap, at)
        t = _pop_ref(vals, height, unreach, at)
        if t != UNKNOWN and top_heap(ctx, val_type(t).heap) != top_heap(ctx, heap):
            raise mismatch(at)
        if name.startswith("ref.test"):
            push(I32)
        else:
            push(int(ref_type(name.endswith("_null"), heap)))
        return pos
    if name in ("br_on_cast", "br_on_cast_fail"):
        label, t1, t2 = imm
        _check_heap(ctx, val_type(t1).heap, at)
        _check_heap(ctx, val_type(t2).heap, at)
        if label >= len(ctrl):
            raise InvalidError(f"unknown label {label}", at)
        if not val_subtype(t2, t1, ctx.canon):
            raise mismatch(at)
        label_types = ctrl[-1 - label][LABEL_TYPES]
        on_branch, fall = (t2, _diff(t1, t2)) if name == "br_on_cast" else (_diff(t1, t2), t2)
        if not label_types or not matches(on_branch, label_types[-1]):
            raise mismatch(at)
        pop_one(vals, height, unreach, t1, at)
        rest = label_types[:-1]
        pop_types(vals, height, unreach, rest, at)
        vals.extend(rest)
        push(fall)
        return pos
    # any.convert_extern, extern.convert_any: nullability is kept
    source, target = (
        (HeapType.EXTERN, HeapType.ANY)
        if name == "any.convert_extern"
        else (HeapType.ANY, HeapType.EXTERN)
    )
    t = pop_any(vals, height, unreach, at)
    if t == UNKNOWN:
        push(int(ref_type(False, target)))  # the bottom's conversion: any non-null one
        return pos
    if not val_subtype(t, int(source), ctx.canon):
        raise mismatch(at)
    push(int(ref_type(val_type(t).nullable, target)))
    return pos


def _check_heap(ctx: BodyContext, heap: int, at: int) -> None:
    if heap >= CONCRETE_HEAP and heap - CONCRETE_HEAP >= ctx.num_types:
        raise InvalidError(f"unknown type {heap - CONCRETE_HEAP}", at)


def _check_array(
    ctx: BodyContext,
    name: str,
    imm: object,
    at: int,
    pos: int,
    vals: list[int],
    height: int,
    unreach: bool,
) -> int:
    push = vals.append
    if name in ("array.new", "array.new_default"):
        assert isinstance(imm, int)
        e = _array(ctx, imm, at).element
        if name == "array.new":
            pop_types(vals, height, unreach, [e.unpacked, I32], at)
        else:
            if not _defaultable(e):
                raise InvalidError("type mismatch: array type is not defaultable", at)
            pop_one(vals, height, unreach, I32, at)
        push(_ref(imm, False))
        return pos
    if name in ("array.get", "array.get_s", "array.get_u", "array.set", "array.fill"):
        assert isinstance(imm, int)
        e = _array(ctx, imm, at).element
        if name == "array.set" or name == "array.fill":
            if not e.mutable:
                raise InvalidError("immutable array", at)
            operands = [_ref(imm, True), I32, e.unpacked]
            if name == "array.fill":
                operands.append(I32)  # the count
            pop_types(vals, height, unreach, operands, at)
            return pos
        _check_get(name, e, at)
        pop_types(vals, height, unreach, [_ref(imm, True), I32], at)
        push(e.unpacked)
        return pos
    assert isinstance(imm, tuple)
    index, other = imm
    e = _array(ctx, index, at).element
    if name == "array.new_fixed":
        pop_types(vals, height, unreach, [e.unpacked] * other, at)
        push(_ref(index, False))
    elif name == "array.new_data":
        if e.unpacked not in _NUMERIC_OR_VECTOR:
            raise InvalidError("array type is not numeric or vector", at)
        _data(ctx, other, at)
        pop_types(vals, height, unreach, [I32, I32], at)
        push(_ref(index, False))
    elif name == "array.new_elem":
        if not val_subtype(ctx.elem_type(other, at), e.unpacked, ctx.canon):
            raise mismatch(at)
        pop_types(vals, height, unreach, [I32, I32], at)
        push(_ref(index, False))
    elif name == "array.copy":
        src = _array(ctx, other, at).element
        if not e.mutable:
            raise InvalidError("immutable array", at)
        if not _storage_subtype(ctx, src, e):
            raise InvalidError("array types do not match", at)
        pop_types(vals, height, unreach, [_ref(index, True), I32, _ref(other, True), I32, I32], at)
    elif name == "array.init_data":
        if not e.mutable:
            raise InvalidError("immutable array", at)
        if e.unpacked not in _NUMERIC_OR_VECTOR:
            raise InvalidError("array type is not numeric or vector", at)
        _data(ctx, other, at)
        pop_types(vals, height, unreach, [_ref(index, True), I32, I32, I32], at)
    else:
        assert name == "array.init_elem", name
        if not e.mutable:
            raise InvalidError("immutable array", at)
        if not val_subtype(ctx.elem_type(other, at), e.unpacked, ctx.canon):
            raise mismatch(at)
        pop_types(vals, height, unreach, [_ref(index, True), I32, I32, I32], at)
    return pos


def _storage_subtype(ctx: BodyContext, a: FieldType, b: FieldType) -> bool:
    if a.is_packed or b.is_packed:
        return a.storage == b.storage
    return val_subtype(int(a.storage), int(b.storage), ctx.canon)
