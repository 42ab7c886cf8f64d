"""The 64-bit index type of memory64: addresses, lengths and page counts of 64-bit
memories, indices of 64-bit tables.

A 64-bit address can be anything up to 2^64-1, so no guard region covers it: every
access to a 64-bit memory is checked explicitly, ``addr + offset + size <= length``
compared without overflow. Table sizes stay below 2^32 (``Config.max_table_elements``),
so a 64-bit table operand of 2^32 or more is out of bounds: it traps (or fails to grow)
before the 32-bit builtins see it. The 32-bit paths of ``environ`` are untouched.
"""

from __future__ import annotations

from cwasm.abi.builtins import Builtin
from cwasm.abi.vmoffsets import DEF_LENGTH
from cwasm.compile.irmodule import INVARIANT, VMCTX
from cwasm.compile.translate.driver import Handler
from cwasm.compile.translate.environ import GUARDED_PTR, EnvironMixin
from cwasm.obj.traps import Trap

_U64 = 1 << 64
#: the delta a 64-bit ``memory.grow``/``table.grow`` passes on for one of 2^32 or
#: more: as large a 32-bit delta as there is, which can never succeed either
_HUGE_DELTA = "-1"


def i64_literal(value: int) -> str:
    """An unsigned 64-bit constant as an LLVM IR ``i64`` literal (two's complement)."""
    return str(value - _U64 if value >= 1 << 63 else value)


class Index64Mixin(EnvironMixin):
    """The memory and table instructions with their 64-bit forms: each defers to
    ``EnvironMixin`` for a 32-bit memory or table."""

    def mem_addr(
        self, addr: str, offset: int, size: int, memory: int = 0, *, checked: bool = False
    ) -> str:
        """``EnvironMixin.mem_addr``; for a 64-bit memory (``addr`` an i64), always
        checked explicitly."""
        if not self.memory_is_64(memory):
            return super().mem_addr(addr, offset, size, memory, checked=checked)
        p = self.mem_addr_64(addr, offset, size, memory)
        if self.mod.guard_pages and not checked:  # never faults, but keeps the one type
            pi = self.val(f"ptrtoint ptr {p} to i64")
            return self.val(f"inttoptr i64 {pi} to {GUARDED_PTR}")
        return p

    def effective_address(self, addr: str, offset: int, memory: int) -> str:
        """``addr + offset`` of memory ``memory`` as an i64."""
        if not self.memory_is_64(memory):
            ea = self.val(f"zext i32 {addr} to i64")
            return self.val(f"add nuw i64 {ea}, {offset}") if offset else ea
        # (may wrap before the bounds check: that check then traps)
        return self.val(f"add i64 {addr}, {i64_literal(offset)}") if offset else addr

    def table_slot(self, table_index: int, index: str) -> str:
        """``EnvironMixin.table_slot``; ``index`` is an i64 for a 64-bit table."""
        if not self.table_is_64(table_index):
            return super().table_slot(table_index, index)
        d = self.table_def(table_index)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        self.trap_if(self.val(f"icmp uge i64 {index}, {length}"), Trap.TableOutOfBounds)
        base = self.val(f"load ptr, ptr {d}{VMCTX}")
        return self.val(f"getelementptr inbounds ptr, ptr {base}, i64 {index}")

    def memory_is_64(self, memory: int) -> bool:
        """Whether memory ``memory`` is a 64-bit one (memory64)."""
        return self.module.memories[memory].is_64

    def table_is_64(self, table: int) -> bool:
        """Whether table ``table`` is a 64-bit one (memory64)."""
        return self.module.tables[table].is_64

    def index_as_i64(self, value: str, is_64: bool) -> str:
        """An address, length or index of a 32-bit (zero-extended) or 64-bit index type
        as an i64."""
        return value if is_64 else self.val(f"zext i32 {value} to i64")

    def mem_addr_64(self, addr: str, offset: int, size: int, memory: int) -> str:
        """A plain pointer for a ``size``-byte access at the i64 ``addr`` plus ``offset``
        of 64-bit memory ``memory``, after an explicit bounds check."""
        reach = offset + size
        if reach > self.memory_max_bytes(memory):
            self.before_trapping_access()
        d = self.memory_def(memory)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        if reach >= _U64:
            self.trap_if("true", Trap.MemoryOutOfBounds)
        else:
            # addr + reach <= length  <=>  reach <= length and addr <= length - reach
            k = i64_literal(reach)
            short = self.val(f"icmp ult i64 {length}, {k}")
            room = self.val(f"sub i64 {length}, {k}")
            past = self.val(f"icmp ugt i64 {addr}, {room}")
            self.trap_if(self.val(f"or i1 {short}, {past}"), Trap.MemoryOutOfBounds)
        ea = addr
        if offset and reach < _U64:
            ea = self.val(f"add nuw i64 {addr}, {i64_literal(offset)}")
        base = self.val(f"load ptr, ptr {d}{INVARIANT}")
        return self.val(f"getelementptr i8, ptr {base}, i64 {ea}")

    def bulk_range_64(self, start: str, n: str, length: str, code: int) -> None:
        """Trap with ``code`` unless ``[start, start + n)`` (i64s) lies within ``length``,
        without overflow."""
        short = self.val(f"icmp ugt i64 {n}, {length}")
        room = self.val(f"sub i64 {length}, {n}")
        past = self.val(f"icmp ugt i64 {start}, {room}")
        self.trap_if(self.val(f"or i1 {short}, {past}"), code)

    def delta_32(self, delta: str) -> str:
        """A 64-bit ``grow`` delta as the 32-bit builtins take it (a huge one: one that
        cannot succeed)."""
        big = self.val(f"icmp ugt i64 {delta}, 4294967295")
        low = self.val(f"trunc i64 {delta} to i32")
        return self.val(f"select i1 {big}, i32 {_HUGE_DELTA}, i32 {low}")

    def table_operands_32(self, operands: list[tuple[str, bool]]) -> list[str]:
        """Table operands (value, is a 64-bit i64) as i32s: an i64 of 2^32 or more is
        past every table's size, so it traps (out of bounds) here."""
        wide = [v for v, is_64 in operands if is_64]
        if wide:
            high = self.val(f"lshr i64 {wide[0]}, 32")
            for v in wide[1:]:
                high = self.val(f"or i64 {high}, {self.val(f'lshr i64 {v}, 32')}")
            self.trap_if(self.val(f"icmp ne i64 {high}, 0"), Trap.TableOutOfBounds)
        return [self.val(f"trunc i64 {v} to i32") if is_64 else v for v, is_64 in operands]

    # --- memory instructions of 64-bit memories ---

    def memory_size_64(self, memory: int) -> None:
        d = self.memory_def(memory)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        self.push("i64", self.val(f"lshr i64 {length}, 16"))

    def memory_grow_64(self, memory: int) -> None:
        delta = self.delta_32(self.pop())
        self.push("i64", self.call_python_builtin(Builtin.MEMORY_GROW, str(memory), delta))

    def memory_fill_64(self, memory: int) -> None:
        n = self.pop()
        value = self.pop()
        dst = self.pop()
        d = self.memory_def(memory)
        length = self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}")
        self.bulk_range_64(dst, n, length, Trap.MemoryOutOfBounds)
        base = self.val(f"load ptr, ptr {d}{INVARIANT}")
        p = self.val(f"getelementptr i8, ptr {base}, i64 {dst}")
        fn = self.builtin(Builtin.MEMSET)
        self.ins(Builtin.MEMSET.ir_call(fn, (p, value, n)))

    def memory_copy_64(self, dst_memory: int, src_memory: int) -> None:
        """``memory.copy`` where either memory is 64-bit (the length is an i64 only
        when both are)."""
        dst64, src64 = self.memory_is_64(dst_memory), self.memory_is_64(src_memory)
        n = self.index_as_i64(self.pop(), dst64 and src64)
        src = self.index_as_i64(self.pop(), src64)
        dst = self.index_as_i64(self.pop(), dst64)
        sd = self.memory_def(src_memory)
        src_length = self.val(f"load i64, ptr {self.field_of(sd, DEF_LENGTH)}{VMCTX}")
        dd = self.memory_def(dst_memory) if dst_memory != src_memory else sd
        dst_length = (
            self.val(f"load i64, ptr {self.field_of(dd, DEF_LENGTH)}{VMCTX}")
            if dst_memory != src_memory
            else src_length
        )
        self.bulk_range_64(src, n, src_length, Trap.MemoryOutOfBounds)
        self.bulk_range_64(dst, n, dst_length, Trap.MemoryOutOfBounds)
        src_base = self.val(f"load ptr, ptr {sd}{INVARIANT}")
        dst_base = self.val(f"load ptr, ptr {dd}{INVARIANT}")
        ps = self.val(f"getelementptr i8, ptr {src_base}, i64 {src}")
        pd = self.val(f"getelementptr i8, ptr {dst_base}, i64 {dst}")
        fn = self.builtin(Builtin.MEMMOVE)
        self.ins(Builtin.MEMMOVE.ir_call(fn, (pd, ps, n)))

    def memory_init_64(self, data_index: int, memory: int) -> None:
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        self.call_builtin_checked(
            Builtin.MEMORY_INIT64,
            Trap.MemoryOutOfBounds,
            str(memory),
            str(data_index),
            dst,
            src,
            n,
        )

    # --- the handlers: 64-bit forms, else environ's ---

    def op_memory_size(self, memory: int) -> None:
        if self.memory_is_64(memory):
            self.memory_size_64(memory)
        else:
            super().op_memory_size(memory)

    def op_memory_grow(self, memory: int) -> None:
        if self.memory_is_64(memory):
            self.memory_grow_64(memory)
        else:
            super().op_memory_grow(memory)

    def op_memory_fill(self, memory: int) -> None:
        if self.memory_is_64(memory):
            self.memory_fill_64(memory)
        else:
            super().op_memory_fill(memory)

    def op_memory_copy(self, imm: tuple[int, int]) -> None:
        if self.memory_is_64(imm[0]) or self.memory_is_64(imm[1]):
            self.memory_copy_64(*imm)
        else:
            super().op_memory_copy(imm)

    def op_memory_init(self, imm: tuple[int, int]) -> None:
        if self.memory_is_64(imm[1]):
            self.memory_init_64(*imm)
        else:
            super().op_memory_init(imm)

    def op_table_size(self, table_index: int) -> None:
        if not self.table_is_64(table_index):
            super().op_table_size(table_index)
            return
        d = self.table_def(table_index)
        self.push("i64", self.val(f"load i64, ptr {self.field_of(d, DEF_LENGTH)}{VMCTX}"))

    def op_table_grow(self, table_index: int) -> None:
        if not self.table_is_64(table_index):
            super().op_table_grow(table_index)
            return
        delta = self.delta_32(self.pop())
        init = self.pop()
        r = self.call_python_builtin(Builtin.TABLE_GROW, str(table_index), delta, init)
        self.push("i64", self.val(f"sext i32 {r} to i64"))  # the old size (< 2^31), or -1

    def op_table_fill(self, table_index: int) -> None:
        if not self.table_is_64(table_index):
            super().op_table_fill(table_index)
            return
        n = self.pop()
        value = self.pop()
        dst = self.pop()
        dst, n = self.table_operands_32([(dst, True), (n, True)])
        self.call_builtin_checked(
            Builtin.TABLE_FILL, Trap.TableOutOfBounds, str(table_index), dst, value, n
        )

    def op_table_copy(self, imm: tuple[int, int]) -> None:
        dst_t, src_t = imm
        dst64, src64 = self.table_is_64(dst_t), self.table_is_64(src_t)
        if not (dst64 or src64):
            super().op_table_copy(imm)
            return
        n = self.pop()
        src = self.pop()
        dst = self.pop()
        dst, src, n = self.table_operands_32([(dst, dst64), (src, src64), (n, dst64 and src64)])
        self.call_builtin_checked(
            Builtin.TABLE_COPY, Trap.TableOutOfBounds, str(dst_t), str(src_t), dst, src, n
        )

    def op_table_init(self, imm: tuple[int, int]) -> None:
        elem, table = imm
        if not self.table_is_64(table):
            super().op_table_init(imm)
            return
        n = self.pop()
        src = self.pop()
        (dst,) = self.table_operands_32([(self.pop(), True)])
        self.call_builtin_checked(
            Builtin.TABLE_INIT, Trap.TableOutOfBounds, str(table), str(elem), dst, src, n
        )


HANDLERS: dict[str, Handler] = {
    "memory.size": Index64Mixin.op_memory_size,
    "memory.grow": Index64Mixin.op_memory_grow,
    "memory.fill": Index64Mixin.op_memory_fill,
    "memory.copy": Index64Mixin.op_memory_copy,
    "memory.init": Index64Mixin.op_memory_init,
    "table.size": Index64Mixin.op_table_size,
    "table.grow": Index64Mixin.op_table_grow,
    "table.fill": Index64Mixin.op_table_fill,
    "table.copy": Index64Mixin.op_table_copy,
    "table.init": Index64Mixin.op_table_init,
}
