"""The validator's operand and control stacks: value-type classes, control frames, pops.

The operand stack is a list of value types (plain ints, ``UNKNOWN`` for a value popped
from a polymorphic stack); a control frame is a list indexed by ``KIND`` ...
``LABEL_TYPES``. Every pop checks the frame's height: below it, an unreachable frame
yields ``UNKNOWN`` and a reachable one is a type mismatch.
"""

from __future__ import annotations

from typing import Final

from cwasm.errors import InvalidError
from cwasm.wasm.operators import F32, F64, I32, I64, V128
from cwasm.wasm.types import val_subtype

UNKNOWN: Final = 0

NUMERIC_OR_VECTOR: Final = frozenset((I32, I64, F32, F64, V128, UNKNOWN))

#: the type-equivalence map (``canonical_types``) of the module whose body is being
#: validated: a pop that finds another type than the one expected accepts a subtype
#: (typed function references), compared through it. Set by ``set_canon``.
_canon: list[tuple[int, ...]] = [()]


def set_canon(canon: tuple[int, ...]) -> None:
    """Use ``canon`` for the subtype checks of the pops that follow."""
    _canon[0] = canon


def matches(a: int, t: int) -> bool:
    """Whether an operand of type ``a`` (or ``UNKNOWN``) can be popped as a ``t``."""
    return a == t or a == UNKNOWN or val_subtype(a, t, _canon[0])


# control frame kinds
FRAME_BLOCK: Final = 0
FRAME_LOOP: Final = 1
FRAME_IF: Final = 2
FRAME_ELSE: Final = 3
FRAME_FUNC: Final = 4

# a control frame: [kind, start types, end types, height, unreachable, label types]
# (label types: what a branch to the frame carries, its start types for a loop)
KIND, START_TYPES, END_TYPES, HEIGHT, UNREACHABLE, LABEL_TYPES = 0, 1, 2, 3, 4, 5


def mismatch(at: int) -> InvalidError:
    """The spec's "type mismatch" at module offset ``at``."""
    return InvalidError("type mismatch", at)


def pop_types(vals: list[int], height: int, unreach: bool, types: list[int], at: int) -> None:
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
            raise mismatch(at)
        a = vals.pop()
        if a != t and a != UNKNOWN and not val_subtype(a, t, _canon[0]):
            raise mismatch(at)


def pop_types_actual(
    vals: list[int], height: int, unreach: bool, types: list[int], at: int
) -> list[int]:
    """Like pop_types, returning the popped types (unknown where the stack was empty)."""
    out: list[int] = []
    for t in reversed(types):
        if len(vals) == height:
            if unreach:
                out.append(UNKNOWN)
                continue
            raise mismatch(at)
        a = vals.pop()
        if a != t and a != UNKNOWN and not val_subtype(a, t, _canon[0]):
            raise mismatch(at)
        out.append(a)
    out.reverse()
    return out


def pop_any(vals: list[int], height: int, unreach: bool, at: int) -> int:
    """Pop a value of any type; return its type."""
    if len(vals) == height:
        if unreach:
            return UNKNOWN
        raise mismatch(at)
    return vals.pop()


def pop_one(vals: list[int], height: int, unreach: bool, t: int, at: int) -> None:
    """Pop a value of type ``t``."""
    if len(vals) == height:
        if unreach:
            return
        raise mismatch(at)
    a = vals.pop()
    if a != t and a != UNKNOWN and not val_subtype(a, t, _canon[0]):
        raise mismatch(at)
