"""Which ``try_table``s get a landing pad (docs/exceptions.md), and the innermost one a
call inside a body unwinds to.

A ``try_table`` whose body contains a call gets a landing pad: every call in its body
(outside nested ones that have their own) is an ``invoke`` that unwinds there when the
callee throws, at no cost when it does not. ``plan_exceptions`` finds these
``try_table``s by one scan of the body.
"""

from __future__ import annotations

from cwasm.compile.translate.environ import EnvironMixin
from cwasm.wasm.operators import BY_NAME, OPERATORS, READ_IMMEDIATES, read_opcode
from cwasm.wasm.reader import BinaryReader

_TRY_TABLE = BY_NAME["try_table"]
_OPENS = frozenset(BY_NAME[n] for n in ("block", "loop", "if"))
_END = BY_NAME["end"]
_CALLS = frozenset(
    BY_NAME[n] for n in ("call", "call_indirect", "call_ref") if n in BY_NAME
) | frozenset(BY_NAME[n] for n in ("return_call", "return_call_indirect") if n in BY_NAME)


def plan(wasm: bytes, start: int, end: int) -> frozenset[int]:
    """The offsets of the ``try_table``s whose bodies contain calls."""
    r = BinaryReader(wasm, start, end)
    # per open frame: None for a block, loop or if; for a try_table [offset, calls?]
    open_: list[list | None] = [None]
    trys: set[int] = set()
    while r.pos < end:
        at = r.pos
        op = read_opcode(r)
        info = OPERATORS[op]
        assert info is not None
        READ_IMMEDIATES[info.imm](r)
        if op == _TRY_TABLE:
            open_.append([at, False])
        elif op in _OPENS:
            open_.append(None)
        elif op == _END:
            frame = open_.pop()
            if frame is not None and frame[1]:
                trys.add(frame[0])
        elif op in _CALLS:
            for f in open_:
                if f is not None:
                    f[1] = True
    return frozenset(trys)


class HandlersMixin(EnvironMixin):
    """The landing pads seen from one function."""

    def plan_exceptions(self) -> None:
        """Find the ``try_table``s that get landing pads (see ``plan``)."""
        self.handler_trys = plan(self.env.wasm, self.body.code_start, self.body.end)

    def innermost_landing(self) -> str | None:
        """The landing pad a call made here unwinds to, or None (the call is a plain
        ``call``: what it throws leaves the function)."""
        if not self.landing_frames:
            return None
        for frame in reversed(self.frames):
            if frame.landing is not None:
                return frame.landing
        return None
