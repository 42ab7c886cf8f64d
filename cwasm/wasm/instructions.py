"""Structural decoding of instruction sequences, as the spec's decoder does it, without typing.

``read_instructions`` steps over a sequence up to its closing ``end``, reporting
malformed encodings (illegal opcodes, bad immediates, misplaced ``else``) with the
reference interpreter's wording. It serves constant expressions, whose operators it
collects, and the decoder's check of function-body framing, which the spec performs
while decoding (before any validation).

Opcodes and immediates are read by the operator table (``cwasm.wasm.operators``); this
module only adds the nesting of structured instructions.
"""

from __future__ import annotations

from typing import Any, Final

from cwasm.errors import MalformedError
from cwasm.wasm.operators import (
    BY_NAME,
    CONST_OP_KINDS,
    IMM_BLOCKTYPE,
    IMM_DATA,
    IMM_MEMORY_INIT,
    IMM_NONE,
    IMM_TRY_TABLE,
    OPERATORS,
    READ_IMMEDIATES,
    READ_IMMEDIATES_32,
    OpInfo,
    const_op_value,
    illegal_opcode_id,
    read_opcode,
)
from cwasm.wasm.reader import BinaryReader

#: the GC instructions reading a data segment (they need a data count section too)
_DATA_ARRAY_OPS: Final = frozenset(("array.new_data", "array.init_data"))

# Marker kind for an instruction that is not a constant operator.
NON_CONSTANT: Final = -1

# What stepping over an opcode involves besides its immediates (derived from the table)
_PLAIN, _OPENS, _OPENS_IF, _ELSE, _END, _USES_DATA = range(6)


def _action(info: OpInfo | None) -> int:
    if info is None:
        return _PLAIN  # never used: read_opcode rejects unused ids
    if info.imm in (IMM_BLOCKTYPE, IMM_TRY_TABLE):  # opened here, closed by an end
        return _OPENS_IF if info.code == BY_NAME["if"] else _OPENS
    if info.code == BY_NAME["else"]:
        return _ELSE
    if info.code == BY_NAME["end"]:
        return _END
    if info.imm in (IMM_MEMORY_INIT, IMM_DATA) or info.name in _DATA_ARRAY_OPS:
        # they need a data count section
        return _USES_DATA
    return _PLAIN


_ACTIONS: Final = tuple(_action(info) for info in OPERATORS)


def _readers_of(readers: tuple[Any, ...]) -> tuple[Any, ...]:
    """The immediates reader of each opcode id (None without immediates, or for an
    unused id), from ``readers`` (one per immediate kind)."""
    return tuple(
        None if info is None or info.imm == IMM_NONE else readers[info.imm] for info in OPERATORS
    )


_READERS: Final = _readers_of(READ_IMMEDIATES)
_READERS_32: Final = _readers_of(READ_IMMEDIATES_32)  # without memory64


#: the opcodes Wasm 2.0 does not have that a Wasm 2.0 decoding refuses as illegal (the
#: exception-handling instructions; see ``decode_module``'s ``exceptions``)
EXCEPTION_OPCODES: Final = frozenset(BY_NAME[n] for n in ("throw", "throw_ref", "try_table"))


def read_instructions(
    r: BinaryReader,
    consts: list[tuple[int, int, int]] | None = None,
    memory64: bool = True,
    illegal: frozenset[int] = frozenset(),
) -> bool:
    """Step over instructions through the ``end`` that closes the sequence.

    When ``consts`` is given, each outermost instruction is appended to it as
    ``(kind, value, offset)``: a ``ConstOpKind`` with its ``ConstOp`` value, or
    ``NON_CONSTANT`` with the instruction's opcode id.
    Returns whether ``memory.init`` or ``data.drop`` occurs (they need a data count).
    Without ``memory64``, memarg offsets are u32s.
    Opcodes in ``illegal`` are refused as the spec's decoder refuses unknown ones.
    """
    # one entry per open structured instruction: is it an `if` still open to an `else`?
    frames: list[bool] = []
    uses_data = False
    actions = _ACTIONS
    readers = _READERS if memory64 else _READERS_32
    while True:
        pos = r.pos
        op = read_opcode(r)
        if illegal and op in illegal:
            raise illegal_opcode_id(op, pos)
        action = actions[op]
        if action == _END:
            if not frames:
                return uses_data
            frames.pop()
            continue
        reader = readers[op]
        imm = None if reader is None else reader(r)
        if consts is not None and not frames:
            kind = CONST_OP_KINDS.get(op, NON_CONSTANT)
            value = op if kind == NON_CONSTANT else const_op_value(kind, imm)
            consts.append((kind, value, pos))
        if action:
            if action == _OPENS:
                frames.append(False)
            elif action == _OPENS_IF:
                frames.append(True)
            elif action == _ELSE:
                if not frames or not frames[-1]:
                    raise MalformedError("END opcode expected", pos)
                frames[-1] = False
            else:
                uses_data = True
