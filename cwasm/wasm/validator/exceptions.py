"""Validation of the exception-handling instructions (Wasm 3.0): ``throw``,
``throw_ref`` and ``try_table``, off the hot path.

A ``try_table`` is a block whose catch clauses are branches taken when an exception
reaches it: each clause's label (resolved outside the ``try_table``) must accept the
tag's payload, followed by an ``exnref`` for ``catch_ref`` / ``catch_all_ref``.
"""

from __future__ import annotations

from cwasm.errors import InvalidError
from cwasm.wasm import operators as ops
from cwasm.wasm.operators import CATCH_ALL, CATCH_ALL_REF, CATCH_REF
from cwasm.wasm.types import EXNREF, HeapType, ref_type, val_type
from cwasm.wasm.validator.context import BodyContext, block_sig
from cwasm.wasm.validator.immediates import read_with
from cwasm.wasm.validator.stack import (
    FRAME_BLOCK,
    LABEL_TYPES,
    UNKNOWN,
    matches,
    mismatch,
    pop_one,
    pop_types,
)

THROW = ops.BY_NAME["throw"]
THROW_REF = ops.BY_NAME["throw_ref"]
TRY_TABLE = ops.BY_NAME["try_table"]
_EXNREF = int(EXNREF)
#: what ``catch_ref`` and ``catch_all_ref`` hand their label: ``(ref exn)``
_CAUGHT = int(ref_type(False, HeapType.EXN))


def tag_params(ctx: BodyContext, tag: int, at: int) -> list[int]:
    """The payload types of tag ``tag`` ("unknown tag" if there is none)."""
    tags = ctx.module.tags
    if tag >= len(tags):
        raise InvalidError(f"unknown tag {tag}", at)
    return ctx.sig(tags[tag])[0]


def _types(types: list[int]) -> str:
    """Value types as the reference interpreter lists them: ``[i32 i64]``."""
    return "[" + " ".join(val_type(t).text if t != UNKNOWN else "_" for t in types) + "]"


def _check_catch(ctx: BodyContext, clause: tuple[int, int, int], ctrl: list[list], at: int) -> None:
    kind, tag, label = clause
    carried = [] if kind >= CATCH_ALL else list(tag_params(ctx, tag, at))
    if kind == CATCH_REF or kind == CATCH_ALL_REF:
        carried.append(_CAUGHT)
    if label >= len(ctrl):
        raise InvalidError(f"unknown label {label}", at)
    want = ctrl[-1 - label][LABEL_TYPES]
    if len(want) != len(carried) or not all(
        matches(a, t) for a, t in zip(carried, want, strict=True)
    ):
        raise mismatch(at)


def check_exception_op(
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
    """Check one exception-handling instruction; returns the position after it.

    ``throw`` and ``throw_ref`` leave the frame unreachable (the caller does that);
    ``try_table`` opens a frame, pushed here with its parameters on ``vals``.
    """
    at = base + start
    if op == THROW_REF:
        pop_one(vals, height, unreach, _EXNREF, at)
        return pos
    imm, pos = read_with(code, pos, base, ops.OPERATORS[op].imm)  # type: ignore[union-attr]
    if op == THROW:
        params = tag_params(ctx, imm, at)
        stack = vals[height:]
        try:
            pop_types(vals, height, unreach, params, at)
        except InvalidError:
            raise InvalidError(
                f"type mismatch: instruction requires {_types(params)} but stack has "
                f"{_types(stack)}",
                at,
            ) from None
        return pos
    assert op == TRY_TABLE
    bt, catches = imm
    params, results = block_sig(ctx, bt, at)
    for clause in catches:
        _check_catch(ctx, clause, ctrl, at)
    if params:
        pop_types(vals, height, unreach, params, at)
    ctrl.append([FRAME_BLOCK, params, results, len(vals), False, results])
    vals.extend(params)
    return pos
