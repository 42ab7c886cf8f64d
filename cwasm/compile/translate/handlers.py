"""Exception handler records (docs/exceptions.md): which ``try_table``s need one, and
keeping the store context's handler chain right when control leaves them.

A ``try_table`` whose body contains a call gets a handler record in its function's
frame, pushed onto the chain at ``STORE_EXN_HANDLER`` (``_setjmp`` into its jump
buffer) when the body starts. Every way out of the body takes the record off again:
its ``end``, a branch to a label outside it, ``return``, and a throw the function does
not catch itself. A throw from a callee finds the record through the chain and
``longjmp``s to it (``exceptions``). ``plan_exceptions`` finds these ``try_table``s and
the locals set in their bodies, which are accessed volatile (their values after the
second return of ``_setjmp`` must come from memory).
"""

from __future__ import annotations

from cwasm.abi.vmoffsets import CTX_STORE, STORE_EXN_HANDLER
from cwasm.compile.translate.driver import LOOP, Frame
from cwasm.compile.translate.environ import EnvironMixin
from cwasm.wasm.operators import BY_NAME, OPERATORS, READ_IMMEDIATES, read_opcode
from cwasm.wasm.reader import BinaryReader

_TRY_TABLE = BY_NAME["try_table"]
_OPENS = frozenset(BY_NAME[n] for n in ("block", "loop", "if"))
_END = BY_NAME["end"]
_CALLS = frozenset(
    BY_NAME[n] for n in ("call", "call_indirect", "call_ref") if n in BY_NAME
) | frozenset(BY_NAME[n] for n in ("return_call", "return_call_indirect") if n in BY_NAME)
_SETS = frozenset(BY_NAME[n] for n in ("local.set", "local.tee"))


def plan(wasm: bytes, start: int, end: int) -> tuple[frozenset[int], frozenset[int]]:
    """(offsets of the ``try_table``s whose bodies contain calls, locals set in them)."""
    r = BinaryReader(wasm, start, end)
    # per open frame: None for a block, loop or if; for a try_table [offset, calls?, sets]
    open_: list[list | None] = [None]
    trys: set[int] = set()
    volatile: set[int] = set()
    while r.pos < end:
        at = r.pos
        op = read_opcode(r)
        info = OPERATORS[op]
        assert info is not None
        imm = READ_IMMEDIATES[info.imm](r)
        if op == _TRY_TABLE:
            open_.append([at, False, set()])
        elif op in _OPENS:
            open_.append(None)
        elif op == _END:
            frame = open_.pop()
            if frame is not None:
                if frame[1]:
                    trys.add(frame[0])
                    volatile |= frame[2]
                outer = next((f for f in reversed(open_) if f is not None), None)
                if outer is not None:
                    outer[2] |= frame[2]
        elif op in _CALLS:
            for f in open_:
                if f is not None:
                    f[1] = True
        elif op in _SETS:
            inner = next((f for f in reversed(open_) if f is not None), None)
            if inner is not None:
                inner[2].add(imm)
    return frozenset(trys), frozenset(volatile)


class HandlersMixin(EnvironMixin):
    """The handler chain seen from one function: push, pop, and leaving frames."""

    def plan_exceptions(self) -> None:
        """Find the ``try_table``s that need handler records (see ``plan``)."""
        self.handler_trys, self.volatile_locals = plan(
            self.env.wasm, self.body.code_start, self.body.end
        )

    def handler_head(self) -> str:
        """A pointer to the store context's innermost-handler slot."""
        sctx = self.val(f"load ptr, ptr {self.vm_field(CTX_STORE)}")
        return self.field_of(sctx, STORE_EXN_HANDLER)

    def store_handler(self, value: str | None) -> None:
        """Make ``value`` (a handler record or the chain below them) the innermost."""
        assert value is not None
        self.ins(f"store ptr {value}, ptr {self.handler_head()}")

    def _outermost_left(self, target: int) -> Frame | None:
        """The outermost frame with a handler at index ``target`` or deeper."""
        for frame in self.frames[target:]:
            if frame.handler is not None:
                return frame
        return None

    def leave_handlers_edge(self, frame: Frame) -> str | None:
        """For a branch to ``frame`` that leaves frames with handlers: a block (after
        the body) that restores the chain and goes on to the target; else None."""
        index = next(i for i, f in enumerate(self.frames) if f is frame)
        outer = self._outermost_left(index)
        if outer is None:
            return None
        edge = self.label()
        target = frame.label if frame.kind == LOOP else frame.end_label
        sctx_p = self.tmp()
        sctx = self.tmp()
        head = self.tmp()
        self.trap_lines += [
            f"{edge}:",
            f"  {sctx_p} = getelementptr inbounds i8, ptr %vmctx, i64 {CTX_STORE}",
            f"  {sctx} = load ptr, ptr {sctx_p}",
            f"  {head} = getelementptr inbounds i8, ptr {sctx}, i64 {STORE_EXN_HANDLER}",
            f"  store ptr {outer.prev_handler}, ptr {head}",
            f"  br label %{target}",
        ]
        return edge

    def leave_all_handlers(self) -> None:
        """Restore the chain as it was when the function was entered (``return``, or a
        throw that leaves the function)."""
        outer = self._outermost_left(0)
        if outer is not None:
            self.store_handler(outer.prev_handler)
