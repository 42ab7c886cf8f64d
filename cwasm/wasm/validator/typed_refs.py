"""Validation of the typed function reference instructions (Wasm 3.0): ``call_ref``,
``ref.as_non_null``, ``br_on_null`` and ``br_on_non_null``, off the hot path.

Their operands are references whose nullability and heap type matter: popping a
``(ref null ht)`` yields ``(ref ht)`` past a null check, and ``call_ref $t`` takes any
reference to a function of a type equivalent to ``$t``.
"""

from __future__ import annotations

from cwasm.errors import InvalidError
from cwasm.wasm import operators as ops
from cwasm.wasm.types import CONCRETE_HEAP, is_ref_code, ref_type, val_type
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

CALL_REF = ops.BY_NAME["call_ref"]
REF_AS_NON_NULL = ops.BY_NAME["ref.as_non_null"]
BR_ON_NULL = ops.BY_NAME["br_on_null"]
BR_ON_NON_NULL = ops.BY_NAME["br_on_non_null"]


def non_null(t: int) -> int:
    """The non-nullable version of reference type (code) ``t``; ``UNKNOWN`` stays."""
    if t == UNKNOWN:
        return UNKNOWN
    r = val_type(t)
    return int(ref_type(False, r.heap))


def _pop_ref(vals: list[int], height: int, unreach: bool, at: int) -> int:
    t = pop_any(vals, height, unreach, at)
    if t != UNKNOWN and not is_ref_code(t):
        raise mismatch(at)
    return t


def check_typed_ref(
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
    """Check one typed-reference instruction; returns the position after it."""
    at = base + start
    if op == REF_AS_NON_NULL:
        vals.append(non_null(_pop_ref(vals, height, unreach, at)))
        return pos
    imm, pos = read_with(code, pos, base, ops.OPERATORS[op].imm)  # type: ignore[union-attr]
    if op == CALL_REF:
        if imm >= ctx.num_types:
            raise InvalidError(f"unknown type {imm}", at)
        pop_one(vals, height, unreach, int(ref_type(True, CONCRETE_HEAP + imm)), at)
        params, results = ctx.sig(imm)
        pop_types(vals, height, unreach, params, at)
        vals.extend(results)
        return pos
    if imm >= len(ctrl):
        raise InvalidError(f"unknown label {imm}", at)
    label = ctrl[-1 - imm][LABEL_TYPES]
    t = _pop_ref(vals, height, unreach, at)
    if op == BR_ON_NULL:
        pop_types(vals, height, unreach, label, at)
        vals.extend(label)
        vals.append(non_null(t))
        return pos
    assert op == BR_ON_NON_NULL
    if not label or not is_ref_code(label[-1]) or not matches(non_null(t), label[-1]):
        raise mismatch(at)
    rest = label[:-1]
    pop_types(vals, height, unreach, rest, at)
    vals.extend(rest)
    return pos
