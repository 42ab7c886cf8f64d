"""Exception handling (docs/exceptions.md): ``throw``, ``throw_ref`` and ``try_table``.

A thrown exception is first matched against the catch clauses of the function's own
open ``try_table``s, innermost first, as plain compares and branches: a ``throw`` a
clause of the same function catches never leaves it, and needs no exception object
unless a ``catch_ref`` takes one. What the function does not catch goes to the
module's throw routine (``@exnthrow``), which raises it with the system unwinder: it
lands at the landing pad of the innermost ``try_table`` around a call on the way
(``handlers``), or at the entry trampoline's, which ends the call like a trap
(``TRAP_UNCAUGHT_EXCEPTION``). A landing pad matches the exception against its
clauses the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from cwasm.abi.builtins import Builtin
from cwasm.abi.vmoffsets import (
    CTX_STORE,
    EXN_ESCAPED,
    EXN_SIZE,
    EXN_TAG,
    EXN_VALUES,
    STORE_EXN,
    STORE_EXN_ARENA,
    STORE_EXN_ARENA_END,
    TRAP_UNCAUGHT_EXCEPTION,
    VALUE_SLOT_SIZE,
)
from cwasm.compile.irmodule import ATTR_THROW_CALL, ir_type
from cwasm.compile.translate import gc_roots
from cwasm.compile.translate.control import ControlMixin
from cwasm.compile.translate.driver import BLOCK, Frame, Handler
from cwasm.obj.traps import Trap
from cwasm.wasm.operators import CATCH_ALL, CATCH_ALL_REF, CATCH_REF

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator

#: the module's throw routine: ``void (ptr vmctx, ptr exn)``, never returns
THROW_SYMBOL = "@exnthrow"


class ExceptionsMixin(ControlMixin):
    """``throw``, ``throw_ref``, ``try_table``."""

    def tag_payload(self, tag: int) -> list[str]:
        """The IR types of tag ``tag``'s payload."""
        ft = self.module.sig(self.module.tags[tag])
        return [ir_type(t) for t in ft.params]

    def tag_identity(self, tag: int) -> str:
        return self.val(f"load ptr, ptr {self.vm_field(self.offsets.tag(tag))}")

    def new_exception(self, tag: int, payload: list[tuple[str, str]]) -> str:
        """A new exception of ``tag`` carrying ``payload``: its address. It is bumped off
        the store's exception arena; ``EXN_NEW`` starts a new chunk when that is full."""
        size = EXN_VALUES + VALUE_SLOT_SIZE * len(payload)
        sctx = self.val(f"load ptr, ptr {self.vm_field(CTX_STORE)}")
        cursor_p = self.field_of(sctx, STORE_EXN_ARENA)
        cur = self.val(f"load ptr, ptr {cursor_p}")
        end = self.val(f"load ptr, ptr {self.field_of(sctx, STORE_EXN_ARENA_END)}")
        nxt = self.val(f"getelementptr i8, ptr {cur}, i64 {size}")
        full = self.val(f"icmp ugt ptr {nxt}, {end}")
        fast, slow, join = self.label(), self.label(), self.label()
        self.ins(f"br i1 {full}, label %{slow}, label %{fast}, !prof !{self.mod.md_unlikely}")
        self.start_block(fast)
        self.ins(f"store ptr {nxt}, ptr {cursor_p}")
        self.ins(f"br label %{join}")
        self.start_block(slow)
        fresh = self.call_python_builtin(Builtin.EXN_NEW, str(tag))
        slow_end = self.cur_label
        self.ins(f"br label %{join}")
        self.start_block(join)
        exn = self.val(f"phi ptr [ {cur}, %{fast} ], [ {fresh}, %{slow_end} ]")
        self.ins(f"store ptr {self.tag_identity(tag)}, ptr {self.field_of(exn, EXN_TAG)}")
        self.ins(f"store i64 {size}, ptr {self.field_of(exn, EXN_SIZE)}")
        for i, (t, v) in enumerate(payload):
            p = self.field_of(exn, EXN_VALUES + VALUE_SLOT_SIZE * i)
            self.ins(f"store {t} {v}, ptr {p}, align 8")
        return exn

    def escape(self, exn: str) -> None:
        """Mark ``exn`` as referenced by an ``exnref`` (never reclaimed)."""
        p = self.field_of(exn, EXN_SIZE)
        size = self.val(f"load i64, ptr {p}")
        self.ins(f"store i64 {self.val(f'or i64 {size}, {EXN_ESCAPED}')}, ptr {p}")

    def release(self, exn: str) -> None:
        """Give ``exn`` (caught, its payload read) back to the arena if it is the last
        exception allocated and no ``exnref`` to it exists (``EXN_ESCAPED`` in its size
        makes the end address match no cursor)."""
        size = self.val(f"load i64, ptr {self.field_of(exn, EXN_SIZE)}")
        end = self.val(f"getelementptr i8, ptr {exn}, i64 {size}")
        sctx = self.val(f"load ptr, ptr {self.vm_field(CTX_STORE)}")
        cursor_p = self.field_of(sctx, STORE_EXN_ARENA)
        cur = self.val(f"load ptr, ptr {cursor_p}")
        last = self.val(f"icmp eq ptr {end}, {cur}")
        self.ins(f"store ptr {self.val(f'select i1 {last}, ptr {exn}, ptr {cur}')}, ptr {cursor_p}")

    def dispatch(
        self, exn: str | None, tag: int | None, payload: list[tuple[str, str]] | None
    ) -> None:
        """Deliver an exception (``exn``, or tag ``tag`` with ``payload`` not yet made
        into one) to the first matching catch clause of the open frames, innermost
        first, else throw it out of the function. Leaves the code unreachable."""
        n_imported = self.module.num_imported_tags
        for index in range(len(self.frames) - 1, -1, -1):
            frame = self.frames[index]
            if not frame.live:
                continue
            for kind, ctag, label in frame.catches:
                target = self.frames[index - 1 - label]
                if kind >= CATCH_ALL:
                    cond = None
                elif tag is not None:
                    if ctag == tag:
                        cond = None
                    elif tag >= n_imported or ctag >= n_imported:
                        continue  # a defined tag is no other tag
                    else:
                        a, b = self.tag_identity(tag), self.tag_identity(ctag)
                        cond = self.val(f"icmp eq ptr {a}, {b}")
                else:
                    assert exn is not None
                    mine = self.val(f"load ptr, ptr {self.field_of(exn, EXN_TAG)}")
                    cond = self.val(f"icmp eq ptr {mine}, {self.tag_identity(ctag)}")
                if kind == CATCH_REF or kind == CATCH_ALL_REF:
                    if exn is None:
                        assert tag is not None and payload is not None
                        exn = self.new_exception(tag, payload)
                miss = None
                if cond is not None:
                    hit, miss = self.label(), self.label()
                    self.ins(f"br i1 {cond}, label %{hit}, label %{miss}")
                    self.start_block(hit)
                values: list[str] = []
                if kind < CATCH_ALL:
                    if payload is not None:
                        values = [v for _, v in payload]
                    else:
                        assert exn is not None
                        for i, t in enumerate(self.tag_payload(ctag)):
                            p = self.field_of(exn, EXN_VALUES + VALUE_SLOT_SIZE * i)
                            values.append(self.val(f"load {t}, ptr {p}, align 8"))
                if kind == CATCH_REF or kind == CATCH_ALL_REF:
                    assert exn is not None
                    self.escape(exn)
                    values.append(exn)
                elif exn is not None:
                    self.release(exn)
                self.ins(f"br label %{self.add_edge(target, values)}")
                if miss is None:
                    self.set_unreachable()
                    return
                self.start_block(miss)
        if exn is None:
            assert tag is not None and payload is not None
            exn = self.new_exception(tag, payload)
        self.throw_out(exn)

    def throw_out(self, exn: str) -> None:
        """Throw ``exn`` to the function's callers (a plain call: no clause of this
        function's open ``try_table``s catches it, so none of its landing pads may)."""
        self.mod.trap_codes.add(TRAP_UNCAUGHT_EXCEPTION)  # the throw routine comes with it
        self.ins(f"call void {THROW_SYMBOL}(ptr %vmctx, ptr {exn}) {ATTR_THROW_CALL}")
        self.ins("unreachable")
        self.set_unreachable()

    def op_throw(self, tag: int) -> None:
        payload = self.pop_n(len(self.tag_payload(tag)))
        self.dispatch(None, tag, payload)

    def op_throw_ref(self, _imm: Any) -> None:
        exn = self.pop()
        self.trap_if(self.val(f"icmp eq ptr {exn}, null"), Trap.NullReference)
        self.dispatch(exn, None, None)

    def op_try_table(self, imm: tuple[int, tuple[tuple[int, int, int], ...]]) -> None:
        if not self.reachable:
            self.frames.append(Frame(BLOCK, [], [], len(self.stack), "", "", live=False))
            return
        bt, catches = imm
        params, results = self.block_type(bt)
        end = self.label()
        frame = Frame(BLOCK, params, results, len(self.stack) - len(params), end, end)
        frame.catches = catches
        if self.offset not in self.handler_trys:
            self.frames.append(frame)
            return
        # a landing pad, which every call in the body unwinds to (docs/exceptions.md)
        sctx = self.val(f"load ptr, ptr {self.vm_field(CTX_STORE)}")
        roots_head = gc_roots.head_at_try(cast("FunctionTranslator", self), sctx)
        land, body = self.label(), self.label()
        self.ins(f"br label %{body}")
        frame.landing = land
        self.frames.append(frame)
        self.landing_frames += 1
        # the landing: the exception is the store's current one; the frames above are gone
        self.start_block(land)
        self.lines.append(f"  {self.tmp()} = landingpad {{ ptr, i32 }} catch ptr null")
        gc_roots.land(cast("FunctionTranslator", self), sctx, roots_head)
        saved = self.stack[:]
        exn = self.val(f"load ptr, ptr {self.field_of(sctx, STORE_EXN)}")
        # the landing pad's own calls (the arena builtin) must not unwind to itself
        frame.landing = None
        self.landing_frames -= 1
        self.dispatch(exn, None, None)
        frame.landing = land
        self.landing_frames += 1
        self.stack = saved
        self.reachable = True
        self.start_block(body)


HANDLERS: dict[str, Handler] = {
    "throw": ExceptionsMixin.op_throw,
    "throw_ref": ExceptionsMixin.op_throw_ref,
    "try_table": ExceptionsMixin.op_try_table,
}
