"""The core of the function translator: one validated wasm function body → the text of
one LLVM IR function.

The translator walks the body once with the shared operator table, keeping the
wasm operand stack as LLVM SSA operands. Locals live in allocas (LLVM's SROA turns
them into registers); block and loop results become phi nodes at the merge points.
Every emitted instruction carries a debug location whose line is the module offset
of the wasm instruction it came from. Each trap check branches to its own block
that calls the trap routine for its code, with column = code + 1, so the compiler
can find the exact call in the object code afterwards.

This module holds what every handler stands on: the operand stack and control frames,
locals, labels, IR line emission, trap sites and the ``translate()`` loop, which looks
each instruction's handler up in ``handlers`` (the list ``dispatch`` builds) by opcode.
The handlers live in ``control``, ``environ``, ``numeric`` and ``simd``;
``FunctionTranslator`` (in the package) combines them.

Native ABI of a wasm function: ``(ptr vmctx, ptr caller_vmctx, params...)``
returning nothing, one value, or a literal struct of the results, in the calling
convention ``WASM_CC`` (``tailcc``: ``return_call`` reuses the caller's frame). Every function
checks its frame address against the store's stack limit first (then, when the engine
has them on, the fuel and epoch checks of ``interrupts``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, cast

from cwasm.abi.vmoffsets import CTX_STORE, STORE_STACK_LIMIT, VMOffsets
from cwasm.compile.irmodule import (
    ATTR_TRAP_CALL,
    ATTR_WASM,
    IR_ZERO,
    SECTION,
    WASM_CC,
    IRModule,
    ir_type,
    return_type,
)
from cwasm.compile.llvm_driver import HUGE_FUNCTION_BYTES
from cwasm.compile.translate import gc_roots
from cwasm.errors import CwasmError
from cwasm.obj.traps import Trap
from cwasm.wasm.operators import (
    BLOCK_EMPTY,
    BY_NAME,
    OPERATORS,
    READ_IMMEDIATES,
    read_opcode,
)
from cwasm.wasm.reader import BinaryReader
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import ValType

if TYPE_CHECKING:
    from cwasm.compile.translate import FunctionTranslator

#: an instruction's translation: called with the translator and the decoded immediate
Handler = Callable[["FunctionTranslator", Any], None]

BLOCK, LOOP, IF, FUNC = range(4)

#: the instructions translated even in unreachable code (they open and close frames)
STRUCTURE_OPS = frozenset(BY_NAME[n] for n in ("block", "loop", "if", "else", "end", "try_table"))


def func_symbol(func_index: int) -> str:
    return f"@f{func_index}"


def trap_symbol(code: int) -> str:
    return f"@trap{int(code)}"


@dataclass(slots=True)
class Frame:
    kind: int
    params: list[str]  # IR types
    results: list[str]
    height: int  # operand-stack height below the frame's parameters
    label: str  # branch target: the loop header, otherwise the end label
    end_label: str
    live: bool = True  # False: opened in unreachable code
    incoming: list[tuple[str, list[str]]] = field(default_factory=list)
    loop_incoming: list[tuple[str, list[str]]] = field(default_factory=list)
    loop_phis: list[str] = field(default_factory=list)
    phi_at: int = 0  # where the loop header's phi lines go
    else_label: str | None = None
    else_params: list[tuple[str, str]] | None = None  # if: the params for the else arm
    seen_else: bool = False
    # try_table (exceptions): its catch clauses, and when its body contains calls, the
    # label of its landing pad (docs/exceptions.md)
    catches: tuple[tuple[int, int, int], ...] = ()
    landing: str | None = None

    @property
    def branch_types(self) -> list[str]:
        return self.params if self.kind == LOOP else self.results


class TranslatorCore:
    """Translates one defined function; ``translate()`` appends it to the IRModule."""

    #: the handler of each opcode (``dispatch.HANDLERS``), set by ``FunctionTranslator``
    handlers: ClassVar[Sequence[Handler | None]] = ()

    def __init__(
        self, env: ModuleTranslation, offsets: VMOffsets, mod: IRModule, defined_index: int
    ) -> None:
        self.env = env
        self.module = env.module
        self.offsets = offsets
        self.mod = mod
        self.defined_index = defined_index
        self.func_index = env.module.num_imported_funcs + defined_index
        self.body = env.bodies[defined_index]
        self.ftype = env.module.sig(self.body.type_index)
        self.lines: list[str] = []
        self.trap_lines: list[str] = []
        #: allocas made after translation started; they join the entry block at the end,
        #: so no saved position in ``lines`` (a loop header's phis) ever shifts
        self.late_allocas: dict[str, str] = {}
        #: code that joins the entry block at the end, after the allocas, before the rest
        self.entry_code: list[str] = []
        #: the debug location of the function's entry (its stack-limit check)
        self.entry_loc = 0
        self.stack: list[tuple[str, str]] = []  # (IR type, operand)
        self.frames: list[Frame] = []
        self.local_types: list[str] = []
        self.reachable = True
        self.cur_label = "entry"
        self._tmp = 0
        self._lbl = 0
        self.offset = self.body.offset
        self._loc = 0
        self._locs: dict[tuple[int, int], int] = {}
        # lines count from the body's start (``line - 1`` bytes into it), so a function's
        # code does not depend on where the body sits in the module (an edit elsewhere
        # leaves it alone: incremental compilation); the compiler adds the body's offset
        self.scope = mod.subprogram(f"f{self.func_index}", 1)
        #: whether the function has a reachable ``loop`` (else LLVM gets a lighter pipeline)
        self.has_loop = False
        #: exceptions (``handlers.plan``): the offsets of the ``try_table``s that get a
        #: landing pad, and the number of open frames with one
        self.handler_trys: frozenset[int] = frozenset()
        self.landing_frames = 0
        #: GC root area (``gc_roots``): its most slots at a call, whether the function
        #: has one, and which locals hold GC references (computed on first use)
        self.gc_slots = 0
        self.gc_has_area = False
        self.gc_ref_locals: list[int] | None = None
        #: references popped for an allocation that are not stored in it yet
        self.gc_in_flight: list[str] = []

    # --- emission helpers ---

    def tmp(self) -> str:
        self._tmp += 1
        return f"%t{self._tmp}"

    def label(self) -> str:
        self._lbl += 1
        return f"L{self._lbl}"

    def loc(self, column: int = 0) -> int:
        key = (self.offset, column)
        n = self._locs.get(key)
        if n is None:
            n = self.mod.location(self.offset - self.body.offset + 1, column, self.scope)
            self._locs[key] = n
        return n

    def ins(self, text: str) -> None:
        if not self._loc:
            self._loc = self.loc()
        self.lines.append(f"  {text}, !dbg !{self._loc}")

    def val(self, text: str) -> str:
        """Emit ``%t = text`` and return ``%t``."""
        t = self.tmp()
        self.ins(f"{t} = {text}")
        return t

    def start_block(self, label: str) -> None:
        self.lines.append(f"{label}:")
        self.cur_label = label

    def push(self, ty: str, v: str) -> None:
        self.stack.append((ty, v))

    def pop(self) -> str:
        return self.stack.pop()[1]

    def pop_n(self, n: int) -> list[tuple[str, str]]:
        if n == 0:
            return []
        vals = self.stack[-n:]
        del self.stack[-n:]
        return vals

    def vm_field(self, offset: int) -> str:
        """A pointer to ``vmctx + offset``."""
        if offset == 0:
            return "%vmctx"
        return self.val(f"getelementptr inbounds i8, ptr %vmctx, i64 {offset}")

    def field_of(self, base: str, offset: int) -> str:
        if offset == 0:
            return base
        return self.val(f"getelementptr inbounds i8, ptr {base}, i64 {offset}")

    def trap_if(self, cond: str, code: int) -> None:
        """Branch to a fresh trap block for ``code`` when ``cond`` (an i1) holds."""
        trap = self.label()
        ok = self.label()
        self.ins(f"br i1 {cond}, label %{trap}, label %{ok}, !prof !{self.mod.md_unlikely}")
        self.emit_trap_block(trap, code)
        self.start_block(ok)

    def emit_trap_block(self, label: str, code: int) -> None:
        self.mod.trap_codes.add(int(code))
        loc = self.loc(code + 1)
        self.trap_lines.append(f"{label}:")
        self.trap_lines.append(
            f"  notail call void {trap_symbol(code)}(ptr %vmctx) {ATTR_TRAP_CALL}, !dbg !{loc}"
        )
        self.trap_lines.append("  unreachable")

    def trap_now(self, code: int) -> None:
        """Trap unconditionally here; the rest of the block is unreachable."""
        self.mod.trap_codes.add(int(code))
        loc = self.loc(code + 1)
        self.lines.append(
            f"  notail call void {trap_symbol(code)}(ptr %vmctx) {ATTR_TRAP_CALL}, !dbg !{loc}"
        )
        self.lines.append("  unreachable")
        self.set_unreachable()

    def set_unreachable(self) -> None:
        self.reachable = False
        frame = self.frames[-1]
        del self.stack[frame.height :]

    # --- block types ---

    def block_type(self, bt: int) -> tuple[list[str], list[str]]:
        if bt == BLOCK_EMPTY:
            return [], []
        if bt < 0:
            return [], [ir_type(-bt)]
        ft = self.module.sig(bt)
        return [ir_type(t) for t in ft.params], [ir_type(t) for t in ft.results]

    # --- the function ---

    def translate(self) -> None:
        env = self.env
        params = [ir_type(t) for t in self.ftype.params]
        results = [ir_type(t) for t in self.ftype.results]
        self.local_types = params + [ir_type(t) for t in self.body.local_types()]
        ret = return_type(self.ftype.results)
        arglist = ", ".join(
            [f"ptr align 16 dereferenceable({self.offsets.size}) %vmctx", "ptr %caller"]
            + [f"{t} %p{i}" for i, t in enumerate(params)]
        )
        header = (
            f"define hidden {WASM_CC} {ret} {func_symbol(self.func_index)}({arglist}) "
            f"{ATTR_WASM} "
            f"{SECTION} align 32 !dbg !{self.scope} {{"
        )
        self.lines.append("entry:")
        for i, t in enumerate(self.local_types):
            self.lines.append(f"  %l{i} = alloca {t}")
        for i, t in enumerate(self.local_types):
            v = f"%p{i}" if i < len(params) else IR_ZERO_BY_IR[t]
            self.lines.append(f"  store {t} {v}, ptr %l{i}")
        # stack-limit check
        loc = self.loc()
        self._loc = self.entry_loc = loc
        sctx_p = self.vm_field(CTX_STORE)
        sctx = self.val(f"load ptr, ptr {sctx_p}")
        limit = self.val(f"load i64, ptr {self.field_of(sctx, STORE_STACK_LIMIT)}")
        fp = self.val(f"call ptr {self.mod.use('llvm.frameaddress.p0')}(i32 0)")
        fpi = self.val(f"ptrtoint ptr {fp} to i64")
        self.trap_if(self.val(f"icmp ult i64 {fpi}, {limit}"), Trap.StackOverflow)
        this = cast("FunctionTranslator", self)
        # fuel and epoch checks (``interrupts``): hooks around every instruction
        interrupts = self.mod.consume_fuel or self.mod.epoch_interruption
        if interrupts:
            this.interrupts_entry(sctx)

        if 0x1F in env.wasm[self.body.code_start : self.body.end]:  # maybe a try_table
            this.plan_exceptions()
        fn = Frame(FUNC, [], results, 0, "Lret", "Lret")
        self.frames.append(fn)
        r = BinaryReader(env.wasm, self.body.code_start, self.body.end)
        handlers = self.handlers
        operators = OPERATORS
        readers = READ_IMMEDIATES
        while self.frames:
            start = r.pos
            op = read_opcode(r)
            info = operators[op]
            assert info is not None
            imm = readers[info.imm](r)
            if not self.reachable and op not in STRUCTURE_OPS:
                continue
            self.offset = start
            self._loc = 0
            h = handlers[op]
            if h is None:
                raise CwasmError(f"instruction {info.name} is not supported by the compiler")
            if interrupts:
                was_reachable = self.reachable
                this.interrupts_before_op(op)
                h(this, imm)
                this.interrupts_after_op(op, was_reachable)
            else:
                h(this, imm)
        gc_roots.finish(this)
        self.lines[1:1] = [*self.late_allocas.values(), *self.entry_code]
        self.lines.extend(self.trap_lines)
        self.lines.append("}")
        if self.handler_trys:  # landing pads: the personality routine finds them
            header = header.replace(" !dbg ", f" personality ptr {self.mod.personality()} !dbg ")
        self.mod.functions.append(header + "\n" + "\n".join(self.lines))
        if not self.has_loop:
            self.mod.loop_free.append(func_symbol(self.func_index)[1:])
        if self.body.end - self.body.code_start > HUGE_FUNCTION_BYTES:
            self.mod.huge.append(func_symbol(self.func_index)[1:])

    # --- locals ---

    def op_local_get(self, i: int) -> None:
        t = self.local_types[i]
        self.push(t, self.val(f"load {t}, ptr %l{i}"))

    def op_local_set(self, i: int) -> None:
        t, v = self.stack.pop()
        self.ins(f"store {t} {v}, ptr %l{i}")

    def op_local_tee(self, i: int) -> None:
        t, v = self.stack[-1]
        self.ins(f"store {t} {v}, ptr %l{i}")


IR_ZERO_BY_IR = {"i32": "0", "i64": "0", "float": "0.0", "double": "0.0", "ptr": "null"}
IR_ZERO_BY_IR["<2 x i64>"] = IR_ZERO[ValType.V128]

HANDLERS: dict[str, Handler] = {
    "local.get": TranslatorCore.op_local_get,
    "local.set": TranslatorCore.op_local_set,
    "local.tee": TranslatorCore.op_local_tee,
}
