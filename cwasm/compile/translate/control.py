"""Control flow: blocks, loops, if/else, branches, returns, calls, and the parametric
instructions (``drop``, ``select``).

Block and loop results become phi nodes at the merge points; each branch records an
edge (its label and the values it carries) on the frame it targets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from cwasm.abi.builtins import Builtin
from cwasm.abi.vmoffsets import FUNCREF_TYPE_ID, FUNCREF_VMCTX, FUNCREF_WASM_CALL
from cwasm.compile.irmodule import WASM_CC, ir_type, return_type
from cwasm.compile.translate import gc_roots
from cwasm.compile.translate.driver import (
    BLOCK,
    FUNC,
    IF,
    LOOP,
    Frame,
    Handler,
    func_symbol,
)
from cwasm.compile.translate.handlers import HandlersMixin
from cwasm.compile.translate.interrupts import InterruptsMixin
from cwasm.obj.traps import Trap
from cwasm.wasm.types import FuncType, ValueType

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator


class ControlMixin(InterruptsMixin, HandlersMixin):
    """The control instructions; calls reach callees through the environment."""

    def branch_values(self, frame: Frame) -> list[str]:
        n = len(frame.branch_types)
        return [v for _, v in self.stack[len(self.stack) - n :]] if n else []

    def add_edge(self, frame: Frame, values: list[str]) -> str:
        """Record an edge from the current block to ``frame``'s target; returns the label."""
        if frame.kind == LOOP:
            frame.loop_incoming.append((self.cur_label, values))
            return frame.label
        frame.incoming.append((self.cur_label, values))
        return frame.end_label

    def op_unreachable(self, _imm: Any) -> None:
        self.trap_now(Trap.UnreachableCodeReached)

    def op_nop(self, _imm: Any) -> None:
        pass

    def op_block(self, bt: int) -> None:
        if not self.reachable:
            self.frames.append(Frame(BLOCK, [], [], len(self.stack), "", "", live=False))
            return
        params, results = self.block_type(bt)
        end = self.label()
        self.frames.append(Frame(BLOCK, params, results, len(self.stack) - len(params), end, end))

    def op_loop(self, bt: int) -> None:
        if not self.reachable:
            self.frames.append(Frame(LOOP, [], [], len(self.stack), "", "", live=False))
            return
        params, results = self.block_type(bt)
        self.has_loop = True
        header = self.label()
        end = self.label()
        entry_vals = [v for _, v in self.pop_n(len(params))]
        frame = Frame(LOOP, params, results, len(self.stack), header, end)
        frame.loop_incoming.append((self.cur_label, entry_vals))
        self.ins(f"br label %{header}")
        self.start_block(header)
        frame.phi_at = len(self.lines)
        for t in params:
            phi = self.tmp()
            frame.loop_phis.append(phi)
            self.push(t, phi)
        self.frames.append(frame)

    def op_if(self, bt: int) -> None:
        if not self.reachable:
            self.frames.append(Frame(IF, [], [], len(self.stack), "", "", live=False))
            return
        cond = self.pop()
        params, results = self.block_type(bt)
        then = self.label()
        els = self.label()
        end = self.label()
        c = self.val(f"icmp ne i32 {cond}, 0")
        self.ins(f"br i1 {c}, label %{then}, label %{els}")
        frame = Frame(IF, params, results, len(self.stack) - len(params), end, end)
        frame.else_label = els
        frame.else_params = self.stack[len(self.stack) - len(params) :] if params else []
        self.frames.append(frame)
        self.start_block(then)

    def op_else(self, _imm: Any) -> None:
        frame = self.frames[-1]
        if not frame.live:
            return
        if self.reachable:
            vals = [v for _, v in self.pop_n(len(frame.results))]
            frame.incoming.append((self.cur_label, vals))
            self.ins(f"br label %{frame.end_label}")
        del self.stack[frame.height :]
        assert frame.else_params is not None and frame.else_label is not None
        self.stack.extend(frame.else_params)
        frame.seen_else = True
        self.reachable = True
        self.start_block(frame.else_label)

    def op_end(self, _imm: Any) -> None:
        frame = self.frames[-1]
        if not frame.live:
            self.frames.pop()
            return
        if frame.landing is not None:
            self.landing_frames -= 1
        if self.reachable:
            vals = [v for _, v in self.pop_n(len(frame.results))]
            frame.incoming.append((self.cur_label, vals))
            self.ins(f"br label %{frame.end_label}")
        if frame.kind == IF and not frame.seen_else:
            # the implicit else passes the parameters through
            assert frame.else_label is not None and frame.else_params is not None
            self.start_block(frame.else_label)
            self.lines.append(f"  br label %{frame.end_label}")
            frame.incoming.append((frame.else_label, [v for _, v in frame.else_params]))
        if frame.kind == LOOP:
            self.finish_loop_phis(frame)
        self.frames.pop()
        del self.stack[frame.height :]
        self.start_block(frame.end_label)
        if not frame.incoming:
            self.lines.append("  unreachable")
            self.reachable = False
            return
        self.reachable = True
        for i, t in enumerate(frame.results):
            self.push(t, self.merge(t, [(lbl, vals[i]) for lbl, vals in frame.incoming]))
        if frame.kind == FUNC:
            self.interrupts_exit()
            self.emit_return()

    def merge(self, ty: str, incoming: list[tuple[str, str]]) -> str:
        first = incoming[0][1]
        if all(v == first for _, v in incoming):
            return first
        phi = self.tmp()
        arms = ", ".join(f"[ {v}, %{lbl} ]" for lbl, v in incoming)
        self.ins(f"{phi} = phi {ty} {arms}")
        return phi

    def finish_loop_phis(self, frame: Frame) -> None:
        if not frame.loop_phis:
            return
        phis = []
        for i, (phi, t) in enumerate(zip(frame.loop_phis, frame.params, strict=True)):
            arms = ", ".join(f"[ {vals[i]}, %{lbl} ]" for lbl, vals in frame.loop_incoming)
            phis.append(f"  {phi} = phi {t} {arms}")
        self.lines[frame.phi_at : frame.phi_at] = phis

    def emit_return(self) -> None:
        results = (
            self.frames[0].results if self.frames else [ir_type(t) for t in self.ftype.results]
        )
        vals = self.pop_n(len(results))
        gc_roots.restore(cast("FunctionTranslator", self))
        if not results:
            self.ins("ret void")
        elif len(results) == 1:
            self.ins(f"ret {vals[0][0]} {vals[0][1]}")
        else:
            sty = "{" + ", ".join(results) + "}"
            agg = "poison"
            for i, (t, v) in enumerate(vals):
                agg = self.val(f"insertvalue {sty} {agg}, {t} {v}, {i}")
            self.ins(f"ret {sty} {agg}")

    def op_br(self, depth: int) -> None:
        frame = self.frames[-1 - depth]
        target = self.add_edge(frame, self.branch_values(frame))
        self.ins(f"br label %{target}")
        self.set_unreachable()

    def op_br_if(self, depth: int) -> None:
        cond = self.pop()
        frame = self.frames[-1 - depth]
        c = self.val(f"icmp ne i32 {cond}, 0")
        target = self.add_edge(frame, self.branch_values(frame))
        cont = self.label()
        self.ins(f"br i1 {c}, label %{target}, label %{cont}")
        self.start_block(cont)

    def op_br_table(self, imm: tuple[tuple[int, ...], int]) -> None:
        targets, default = imm
        index = self.pop()

        def edge(depth: int) -> str:
            # one phi entry per edge: a block reached by several cases gets several
            frame = self.frames[-1 - depth]
            return self.add_edge(frame, self.branch_values(frame))

        cases = " ".join(f"i32 {i}, label %{edge(d)}" for i, d in enumerate(targets))
        self.ins(f"switch i32 {index}, label %{edge(default)} [ {cases} ]")
        self.set_unreachable()

    def op_return(self, _imm: Any) -> None:
        self.emit_return()
        self.set_unreachable()

    # --- calls ---

    def call_args(self, ft_params: tuple[ValueType, ...]) -> str:
        vals = self.pop_n(len(ft_params))
        return "".join(f", {t} {v}" for t, v in vals)

    def push_results(self, call_text: str, results: tuple[ValueType, ...]) -> None:
        if not results:
            self.ins(call_text)
            return
        r = self.val(call_text)
        if len(results) == 1:
            self.push(ir_type(results[0]), r)
            return
        sty = return_type(results)
        for i, t in enumerate(results):
            self.push(ir_type(t), self.val(f"extractvalue {sty} {r}, {i}"))

    def direct_callee(self, func_index: int, opaque: bool = False) -> tuple[str, str]:
        """The (code pointer, vmctx) operands that call function ``func_index``: its
        symbol for a defined function, unless ``opaque`` (then, as for an import, the
        pointer loaded from its ``VMFuncRef``, which the optimiser cannot see through)."""
        if func_index >= self.module.num_imported_funcs and not opaque:
            self.mod.callees.add(func_index)
            return func_symbol(func_index), "%vmctx"
        fr = self.vm_field(self.offsets.func_ref(func_index))
        callee = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_WASM_CALL)}")
        cvm = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_VMCTX)}")
        return callee, cvm

    def indirect_callee(self, type_index: int, table_index: int) -> tuple[str, str]:
        """Pop the table index and check the element as ``call_indirect`` does (null,
        signature); the (code pointer, vmctx) operands that call it."""
        index = self.pop()
        slot = self.table_slot(table_index, index)
        fr = self.val(f"load ptr, ptr {slot}")
        self.trap_if(self.val(f"icmp eq ptr {fr}, null"), Trap.IndirectCallToNull)
        tid = self.val(f"load i32, ptr {self.field_of(fr, FUNCREF_TYPE_ID)}")
        want = self.val(f"load i32, ptr {self.vm_field(self.offsets.type_id(type_index))}")
        subs = self.module.sub_types
        if subs and not subs[type_index].final:
            self.check_subtype(tid, want)
        else:  # a final type has no subtypes: the ids are equal or the call traps
            self.trap_if(self.val(f"icmp ne i32 {tid}, {want}"), Trap.BadSignature)
        callee = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_WASM_CALL)}")
        cvm = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_VMCTX)}")
        return callee, cvm

    def check_subtype(self, tid: str, want: str) -> None:
        """Trap with ``BadSignature`` unless engine type id ``tid`` is ``want`` or one of
        its declared subtypes (GC): equal ids inline, else the ``TYPE_IS_SUBTYPE``
        builtin walks the registry's supertype chain."""
        slow = self.label()
        done = self.label()
        self.ins(f"br i1 {self.val(f'icmp ne i32 {tid}, {want}')}, label %{slow}, label %{done}")
        self.start_block(slow)
        r = self.call_python_builtin(Builtin.TYPE_IS_SUBTYPE, tid, want)
        self.trap_if(self.val(f"icmp eq i32 {r}, 0"), Trap.BadSignature)
        self.ins(f"br label %{done}")
        self.start_block(done)

    def emit_call(self, callee: str, cvm: str, ft: FuncType) -> None:
        """Call ``callee`` (a wasm function of type ``ft``) with the arguments on the stack;
        push its results."""
        args = self.call_args(ft.params)
        ret = return_type(ft.results)
        gc_roots.spill(cast("FunctionTranslator", self))
        landing = self.innermost_landing()
        if landing is None:
            self.push_results(
                f"notail call {WASM_CC} {ret} {callee}(ptr {cvm}, ptr %vmctx{args})", ft.results
            )
            return
        # inside a try_table's body: what the callee throws lands at its landing pad
        normal = self.label()
        call = f"invoke {WASM_CC} {ret} {callee}(ptr {cvm}, ptr %vmctx{args})"
        call += f" to label %{normal} unwind label %{landing}"
        if not ft.results:
            self.ins(call)
            self.start_block(normal)
            return
        r = self.val(call)
        self.start_block(normal)
        if len(ft.results) == 1:
            self.push(ir_type(ft.results[0]), r)
            return
        for i, t in enumerate(ft.results):
            self.push(ir_type(t), self.val(f"extractvalue {ret} {r}, {i}"))

    def op_call(self, func_index: int) -> None:
        callee, cvm = self.direct_callee(func_index)
        self.emit_call(callee, cvm, self.module.func_type(func_index))

    def op_call_indirect(self, imm: tuple[int, int]) -> None:
        type_index, table_index = imm
        callee, cvm = self.indirect_callee(type_index, table_index)
        self.emit_call(callee, cvm, self.module.sig(type_index))

    # --- parametric ---

    def op_drop(self, _imm: Any) -> None:
        self.stack.pop()

    def op_select(self, _imm: Any) -> None:
        cond = self.pop()
        b = self.pop()
        ty, a = self.stack.pop()
        c = self.val(f"icmp ne i32 {cond}, 0")
        self.push(ty, self.val(f"select i1 {c}, {ty} {a}, {ty} {b}"))


HANDLERS: dict[str, Handler] = {
    "unreachable": ControlMixin.op_unreachable,
    "nop": ControlMixin.op_nop,
    "block": ControlMixin.op_block,
    "loop": ControlMixin.op_loop,
    "if": ControlMixin.op_if,
    "else": ControlMixin.op_else,
    "end": ControlMixin.op_end,
    "br": ControlMixin.op_br,
    "br_if": ControlMixin.op_br_if,
    "br_table": ControlMixin.op_br_table,
    "return": ControlMixin.op_return,
    "call": ControlMixin.op_call,
    "call_indirect": ControlMixin.op_call_indirect,
    "drop": ControlMixin.op_drop,
    "select": ControlMixin.op_select,
    "select_t": ControlMixin.op_select,
}
