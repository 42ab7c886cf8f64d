"""Validation of the instructions typed by their immediates, off the validator's hot path.

``check_static`` reads and checks the immediates of an instruction with a fixed stack
effect (lanes, memory arguments, data and element indices); ``check_reference_or_table``
types the reference and table instructions; ``skim`` looks for a malformed encoding
after an invalid instruction was found, since a malformed body error wins.
"""

from __future__ import annotations

from typing import Any

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm import operators as ops
from cwasm.wasm.operators import I32, I64, OPERATORS
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.types import CONCRETE_HEAP, is_ref_code, ref_type, val_subtype
from cwasm.wasm.validator.context import (
    MAX_OFFSET_32,
    BodyContext,
    check_align,
    check_memory,
    check_type,
)
from cwasm.wasm.validator.immediates import read_with
from cwasm.wasm.validator.stack import UNKNOWN, mismatch, pop_any, pop_one, pop_types


def check_static(ctx: BodyContext, op: int, code: bytes, pos: int, base: int, start: int) -> int:
    """Read and check the immediates of an instruction with a fixed stack effect."""
    return _check_static_imm(ctx, op, code, pos, base, start)[1]


def check_static_typed(
    ctx: BodyContext, op: int, code: bytes, pos: int, base: int, start: int
) -> tuple[int, list[int], list[int]]:
    """``check_static`` in a module with a 64-bit memory: also the instruction's
    (params, results), its addresses, lengths and page counts of the index type of its
    memory (memory.copy's length: the smaller of its two memories' index types)."""
    imm, pos = _check_static_imm(ctx, op, code, pos, base, start)
    info = OPERATORS[op]
    assert info is not None
    params = list(info.params or ())
    results = list(info.results)
    kind = info.imm
    if kind in _MEMARG_KINDS:
        params[0] = ctx.memory_index_type(imm[-1])
    elif kind == ops.IMM_MEMORY:  # memory.size, memory.grow, memory.fill
        at = ctx.memory_index_type(imm)
        if info.name == "memory.fill":
            params = [at, I32, at]
        else:
            params = [at] * len(params)
            results = [at] * len(results)
    elif kind == ops.IMM_MEMORY_COPY:
        dst, src = ctx.memory_index_type(imm[0]), ctx.memory_index_type(imm[1])
        params = [dst, src, I32 if I32 in (dst, src) else I64]
    elif kind == ops.IMM_MEMORY_INIT:
        params[0] = ctx.memory_index_type(imm[1])
    return pos, params, results


#: the immediates of memory accesses: tuples whose last item is the memory index
_MEMARG_KINDS = frozenset((ops.IMM_MEMARG, ops.IMM_MEMARG_LANE, ops.IMM_ATOMIC_MEMARG))


def _check_static_imm(
    ctx: BodyContext, op: int, code: bytes, pos: int, base: int, start: int
) -> tuple[Any, int]:
    """The immediates of an instruction with a fixed stack effect, read and checked, and
    the position after them."""
    info = OPERATORS[op]
    assert info is not None
    imm_kind = info.imm
    if not ctx.multi_memory and imm_kind in _RESERVED_BYTES:
        _check_reserved_bytes(code, pos, base, imm_kind)
    imm, pos = read_with(code, pos, base, imm_kind)
    at = base + start
    if imm_kind == ops.IMM_LANE:
        if imm >= info.lanes:
            raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMARG_LANE:
        align, offset, lane, memory = imm
        check_memory(ctx, memory, at)
        _check_offset(ctx, offset, memory, at)
        check_align(align, info.align, at)
        if lane >= info.lanes:
            raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMARG:
        align, offset, memory = imm
        check_memory(ctx, memory, at)
        _check_offset(ctx, offset, memory, at)
        check_align(align, info.align, at)
    elif imm_kind == ops.IMM_ATOMIC_MEMARG:
        align, offset, memory = imm
        check_memory(ctx, memory, at)
        _check_offset(ctx, offset, memory, at)
        if align != info.align:
            raise InvalidError("atomic alignment must be natural", at)
    elif imm_kind == ops.IMM_SHUFFLE:
        for lane in imm:
            if lane >= 32:
                raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMORY:
        check_memory(ctx, imm, at)
    elif imm_kind == ops.IMM_MEMORY_COPY:
        check_memory(ctx, imm[0], at)
        check_memory(ctx, imm[1], at)
    elif imm_kind == ops.IMM_MEMORY_INIT or imm_kind == ops.IMM_DATA:
        if ctx.data_count is None:
            raise MalformedError("data count section required", at)
        if imm_kind == ops.IMM_MEMORY_INIT:
            data, memory = imm
            check_memory(ctx, memory, at)
        else:
            data = imm
        if data >= ctx.data_count:
            raise InvalidError(f"unknown data segment {data}", at)
    elif imm_kind == ops.IMM_ELEM:
        ctx.elem_type(imm, at)
    return imm, pos


def _check_offset(ctx: BodyContext, offset: int, memory: int, at: int) -> None:
    """A 32-bit memory's offsets are at most 2^32-1 (without memory64: u32s, so a
    larger one did not decode)."""
    if offset > MAX_OFFSET_32 and ctx.memory_index_type(memory) == I32:
        if not ctx.memory64:
            raise MalformedError("integer too large", at)
        raise InvalidError("offset out of range", at)


#: the immediates with memory indices that Wasm 2.0 encodes as reserved zero bytes
_RESERVED_BYTES = frozenset((ops.IMM_MEMORY, ops.IMM_MEMORY_INIT, ops.IMM_MEMORY_COPY))


def _check_reserved_bytes(code: bytes, pos: int, base: int, imm_kind: int) -> None:
    """Without multi-memory, a memory index is one zero byte (``zero byte expected``)."""
    r = BinaryReader(code, pos)
    try:
        if imm_kind == ops.IMM_MEMORY_INIT:
            r.u32()  # the data segment index
        ops.read_zero_byte(r)
        if imm_kind == ops.IMM_MEMORY_COPY:
            ops.read_zero_byte(r)
    except MalformedError as e:
        raise MalformedError(e.message, e.offset + base) from None


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
        pop_types(vals, height, unreach, [ctx.table_index_type(table), I32, I32], at)
    elif name == "table.copy":
        dst, src = imm
        if not val_subtype(ctx.table_type(src, at), ctx.table_type(dst, at), ctx.canon):
            raise mismatch(at)
        dst_at, src_at = ctx.table_index_type(dst), ctx.table_index_type(src)
        n_at = I32 if I32 in (dst_at, src_at) else I64
        pop_types(vals, height, unreach, [dst_at, src_at, n_at], at)
    else:
        t = ctx.table_type(imm, at)
        it = ctx.table_index_type(imm)
        if name == "table.get":
            pop_one(vals, height, unreach, it, at)
            vals.append(t)
        elif name == "table.set":
            pop_types(vals, height, unreach, [it, t], at)
        elif name == "table.size":
            vals.append(it)
        elif name == "table.grow":
            pop_types(vals, height, unreach, [t, it], at)
            vals.append(it)
        else:
            assert name == "table.fill", name
            pop_types(vals, height, unreach, [it, t, it], at)
    return pos


def skim(ctx: BodyContext, code: bytes, base: int) -> None:
    """Decode the body without typing it; raise the first malformed encoding, if any."""
    r = BinaryReader(code, 0)
    readers = ops.READ_IMMEDIATES if ctx.memory64 else ops.READ_IMMEDIATES_32
    # one entry per open frame: is it an `if` still waiting for its `else`?
    frames = [False]
    size = len(code)
    try:
        while r.pos < size:
            start = r.pos
            op = ops.read_opcode(r)
            info = OPERATORS[op]
            assert info is not None
            readers[info.imm](r)
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
            elif ctx.data_count is None and (
                info.imm in (ops.IMM_MEMORY_INIT, ops.IMM_DATA)
                or name in ("array.new_data", "array.init_data")
            ):
                raise MalformedError("data count section required", start)
    except MalformedError as e:
        raise MalformedError(e.message, e.offset + base) from None
    if len(frames) == 1:
        raise MalformedError("END opcode expected", base + size)
    raise MalformedError("unexpected end", base + size)
