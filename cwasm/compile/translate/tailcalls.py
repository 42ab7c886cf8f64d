"""Tail calls (WebAssembly 3.0): ``return_call`` and ``return_call_indirect``.

A tail call replaces the calling function's frame by the callee's, so a chain of tail
calls of any length runs in constant stack. Every wasm function (and host trampoline)
uses the calling convention ``WASM_CC`` (LLVM's ``tailcc``), in which a call marked
``tail`` and immediately returned is guaranteed to become a jump, even when the
callee's signature differs from the caller's (the callee pops its own stack arguments,
so LLVM can grow or shrink the argument area in place). ``emit_tail_call`` is that
path; each instruction only finds its callee the way its non-tail form does
(``direct_callee``, ``indirect_callee``: same traps, in the same order), so
``return_call_ref`` is one more handler over the funcref's fields.

``tail`` is a guarantee only for a call still in tail position when code is generated.
The optimiser keeps it there unless it can tell the callee's result (then the ``ret``
returns that value instead, and the call is an ordinary one): so the callee is always
a pointer loaded from a ``VMFuncRef`` (``direct_callee(opaque=True)``), never the
function's symbol. ``musttail``, which the optimiser must respect, is no way out: LLVM
22 miscompiles ``musttail`` ``tailcc`` calls that pass arguments on the stack.

What a replaced frame means elsewhere:

* the callee's prologue checks the stack limit as usual: the depth does not grow;
* a trap's backtrace (the frame-pointer chain) no longer holds the replaced frames,
  as under Wasmtime;
* the entry trampoline's jump buffer is untouched, so a trap after any number of
  tail calls still unwinds to it;
* fuel: the instruction costs 1 and the count is written back to the store first, as
  before a ``call`` (Wasmtime v28's rule, ``interrupts.SAVE_BEFORE``);
* a tail call to a host function jumps to its host trampoline, which calls the
  Python callable and returns to the wasm caller's caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cwasm.compile.irmodule import WASM_CC, return_type
from cwasm.compile.translate.driver import Handler
from cwasm.wasm.types import FuncType

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator


def emit_tail_call(t: FunctionTranslator, callee: str, cvm: str, ft: FuncType) -> None:
    """Tail-call ``callee`` (code pointer; ``cvm``: its vmctx), a wasm function of type
    ``ft`` whose results are the current function's, with the arguments on the stack;
    the rest of the block is unreachable."""
    args = t.call_args(ft.params)
    ret = return_type(ft.results)
    call = f"tail call {WASM_CC} {ret} {callee}(ptr {cvm}, ptr %vmctx{args})"
    if ft.results:
        t.ins(f"ret {ret} {t.val(call)}")
    else:
        t.ins(call)
        t.ins("ret void")
    t.set_unreachable()


def op_return_call(t: FunctionTranslator, func_index: int) -> None:
    # through the VMFuncRef even for a defined function: LLVM then knows nothing of the
    # callee, so it cannot replace the call's result by a value it inferred from the
    # callee's body (it does for self-recursion), which would leave a plain call
    callee, cvm = t.direct_callee(func_index, opaque=True)
    emit_tail_call(t, callee, cvm, t.module.func_type(func_index))


def op_return_call_indirect(t: FunctionTranslator, imm: tuple[int, int]) -> None:
    type_index, table_index = imm
    callee, cvm = t.indirect_callee(type_index, table_index)
    emit_tail_call(t, callee, cvm, t.module.types[type_index])


HANDLERS: dict[str, Handler] = {
    "return_call": op_return_call,
    "return_call_indirect": op_return_call_indirect,
}
