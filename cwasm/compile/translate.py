"""FunctionTranslator: one validated wasm function body → the text of one LLVM IR function.

The translator walks the body once with the shared operator table, keeping the
wasm operand stack as LLVM SSA operands. Locals live in allocas (LLVM's SROA turns
them into registers); block and loop results become phi nodes at the merge points.
Every emitted instruction carries a debug location whose line is the module offset
of the wasm instruction it came from. Each trap check branches to its own block
that calls the trap routine for its code, with column = code + 1, so the compiler
can find the exact call in the object code afterwards. With guard pages
(``IRModule.guard_pages``) linear-memory accesses carry no check: they are volatile
accesses in address space 258 (``ss:``), so each one stays where wasm put it and can be
found in the machine code as a trap site.

Native ABI of a wasm function: ``(ptr vmctx, ptr caller_vmctx, params...)``
returning nothing, one value, or a literal struct of the results. Every function
checks its frame address against the store's stack limit first.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cwasm.abi.builtins import Builtin
from cwasm.abi.guard_layout import GUARD_SIZE
from cwasm.abi.vmoffsets import (
    CTX_STORE,
    DEF_LENGTH,
    FUNCREF_TYPE_ID,
    FUNCREF_VMCTX,
    FUNCREF_WASM_CALL,
    STORE_STACK_LIMIT,
    TRAP_HOST_EXCEPTION,
    VMOffsets,
)
from cwasm.compile.irmodule import (
    ATTR_STRICTFP,
    ATTR_TRAP_CALL,
    ATTR_WASM,
    HEAP,
    INVARIANT,
    IR_ZERO,
    SECTION,
    VMCTX,
    IRModule,
    f64_hex,
    ir_type,
    return_type,
)
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

#: pointer type of guard-mode linear-memory accesses: x86 address space 258 is the
#: ``ss:`` segment, whose prefix marks the faulting instructions in the machine code
GUARDED_PTR = "ptr addrspace(258)"

_BLOCK, _LOOP, _IF, _FUNC = range(4)
_STRICT = 'metadata !"round.tonearest", metadata !"fpexcept.strict"'


def func_symbol(func_index: int) -> str:
    return f"@f{func_index}"


def trap_symbol(code: int) -> str:
    return f"@trap{int(code)}"


@dataclass(slots=True)
class _Frame:
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

    @property
    def branch_types(self) -> list[str]:
        return self.params if self.kind == _LOOP else self.results


class FunctionTranslator:
    """Translates one defined function; ``translate()`` appends it to the IRModule."""

    def __init__(
        self, env: ModuleTranslation, offsets: VMOffsets, mod: IRModule, defined_index: int
    ) -> None:
        self.env = env
        self.offsets = offsets
        self.mod = mod
        self.defined_index = defined_index
        self.func_index = env.num_imported_funcs + defined_index
        self.body = env.bodies[defined_index]
        self.ftype = env.types[self.body.type_index]
        self.lines: list[str] = []
        self.trap_lines: list[str] = []
        #: allocas made after translation started; they join the entry block at the end,
        #: so no saved position in ``lines`` (a loop header's phis) ever shifts
        self.late_allocas: dict[str, str] = {}
        self.stack: list[tuple[str, str]] = []  # (IR type, operand)
        self.frames: list[_Frame] = []
        self.local_types: list[str] = []
        self.reachable = True
        self.cur_label = "entry"
        self._tmp = 0
        self._lbl = 0
        self.offset = self.body.offset
        self._loc = 0
        self._locs: dict[tuple[int, int], int] = {}
        self.scope = mod.subprogram(f"f{self.func_index}", self.body.offset)

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
            n = self.mod.location(self.offset, column, self.scope)
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
        ft = self.env.types[bt]
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
            f"define hidden {ret} {func_symbol(self.func_index)}({arglist}) {ATTR_WASM} "
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
        self._loc = loc
        sctx_p = self.vm_field(CTX_STORE)
        sctx = self.val(f"load ptr, ptr {sctx_p}")
        limit = self.val(f"load i64, ptr {self.field_of(sctx, STORE_STACK_LIMIT)}")
        fp = self.val(f"call ptr {self.mod.use('llvm.frameaddress.p0')}(i32 0)")
        fpi = self.val(f"ptrtoint ptr {fp} to i64")
        self.trap_if(self.val(f"icmp ult i64 {fpi}, {limit}"), Trap.StackOverflow)

        fn = _Frame(_FUNC, [], results, 0, "Lret", "Lret")
        self.frames.append(fn)
        r = BinaryReader(env.wasm, self.body.code_start, self.body.end)
        handlers = _HANDLERS
        operators = OPERATORS
        readers = READ_IMMEDIATES
        while self.frames:
            start = r.pos
            op = read_opcode(r)
            info = operators[op]
            assert info is not None
            imm = readers[info.imm](r)
            if not self.reachable and op not in _STRUCTURE_OPS:
                continue
            self.offset = start
            self._loc = 0
            h = handlers[op]
            if h is None:
                raise CwasmError(f"instruction {info.name} is not supported by the compiler")
            h(self, imm)
        self.lines[1:1] = self.late_allocas.values()
        self.lines.extend(self.trap_lines)
        self.lines.append("}")
        self.mod.functions.append(header + "\n" + "\n".join(self.lines))

    # --- control ---

    def branch_values(self, frame: _Frame) -> list[str]:
        n = len(frame.branch_types)
        return [v for _, v in self.stack[len(self.stack) - n :]] if n else []

    def add_edge(self, frame: _Frame, values: list[str]) -> str:
        """Record an edge from the current block to ``frame``'s target; returns the label."""
        if frame.kind == _LOOP:
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
            self.frames.append(_Frame(_BLOCK, [], [], len(self.stack), "", "", live=False))
            return
        params, results = self.block_type(bt)
        end = self.label()
        self.frames.append(_Frame(_BLOCK, params, results, len(self.stack) - len(params), end, end))

    def op_loop(self, bt: int) -> None:
        if not self.reachable:
            self.frames.append(_Frame(_LOOP, [], [], len(self.stack), "", "", live=False))
            return
        params, results = self.block_type(bt)
        header = self.label()
        end = self.label()
        entry_vals = [v for _, v in self.pop_n(len(params))]
        frame = _Frame(_LOOP, params, results, len(self.stack), header, end)
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
            self.frames.append(_Frame(_IF, [], [], len(self.stack), "", "", live=False))
            return
        cond = self.pop()
        params, results = self.block_type(bt)
        then = self.label()
        els = self.label()
        end = self.label()
        c = self.val(f"icmp ne i32 {cond}, 0")
        self.ins(f"br i1 {c}, label %{then}, label %{els}")
        frame = _Frame(_IF, params, results, len(self.stack) - len(params), end, end)
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
        if self.reachable:
            vals = [v for _, v in self.pop_n(len(frame.results))]
            frame.incoming.append((self.cur_label, vals))
            self.ins(f"br label %{frame.end_label}")
        if frame.kind == _IF and not frame.seen_else:
            # the implicit else passes the parameters through
            assert frame.else_label is not None and frame.else_params is not None
            self.start_block(frame.else_label)
            self.lines.append(f"  br label %{frame.end_label}")
            frame.incoming.append((frame.else_label, [v for _, v in frame.else_params]))
        if frame.kind == _LOOP:
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
        if frame.kind == _FUNC:
            self.emit_return()

    def merge(self, ty: str, incoming: list[tuple[str, str]]) -> str:
        first = incoming[0][1]
        if all(v == first for _, v in incoming):
            return first
        phi = self.tmp()
        arms = ", ".join(f"[ {v}, %{lbl} ]" for lbl, v in incoming)
        self.ins(f"{phi} = phi {ty} {arms}")
        return phi

    def finish_loop_phis(self, frame: _Frame) -> None:
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

    def call_args(self, ft_params: tuple[ValType, ...]) -> str:
        vals = self.pop_n(len(ft_params))
        return "".join(f", {t} {v}" for t, v in vals)

    def push_results(self, call_text: str, results: tuple[ValType, ...]) -> None:
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

    def op_call(self, func_index: int) -> None:
        ft = self.env.func_type(func_index)
        ret = return_type(ft.results)
        args = self.call_args(ft.params)
        if func_index >= self.env.num_imported_funcs:
            callee, cvm = func_symbol(func_index), "%vmctx"
        else:
            fr = self.vm_field(self.offsets.func_ref(func_index))
            callee = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_WASM_CALL)}")
            cvm = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_VMCTX)}")
        self.push_results(f"notail call {ret} {callee}(ptr {cvm}, ptr %vmctx{args})", ft.results)

    def table_def(self, table_index: int) -> str:
        """Pointer to the table's definition (base, length)."""
        o = self.offsets
        if table_index < self.env.num_imported_tables:
            return self.val(f"load ptr, ptr {self.vm_field(o.imported_table(table_index))}")
        return self.vm_field(o.defined_table(table_index - self.env.num_imported_tables))

    def table_slot(self, table_index: int, index: str) -> str:
        """Bounds-checked pointer to element ``index`` (an i32) of a table."""
        d = self.table_def(table_index)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        idx = self.val(f"zext i32 {index} to i64")
        self.trap_if(self.val(f"icmp uge i64 {idx}, {length}"), Trap.TableOutOfBounds)
        base = self.val(f"load ptr, ptr {d}{VMCTX}")
        return self.val(f"getelementptr inbounds ptr, ptr {base}, i64 {idx}")

    def op_call_indirect(self, imm: tuple[int, int]) -> None:
        type_index, table_index = imm
        ft = self.env.types[type_index]
        index = self.pop()
        slot = self.table_slot(table_index, index)
        fr = self.val(f"load ptr, ptr {slot}")
        self.trap_if(self.val(f"icmp eq ptr {fr}, null"), Trap.IndirectCallToNull)
        tid = self.val(f"load i32, ptr {self.field_of(fr, FUNCREF_TYPE_ID)}")
        want = self.val(f"load i32, ptr {self.vm_field(self.offsets.type_id(type_index))}")
        self.trap_if(self.val(f"icmp ne i32 {tid}, {want}"), Trap.BadSignature)
        callee = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_WASM_CALL)}")
        cvm = self.val(f"load ptr, ptr {self.field_of(fr, FUNCREF_VMCTX)}")
        ret = return_type(ft.results)
        args = self.call_args(ft.params)
        self.push_results(f"notail call {ret} {callee}(ptr {cvm}, ptr %vmctx{args})", ft.results)

    # --- parametric ---

    def op_drop(self, _imm: Any) -> None:
        self.stack.pop()

    def op_select(self, _imm: Any) -> None:
        cond = self.pop()
        b = self.pop()
        ty, a = self.stack.pop()
        c = self.val(f"icmp ne i32 {cond}, 0")
        self.push(ty, self.val(f"select i1 {c}, {ty} {a}, {ty} {b}"))

    # --- variables ---

    def op_local_get(self, i: int) -> None:
        t = self.local_types[i]
        self.push(t, self.val(f"load {t}, ptr %l{i}"))

    def op_local_set(self, i: int) -> None:
        t, v = self.stack.pop()
        self.ins(f"store {t} {v}, ptr %l{i}")

    def op_local_tee(self, i: int) -> None:
        t, v = self.stack[-1]
        self.ins(f"store {t} {v}, ptr %l{i}")

    def global_ptr(self, index: int) -> str:
        o = self.offsets
        if index < self.env.num_imported_globals:
            return self.val(f"load ptr, ptr {self.vm_field(o.imported_global(index))}")
        return self.vm_field(o.defined_global(index - self.env.num_imported_globals))

    def op_global_get(self, index: int) -> None:
        t = ir_type(self.env.globals[index].content)
        self.push(t, self.val(f"load {t}, ptr {self.global_ptr(index)}, align 8{VMCTX}"))

    def op_global_set(self, index: int) -> None:
        t, v = self.stack.pop()
        self.state_store(t, v, self.global_ptr(index), f", align 8{VMCTX}")

    # --- tables and references ---

    def op_table_get(self, table_index: int) -> None:
        index = self.pop()
        slot = self.table_slot(table_index, index)
        self.push("ptr", self.val(f"load ptr, ptr {slot}"))

    def op_table_set(self, table_index: int) -> None:
        value = self.pop()
        index = self.pop()
        slot = self.table_slot(table_index, index)
        self.state_store("ptr", value, slot)

    def state_store(self, ty: str, v: str, p: str, attrs: str = "") -> None:
        """Store to instance state outside linear memory (a global, a table slot).

        With guard pages a linear-memory access may fault, and LLVM does not know that:
        it would sink an ordinary store past the (volatile) access, even out of a loop
        the fault leaves, and the trap would lose the store. A volatile store keeps its
        place among the volatile memory accesses; explicit checks trap through calls,
        which LLVM already never moves a store across.
        """
        volatile = "volatile " if self.mod.guard_pages else ""
        self.ins(f"store {volatile}{ty} {v}, ptr {p}{attrs}")

    def op_table_size(self, table_index: int) -> None:
        d = self.table_def(table_index)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        self.push("i32", self.val(f"trunc i64 {length} to i32"))

    def builtin(self, b: Builtin) -> str:
        return self.val(f"load ptr, ptr {self.vm_field(self.offsets.builtin(b))}")

    def call_python_builtin(self, b: Builtin, *operands: str) -> str:
        """Call a builtin that runs Python with ``operands`` for the parameters between
        vmctx and done; returns its result operand.

        The callee sets a completion flag as its last act. If ctypes could not run the
        Python code at all (it then returns garbage), the flag stays 0 and we trap out
        with ``TRAP_HOST_EXCEPTION`` instead of using that result.
        """
        self.late_allocas.setdefault("%done", "  %done = alloca i64, align 8")
        fn = self.builtin(b)
        self.ins("store i64 0, ptr %done")
        r = self.val(b.ir_call(fn, ("%vmctx", *operands, "%done")))
        flag = self.val("load i64, ptr %done")
        self.trap_if(self.val(f"icmp eq i64 {flag}, 0"), TRAP_HOST_EXCEPTION)
        return r

    def call_builtin_checked(self, b: Builtin, code: int, *operands: str) -> None:
        """Call a status-returning builtin; a non-zero status traps with ``code``."""
        st = self.call_python_builtin(b, *operands)
        self.trap_if(self.val(f"icmp ne i32 {st}, 0"), code)

    def op_table_grow(self, table_index: int) -> None:
        delta = self.pop()
        init = self.pop()
        r = self.call_python_builtin(Builtin.TABLE_GROW, str(table_index), delta, init)
        self.push("i32", r)

    def op_table_fill(self, table_index: int) -> None:
        n = self.pop()
        value = self.pop()
        dst = self.pop()
        self.call_builtin_checked(
            Builtin.TABLE_FILL, Trap.TableOutOfBounds, str(table_index), dst, value, n
        )

    def op_table_copy(self, imm: tuple[int, int]) -> None:
        dst_t, src_t = imm
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        self.call_builtin_checked(
            Builtin.TABLE_COPY, Trap.TableOutOfBounds, str(dst_t), str(src_t), dst, src, n
        )

    def op_table_init(self, imm: tuple[int, int]) -> None:
        elem, table = imm
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        self.call_builtin_checked(
            Builtin.TABLE_INIT, Trap.TableOutOfBounds, str(table), str(elem), dst, src, n
        )

    def op_elem_drop(self, elem: int) -> None:
        self.call_python_builtin(Builtin.ELEM_DROP, str(elem))

    def op_ref_null(self, _ty: int) -> None:
        self.push("ptr", "null")

    def op_ref_is_null(self, _imm: Any) -> None:
        v = self.pop()
        c = self.val(f"icmp eq ptr {v}, null")
        self.push("i32", self.val(f"zext i1 {c} to i32"))

    def op_ref_func(self, func_index: int) -> None:
        self.push("ptr", self.vm_field(self.offsets.func_ref(func_index)))

    # --- memory ---

    def memory_def(self, memory_index: int) -> str:
        o = self.offsets
        if memory_index < self.env.num_imported_memories:
            return self.val(
                f"load ptr, ptr {self.vm_field(o.imported_memory(memory_index))}{INVARIANT}"
            )
        return self.vm_field(o.defined_memory(memory_index - self.env.num_imported_memories))

    def mem_addr(self, addr: str, offset: int, size: int) -> str:
        """Native pointer (for ``heap_load``/``heap_store``) for a ``size``-byte access at
        ``addr + offset``: bounds-checked, or with guard pages left to fault."""
        d = self.memory_def(0)
        ea = self.val(f"zext i32 {addr} to i64")
        if offset:
            ea = self.val(f"add nuw i64 {ea}, {offset}")
        if self.mod.guard_pages and offset + size <= GUARD_SIZE:
            # the reservation covers every such address; past the length it faults, and
            # addrspace(258) (an ``ss:`` prefix, a no-op in 64-bit mode) marks the access
            # so the compiler can record it as a trap site
            base = self.val(f"load ptr, ptr {d}{INVARIANT}")
            bi = self.val(f"ptrtoint ptr {base} to i64")
            a = self.val(f"add i64 {bi}, {ea}")
            return self.val(f"inttoptr i64 {a} to {GUARDED_PTR}")
        end = self.val(f"add nuw i64 {ea}, {size}")
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        self.trap_if(self.val(f"icmp ugt i64 {end}, {length}"), Trap.MemoryOutOfBounds)
        base = self.val(f"load ptr, ptr {d}{INVARIANT}")
        p = self.val(f"getelementptr i8, ptr {base}, i64 {ea}")
        if self.mod.guard_pages:  # a checked access never faults, but keeps the one type
            pi = self.val(f"ptrtoint ptr {p} to i64")
            return self.val(f"inttoptr i64 {pi} to {GUARDED_PTR}")
        return p

    def heap_load(self, ty: str, p: str) -> str:
        """Load a ``ty`` from linear memory at ``p`` (from ``mem_addr``)."""
        if self.mod.guard_pages:
            # volatile: the load is the bounds check, so LLVM must neither delete it when
            # its value is unused nor move it across other accesses or calls
            return self.val(f"load volatile {ty}, {GUARDED_PTR} {p}, align 1{HEAP}")
        return self.val(f"load {ty}, ptr {p}, align 1{HEAP}")

    def heap_store(self, ty: str, v: str, p: str) -> None:
        """Store the ``ty`` value ``v`` to linear memory at ``p`` (from ``mem_addr``)."""
        if self.mod.guard_pages:
            self.ins(f"store volatile {ty} {v}, {GUARDED_PTR} {p}, align 1{HEAP}")
        else:
            self.ins(f"store {ty} {v}, ptr {p}, align 1{HEAP}")

    def load(self, memarg: tuple[int, int], mem_ty: str, size: int, ext: str, ty: str) -> None:
        addr = self.pop()
        p = self.mem_addr(addr, memarg[1], size)
        v = self.heap_load(mem_ty, p)
        if ext:
            v = self.val(f"{ext} {mem_ty} {v} to {ty}")
        self.push(ty, v)

    def store(self, memarg: tuple[int, int], mem_ty: str, size: int) -> None:
        ty, v = self.stack.pop()
        addr = self.pop()
        if mem_ty != ty:
            v = self.val(f"trunc {ty} {v} to {mem_ty}")
        p = self.mem_addr(addr, memarg[1], size)
        self.heap_store(mem_ty, v, p)

    def op_memory_size(self, _imm: Any) -> None:
        d = self.memory_def(0)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        pages = self.val(f"lshr i64 {length}, 16")
        self.push("i32", self.val(f"trunc i64 {pages} to i32"))

    def op_memory_grow(self, _imm: Any) -> None:
        delta = self.pop()
        old = self.call_python_builtin(Builtin.MEMORY_GROW, "0", delta)
        self.push("i32", self.val(f"trunc i64 {old} to i32"))

    def bulk_range(self, start: str, n: str, length: str, code: int) -> str:
        """Trap with ``code`` unless ``[start, start + n)`` lies within ``length``; returns
        ``start`` widened to i64."""
        s = self.val(f"zext i32 {start} to i64")
        nn = self.val(f"zext i32 {n} to i64")
        end = self.val(f"add nuw i64 {s}, {nn}")
        self.trap_if(self.val(f"icmp ugt i64 {end}, {length}"), code)
        return s

    def op_memory_fill(self, _imm: Any) -> None:
        n = self.pop()
        value = self.pop()
        dst = self.pop()
        d = self.memory_def(0)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        s = self.bulk_range(dst, n, length, Trap.MemoryOutOfBounds)
        base = self.val(f"load ptr, ptr {d}{INVARIANT}")
        p = self.val(f"getelementptr i8, ptr {base}, i64 {s}")
        nn = self.val(f"zext i32 {n} to i64")
        fn = self.builtin(Builtin.MEMSET)
        self.ins(Builtin.MEMSET.ir_call(fn, (p, value, nn)))

    def op_memory_copy(self, _imm: Any) -> None:
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        d = self.memory_def(0)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        s = self.bulk_range(src, n, length, Trap.MemoryOutOfBounds)
        t = self.bulk_range(dst, n, length, Trap.MemoryOutOfBounds)
        base = self.val(f"load ptr, ptr {d}{INVARIANT}")
        ps = self.val(f"getelementptr i8, ptr {base}, i64 {s}")
        pd = self.val(f"getelementptr i8, ptr {base}, i64 {t}")
        nn = self.val(f"zext i32 {n} to i64")
        fn = self.builtin(Builtin.MEMMOVE)
        self.ins(Builtin.MEMMOVE.ir_call(fn, (pd, ps, nn)))

    def op_memory_init(self, data_index: int) -> None:
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        self.call_builtin_checked(
            Builtin.MEMORY_INIT, Trap.MemoryOutOfBounds, "0", str(data_index), dst, src, n
        )

    def op_data_drop(self, data_index: int) -> None:
        self.call_python_builtin(Builtin.DATA_DROP, str(data_index))

    # --- numeric ---

    def op_i32_const(self, v: int) -> None:
        self.push("i32", str(v))

    def op_i64_const(self, v: int) -> None:
        self.push("i64", str(v))

    def op_f32_const(self, bits: int) -> None:
        self.push("float", self.f32_bits_const(bits))

    def f32_bits_const(self, bits: int) -> str:
        if (bits >> 23) & 0xFF == 0xFF:  # inf/NaN: keep the exact payload
            return self.val(f"bitcast i32 {bits} to float")
        return f64_hex(struct.unpack("<f", bits.to_bytes(4, "little"))[0])

    def op_f64_const(self, bits: int) -> None:
        self.push("double", f"0x{bits:016X}")

    def int_div(self, ty: str, signed: bool, rem: bool) -> None:
        b = self.pop()
        a = self.pop()
        self.trap_if(self.val(f"icmp eq {ty} {b}, 0"), Trap.IntegerDivisionByZero)
        if signed:
            minv = "-2147483648" if ty == "i32" else "-9223372036854775808"
            if rem:
                # INT_MIN rem -1 is 0 in wasm but faults on x86: divide by 1 instead
                m1 = self.val(f"icmp eq {ty} {b}, -1")
                b = self.val(f"select i1 {m1}, {ty} 1, {ty} {b}")
                self.push(ty, self.val(f"srem {ty} {a}, {b}"))
            else:
                m1 = self.val(f"icmp eq {ty} {b}, -1")
                mn = self.val(f"icmp eq {ty} {a}, {minv}")
                ov = self.val(f"and i1 {m1}, {mn}")
                self.trap_if(ov, Trap.IntegerOverflow)
                self.push(ty, self.val(f"sdiv {ty} {a}, {b}"))
        else:
            self.push(ty, self.val(f"{'urem' if rem else 'udiv'} {ty} {a}, {b}"))

    def trunc_checked(self, fty: str, ity: str, signed: bool) -> None:
        x = self.pop()
        self.trap_if(self.val(f"fcmp uno {fty} {x}, {x}"), Trap.BadConversionToInteger)
        bits = 32 if ity == "i32" else 64
        if signed:
            hi = 2.0 ** (bits - 1)
            if bits == 32 and fty == "double":
                lo_ok = self.val(f"fcmp ogt {fty} {x}, {f64_hex(-hi - 1.0)}")
            else:
                lo_ok = self.val(f"fcmp oge {fty} {x}, {f64_hex(-hi)}")
        else:
            hi = 2.0**bits
            lo_ok = self.val(f"fcmp ogt {fty} {x}, {f64_hex(-1.0)}")
        hi_ok = self.val(f"fcmp olt {fty} {x}, {f64_hex(hi)}")
        ok = self.val(f"and i1 {lo_ok}, {hi_ok}")
        bad = self.val(f"xor i1 {ok}, true")
        self.trap_if(bad, Trap.IntegerOverflow)
        self.push(ity, self.val(f"{'fptosi' if signed else 'fptoui'} {fty} {x} to {ity}"))


IR_ZERO_BY_IR = {"i32": "0", "i64": "0", "float": "0.0", "double": "0.0", "ptr": "null"}
IR_ZERO_BY_IR["<2 x i64>"] = IR_ZERO[ValType.V128]

_Handler = Callable[[FunctionTranslator, Any], None]
_HANDLERS: list[_Handler | None] = [None] * len(OPERATORS)
_STRUCTURE_OPS = frozenset(BY_NAME[n] for n in ("block", "loop", "if", "else", "end"))


for _name, _meth in (
    ("unreachable", FunctionTranslator.op_unreachable),
    ("nop", FunctionTranslator.op_nop),
    ("block", FunctionTranslator.op_block),
    ("loop", FunctionTranslator.op_loop),
    ("if", FunctionTranslator.op_if),
    ("else", FunctionTranslator.op_else),
    ("end", FunctionTranslator.op_end),
    ("br", FunctionTranslator.op_br),
    ("br_if", FunctionTranslator.op_br_if),
    ("br_table", FunctionTranslator.op_br_table),
    ("return", FunctionTranslator.op_return),
    ("call", FunctionTranslator.op_call),
    ("call_indirect", FunctionTranslator.op_call_indirect),
    ("drop", FunctionTranslator.op_drop),
    ("select", FunctionTranslator.op_select),
    ("select_t", FunctionTranslator.op_select),
    ("local.get", FunctionTranslator.op_local_get),
    ("local.set", FunctionTranslator.op_local_set),
    ("local.tee", FunctionTranslator.op_local_tee),
    ("global.get", FunctionTranslator.op_global_get),
    ("global.set", FunctionTranslator.op_global_set),
    ("table.get", FunctionTranslator.op_table_get),
    ("table.set", FunctionTranslator.op_table_set),
    ("table.size", FunctionTranslator.op_table_size),
    ("table.grow", FunctionTranslator.op_table_grow),
    ("table.fill", FunctionTranslator.op_table_fill),
    ("table.copy", FunctionTranslator.op_table_copy),
    ("table.init", FunctionTranslator.op_table_init),
    ("elem.drop", FunctionTranslator.op_elem_drop),
    ("ref.null", FunctionTranslator.op_ref_null),
    ("ref.is_null", FunctionTranslator.op_ref_is_null),
    ("ref.func", FunctionTranslator.op_ref_func),
    ("memory.size", FunctionTranslator.op_memory_size),
    ("memory.grow", FunctionTranslator.op_memory_grow),
    ("memory.fill", FunctionTranslator.op_memory_fill),
    ("memory.copy", FunctionTranslator.op_memory_copy),
    ("memory.init", FunctionTranslator.op_memory_init),
    ("data.drop", FunctionTranslator.op_data_drop),
    ("i32.const", FunctionTranslator.op_i32_const),
    ("i64.const", FunctionTranslator.op_i64_const),
    ("f32.const", FunctionTranslator.op_f32_const),
    ("f64.const", FunctionTranslator.op_f64_const),
):
    _HANDLERS[BY_NAME[_name]] = _meth


def _load(mem_ty: str, size: int, ext: str, ty: str) -> _Handler:
    return lambda t, imm: t.load(imm, mem_ty, size, ext, ty)


def _store(mem_ty: str, size: int) -> _Handler:
    return lambda t, imm: t.store(imm, mem_ty, size)


for _name, _args in (
    ("i32.load", ("i32", 4, "", "i32")),
    ("i64.load", ("i64", 8, "", "i64")),
    ("f32.load", ("float", 4, "", "float")),
    ("f64.load", ("double", 8, "", "double")),
    ("i32.load8_s", ("i8", 1, "sext", "i32")),
    ("i32.load8_u", ("i8", 1, "zext", "i32")),
    ("i32.load16_s", ("i16", 2, "sext", "i32")),
    ("i32.load16_u", ("i16", 2, "zext", "i32")),
    ("i64.load8_s", ("i8", 1, "sext", "i64")),
    ("i64.load8_u", ("i8", 1, "zext", "i64")),
    ("i64.load16_s", ("i16", 2, "sext", "i64")),
    ("i64.load16_u", ("i16", 2, "zext", "i64")),
    ("i64.load32_s", ("i32", 4, "sext", "i64")),
    ("i64.load32_u", ("i32", 4, "zext", "i64")),
):
    _HANDLERS[BY_NAME[_name]] = _load(*_args)

for _name, _sargs in (
    ("i32.store", ("i32", 4)),
    ("i64.store", ("i64", 8)),
    ("f32.store", ("float", 4)),
    ("f64.store", ("double", 8)),
    ("i32.store8", ("i8", 1)),
    ("i32.store16", ("i16", 2)),
    ("i64.store8", ("i8", 1)),
    ("i64.store16", ("i16", 2)),
    ("i64.store32", ("i32", 4)),
):
    _HANDLERS[BY_NAME[_name]] = _store(*_sargs)


def _binop(ty: str, inst: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        t.push(ty, t.val(f"{inst} {ty} {a}, {b}"))

    return h


def _shift(ty: str, inst: str) -> _Handler:
    mask = 31 if ty == "i32" else 63

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        m = t.val(f"and {ty} {b}, {mask}")
        t.push(ty, t.val(f"{inst} {ty} {a}, {m}"))

    return h


def _icmp(ty: str, cond: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        c = t.val(f"icmp {cond} {ty} {a}, {b}")
        t.push("i32", t.val(f"zext i1 {c} to i32"))

    return h


def _fcmp(ty: str, cond: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        c = t.val(f"fcmp {cond} {ty} {a}, {b}")
        t.push("i32", t.val(f"zext i1 {c} to i32"))

    return h


def _eqz(ty: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        c = t.val(f"icmp eq {ty} {a}, 0")
        t.push("i32", t.val(f"zext i1 {c} to i32"))

    return h


def _intrinsic1(ty: str, name: str, extra: str = "") -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}{extra})"))

    return h


def _intrinsic2(ty: str, name: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}, {ty} {b})"))

    return h


def _minmax(ty: str, name: str) -> _Handler:
    suffix = "f32" if ty == "float" else "f64"
    add = f"llvm.experimental.constrained.fadd.{suffix}"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        r = t.val(f"call {ty} {t.mod.use(name)}({ty} {a}, {ty} {b})")
        # a NaN result must be quiet (an arithmetic NaN): let an addition produce it
        nan = t.val(f"fcmp uno {ty} {a}, {b}")
        q = t.val(f"call {ty} {t.mod.use(add)}({ty} {a}, {ty} {b}, {_STRICT}) {ATTR_STRICTFP}")
        t.push(ty, t.val(f"select i1 {nan}, {ty} {q}, {ty} {r}"))

    return h


def _rot(ty: str, name: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}, {ty} {a}, {ty} {b})"))

    return h


def _strict2(ty: str, op: str) -> _Handler:
    suffix = "f32" if ty == "float" else "f64"
    name = f"llvm.experimental.constrained.{op}.{suffix}"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        b = t.pop()
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}, {ty} {b}, {_STRICT}) {ATTR_STRICTFP}"))

    return h


def _strict_sqrt(ty: str) -> _Handler:
    suffix = "f32" if ty == "float" else "f64"
    name = f"llvm.experimental.constrained.sqrt.{suffix}"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ty, t.val(f"call {ty} {fn}({ty} {a}, {_STRICT}) {ATTR_STRICTFP}"))

    return h


def _fneg(ty: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        t.push(ty, t.val(f"fneg {ty} {a}"))

    return h


def _div(ty: str, signed: bool, rem: bool) -> _Handler:
    return lambda t, _imm: t.int_div(ty, signed, rem)


def _cast(src: str, dst: str, inst: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        t.push(dst, t.val(f"{inst} {src} {a} to {dst}"))

    return h


def _extend_s(ty: str, narrow: str) -> _Handler:
    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        n = t.val(f"trunc {ty} {a} to {narrow}")
        t.push(ty, t.val(f"sext {narrow} {n} to {ty}"))

    return h


def _trunc(fty: str, ity: str, signed: bool) -> _Handler:
    return lambda t, _imm: t.trunc_checked(fty, ity, signed)


def _trunc_sat(fty: str, ity: str, signed: bool) -> _Handler:
    fs = "f32" if fty == "float" else "f64"
    name = f"llvm.{'fptosi' if signed else 'fptoui'}.sat.{ity}.{fs}"

    def h(t: FunctionTranslator, _imm: Any) -> None:
        a = t.pop()
        fn = t.mod.use(name)
        t.push(ity, t.val(f"call {ity} {fn}({fty} {a})"))

    return h


def _demote(t: FunctionTranslator, _imm: Any) -> None:
    a = t.pop()
    fn = t.mod.use("llvm.experimental.constrained.fptrunc.f32.f64")
    t.push("float", t.val(f"call float {fn}(double {a}, {_STRICT}) {ATTR_STRICTFP}"))


def _promote(t: FunctionTranslator, _imm: Any) -> None:
    a = t.pop()
    fn = t.mod.use("llvm.experimental.constrained.fpext.f64.f32")
    t.push(
        "double",
        t.val(f'call double {fn}(float {a}, metadata !"fpexcept.strict") {ATTR_STRICTFP}'),
    )


def _register_numeric() -> None:
    h = _HANDLERS
    for w, ty in (("i32", "i32"), ("i64", "i64")):
        h[BY_NAME[f"{w}.eqz"]] = _eqz(ty)
        for n, c in (
            ("eq", "eq"),
            ("ne", "ne"),
            ("lt_s", "slt"),
            ("lt_u", "ult"),
            ("gt_s", "sgt"),
            ("gt_u", "ugt"),
            ("le_s", "sle"),
            ("le_u", "ule"),
            ("ge_s", "sge"),
            ("ge_u", "uge"),
        ):
            h[BY_NAME[f"{w}.{n}"]] = _icmp(ty, c)
        for n, inst in (("add", "add"), ("sub", "sub"), ("mul", "mul")):
            h[BY_NAME[f"{w}.{n}"]] = _binop(ty, inst)
        for n, inst in (("and", "and"), ("or", "or"), ("xor", "xor")):
            h[BY_NAME[f"{w}.{n}"]] = _binop(ty, inst)
        for n, inst in (("shl", "shl"), ("shr_s", "ashr"), ("shr_u", "lshr")):
            h[BY_NAME[f"{w}.{n}"]] = _shift(ty, inst)
        h[BY_NAME[f"{w}.rotl"]] = _rot(ty, f"llvm.fshl.{ty}")
        h[BY_NAME[f"{w}.rotr"]] = _rot(ty, f"llvm.fshr.{ty}")
        h[BY_NAME[f"{w}.clz"]] = _intrinsic1(ty, f"llvm.ctlz.{ty}", ", i1 false")
        h[BY_NAME[f"{w}.ctz"]] = _intrinsic1(ty, f"llvm.cttz.{ty}", ", i1 false")
        h[BY_NAME[f"{w}.popcnt"]] = _intrinsic1(ty, f"llvm.ctpop.{ty}")
        h[BY_NAME[f"{w}.div_s"]] = _div(ty, True, False)
        h[BY_NAME[f"{w}.div_u"]] = _div(ty, False, False)
        h[BY_NAME[f"{w}.rem_s"]] = _div(ty, True, True)
        h[BY_NAME[f"{w}.rem_u"]] = _div(ty, False, True)
    for w, ty in (("f32", "float"), ("f64", "double")):
        for n, c in (("eq", "oeq"), ("ne", "une"), ("lt", "olt"), ("gt", "ogt")):
            h[BY_NAME[f"{w}.{n}"]] = _fcmp(ty, c)
        for n, c in (("le", "ole"), ("ge", "oge")):
            h[BY_NAME[f"{w}.{n}"]] = _fcmp(ty, c)
        h[BY_NAME[f"{w}.abs"]] = _intrinsic1(ty, f"llvm.fabs.{w}")
        h[BY_NAME[f"{w}.neg"]] = _fneg(ty)
        h[BY_NAME[f"{w}.ceil"]] = _intrinsic1(ty, f"llvm.ceil.{w}")
        h[BY_NAME[f"{w}.floor"]] = _intrinsic1(ty, f"llvm.floor.{w}")
        h[BY_NAME[f"{w}.trunc"]] = _intrinsic1(ty, f"llvm.trunc.{w}")
        h[BY_NAME[f"{w}.nearest"]] = _intrinsic1(ty, f"llvm.roundeven.{w}")
        h[BY_NAME[f"{w}.sqrt"]] = _strict_sqrt(ty)
        for n, op in (("add", "fadd"), ("sub", "fsub"), ("mul", "fmul"), ("div", "fdiv")):
            h[BY_NAME[f"{w}.{n}"]] = _strict2(ty, op)
        h[BY_NAME[f"{w}.min"]] = _minmax(ty, f"llvm.minimum.{w}")
        h[BY_NAME[f"{w}.max"]] = _minmax(ty, f"llvm.maximum.{w}")
        h[BY_NAME[f"{w}.copysign"]] = _intrinsic2(ty, f"llvm.copysign.{w}")
    h[BY_NAME["i32.wrap_i64"]] = _cast("i64", "i32", "trunc")
    h[BY_NAME["i64.extend_i32_s"]] = _cast("i32", "i64", "sext")
    h[BY_NAME["i64.extend_i32_u"]] = _cast("i32", "i64", "zext")
    for w, fty in (("f32", "float"), ("f64", "double")):
        for iw in ("i32", "i64"):
            h[BY_NAME[f"{iw}.trunc_{w}_s"]] = _trunc(fty, iw, True)
            h[BY_NAME[f"{iw}.trunc_{w}_u"]] = _trunc(fty, iw, False)
            h[BY_NAME[f"{iw}.trunc_sat_{w}_s"]] = _trunc_sat(fty, iw, True)
            h[BY_NAME[f"{iw}.trunc_sat_{w}_u"]] = _trunc_sat(fty, iw, False)
            h[BY_NAME[f"{w}.convert_{iw}_s"]] = _cast(iw, fty, "sitofp")
            h[BY_NAME[f"{w}.convert_{iw}_u"]] = _cast(iw, fty, "uitofp")
    h[BY_NAME["f32.demote_f64"]] = _demote
    h[BY_NAME["f64.promote_f32"]] = _promote
    h[BY_NAME["i32.reinterpret_f32"]] = _cast("float", "i32", "bitcast")
    h[BY_NAME["i64.reinterpret_f64"]] = _cast("double", "i64", "bitcast")
    h[BY_NAME["f32.reinterpret_i32"]] = _cast("i32", "float", "bitcast")
    h[BY_NAME["f64.reinterpret_i64"]] = _cast("i64", "double", "bitcast")
    h[BY_NAME["i32.extend8_s"]] = _extend_s("i32", "i8")
    h[BY_NAME["i32.extend16_s"]] = _extend_s("i32", "i16")
    h[BY_NAME["i64.extend8_s"]] = _extend_s("i64", "i8")
    h[BY_NAME["i64.extend16_s"]] = _extend_s("i64", "i16")
    h[BY_NAME["i64.extend32_s"]] = _extend_s("i64", "i32")


_register_numeric()
