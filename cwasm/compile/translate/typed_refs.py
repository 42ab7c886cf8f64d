"""Typed function references (Wasm 3.0): ``call_ref``, ``ref.as_non_null``,
``br_on_null`` and ``br_on_non_null``.

A function reference is a pointer to a ``VMFuncRef`` (``cwasm.abi.vmoffsets``), null
for the null reference. ``call_ref $t`` calls through it without a signature check
(validation proved the callee's type equivalent to ``$t``), after a null check that
traps with ``NullReference``, as Wasmtime's does. ``funcref_callee`` is the part a
``return_call_ref`` shares: the null check and the (code, vmctx) pair it calls.
"""

from __future__ import annotations

from typing import Any

from cwasm.abi.vmoffsets import FUNCREF_VMCTX, FUNCREF_WASM_CALL
from cwasm.compile.translate.control import ControlMixin
from cwasm.compile.translate.driver import Handler
from cwasm.obj.traps import Trap


class TypedRefsMixin(ControlMixin):
    """The typed function reference instructions."""

    def funcref_callee(self) -> tuple[str, str]:
        """Pop a function reference, trap on null; its (wasm_call, vmctx) pointers."""
        fr = self.pop()
        self.trap_if(self.val(f"icmp eq ptr {fr}, null"), Trap.NullReference)
        callee = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_WASM_CALL)}")
        cvm = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_VMCTX)}")
        return callee, cvm

    def op_call_ref(self, type_index: int) -> None:
        ft = self.module.sig(type_index)
        callee, cvm = self.funcref_callee()
        self.emit_call(callee, cvm, ft)

    def op_ref_as_non_null(self, _imm: Any) -> None:
        _, v = self.stack[-1]
        self.trap_if(self.val(f"icmp eq ptr {v}, null"), Trap.NullReference)

    def op_br_on_null(self, depth: int) -> None:
        ref = self.pop()
        is_null = self.val(f"icmp eq ptr {ref}, null")
        frame = self.frames[-1 - depth]
        target = self.add_edge(frame, self.branch_values(frame))
        cont = self.label()
        self.ins(f"br i1 {is_null}, label %{target}, label %{cont}")
        self.start_block(cont)
        self.push("ptr", ref)

    def op_br_on_non_null(self, depth: int) -> None:
        _, ref = self.stack[-1]  # carried to the label, dropped on fall-through
        non_null = self.val(f"icmp ne ptr {ref}, null")
        frame = self.frames[-1 - depth]
        target = self.add_edge(frame, self.branch_values(frame))
        cont = self.label()
        self.ins(f"br i1 {non_null}, label %{target}, label %{cont}")
        self.start_block(cont)
        self.stack.pop()


HANDLERS: dict[str, Handler] = {
    "call_ref": TypedRefsMixin.op_call_ref,
    "ref.as_non_null": TypedRefsMixin.op_ref_as_non_null,
    "br_on_null": TypedRefsMixin.op_br_on_null,
    "br_on_non_null": TypedRefsMixin.op_br_on_non_null,
}
