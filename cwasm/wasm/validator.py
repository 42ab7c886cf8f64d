"""Validation of one function body against its module, by the spec's validation algorithm.

The algorithm is the one of the spec's appendix: a stack of operand types and a stack
of control frames; after an unconditional branch the rest of the frame is unreachable
and its operand stack polymorphic (popping below the frame's height yields the
*unknown* type, which matches every type).

Value types are plain ints (their binary encodings, see ``cwasm.wasm.operators``);
``UNKNOWN`` (0) is the type of a value popped from a polymorphic stack. The hot loop
reads bytes directly from a copy of the body, with inlined fast paths for short LEB128
immediates, and checks the hundreds of plain numeric and SIMD instructions through a
table of fixed stack effects; control, variable, reference, table and memory
instructions have hand-written cases. Converted signatures are cached across calls
for the module being validated (see ``_sigs_for``).

Errors use the reference interpreter's wording and the offset of the offending
instruction. As in the reference interpreter, where a body is both malformed and
invalid the malformed error wins: after finding an invalid instruction the body is
skimmed for a malformed encoding further on.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Final

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm import operators as ops
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.operators import (
    BLOCK_EMPTY,
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    OPERATORS,
    V128,
    VALTYPE_BYTES,
)
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import FuncType, ValType

UNKNOWN: Final = 0

_NUMERIC_OR_VECTOR: Final = frozenset((I32, I64, F32, F64, V128, UNKNOWN))
_REF_OR_UNKNOWN: Final = frozenset((FUNCREF, EXTERNREF, UNKNOWN))

# control frame kinds
_BLOCK: Final = 0
_LOOP: Final = 1
_IF: Final = 2
_ELSE: Final = 3
_FUNC: Final = 4

# a control frame: [kind, start types, end types, height, unreachable, label types]
# (label types: what a branch to the frame carries, its start types for a loop)
_KIND, _START, _END, _HEIGHT, _UNREACH, _LABEL = 0, 1, 2, 3, 4, 5

# handler kinds, one per opcode id, numbered by how often real code uses them (the
# hot loop tests them in this order, as int literals)
K_ILLEGAL: Final = 0
K_NUM2: Final = 1  # fixed effect (a b -> r), no immediates
K_LOAD: Final = 2
K_LOCAL_SET: Final = 3
K_LOCAL_TEE: Final = 4
K_END: Final = 5
K_BLOCK: Final = 6  # block, loop, if
K_BR_IF: Final = 7
K_CALL: Final = 8
K_STORE: Final = 9
K_CONST: Final = 10
K_BR: Final = 11
K_NUM1: Final = 12  # fixed effect (a -> r), no immediates
K_GLOBAL: Final = 13  # global.get, global.set
K_DROP: Final = 14
K_UNREACHABLE: Final = 15
K_STATIC: Final = 16  # any other fixed effect, with immediates to check
K_ELSE: Final = 17
K_SELECT: Final = 18
K_SELECT_T: Final = 19
K_RETURN: Final = 20
K_BR_TABLE: Final = 21
K_CALL_INDIRECT: Final = 22
K_NOP: Final = 23
K_OTHER: Final = 24  # reference and table instructions
K_LOCAL_GET: Final = 25  # handled before the kind lookup, as is i32.const

_NAMED_KINDS: Final = {
    "unreachable": K_UNREACHABLE,
    "nop": K_NOP,
    "block": K_BLOCK,
    "loop": K_BLOCK,
    "if": K_BLOCK,
    "else": K_ELSE,
    "end": K_END,
    "br": K_BR,
    "br_if": K_BR_IF,
    "br_table": K_BR_TABLE,
    "return": K_RETURN,
    "call": K_CALL,
    "call_indirect": K_CALL_INDIRECT,
    "drop": K_DROP,
    "select": K_SELECT,
    "select_t": K_SELECT_T,
    "local.get": K_LOCAL_GET,
    "local.set": K_LOCAL_SET,
    "local.tee": K_LOCAL_TEE,
    "global.get": K_GLOBAL,
    "global.set": K_GLOBAL,
}
_FRAME_KINDS: Final = {0x02: _BLOCK, 0x03: _LOOP, 0x04: _IF}
_EMPTY: Final[list[int]] = []
_SINGLE: Final = {t: [t] for t in VALTYPE_BYTES}  # block types of one value type

_CONST_SIZES: Final = {ops.IMM_F32: 4, ops.IMM_F64: 8, ops.IMM_V128: 16}


def _build_tables() -> tuple[list[int], list[Any]]:
    kinds = [K_ILLEGAL] * ops.NUM_OPCODE_IDS
    # per opcode: the data its handler needs (see the cases of _validate)
    data: list[Any] = [None] * ops.NUM_OPCODE_IDS
    for info in OPERATORS:
        if info is None:
            continue
        code = info.code
        if info.name in _NAMED_KINDS:
            kinds[code] = _NAMED_KINDS[info.name]
        elif info.params is None:
            kinds[code] = K_OTHER
        elif info.imm == ops.IMM_NONE and len(info.params) in (1, 2) and len(info.results) == 1:
            p = info.params
            kinds[code] = K_NUM1 if len(p) == 1 else K_NUM2
            data[code] = (p[0], p[-1], info.results[0])
        elif info.imm == ops.IMM_MEMARG and info.params == (I32,) and len(info.results) == 1:
            kinds[code] = K_LOAD
            data[code] = (info.align, info.results[0])
        elif info.imm == ops.IMM_MEMARG and len(info.params) == 2 and not info.results:
            kinds[code] = K_STORE
            data[code] = (info.align, info.params[1])
        elif info.imm in (ops.IMM_I32, ops.IMM_I64, ops.IMM_F32, ops.IMM_F64, ops.IMM_V128):
            kinds[code] = K_CONST
            data[code] = (info.imm, info.results[0], _CONST_SIZES.get(info.imm, 0))
        else:
            kinds[code] = K_STATIC
    return kinds, data


_KINDS, _DATA = _build_tables()
# fixed stack effects as lists, for the generic K_STATIC path
_PARAMS: Final = [list(i.params) if i and i.params is not None else [] for i in OPERATORS]
_RESULTS: Final = [list(i.results) if i else [] for i in OPERATORS]


@dataclass(slots=True)
class _Context:
    """The parts of a module a body is checked against (references, not copies)."""

    module: ModuleRecord
    func_types: tuple[int, ...]  # the module's type index per function index
    num_types: int
    num_memories: int
    data_count: int | None
    declared_refs: set[int]
    sigs: dict[int, tuple[list[int], list[int]]]  # see _sigs_for

    def sig(self, type_index: int) -> tuple[list[int], list[int]]:
        """(params, results) of a type, as lists of plain ints."""
        s = self.sigs.get(type_index)
        if s is None:
            ft = self.module.types[type_index]
            s = ([int(t) for t in ft.params], [int(t) for t in ft.results])
            self.sigs[type_index] = s
        return s

    def global_type(self, index: int, at: int) -> tuple[int, bool]:
        if index >= len(self.module.globals):
            raise InvalidError(f"unknown global {index}", at)
        g = self.module.globals[index]
        return int(g.content), g.mutable

    def table_type(self, index: int, at: int) -> int:
        if index >= len(self.module.tables):
            raise InvalidError(f"unknown table {index}", at)
        return int(self.module.tables[index].element)

    def elem_type(self, index: int, at: int) -> int:
        if index >= len(self.module.elements):
            raise InvalidError(f"unknown elem segment {index}", at)
        return int(self.module.elements[index].element)


# Converted signatures outlive one call: the bodies of a module are validated one by
# one, and share the module's (immutable) type tuple. Keyed by that tuple's identity.
_sig_cache: tuple[tuple[FuncType, ...], dict[int, tuple[list[int], list[int]]]] | None = None


def _sigs_for(types: tuple[FuncType, ...]) -> dict[int, tuple[list[int], list[int]]]:
    global _sig_cache
    cache = _sig_cache
    if cache is not None and cache[0] is types:
        return cache[1]
    sigs: dict[int, tuple[list[int], list[int]]] = {}
    _sig_cache = (types, sigs)
    return sigs


def _context(translation: ModuleTranslation) -> _Context:
    m = translation.module
    return _Context(
        module=m,
        func_types=m.functions,
        num_types=len(m.types),
        num_memories=len(m.memories),
        data_count=translation.data_count,
        declared_refs=translation.declared_refs,
        sigs=_sigs_for(m.types),
    )


_MAX_EXPANDED_LOCALS: Final = 1 << 16


class _SparseLocals:
    """The local types of a body declaring very many locals, without expanding them."""

    def __init__(self, params: list[int], declared: tuple[tuple[int, ValType], ...]) -> None:
        self.ends: list[int] = []  # one past the last index of each run
        self.types: list[int] = []
        n = 0
        for t in params:
            n += 1
            self.ends.append(n)
            self.types.append(t)
        for count, ty in declared:
            if count:
                n += count
                self.ends.append(n)
                self.types.append(int(ty))
        self.count = n

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> int:
        return self.types[bisect.bisect_right(self.ends, index)]


def validate_function_body(translation: ModuleTranslation, defined_index: int) -> None:
    """Validate ``translation.bodies[defined_index]``; raise InvalidError or MalformedError."""
    ctx = _context(translation)
    body = translation.bodies[defined_index]
    if not 0 <= body.type_index < ctx.num_types:
        raise InvalidError(f"unknown type {body.type_index}", body.offset)
    params, results = ctx.sig(body.type_index)
    local_types: list[int] | _SparseLocals
    if sum(count for count, _ in body.locals) <= _MAX_EXPANDED_LOCALS:
        local_types = list(params)
        for count, ty in body.locals:
            local_types.extend([int(ty)] * count)
    else:
        local_types = _SparseLocals(params, body.locals)
    code = translation.wasm[body.code_start : body.end]
    base = body.code_start
    try:
        _validate(ctx, code, base, local_types, results)
    except InvalidError:
        _skim(ctx, code, base)  # a malformed encoding later in the body takes precedence
        raise
    except IndexError:
        # a fast path indexed past the end of the body
        _skim(ctx, code, base)
        raise MalformedError("unexpected end", body.end) from None


def _mismatch(at: int) -> InvalidError:
    return InvalidError("type mismatch", at)


def _pop_types(vals: list[int], height: int, unreach: bool, types: list[int], at: int) -> None:
    """Pop ``types`` (the last one first) from the operand stack."""
    n = len(types)
    if not n:
        return
    top = len(vals) - n
    if top >= height and vals[top:] == types:
        del vals[top:]
        return
    for t in reversed(types):
        if len(vals) == height:
            if unreach:
                continue
            raise _mismatch(at)
        a = vals.pop()
        if a != t and a != UNKNOWN:
            raise _mismatch(at)


def _pop_types_actual(
    vals: list[int], height: int, unreach: bool, types: list[int], at: int
) -> list[int]:
    """Like _pop_types, returning the popped types (unknown where the stack was empty)."""
    out: list[int] = []
    for t in reversed(types):
        if len(vals) == height:
            if unreach:
                out.append(UNKNOWN)
                continue
            raise _mismatch(at)
        a = vals.pop()
        if a != t and a != UNKNOWN:
            raise _mismatch(at)
        out.append(a)
    out.reverse()
    return out


def _pop_any(vals: list[int], height: int, unreach: bool, at: int) -> int:
    if len(vals) == height:
        if unreach:
            return UNKNOWN
        raise _mismatch(at)
    return vals.pop()


def _pop_one(vals: list[int], height: int, unreach: bool, t: int, at: int) -> None:
    if len(vals) == height:
        if unreach:
            return
        raise _mismatch(at)
    a = vals.pop()
    if a != t and a != UNKNOWN:
        raise _mismatch(at)


# These LEB128 readers follow BinaryReader's rules and wording; they exist because
# linkers pad relocated indices and constants to 5 bytes, which makes multi-byte
# values common. Reading past the body raises IndexError (see validate_function_body).


def _read_u32(code: bytes, pos: int, base: int) -> tuple[int, int]:
    """A u32 LEB128 at ``pos``: (value, position after it)."""
    result = 0
    shift = 0
    p = pos
    while shift < 28:
        b = code[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, p
        shift += 7
    b = code[p]  # the fifth byte may only carry the top 4 bits
    if (b & 0x7F) >> 4:
        raise MalformedError("integer too large", base + p)
    if b & 0x80:
        raise MalformedError("integer representation too long", base + p + 1)
    return result | (b << 28), p + 1


# the bits of the final byte of a maximal-length signed LEB128 that must all equal
# its sign bit
S32_LAST_MASK: Final = 0x78
S64_LAST_MASK: Final = 0x7F


def _skip_sleb(code: bytes, pos: int, base: int, max_bytes: int, last_mask: int) -> int:
    """The position after a signed LEB128 of at most ``max_bytes`` bytes."""
    p = pos
    last = pos + max_bytes - 1
    while p < last:
        if code[p] < 0x80:
            return p + 1
        p += 1
    b = code[p]
    high = b & last_mask
    if high and high != last_mask:
        raise MalformedError("integer too large", base + p)
    if b & 0x80:
        raise MalformedError("integer representation too long", base + p + 1)
    return p + 1


def _read_with(code: bytes, pos: int, base: int, kind: int) -> tuple[Any, int]:
    """Immediates of ``kind`` at ``pos`` read by the shared readers: (value, next position)."""
    r = BinaryReader(code, pos)
    try:
        v = ops.READ_IMMEDIATES[kind](r)
    except MalformedError as e:
        raise MalformedError(e.message, e.offset + base) from None
    return v, r.pos


def _block_sig(ctx: _Context, bt: int, at: int) -> tuple[list[int], list[int]]:
    if bt == BLOCK_EMPTY:
        return [], []
    if bt < 0:
        return [], [-bt]
    if bt >= ctx.num_types:
        raise InvalidError(f"unknown type {bt}", at)
    return ctx.sig(bt)


def _check_memarg(ctx: _Context, align: int, natural: int, at: int) -> None:
    _check_memory(ctx, at)
    _check_align(align, natural, at)


def _check_memory(ctx: _Context, at: int) -> None:
    if not ctx.num_memories:
        raise InvalidError("unknown memory 0", at)


def _check_align(align: int, natural: int, at: int) -> None:
    if align > natural:
        raise InvalidError("alignment must not be larger than natural", at)


def _validate(
    ctx: _Context,
    code: bytes,
    base: int,
    local_types: list[int] | _SparseLocals,
    results: list[int],
) -> None:
    # The dispatch compares handler kinds as int literals (K_* values, named in the
    # comments): module-global lookups are a measurable share of this hot loop.
    kinds = _KINDS
    opdata = _DATA
    single = _SINGLE
    func_types = ctx.func_types
    vals: list[int] = []
    ctrl: list[list] = [[_FUNC, _EMPTY, results, 0, False, results]]
    height = 0
    unreach = False
    nlocals = len(local_types)
    size = len(code)
    pos = 0
    push = vals.append
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
                idx, pos = _read_u32(code, pos, base)
            if idx >= nlocals:
                raise InvalidError(f"unknown local {idx}", base + start)
            push(local_types[idx])
            continue
        if op == 0x41:  # i32.const
            if code[pos] < 0x80:
                pos += 1
            else:
                pos = _skip_sleb(code, pos, base, 5, S32_LAST_MASK)
            push(I32)
            continue
        if op >= 0xFC:
            if op == 0xFC or op == 0xFD:
                sub = code[pos]
                if sub < 0x80:
                    pos += 1
                else:
                    sub, pos = _read_u32(code, pos, base)
                if sub >= 0x100:
                    raise ops.illegal_opcode(op, sub, base + start)
                op = (ops.FC_BASE if op == 0xFC else ops.FD_BASE) + sub
        k = kinds[op]

        if k == 1:  # K_NUM2
            p0, p1, r = opdata[op]
            if len(vals) - 2 >= height and vals[-1] == p1 and vals[-2] == p0:
                del vals[-1]
                vals[-1] = r
            else:
                _pop_one(vals, height, unreach, p1, base + start)
                _pop_one(vals, height, unreach, p0, base + start)
                push(r)

        elif k == 2:  # K_LOAD
            natural, t = opdata[op]
            align = code[pos]
            if align < 0x80:
                pos += 1
            else:
                align, pos = _read_u32(code, pos, base)
            if code[pos] < 0x80:  # the offset
                pos += 1
            elif code[pos + 1] < 0x80:
                pos += 2
            else:
                _, pos = _read_u32(code, pos, base)
            if align > natural or not ctx.num_memories:
                _check_memarg(ctx, align, natural, base + start)
            if len(vals) > height and vals[-1] == I32:
                vals[-1] = t
            else:
                _pop_one(vals, height, unreach, I32, base + start)
                push(t)

        elif k == 3 or k == 4:  # K_LOCAL_SET, K_LOCAL_TEE
            idx = code[pos]
            if idx < 0x80:
                pos += 1
            elif code[pos + 1] < 0x80:
                idx = (idx & 0x7F) | (code[pos + 1] << 7)
                pos += 2
            else:
                idx, pos = _read_u32(code, pos, base)
            if idx >= nlocals:
                raise InvalidError(f"unknown local {idx}", base + start)
            t = local_types[idx]
            if len(vals) > height and vals[-1] == t:
                if k == 3:
                    vals.pop()
            else:
                _pop_one(vals, height, unreach, t, base + start)
                if k == 4:
                    push(t)

        elif k == 5:  # K_END
            frame = ctrl[-1]
            end_types = frame[_END]
            n = len(end_types)
            if len(vals) != height + n or (n and vals[height:] != end_types):
                _pop_types(vals, height, unreach, end_types, base + start)
                if len(vals) != height:
                    raise _mismatch(base + start)
            if frame[_KIND] == _IF and frame[_START] != end_types:
                # an `if` without `else` passes its parameters through the empty else
                raise _mismatch(base + start)
            del vals[height:]
            ctrl.pop()
            if not ctrl:
                if pos != size:
                    raise MalformedError("section size mismatch", base + pos)
                return
            vals.extend(end_types)
            outer = ctrl[-1]
            height = outer[_HEIGHT]
            unreach = outer[_UNREACH]

        elif k == 6:  # K_BLOCK (block, loop, if)
            bt = code[pos]
            if bt == 0x40:
                pos += 1
                bparams: list[int] = _EMPTY
                bresults: list[int] = _EMPTY
            elif bt in single:
                pos += 1
                bparams = _EMPTY
                bresults = single[bt]
            else:
                bt_val, pos = _read_with(code, pos, base, ops.IMM_BLOCKTYPE)
                bparams, bresults = _block_sig(ctx, bt_val, base + start)
            if op == 0x04:  # if
                if len(vals) > height and vals[-1] == I32:
                    vals.pop()
                else:
                    _pop_one(vals, height, unreach, I32, base + start)
            if bparams:
                _pop_types(vals, height, unreach, bparams, base + start)
            height = len(vals)
            unreach = False
            frame_kind = _FRAME_KINDS[op]
            label = bparams if frame_kind == _LOOP else bresults
            ctrl.append([frame_kind, bparams, bresults, height, False, label])
            if bparams:
                vals.extend(bparams)

        elif k == 7:  # K_BR_IF
            depth = code[pos]
            if depth < 0x80:
                pos += 1
            else:
                depth, pos = _read_u32(code, pos, base)
            if depth >= len(ctrl):
                raise InvalidError(f"unknown label {depth}", base + start)
            if len(vals) > height and vals[-1] == I32:
                vals.pop()
            else:
                _pop_one(vals, height, unreach, I32, base + start)
            target = ctrl[-1 - depth]
            label = target[_LABEL]
            if label:
                _pop_types(vals, height, unreach, label, base + start)
                vals.extend(label)

        elif k == 8:  # K_CALL
            f = code[pos]
            if f < 0x80:
                pos += 1
            elif code[pos + 1] < 0x80:
                f = (f & 0x7F) | (code[pos + 1] << 7)
                pos += 2
            else:
                f, pos = _read_u32(code, pos, base)
            if f >= len(func_types):
                raise InvalidError(f"unknown function {f}", base + start)
            fparams, fresults = ctx.sig(func_types[f])
            n = len(fparams)
            if n:
                top = len(vals) - n
                if top >= height and vals[top:] == fparams:
                    del vals[top:]
                else:
                    _pop_types(vals, height, unreach, fparams, base + start)
            if fresults:
                vals.extend(fresults)

        elif k == 9:  # K_STORE
            natural, t = opdata[op]
            align = code[pos]
            if align < 0x80:
                pos += 1
            else:
                align, pos = _read_u32(code, pos, base)
            if code[pos] < 0x80:  # the offset
                pos += 1
            elif code[pos + 1] < 0x80:
                pos += 2
            else:
                _, pos = _read_u32(code, pos, base)
            if align > natural or not ctx.num_memories:
                _check_memarg(ctx, align, natural, base + start)
            if len(vals) - 2 >= height and vals[-1] == t and vals[-2] == I32:
                del vals[-2:]
            else:
                _pop_one(vals, height, unreach, t, base + start)
                _pop_one(vals, height, unreach, I32, base + start)

        elif k == 10:  # K_CONST: i64.const, f32.const, f64.const, v128.const
            _imm, r, n = opdata[op]
            if n:
                if pos + n > size:
                    raise MalformedError("unexpected end", base + pos)
                pos += n
            elif code[pos] < 0x80:
                pos += 1
            else:
                pos = _skip_sleb(code, pos, base, 10, S64_LAST_MASK)
            push(r)

        elif k == 11:  # K_BR
            depth = code[pos]
            if depth < 0x80:
                pos += 1
            else:
                depth, pos = _read_u32(code, pos, base)
            if depth >= len(ctrl):
                raise InvalidError(f"unknown label {depth}", base + start)
            target = ctrl[-1 - depth]
            label = target[_LABEL]
            _pop_types(vals, height, unreach, label, base + start)
            del vals[height:]
            unreach = True
            ctrl[-1][_UNREACH] = True

        elif k == 12:  # K_NUM1
            p0, _p1, r = opdata[op]
            if len(vals) > height and vals[-1] == p0:
                vals[-1] = r
            else:
                _pop_one(vals, height, unreach, p0, base + start)
                push(r)

        elif k == 13:  # K_GLOBAL (get, set)
            g = code[pos]
            if g < 0x80:
                pos += 1
            elif code[pos + 1] < 0x80:
                g = (g & 0x7F) | (code[pos + 1] << 7)
                pos += 2
            else:
                g, pos = _read_u32(code, pos, base)
            t, mutable = ctx.global_type(g, base + start)
            if op == 0x23:  # global.get
                push(t)
            else:
                if not mutable:
                    raise InvalidError("global is immutable", base + start)
                _pop_one(vals, height, unreach, t, base + start)

        elif k == 14:  # K_DROP
            _pop_any(vals, height, unreach, base + start)

        elif k == 15:  # K_UNREACHABLE
            del vals[height:]
            unreach = True
            ctrl[-1][_UNREACH] = True

        elif k == 16:  # K_STATIC
            pos = _static(ctx, op, code, pos, base, start)
            _pop_types(vals, height, unreach, _PARAMS[op], base + start)
            vals.extend(_RESULTS[op])

        elif k == 17:  # K_ELSE
            frame = ctrl[-1]
            if frame[_KIND] != _IF:
                raise MalformedError("END opcode expected", base + start)
            end_types = frame[_END]
            _pop_types(vals, height, unreach, end_types, base + start)
            if len(vals) != height:
                raise _mismatch(base + start)
            frame[_KIND] = _ELSE
            frame[_UNREACH] = unreach = False
            vals.extend(frame[_START])

        elif k == 18:  # K_SELECT
            at = base + start
            _pop_one(vals, height, unreach, I32, at)
            t1 = _pop_any(vals, height, unreach, at)
            t2 = _pop_any(vals, height, unreach, at)
            if t1 not in _NUMERIC_OR_VECTOR or t2 not in _NUMERIC_OR_VECTOR:
                raise _mismatch(at)
            if t1 != t2 and t1 != UNKNOWN and t2 != UNKNOWN:
                raise _mismatch(at)
            push(t2 if t1 == UNKNOWN else t1)

        elif k == 19:  # K_SELECT_T
            types, pos = _read_with(code, pos, base, ops.IMM_SELECT_TYPES)
            at = base + start
            if len(types) != 1:
                raise InvalidError("invalid result arity", at)
            t = types[0]
            _pop_one(vals, height, unreach, I32, at)
            _pop_one(vals, height, unreach, t, at)
            _pop_one(vals, height, unreach, t, at)
            push(t)

        elif k == 20:  # K_RETURN
            _pop_types(vals, height, unreach, results, base + start)
            del vals[height:]
            unreach = True
            ctrl[-1][_UNREACH] = True

        elif k == 21:  # K_BR_TABLE
            imm, pos = _read_with(code, pos, base, ops.IMM_BR_TABLE)
            targets, default = imm
            at = base + start
            _pop_one(vals, height, unreach, I32, at)
            nctrl = len(ctrl)
            if default >= nctrl:
                raise InvalidError(f"unknown label {default}", at)
            frame = ctrl[-1 - default]
            default_label = frame[_LABEL]
            arity = len(default_label)
            for depth in targets:
                if depth >= nctrl:
                    raise InvalidError(f"unknown label {depth}", at)
                frame = ctrl[-1 - depth]
                label = frame[_LABEL]
                if len(label) != arity:
                    raise _mismatch(at)
                vals.extend(_pop_types_actual(vals, height, unreach, label, at))
            _pop_types(vals, height, unreach, default_label, at)
            del vals[height:]
            unreach = True
            ctrl[-1][_UNREACH] = True

        elif k == 22:  # K_CALL_INDIRECT
            imm, pos = _read_with(code, pos, base, ops.IMM_CALL_INDIRECT)
            type_index, table = imm
            at = base + start
            table_type = ctx.table_type(table, at)
            if type_index >= ctx.num_types:
                raise InvalidError(f"unknown type {type_index}", at)
            if table_type != FUNCREF:
                raise _mismatch(at)
            _pop_one(vals, height, unreach, I32, at)
            fparams, fresults = ctx.sig(type_index)
            _pop_types(vals, height, unreach, fparams, at)
            vals.extend(fresults)

        elif k == 23:  # K_NOP
            pass

        elif k == 24:  # K_OTHER
            pos = _other(ctx, op, code, pos, base, start, vals, height, unreach)

        else:  # K_ILLEGAL
            raise ops.illegal_opcode_id(op, base + start)


def _static(ctx: _Context, op: int, code: bytes, pos: int, base: int, start: int) -> int:
    """Read and check the immediates of an instruction with a fixed stack effect."""
    info = OPERATORS[op]
    assert info is not None
    imm_kind = info.imm
    imm, pos = _read_with(code, pos, base, imm_kind)
    at = base + start
    if imm_kind == ops.IMM_LANE:
        if imm >= info.lanes:
            raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMARG_LANE:
        align, _offset, lane = imm
        _check_memory(ctx, at)
        _check_align(align, info.align, at)
        if lane >= info.lanes:
            raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMARG:
        align, _offset = imm
        _check_memory(ctx, at)
        _check_align(align, info.align, at)
    elif imm_kind == ops.IMM_SHUFFLE:
        for lane in imm:
            if lane >= 32:
                raise InvalidError("invalid lane index", at)
    elif imm_kind == ops.IMM_MEMORY or imm_kind == ops.IMM_MEMORY_COPY:
        _check_memory(ctx, at)
    elif imm_kind == ops.IMM_MEMORY_INIT or imm_kind == ops.IMM_DATA:
        if ctx.data_count is None:
            raise MalformedError("data count section required", at)
        if imm_kind == ops.IMM_MEMORY_INIT:
            _check_memory(ctx, at)
        if imm >= ctx.data_count:
            raise InvalidError(f"unknown data segment {imm}", at)
    elif imm_kind == ops.IMM_ELEM:
        ctx.elem_type(imm, at)
    return pos


def _other(
    ctx: _Context,
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
    imm, pos = _read_with(code, pos, base, info.imm)
    at = base + start
    if name == "ref.null":
        vals.append(imm)
    elif name == "ref.is_null":
        if _pop_any(vals, height, unreach, at) not in _REF_OR_UNKNOWN:
            raise _mismatch(at)
        vals.append(I32)
    elif name == "ref.func":
        if imm >= len(ctx.func_types):
            raise InvalidError(f"unknown function {imm}", at)
        if imm not in ctx.declared_refs:
            raise InvalidError("undeclared function reference", at)
        vals.append(FUNCREF)
    elif name == "table.init":
        elem, table = imm
        t = ctx.table_type(table, at)
        if ctx.elem_type(elem, at) != t:
            raise _mismatch(at)
        _pop_types(vals, height, unreach, [I32, I32, I32], at)
    elif name == "table.copy":
        dst, src = imm
        if ctx.table_type(dst, at) != ctx.table_type(src, at):
            raise _mismatch(at)
        _pop_types(vals, height, unreach, [I32, I32, I32], at)
    else:
        t = ctx.table_type(imm, at)
        if name == "table.get":
            _pop_one(vals, height, unreach, I32, at)
            vals.append(t)
        elif name == "table.set":
            _pop_types(vals, height, unreach, [I32, t], at)
        elif name == "table.size":
            vals.append(I32)
        elif name == "table.grow":
            _pop_types(vals, height, unreach, [t, I32], at)
            vals.append(I32)
        else:
            assert name == "table.fill", name
            _pop_types(vals, height, unreach, [I32, t, I32], at)
    return pos


def _skim(ctx: _Context, code: bytes, base: int) -> None:
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
            if name in ("block", "loop"):
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
