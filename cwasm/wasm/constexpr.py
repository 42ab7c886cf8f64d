"""Decoding and validation of constant expressions (global, element and data initializers).

The spec decodes an initializer as an arbitrary instruction sequence closed by ``end``
and only rejects non-constant instructions when validating, so decoding records every
outermost instruction and validation applies the Wasm 2.0 rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cwasm.errors import InvalidError
from cwasm.wasm.instructions import NON_CONSTANT, read_instructions
from cwasm.wasm.operators import CONST_OP_KINDS, OPERATORS
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import ConstExpr, ConstOp, ConstOpKind, GlobalType, ValType


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


def read_const_expr(r: BinaryReader) -> RawConstExpr:
    """Decode an initializer: instructions up to and including the closing ``end``."""
    instrs: list[tuple[int, int, int]] = []
    first = r.pos
    read_instructions(r, instrs)
    return RawConstExpr(instrs, first)


def _fixed_results() -> dict[int, ValType]:
    """The result type of each constant operator whose type is fixed (the ``t.const``)."""
    results: dict[int, ValType] = {}
    for op, kind in CONST_OP_KINDS.items():
        info = OPERATORS[op]
        if info is not None and info.params is not None:
            results[kind] = ValType(info.results[0])
    return results


_CONST_RESULT = _fixed_results()


def validate_const_expr(
    expr: RawConstExpr,
    expected: ValType,
    globals_: Sequence[GlobalType],
    num_funcs: int,
) -> None:
    """Check a Wasm 2.0 constant expression producing one ``expected`` value.

    ``globals_`` are the globals visible to it (the imported ones); ``num_funcs``
    bounds ``ref.func``.
    """
    for kind, value, pos in expr.instrs:
        if kind == NON_CONSTANT:
            raise InvalidError("constant expression required", pos)
        if kind == ConstOpKind.GLOBAL_GET:
            if value >= len(globals_):
                raise InvalidError(f"unknown global {value}", pos)
            if globals_[value].mutable:
                raise InvalidError("constant expression required", pos)
    stack: list[ValType] = []
    for kind, value, pos in expr.instrs:
        if kind == ConstOpKind.GLOBAL_GET:
            stack.append(globals_[value].content)
        elif kind == ConstOpKind.REF_FUNC:
            if value >= num_funcs:
                raise InvalidError(f"unknown function {value}", pos)
            stack.append(ValType.FUNCREF)
        elif kind == ConstOpKind.REF_NULL:
            stack.append(ValType(value))
        else:
            stack.append(_CONST_RESULT[kind])
    if stack != [expected]:
        got = " ".join(t.text for t in stack)
        raise InvalidError(
            f"type mismatch: expression requires [{expected.text}] but stack has [{got}]",
            expr.instrs[-1][2] if expr.instrs else expr.offset,
        )
