"""The environment of a function: the instance's vmctx fields, globals, tables and
linear memories, the bounds checks and loads and stores of memory, bulk memory and
table operations, and calls of the runtime's builtins.

With guard pages (``IRModule.guard_pages``) linear-memory accesses carry no check: they
are volatile accesses in address space 258 (``ss:``), so each one stays where wasm put
it and can be found in the machine code as a trap site.
"""

from __future__ import annotations

from typing import Any

from cwasm.abi.builtins import Builtin
from cwasm.abi.guard_layout import GUARD_SIZE
from cwasm.abi.vmoffsets import DEF_LENGTH, TRAP_HOST_EXCEPTION
from cwasm.compile.irmodule import HEAP, INVARIANT, VMCTX, ir_type
from cwasm.compile.translate.driver import Handler, TranslatorCore
from cwasm.obj.traps import Trap

#: pointer type of guard-mode linear-memory accesses: x86 address space 258 is the
#: ``ss:`` segment, whose prefix marks the faulting instructions in the machine code
GUARDED_PTR = "ptr addrspace(258)"


class EnvironMixin(TranslatorCore):
    """vmctx, globals, tables, memories and builtin calls."""

    # --- table addressing (also used by call_indirect) ---

    def table_def(self, table_index: int) -> str:
        """Pointer to the table's definition (base, length)."""
        o = self.offsets
        if table_index < self.module.num_imported_tables:
            return self.val(f"load ptr, ptr {self.vm_field(o.imported_table(table_index))}")
        return self.vm_field(o.defined_table(table_index - self.module.num_imported_tables))

    def table_slot(self, table_index: int, index: str) -> str:
        """Bounds-checked pointer to element ``index`` (an i32) of a table."""
        d = self.table_def(table_index)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        idx = self.val(f"zext i32 {index} to i64")
        self.trap_if(self.val(f"icmp uge i64 {idx}, {length}"), Trap.TableOutOfBounds)
        base = self.val(f"load ptr, ptr {d}{VMCTX}")
        return self.val(f"getelementptr inbounds ptr, ptr {base}, i64 {idx}")

    # --- globals ---

    def global_ptr(self, index: int) -> str:
        o = self.offsets
        if index < self.module.num_imported_globals:
            return self.val(f"load ptr, ptr {self.vm_field(o.imported_global(index))}")
        return self.vm_field(o.defined_global(index - self.module.num_imported_globals))

    def op_global_get(self, index: int) -> None:
        t = ir_type(self.module.globals[index].content)
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
        if memory_index < self.module.num_imported_memories:
            return self.val(
                f"load ptr, ptr {self.vm_field(o.imported_memory(memory_index))}{INVARIANT}"
            )
        return self.vm_field(o.defined_memory(memory_index - self.module.num_imported_memories))

    def mem_addr(
        self, addr: str, offset: int, size: int, memory: int = 0, *, checked: bool = False
    ) -> str:
        """Native pointer (for ``heap_load``/``heap_store``) for a ``size``-byte access at
        ``addr + offset`` of memory ``memory``: bounds-checked against that memory's
        length, or with guard pages (every memory has its own) left to fault.

        A shared memory is always checked (its accesses never fault: the fault handler
        knows one store per memory, and several stores run on a shared one); with
        ``checked`` the access is checked too and the pointer is a plain ``ptr``."""
        if offset + size > self.memory_max_bytes(memory):
            self.before_trapping_access()
        d = self.memory_def(memory)
        ea = self.val(f"zext i32 {addr} to i64")
        if offset:
            ea = self.val(f"add nuw i64 {ea}, {offset}")
        guarded = self.mod.guard_pages and not self.module.memories[memory].shared
        if guarded and not checked and offset + size <= GUARD_SIZE:
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
        if self.mod.guard_pages and not checked:  # never faults, but keeps the one type
            pi = self.val(f"ptrtoint ptr {p} to i64")
            return self.val(f"inttoptr i64 {pi} to {GUARDED_PTR}")
        return p

    def memory_max_bytes(self, memory_index: int) -> int:
        """The most bytes the memory can ever have: its maximum, else 4 GiB (2^64 for a
        64-bit memory), as Wasmtime reckons it."""
        memory = self.module.memories[memory_index]
        limits = memory.limits
        if limits.max is not None:
            return limits.max << 16
        return max(limits.min << 16, memory.max_pages << 16)

    def before_trapping_access(self) -> None:
        """Before an access that traps whatever its address (its offset and size pass
        the memory's largest size); ``interrupts`` writes the fuel back here."""

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

    def load(self, memarg: tuple[int, int, int], mem_ty: str, size: int, ext: str, ty: str) -> None:
        addr = self.pop()
        p = self.mem_addr(addr, memarg[1], size, memarg[2])
        v = self.heap_load(mem_ty, p)
        if ext:
            v = self.val(f"{ext} {mem_ty} {v} to {ty}")
        self.push(ty, v)

    def store(self, memarg: tuple[int, int, int], mem_ty: str, size: int) -> None:
        ty, v = self.stack.pop()
        addr = self.pop()
        if mem_ty != ty:
            v = self.val(f"trunc {ty} {v} to {mem_ty}")
        p = self.mem_addr(addr, memarg[1], size, memarg[2])
        self.heap_store(mem_ty, v, p)

    def memory_length(self, memory: int) -> tuple[str, str]:
        """(definition pointer, current length in bytes as an i64) of a memory."""
        d = self.memory_def(memory)
        return d, self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")

    def op_memory_size(self, memory: int) -> None:
        _, length = self.memory_length(memory)
        pages = self.val(f"lshr i64 {length}, 16")
        self.push("i32", self.val(f"trunc i64 {pages} to i32"))

    def op_memory_grow(self, memory: int) -> None:
        delta = self.pop()
        old = self.call_python_builtin(Builtin.MEMORY_GROW, str(memory), delta)
        self.push("i32", self.val(f"trunc i64 {old} to i32"))

    def bulk_range(self, start: str, n: str, length: str, code: int) -> str:
        """Trap with ``code`` unless ``[start, start + n)`` lies within ``length``; returns
        ``start`` widened to i64."""
        s = self.val(f"zext i32 {start} to i64")
        nn = self.val(f"zext i32 {n} to i64")
        end = self.val(f"add nuw i64 {s}, {nn}")
        self.trap_if(self.val(f"icmp ugt i64 {end}, {length}"), code)
        return s

    def op_memory_fill(self, memory: int) -> None:
        n = self.pop()
        value = self.pop()
        dst = self.pop()
        d, length = self.memory_length(memory)
        s = self.bulk_range(dst, n, length, Trap.MemoryOutOfBounds)
        base = self.val(f"load ptr, ptr {d}{INVARIANT}")
        p = self.val(f"getelementptr i8, ptr {base}, i64 {s}")
        nn = self.val(f"zext i32 {n} to i64")
        fn = self.builtin(Builtin.MEMSET)
        self.ins(Builtin.MEMSET.ir_call(fn, (p, value, nn)))

    def op_memory_copy(self, imm: tuple[int, int]) -> None:
        dst_memory, src_memory = imm
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        sd, src_length = self.memory_length(src_memory)
        dd, dst_length = (
            (sd, src_length) if dst_memory == src_memory else self.memory_length(dst_memory)
        )
        s = self.bulk_range(src, n, src_length, Trap.MemoryOutOfBounds)
        t = self.bulk_range(dst, n, dst_length, Trap.MemoryOutOfBounds)
        src_base = self.val(f"load ptr, ptr {sd}{INVARIANT}")
        dst_base = (
            src_base if dst_memory == src_memory else self.val(f"load ptr, ptr {dd}{INVARIANT}")
        )
        ps = self.val(f"getelementptr i8, ptr {src_base}, i64 {s}")
        pd = self.val(f"getelementptr i8, ptr {dst_base}, i64 {t}")
        nn = self.val(f"zext i32 {n} to i64")
        fn = self.builtin(Builtin.MEMMOVE)
        self.ins(Builtin.MEMMOVE.ir_call(fn, (pd, ps, nn)))

    def op_memory_init(self, imm: tuple[int, int]) -> None:
        data_index, memory = imm
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        self.call_builtin_checked(
            Builtin.MEMORY_INIT, Trap.MemoryOutOfBounds, str(memory), str(data_index), dst, src, n
        )

    def op_data_drop(self, data_index: int) -> None:
        self.call_python_builtin(Builtin.DATA_DROP, str(data_index))


#: (the memory.* and table.* size, grow and bulk handlers are ``index64``'s, which
#: defers to the methods here for 32-bit memories and tables)
HANDLERS: dict[str, Handler] = {
    "global.get": EnvironMixin.op_global_get,
    "global.set": EnvironMixin.op_global_set,
    "table.get": EnvironMixin.op_table_get,
    "table.set": EnvironMixin.op_table_set,
    "elem.drop": EnvironMixin.op_elem_drop,
    "ref.null": EnvironMixin.op_ref_null,
    "ref.is_null": EnvironMixin.op_ref_is_null,
    "ref.func": EnvironMixin.op_ref_func,
    "data.drop": EnvironMixin.op_data_drop,
}


def _load(mem_ty: str, size: int, ext: str, ty: str) -> Handler:
    return lambda t, imm: t.load(imm, mem_ty, size, ext, ty)


def _store(mem_ty: str, size: int) -> Handler:
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
    HANDLERS[_name] = _load(*_args)

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
    HANDLERS[_name] = _store(*_sargs)
