"""Validation of the instructions typed by their immediates, off the validator's hot path.

``check_static`` reads and checks the immediates of an instruction with a fixed stack
effect (lanes, memory arguments, data and element indices); ``check_reference_or_table``
types the reference and table instructions; ``skim`` looks for a malformed encoding
after an invalid instruction was found, since a malformed body error wins.
"""

from __future__ import annotations

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm import operators as ops
from cwasm.wasm.operators import I32, OPERATORS
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import CONCRETE_HEAP, is_ref_code, ref_type, val_subtype
from cwasm.wasm.validator.context import BodyContext, check_align, check_memory, check_type
from cwasm.wasm.validator.immediates import read_with
from cwasm.wasm.validator.stack import UNKNOWN, mismatch, pop_any, pop_one, pop_types


def check_static(ctx: BodyContext, op: int, code: bytes, pos: int, base: int, start: int) -> int:
    """Read and check the immediates of an instruction with a fixed stack effect."""
    info = OPERATORS[op]
    assert info is not None
    imm_kind = info.imm
    imm, pos = read_with(code, pos, base, imm_kind)
    at = base + start
    if imm_kind == ops.IMM_LANE:
        if imm >= info.lanes:
            raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMARG_LANE:
        align, _offset, lane = imm
        check_memory(ctx, at)
        check_align(align, info.align, at)
        if lane >= info.lanes:
            raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMARG:
        align, _offset = imm
        check_memory(ctx, at)
        check_align(align, info.align, at)
    elif imm_kind == ops.IMM_SHUFFLE:
        for lane in imm:
            if lane >= 32:
                raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMORY or imm_kind == ops.IMM_MEMORY_COPY:
        check_memory(ctx, at)
    elif imm_kind == ops.IMM_MEMORY_INIT or imm_kind == ops.IMM_DATA:
        if ctx.data_count is None:
            raise MalformedError("data count section required", at)
        if imm_kind == ops.IMM_MEMORY_INIT:
            check_memory(ctx, at)
        if imm >= ctx.data_count:
            raise InvalidError(f"unknown data segment {imm}", at)
    elif imm_kind == ops.IMM_ELEM:
        ctx.elem_type(imm, at)
    return pos


def check_reference_or_table(
    ctx: BodyContext,
    op: int,
    code: bytes,
    pos: int,
    base: int,
    start: int,
    vals: list[int],
    height: int,
    unreach: bool,
) -> int:
    """Reference and table instructions, whose types depend on their immediates."""
    info = OPERATORS[op]
    assert info is not None
    name = info.name
    imm, pos = read_with(code, pos, base, info.imm)
    at = base + start
    if name == "ref.null":
        check_type(ctx, imm, at)
        vals.append(imm)
    elif name == "ref.is_null":
        t = pop_any(vals, height, unreach, at)
        if t != UNKNOWN and not is_ref_code(t):
            raise mismatch(at)
        vals.append(I32)
    elif name == "ref.func":
        if imm >= len(ctx.func_types):
            raise InvalidError(f"unknown function {imm}", at)
        if imm not in ctx.declared_refs:
            raise InvalidError("undeclared function reference", at)
        # typed function references: the exact, non-null type of the function
        vals.append(int(ref_type(False, CONCRETE_HEAP + ctx.func_types[imm])))
    elif name == "table.init":
        elem, table = imm
        t = ctx.table_type(table, at)
        if not val_subtype(ctx.elem_type(elem, at), t, ctx.canon):
            raise mismatch(at)
        pop_types(vals, height, unreach, [I32, I32, I32], at)
    elif name == "table.copy":
        dst, src = imm
        if not val_subtype(ctx.table_type(src, at), ctx.table_type(dst, at), ctx.canon):
            raise mismatch(at)
        pop_types(vals, height, unreach, [I32, I32, I32], at)
    else:
        t = ctx.table_type(imm, at)
        if name == "table.get":
            pop_one(vals, height, unreach, I32, at)
            vals.append(t)
        elif name == "table.set":
            pop_types(vals, height, unreach, [I32, t], at)
        elif name == "table.size":
            vals.append(I32)
        elif name == "table.grow":
            pop_types(vals, height, unreach, [t, I32], at)
            vals.append(I32)
        else:
            assert name == "table.fill", name
            pop_types(vals, height, unreach, [I32, t, I32], at)
    return pos


def skim(ctx: BodyContext, code: bytes, base: int) -> None:
    """Decode the body without typing it; raise the first malformed encoding, if any."""
    r = BinaryReader(code, 0)
    # one entry per open frame: is it an `if` still waiting for its `else`?
    frames = [False]
    size = len(code)
    try:
        while r.pos < size:
            start = r.pos
            op = ops.read_opcode(r)
            info = OPERATORS[op]
            assert info is not None
            ops.READ_IMMEDIATES[info.imm](r)
            name = info.name
            if name in ("block", "loop", "try_table"):
                frames.append(False)
            elif name == "if":
                frames.append(True)
            elif name == "else":
                if not frames[-1]:
                    raise MalformedError("END opcode expected", start)
                frames[-1] = False
            elif name == "end":
                frames.pop()
                if not frames:
                    if r.pos != size:
                        raise MalformedError("section size mismatch", r.pos)
                    return
            elif info.imm in (ops.IMM_MEMORY_INIT, ops.IMM_DATA) and ctx.data_count is None:
                raise MalformedError("data count section required", start)
    except MalformedError as e:
        raise MalformedError(e.message, e.offset + base) from None
    if len(frames) == 1:
        raise MalformedError("END opcode expected", base + size)
    raise MalformedError("unexpected end", base + size)
