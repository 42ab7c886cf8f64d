"""Tail calls (WebAssembly 3.0): ``return_call``, ``return_call_indirect`` and
``return_call_ref``.

A tail call replaces the calling function's frame by the callee's, so a chain of tail
calls of any length runs in constant stack. Every wasm function (and host trampoline)
uses the calling convention ``WASM_CC`` (LLVM's ``tailcc``), in which a call marked
``tail`` and immediately returned is guaranteed to become a jump, even when the
callee's signature differs from the caller's (the callee pops its own stack arguments,
so LLVM can grow or shrink the argument area in place). ``emit_tail_call`` is that
path; each instruction only finds its callee the way its non-tail form does
(``direct_callee``, ``indirect_callee``, ``funcref_callee``: same traps, in the same
order as ``call``, ``call_indirect`` and ``call_ref``).

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
from cwasm.compile.translate import gc_roots
from cwasm.compile.translate.driver import Handler
from cwasm.wasm.types import FuncType

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator


def emit_tail_call(t: FunctionTranslator, callee: str, cvm: str, ft: FuncType) -> None:
    """Tail-call ``callee`` (code pointer; ``cvm``: its vmctx), a wasm function of type
    ``ft`` whose results are the current function's, with the arguments on the stack;
    the rest of the block is unreachable."""
    keep_frame_record(t)
    args = t.call_args(ft.params)
    ret = return_type(ft.results)
    # the frame goes: its try_tables do not cover the callee (a plain ``tail call``)
    gc_roots.restore(t)
    call = f"tail call {WASM_CC} {ret} {callee}(ptr {cvm}, ptr %vmctx{args})"
    if ft.results:
        t.ins(f"ret {ret} {t.val(call)}")
    else:
        t.ins(call)
        t.ins("ret void")
    t.set_unreachable()


def keep_frame_record(t: FunctionTranslator) -> None:
    """Make the function's frame record hold its return address from entry on (x86-64).

    A function that tail-calls one taking more stack arguments than it received itself
    reserves room below its return address on entry, to move the address down there at
    the tail call; until then the word above its saved frame pointer is not the return
    address, and a backtrace walking the frame-pointer chain would lose the caller's
    frame. Storing the return address into that word on entry (where the tail call
    will put it anyway; in any other frame it is the return address's own slot) keeps
    the chain whole, as in Wasmtime (whose prologue grows the argument area at once).
    """
    if t.entry_code or t.mod.arch != "x86_64":
        return
    ra = t.mod.declare("llvm.returnaddress", "ptr", "i32")
    fa = t.mod.use("llvm.frameaddress.p0")
    dbg = f", !dbg !{t.entry_loc}"
    t.entry_code += [
        f"  %tc.ra = call ptr {ra}(i32 0){dbg}",
        f"  %tc.fp = call ptr {fa}(i32 0){dbg}",
        f"  %tc.slot = getelementptr inbounds i8, ptr %tc.fp, i64 8{dbg}",
        f"  store volatile ptr %tc.ra, ptr %tc.slot{dbg}",
    ]


def op_return_call(t: FunctionTranslator, func_index: int) -> None:
    # through the VMFuncRef even for a defined function: LLVM then knows nothing of the
    # callee, so it cannot replace the call's result by a value it inferred from the
    # callee's body (it does for self-recursion), which would leave a plain call
    callee, cvm = t.direct_callee(func_index, opaque=True)
    emit_tail_call(t, callee, cvm, t.module.func_type(func_index))


def op_return_call_indirect(t: FunctionTranslator, imm: tuple[int, int]) -> None:
    type_index, table_index = imm
    callee, cvm = t.indirect_callee(type_index, table_index)
    emit_tail_call(t, callee, cvm, t.module.sig(type_index))


def op_return_call_ref(t: FunctionTranslator, type_index: int) -> None:
    callee, cvm = t.funcref_callee()  # the null check, as call_ref's
    emit_tail_call(t, callee, cvm, t.module.sig(type_index))


HANDLERS: dict[str, Handler] = {
    "return_call": op_return_call,
    "return_call_indirect": op_return_call_indirect,
    "return_call_ref": op_return_call_ref,
}
