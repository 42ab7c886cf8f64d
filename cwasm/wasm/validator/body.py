"""``validate_function_body`` and its hot loop: one handler kind per opcode, tested inline.

The control, variable, call, memory-access and fixed-effect instructions real code is
made of are checked in the loop itself; the rest goes to ``rules``. The handler kinds
and their data are ``kinds``' tables.
"""

from __future__ import annotations

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm import operators as ops
from cwasm.wasm.operators import FUNCREF, I32
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import CONCRETE_HEAP, RefType, ref_type, val_subtype
from cwasm.wasm.validator.context import (
    MAX_EXPANDED_LOCALS,
    BodyContext,
    SparseLocals,
    block_sig,
    body_context,
    check_memarg,
    check_type,
    read_offset,
)
from cwasm.wasm.validator.exceptions import TRY_TABLE, check_exception_op
from cwasm.wasm.validator.gc import check_gc
from cwasm.wasm.validator.immediates import (
    S32_LAST_MASK,
    S64_LAST_MASK,
    read_u32,
    read_with,
    skip_sleb,
)
from cwasm.wasm.validator.kinds import (
    DATA,
    EMPTY,
    FRAME_KINDS,
    KINDS,
    PARAMS,
    PREFIX_RANGES,
    RESULTS,
    SINGLE,
)
from cwasm.wasm.validator.rules import (
    check_reference_or_table,
    check_static,
    check_static_typed,
    skim,
)
from cwasm.wasm.validator.stack import (
    END_TYPES,
    FRAME_ELSE,
    FRAME_FUNC,
    FRAME_IF,
    FRAME_LOOP,
    HEIGHT,
    KIND,
    LABEL_TYPES,
    NUMERIC_OR_VECTOR,
    START_TYPES,
    UNKNOWN,
    UNREACHABLE,
    matches,
    mismatch,
    pop_any,
    pop_one,
    pop_types,
    pop_types_actual,
    set_canon,
)
from cwasm.wasm.validator.typed_refs import check_typed_ref


def _indirect_callee(
    ctx: BodyContext,
    code: bytes,
    pos: int,
    base: int,
    at: int,
    vals: list[int],
    height: int,
    unreach: bool,
) -> tuple[list[int], list[int], int]:
    """The immediates (type, table) and the table index operand of ``call_indirect`` or
    ``return_call_indirect``: the callee's (params, results) and the position after."""
    (type_index, table), pos = read_with(code, pos, base, ops.IMM_CALL_INDIRECT)
    table_type = ctx.table_type(table, at)
    if type_index >= ctx.num_types:
        raise InvalidError(f"unknown type {type_index}", at)
    if table_type != FUNCREF and not val_subtype(table_type, FUNCREF):
        raise mismatch(at)
    pop_one(vals, height, unreach, ctx.table_index_type(table), at)
    fparams, fresults = ctx.sig(type_index)
    return fparams, fresults, pos


def validate_function_body(
    translation: ModuleTranslation,
    defined_index: int,
    multi_memory: bool = True,
    memory64: bool = True,
) -> None:
    """Validate ``translation.bodies[defined_index]``; raise InvalidError or MalformedError.
    Without ``multi_memory``, memory indices are Wasm 2.0's reserved zero bytes; without
    ``memory64``, memarg offsets are u32s."""
    ctx = body_context(translation, multi_memory, memory64)
    body = translation.bodies[defined_index]
    if not 0 <= body.type_index < ctx.num_types:
        raise InvalidError(f"unknown type {body.type_index}", body.offset)
    params, results = ctx.sig(body.type_index)
    local_types: list[int] | SparseLocals
    if sum(count for count, _ in body.locals) <= MAX_EXPANDED_LOCALS:
        local_types = list(params)
        for count, ty in body.locals:
            local_types.extend([int(ty)] * count)
    else:
        local_types = SparseLocals(params, body.locals)
    # non-defaultable locals (typed references): which are set (1) so far
    inited: bytearray | None = None
    if body.locals and any(type(ty) is RefType and not ty.nullable for _, ty in body.locals):
        inited = bytearray([1]) * len(params)
        for count, ty in body.locals:
            inited.extend(bytes([ty.is_defaultable]) * count)
    set_canon(ctx.canon)
    code = translation.wasm[body.code_start : body.end]
    base = body.code_start
    try:
        _validate(ctx, code, base, local_types, results, inited)
    except InvalidError:
        skim(ctx, code, base)  # a malformed encoding later in the body takes precedence
        raise
    except IndexError:
        # a fast path indexed past the end of the body
        skim(ctx, code, base)
        raise MalformedError("unexpected end", body.end) from None


def _validate(
    ctx: BodyContext,
    code: bytes,
    base: int,
    local_types: list[int] | SparseLocals,
    results: list[int],
    inited: bytearray | None,
) -> None:
    # The dispatch compares handler kinds as int literals (K_* values, named in the
    # comments): module-global lookups are a measurable share of this hot loop.
    kinds = KINDS
    opdata = DATA
    single = SINGLE
    func_types = ctx.func_types
    vals: list[int] = []
    ctrl: list[list] = [[FRAME_FUNC, EMPTY, results, 0, False, results]]
    height = 0
    unreach = False
    nlocals = len(local_types)
    # local indices from `guard` on take the slow path: unknown, or maybe unset
    guard = nlocals if inited is None else inited.index(0)
    size = len(code)
    pos = 0
    push = vals.append
    # the address type of memory 0 (the fast path's), and whether any memory is 64-bit
    addr0 = ctx.memory_index_types[0] if ctx.num_memories else I32
    any64 = ctx.any_memory64
    # with non-defaultable locals: per open frame, the locals first set in it (they
    # are unset again at its end, and at its `else`)
    set_in: list[list[int]] = [[]]
    # Runs until the function's final `end` returns; indexing past the body raises
    # IndexError, which the caller turns into the right malformed error.
    while True:
        start = pos
        op = code[pos]
        pos += 1
        # the two most frequent instructions first, without the kind lookup
        if op == 0x20:  # local.get
            idx = code[pos]
            if idx < 0x80:
                pos += 1
            elif code[pos + 1] < 0x80:
                idx = (idx & 0x7F) | (code[pos + 1] << 7)
                pos += 2
            else:
                idx, pos = read_u32(code, pos, base)
            if idx >= guard:  # past the locals, or at a non-defaultable one
                if idx >= nlocals:
                    raise InvalidError(f"unknown local {idx}", base + start)
                if inited is not None and not inited[idx]:
                    raise InvalidError("uninitialized local", base + start)
            push(local_types[idx])
            continue
        if op == 0x41:  # i32.const
            if code[pos] < 0x80:
                pos += 1
            else:
                pos = skip_sleb(code, pos, base, 5, S32_LAST_MASK)
            push(I32)
            continue
        if op >= 0xFB:
            if op <= 0xFE:
                sub = code[pos]
                if sub < 0x80:
                    pos += 1
                else:
                    sub, pos = read_u32(code, pos, base)
                first, end = PREFIX_RANGES[op - 0xFB]
                if sub >= end - first:
                    raise ops.illegal_opcode(op, sub, base + start)
                op = first + sub
        k = kinds[op]

        if k == 1:  # K_NUM2
            p0, p1, r = opdata[op]
            if len(vals) - 2 >= height and vals[-1] == p1 and vals[-2] == p0:
                del vals[-1]
                vals[-1] = r
            else:
                pop_one(vals, height, unreach, p1, base + start)
                pop_one(vals, height, unreach, p0, base + start)
                push(r)

        elif k == 2:  # K_LOAD
            natural, t = opdata[op]
            align = code[pos]
            if align < 0x80:
                pos += 1
            else:
                align, pos = read_u32(code, pos, base)
            if align > natural or not ctx.num_memories:  # a memory index, or an error
                pos, addr = check_memarg(ctx, align, natural, code, pos, base, base + start)
            else:
                addr = addr0
            if code[pos] < 0x80:  # the offset
                pos += 1
            elif code[pos + 1] < 0x80:
                pos += 2
            else:
                pos = read_offset(ctx, addr, code, pos, base, base + start)
            if len(vals) > height and vals[-1] == addr:
                vals[-1] = t
            else:
                pop_one(vals, height, unreach, addr, base + start)
                push(t)

        elif k == 3 or k == 4:  # K_LOCAL_SET, K_LOCAL_TEE
            idx = code[pos]
            if idx < 0x80:
                pos += 1
            elif code[pos + 1] < 0x80:
                idx = (idx & 0x7F) | (code[pos + 1] << 7)
                pos += 2
            else:
                idx, pos = read_u32(code, pos, base)
            if idx >= guard:  # past the locals, or at a non-defaultable one
                if idx >= nlocals:
                    raise InvalidError(f"unknown local {idx}", base + start)
                if inited is not None and not inited[idx]:
                    inited[idx] = 1
                    set_in[-1].append(idx)
            t = local_types[idx]
            if len(vals) > height and vals[-1] == t:
                if k == 3:
                    vals.pop()
            else:
                pop_one(vals, height, unreach, t, base + start)
                if k == 4:
                    push(t)

        elif k == 5:  # K_END
            frame = ctrl[-1]
            end_types = frame[END_TYPES]
            n = len(end_types)
            if len(vals) != height + n or (n and vals[height:] != end_types):
                pop_types(vals, height, unreach, end_types, base + start)
                if len(vals) != height:
                    raise mismatch(base + start)
            if frame[KIND] == FRAME_IF and frame[START_TYPES] != end_types:
                # an `if` without `else` passes its parameters through the empty else
                raise mismatch(base + start)
            del vals[height:]
            ctrl.pop()
            if inited is not None:
                for i in set_in.pop():
                    inited[i] = 0
            if not ctrl:
                if pos != size:
                    raise MalformedError("section size mismatch", base + pos)
                return
            vals.extend(end_types)
            outer = ctrl[-1]
            height = outer[HEIGHT]
            unreach = outer[UNREACHABLE]

        elif k == 6:  # K_BLOCK (block, loop, if)
            bt = code[pos]
            if bt == 0x40:
                pos += 1
                bparams: list[int] = EMPTY
                bresults: list[int] = EMPTY
            elif bt in single:
                pos += 1
                bparams = EMPTY
                bresults = single[bt]
            else:
                bt_val, pos = read_with(code, pos, base, ops.IMM_BLOCKTYPE)
                bparams, bresults = block_sig(ctx, bt_val, base + start)
            if op == 0x04:  # if
                if len(vals) > height and vals[-1] == I32:
                    vals.pop()
                else:
                    pop_one(vals, height, unreach, I32, base + start)
            if bparams:
                pop_types(vals, height, unreach, bparams, base + start)
            height = len(vals)
            unreach = False
            frame_kind = FRAME_KINDS[op]
            label = bparams if frame_kind == FRAME_LOOP else bresults
            ctrl.append([frame_kind, bparams, bresults, height, False, label])
            if inited is not None:
                set_in.append([])
            if bparams:
                vals.extend(bparams)

        elif k == 7:  # K_BR_IF
            depth = code[pos]
            if depth < 0x80:
                pos += 1
            else:
                depth, pos = read_u32(code, pos, base)
            if depth >= len(ctrl):
                raise InvalidError(f"unknown label {depth}", base + start)
            if len(vals) > height and vals[-1] == I32:
                vals.pop()
            else:
                pop_one(vals, height, unreach, I32, base + start)
            target = ctrl[-1 - depth]
            label = target[LABEL_TYPES]
            if label:
                pop_types(vals, height, unreach, label, base + start)
                vals.extend(label)

        elif k == 8:  # K_CALL
            f = code[pos]
            if f < 0x80:
                pos += 1
            elif code[pos + 1] < 0x80:
                f = (f & 0x7F) | (code[pos + 1] << 7)
                pos += 2
            else:
                f, pos = read_u32(code, pos, base)
            if f >= len(func_types):
                raise InvalidError(f"unknown function {f}", base + start)
            fparams, fresults = ctx.sig(func_types[f])
            n = len(fparams)
            if n:
                top = len(vals) - n
                if top >= height and vals[top:] == fparams:
                    del vals[top:]
                else:
                    pop_types(vals, height, unreach, fparams, base + start)
            if fresults:
                vals.extend(fresults)

        elif k == 9:  # K_STORE
            natural, t = opdata[op]
            align = code[pos]
            if align < 0x80:
                pos += 1
            else:
                align, pos = read_u32(code, pos, base)
            if align > natural or not ctx.num_memories:  # a memory index, or an error
                pos, addr = check_memarg(ctx, align, natural, code, pos, base, base + start)
            else:
                addr = addr0
            if code[pos] < 0x80:  # the offset
                pos += 1
            elif code[pos + 1] < 0x80:
                pos += 2
            else:
                pos = read_offset(ctx, addr, code, pos, base, base + start)
            if len(vals) - 2 >= height and vals[-1] == t and vals[-2] == addr:
                del vals[-2:]
            else:
                pop_one(vals, height, unreach, t, base + start)
                pop_one(vals, height, unreach, addr, base + start)

        elif k == 10:  # K_CONST: i64.const, f32.const, f64.const, v128.const
            _imm, r, n = opdata[op]
            if n:
                if pos + n > size:
                    raise MalformedError("unexpected end", base + pos)
                pos += n
            elif code[pos] < 0x80:
                pos += 1
            else:
                pos = skip_sleb(code, pos, base, 10, S64_LAST_MASK)
            push(r)

        elif k == 11:  # K_BR
            depth = code[pos]
            if depth < 0x80:
                pos += 1
            else:
                depth, pos = read_u32(code, pos, base)
            if depth >= len(ctrl):
                raise InvalidError(f"unknown label {depth}", base + start)
            target = ctrl[-1 - depth]
            label = target[LABEL_TYPES]
            pop_types(vals, height, unreach, label, base + start)
            del vals[height:]
            unreach = True
            ctrl[-1][UNREACHABLE] = True

        elif k == 12:  # K_NUM1
            p0, _p1, r = opdata[op]
            if len(vals) > height and vals[-1] == p0:
                vals[-1] = r
            else:
                pop_one(vals, height, unreach, p0, base + start)
                push(r)

        elif k == 13:  # K_GLOBAL (get, set)
            g = code[pos]
            if g < 0x80:
                pos += 1
            elif code[pos + 1] < 0x80:
                g = (g & 0x7F) | (code[pos + 1] << 7)
                pos += 2
            else:
                g, pos = read_u32(code, pos, base)
            t, mutable = ctx.global_type(g, base + start)
            if op == 0x23:  # global.get
                push(t)
            else:
                if not mutable:
                    raise InvalidError("global is immutable", base + start)
                pop_one(vals, height, unreach, t, base + start)

        elif k == 14:  # K_DROP
            pop_any(vals, height, unreach, base + start)

        elif k == 15:  # K_UNREACHABLE
            del vals[height:]
            unreach = True
            ctrl[-1][UNREACHABLE] = True

        elif k == 16:  # K_STATIC
            if any64:  # memory operands may be i64s
                pos, sparams, sresults = check_static_typed(ctx, op, code, pos, base, start)
                pop_types(vals, height, unreach, sparams, base + start)
                vals.extend(sresults)
            else:
                pos = check_static(ctx, op, code, pos, base, start)
                pop_types(vals, height, unreach, PARAMS[op], base + start)
                vals.extend(RESULTS[op])

        elif k == 17:  # K_ELSE
            frame = ctrl[-1]
            if frame[KIND] != FRAME_IF:
                raise MalformedError("END opcode expected", base + start)
            end_types = frame[END_TYPES]
            pop_types(vals, height, unreach, end_types, base + start)
            if len(vals) != height:
                raise mismatch(base + start)
            frame[KIND] = FRAME_ELSE
            frame[UNREACHABLE] = unreach = False
            if inited is not None:
                for i in set_in[-1]:
                    inited[i] = 0
                set_in[-1] = []
            vals.extend(frame[START_TYPES])

        elif k == 18:  # K_SELECT
            at = base + start
            pop_one(vals, height, unreach, I32, at)
            t1 = pop_any(vals, height, unreach, at)
            t2 = pop_any(vals, height, unreach, at)
            if t1 not in NUMERIC_OR_VECTOR or t2 not in NUMERIC_OR_VECTOR:
                raise mismatch(at)
            if t1 != t2 and t1 != UNKNOWN and t2 != UNKNOWN:
                raise mismatch(at)
            push(t2 if t1 == UNKNOWN else t1)

        elif k == 19:  # K_SELECT_T
            types, pos = read_with(code, pos, base, ops.IMM_SELECT_TYPES)
            at = base + start
            if len(types) != 1:
                raise InvalidError("invalid result arity", at)
            t = types[0]
            check_type(ctx, t, at)
            pop_one(vals, height, unreach, I32, at)
            pop_one(vals, height, unreach, t, at)
            pop_one(vals, height, unreach, t, at)
            push(t)

        elif k == 20:  # K_RETURN
            pop_types(vals, height, unreach, results, base + start)
            del vals[height:]
            unreach = True
            ctrl[-1][UNREACHABLE] = True

        elif k == 21:  # K_BR_TABLE
            imm, pos = read_with(code, pos, base, ops.IMM_BR_TABLE)
            targets, default = imm
            at = base + start
            pop_one(vals, height, unreach, I32, at)
            nctrl = len(ctrl)
            if default >= nctrl:
                raise InvalidError(f"unknown label {default}", at)
            frame = ctrl[-1 - default]
            default_label = frame[LABEL_TYPES]
            arity = len(default_label)
            for depth in targets:
                if depth >= nctrl:
                    raise InvalidError(f"unknown label {depth}", at)
                frame = ctrl[-1 - depth]
                label = frame[LABEL_TYPES]
                if len(label) != arity:
                    raise mismatch(at)
                vals.extend(pop_types_actual(vals, height, unreach, label, at))
            pop_types(vals, height, unreach, default_label, at)
            del vals[height:]
            unreach = True
            ctrl[-1][UNREACHABLE] = True

        elif k == 22:  # K_CALL_INDIRECT
            at = base + start
            fparams, fresults, pos = _indirect_callee(
                ctx, code, pos, base, at, vals, height, unreach
            )
            pop_types(vals, height, unreach, fparams, at)
            vals.extend(fresults)

        elif k == 23:  # K_NOP
            pass

        elif k == 24:  # K_OTHER
            pos = check_reference_or_table(ctx, op, code, pos, base, start, vals, height, unreach)

        elif k == 26:  # K_TYPED_REF
            pos = check_typed_ref(ctx, op, code, pos, base, start, vals, ctrl, height, unreach)

        elif k == 27:  # K_RETURN_CALL: the callee's results are the function's own
            at = base + start
            if op == 0x12:  # return_call
                f, pos = read_u32(code, pos, base)
                if f >= len(func_types):
                    raise InvalidError(f"unknown function {f}", at)
                fparams, fresults = ctx.sig(func_types[f])
            elif op == 0x15:  # return_call_ref: a (ref null $t)
                type_index, pos = read_u32(code, pos, base)
                if type_index >= ctx.num_types:
                    raise InvalidError(f"unknown type {type_index}", at)
                pop_one(vals, height, unreach, int(ref_type(True, CONCRETE_HEAP + type_index)), at)
                fparams, fresults = ctx.sig(type_index)
            else:  # return_call_indirect
                fparams, fresults, pos = _indirect_callee(
                    ctx, code, pos, base, at, vals, height, unreach
                )
            # each result of the callee's a subtype of the function's own
            if fresults != results and (
                len(fresults) != len(results)
                or not all(matches(a, t) for a, t in zip(fresults, results, strict=True))
            ):
                raise mismatch(at)
            pop_types(vals, height, unreach, fparams, at)
            del vals[height:]
            unreach = True
            ctrl[-1][UNREACHABLE] = True
        elif k == 28:  # K_EXCEPTION
            pos = check_exception_op(ctx, op, code, pos, base, start, vals, ctrl, height, unreach)
            if op == TRY_TABLE:
                height = ctrl[-1][HEIGHT]
                unreach = False
                if inited is not None:
                    set_in.append([])
            else:  # throw, throw_ref
                del vals[height:]
                unreach = True
                ctrl[-1][UNREACHABLE] = True

        elif k == 29:  # K_GC
            pos = check_gc(ctx, op, code, pos, base, start, vals, ctrl, height, unreach)

        else:  # K_ILLEGAL
            raise ops.illegal_opcode_id(op, base + start)
