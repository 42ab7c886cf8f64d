"""Decoding and validation of constant expressions (global, element and data initializers).

The spec decodes an initializer as an arbitrary instruction sequence closed by ``end``
and only rejects non-constant instructions when validating, so decoding records every
outermost instruction and validation applies the Wasm 3.0 rules without GC: ``t.const``,
``ref.null``, ``ref.func``, ``global.get`` of an immutable global (imported, or defined
before the global being initialized) and, from the extended constant expressions,
``i32``/``i64`` ``add``, ``sub`` and ``mul``. ``cwasm.wasm.features`` takes the
extensions back out when ``Config.wasm_extended_const`` is off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cwasm.errors import InvalidError
from cwasm.wasm.gc_types import ArrayType, CompositeType, StructType
from cwasm.wasm.instructions import NON_CONSTANT, read_instructions
from cwasm.wasm.operators import CONST_OP_KINDS, OPERATORS
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import (
    CONCRETE_HEAP,
    ConstExpr,
    ConstOp,
    ConstOpKind,
    GlobalType,
    HeapType,
    ValType,
    ValueType,
    ref_type,
    val_subtype,
    val_type,
)


@dataclass(slots=True)
class RawConstExpr:
    """A constant expression as decoded, before validation.

    ``instrs`` holds one ``(kind, value, offset)`` per instruction, ``kind`` being a
    ``ConstOpKind`` or ``NON_CONSTANT``.
    """

    instrs: list[tuple[int, int, int]]
    offset: int

    def to_const_expr(self) -> ConstExpr:
        ops = tuple(ConstOp(ConstOpKind(k), v) for k, v, _ in self.instrs if k != NON_CONSTANT)
        return ConstExpr(ops, self.offset)

    def func_refs(self) -> list[int]:
        return [v for k, v, _ in self.instrs if k == ConstOpKind.REF_FUNC]


def read_const_expr(r: BinaryReader, illegal: frozenset[int] = frozenset()) -> RawConstExpr:
    """Decode an initializer: instructions up to and including the closing ``end``
    (refusing the opcodes in ``illegal``, see ``read_instructions``)."""
    instrs: list[tuple[int, int, int]] = []
    first = r.pos
    read_instructions(r, instrs, illegal=illegal)
    return RawConstExpr(instrs, first)


def _fixed_results() -> dict[int, ValueType]:
    """The result type of each constant operator whose type is fixed (the ``t.const``)."""
    results: dict[int, ValueType] = {}
    for op, kind in CONST_OP_KINDS.items():
        info = OPERATORS[op]
        if info is not None and info.params == ():  # (ref.i31 pops its i32: _gc_const)
            results[kind] = val_type(info.results[0])
    return results


_CONST_RESULT = _fixed_results()

#: the arithmetic operators of extended constant expressions: kind -> (operand type, bits)
ARITHMETIC: dict[int, tuple[ValType, int]] = {
    ConstOpKind.I32_ADD: (ValType.I32, 32),
    ConstOpKind.I32_SUB: (ValType.I32, 32),
    ConstOpKind.I32_MUL: (ValType.I32, 32),
    ConstOpKind.I64_ADD: (ValType.I64, 64),
    ConstOpKind.I64_SUB: (ValType.I64, 64),
    ConstOpKind.I64_MUL: (ValType.I64, 64),
}
_ADD = (ConstOpKind.I32_ADD, ConstOpKind.I64_ADD)
_SUB = (ConstOpKind.I32_SUB, ConstOpKind.I64_SUB)


def validate_const_expr(
    expr: RawConstExpr,
    expected: ValueType,
    globals_: Sequence[GlobalType],
    num_funcs: int,
    extended: bool = True,
    funcs: Sequence[int] = (),
    canon: Sequence[int] = (),
    types: Sequence[CompositeType] = (),
) -> None:
    """Check a constant expression producing one ``expected`` value.

    ``globals_`` are the globals visible to it (the imported ones and, for a global's
    initializer, the globals defined before it; every global for a segment's
    expressions); ``num_funcs`` bounds ``ref.func``. Without ``extended`` the
    arithmetic operators are not constant (Wasm 2.0). With ``funcs`` (the type index
    of every function), ``ref.func`` has the type ``(ref $t)`` of typed function
    references, else funcref; the value must match ``expected`` (``canon``: see
    ``canonical_types``). GC's allocations (``struct.new``, ``array.new``...) are typed
    by ``types``, the module's.
    """
    for kind, value, pos in expr.instrs:
        if kind == NON_CONSTANT or (not extended and kind in ARITHMETIC):
            raise InvalidError("constant expression required", pos)
        if kind == ConstOpKind.GLOBAL_GET:
            if value >= len(globals_):
                raise InvalidError(f"unknown global {value}", pos)
            if globals_[value].mutable:
                raise InvalidError("constant expression required", pos)
    stack: list[ValueType] = []
    for kind, value, pos in expr.instrs:
        if kind in ARITHMETIC:
            operand, _ = ARITHMETIC[kind]
            for _ in range(2):
                got_t = stack.pop() if stack else None
                if got_t != operand:
                    got = "" if got_t is None else got_t.text
                    raise InvalidError(
                        f"type mismatch: instruction requires [{operand.text} {operand.text}]"
                        f" but stack has [{got}]",
                        pos,
                    )
            stack.append(operand)
        elif kind == ConstOpKind.GLOBAL_GET:
            stack.append(globals_[value].content)
        elif kind == ConstOpKind.REF_FUNC:
            if value >= num_funcs:
                raise InvalidError(f"unknown function {value}", pos)
            if funcs:
                stack.append(ref_type(False, CONCRETE_HEAP + funcs[value]))
            else:
                stack.append(ValType.FUNCREF)
        elif kind == ConstOpKind.REF_NULL:
            stack.append(val_type(value))
        elif kind in _CONST_RESULT:
            stack.append(_CONST_RESULT[kind])
        else:
            _gc_const(kind, value, stack, types, canon, pos)
    if len(stack) != 1 or not val_subtype(stack[0], expected, canon):
        got = " ".join(t.text for t in stack)
        raise InvalidError(
            f"type mismatch: expression requires [{expected.text}] but stack has [{got}]",
            expr.instrs[-1][2] if expr.instrs else expr.offset,
        )


def _pop(stack: list[ValueType], want: int, canon: Sequence[int], pos: int) -> ValueType:
    if not stack or not val_subtype(stack[-1], want, canon):
        got = stack[-1].text if stack else ""
        raise InvalidError(
            f"type mismatch: instruction requires [{val_type(want).text}] but stack has [{got}]",
            pos,
        )
    return stack.pop()


def _gc_const(
    kind: int,
    value: int,
    stack: list[ValueType],
    types: Sequence[CompositeType],
    canon: Sequence[int],
    pos: int,
) -> None:
    """Type one of GC's constant instructions (the allocations and conversions)."""
    if kind == ConstOpKind.ANY_CONVERT_EXTERN or kind == ConstOpKind.EXTERN_CONVERT_ANY:
        source, target = (
            (HeapType.EXTERN, HeapType.ANY)
            if kind == ConstOpKind.ANY_CONVERT_EXTERN
            else (HeapType.ANY, HeapType.EXTERN)
        )
        t = _pop(stack, int(source), canon, pos)
        stack.append(ref_type(t.nullable, target))
        return
    if kind == ConstOpKind.REF_I31:
        _pop(stack, int(ValType.I32), canon, pos)
        stack.append(ref_type(False, HeapType.I31))
        return
    index = value & 0xFFFF_FFFF
    if index >= len(types):
        raise InvalidError(f"unknown type {index}", pos)
    ct = types[index]
    if kind in (ConstOpKind.STRUCT_NEW, ConstOpKind.STRUCT_NEW_DEFAULT):
        if type(ct) is not StructType:
            raise InvalidError(f"type mismatch: non-struct type {index}", pos)
        if kind == ConstOpKind.STRUCT_NEW:
            for f in reversed(ct.fields):
                _pop(stack, f.unpacked, canon, pos)
    else:
        if type(ct) is not ArrayType:
            raise InvalidError(f"type mismatch: non-array type {index}", pos)
        if kind == ConstOpKind.ARRAY_NEW_FIXED:
            for _ in range(value >> 32):
                _pop(stack, ct.element.unpacked, canon, pos)
        else:
            _pop(stack, int(ValType.I32), canon, pos)
            if kind == ConstOpKind.ARRAY_NEW:
                _pop(stack, ct.element.unpacked, canon, pos)
    stack.append(ref_type(False, CONCRETE_HEAP + index))


def evaluate_const_expr(
    expr: ConstExpr,
    global_get: Callable[[int], int],
    ref_func: Callable[[int], int],
    allocate: Callable[[ConstOpKind, int, list[int]], int] | None = None,
) -> int:
    """The raw bits a validated constant expression produces: integers as their two's
    complement bits (arithmetic wraps), floats and vectors as their bits, references as
    ``ref_func``'s address or 0 for null; ``global_get`` reads a global's raw bits.
    GC's allocations call ``allocate(kind, value, stack)``, which pops their operands
    from ``stack`` and returns the new object's word."""
    stack: list[int] = []
    for op in expr.ops:
        k = op.kind
        if k in ARITHMETIC:
            mask = (1 << ARITHMETIC[k][1]) - 1
            b = stack.pop()
            a = stack.pop()
            r = a + b if k in _ADD else a - b if k in _SUB else a * b
            stack.append(r & mask)
        elif k == ConstOpKind.GLOBAL_GET:
            stack.append(global_get(op.value))
        elif k == ConstOpKind.REF_FUNC:
            stack.append(ref_func(op.value))
        elif k == ConstOpKind.REF_NULL:
            stack.append(0)
        elif k == ConstOpKind.REF_I31:
            stack.append(((stack.pop() << 1) | 1) & 0xFFFF_FFFF)  # the i31 word (gc_refs)
        elif k in (ConstOpKind.ANY_CONVERT_EXTERN, ConstOpKind.EXTERN_CONVERT_ANY):
            pass  # one word for both hierarchies
        elif k >= ConstOpKind.STRUCT_NEW and allocate is not None:
            stack.append(allocate(k, op.value, stack))
        elif k >= ConstOpKind.STRUCT_NEW:
            raise NotImplementedError("GC constant expressions are not evaluated yet")
        elif k == ConstOpKind.I32_CONST:
            stack.append(op.value & 0xFFFF_FFFF)
        elif k == ConstOpKind.I64_CONST:
            stack.append(op.value & 0xFFFF_FFFF_FFFF_FFFF)
        else:  # f32, f64, v128: their bits
            stack.append(op.value)
    if len(stack) != 1:
        raise InvalidError("type mismatch: constant expression leaves no single value", expr.offset)
    return stack[0]
