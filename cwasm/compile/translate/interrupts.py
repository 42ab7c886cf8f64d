"""Fuel and epoch checks: what ``Config.consume_fuel`` and ``Config.epoch_interruption``
compile into every function (and nothing at all when they are off).

Both follow Wasmtime v28's Cranelift translation, so a program consumes the same fuel
under cwasm as under Wasmtime; ``docs/fuel-and-epochs.md`` states the rule.

**Fuel.** The store context keeps ``STORE_FUEL_CONSUMED``, an i64 that counts up towards
zero (``-remaining``). A function keeps its own copy in the ``%fuel`` alloca (LLVM
promotes it to a register) and the translator counts the cost of straight-line code at
translation time (``fuel_consumed``): 1 per instruction, 0 for ``nop``, ``drop``,
``block``, ``loop``, ``unreachable``, ``return``, ``else`` and ``end``, plus 1 on
function entry. That count is added to ``%fuel`` where control flow may go elsewhere
(``loop``, ``if``, ``else``, ``end``, ``br``, ``br_if``, ``br_table``), and also written
back to the store before ``call``, ``call_indirect``, ``return_call``,
``return_call_indirect``, ``return`` and ``unreachable`` (a callee or the host may read
or change it) and reloaded after a (non-tail) call. At function entry
and at every loop header the count is checked: once it is >= 0 the code calls
``Builtin.OUT_OF_GAS``, which refuels from the store's reserve or has the code trap with
``Trap.OutOfFuel``. Other traps do not write the count back, as in Wasmtime, except a
memory access whose offset alone is out of bounds of the memory's largest size.

**Epochs.** ``STORE_EPOCH_PTR`` points to the engine's u64 epoch counter and
``STORE_EPOCH_DEADLINE`` holds the store's deadline. At function entry the code loads the
deadline (into the ``%epoch_deadline`` alloca) and traps with ``Trap.Interrupt`` if the
epoch has reached it; at every loop header it compares the epoch with the cached deadline
and, only when that says the deadline has passed, reloads it from the store (a host call
may have moved it) before trapping. The epoch is read with an atomic (monotonic) load, so
LLVM cannot hoist it out of a loop while another thread increments it.
"""

from __future__ import annotations

from cwasm.abi.builtins import Builtin
from cwasm.abi.vmoffsets import STORE_EPOCH_DEADLINE, STORE_EPOCH_PTR, STORE_FUEL_CONSUMED
from cwasm.compile.translate.index64 import Index64Mixin
from cwasm.obj.traps import Trap
from cwasm.wasm.operators import BY_NAME


def _ops(*names: str) -> frozenset[int]:
    return frozenset(BY_NAME[n] for n in names)


#: the instructions that cost no fuel (they generate no code of their own)
ZERO_COST = _ops("nop", "drop", "block", "loop", "unreachable", "return", "else", "end")
#: before these the count is added to ``%fuel`` and written back to the store
SAVE_BEFORE = _ops(
    "unreachable",
    "return",
    "call",
    "call_indirect",
    "return_call",
    "return_call_indirect",
    "return_call_ref",
)
#: before these the count is added to ``%fuel`` (they end a straight-line run)
ADD_BEFORE = _ops("loop", "if", "else", "end", "br", "br_if", "br_table")
#: after these ``%fuel`` is reloaded from the store (the callee may have changed it)
RELOAD_AFTER = _ops("call", "call_indirect")
LOOP_OP = BY_NAME["loop"]


class InterruptsMixin(Index64Mixin):
    """The fuel and epoch checks; the driver calls the hooks only when one is on."""

    #: fuel of the instructions translated since the last addition to ``%fuel`` (the
    #: function's entry costs 1)
    fuel_consumed = 1
    #: ``STORE_FUEL_CONSUMED`` and ``STORE_EPOCH_DEADLINE`` in the store context, and
    #: the engine's epoch counter (IR operands defined in the entry block)
    fuel_field = ""
    deadline_field = ""
    epoch_ptr = ""

    # --- the driver's hooks ---

    def interrupts_entry(self, store_ctx: str) -> None:
        """At function entry, after the stack check (``store_ctx``: the store context)."""
        if self.mod.consume_fuel:
            self.late_allocas["%fuel"] = "  %fuel = alloca i64, align 8"
            self.fuel_field = self.field_of(store_ctx, STORE_FUEL_CONSUMED)
            self.fuel_load()
            self.fuel_check()
        if self.mod.epoch_interruption:
            self.late_allocas["%epoch_deadline"] = "  %epoch_deadline = alloca i64, align 8"
            self.deadline_field = self.field_of(store_ctx, STORE_EPOCH_DEADLINE)
            ptr = self.field_of(store_ctx, STORE_EPOCH_PTR)
            self.epoch_ptr = self.val(f"load ptr, ptr {ptr}")
            self.epoch_check_full(self.epoch_load())

    def interrupts_before_op(self, op: int) -> None:
        """Before the instruction ``op`` (an opcode) is translated."""
        if not self.mod.consume_fuel or not self.reachable:
            return
        if op not in ZERO_COST:
            self.fuel_consumed += 1
        if op in SAVE_BEFORE:
            self.fuel_add()
            self.fuel_save()
        elif op in ADD_BEFORE:
            self.fuel_add()

    def interrupts_after_op(self, op: int, was_reachable: bool) -> None:
        """After ``op`` was translated (``was_reachable``: the code before it was)."""
        if not was_reachable:
            return
        if op == LOOP_OP:  # now in the loop header
            if self.mod.consume_fuel:
                self.fuel_check()
            if self.mod.epoch_interruption:
                self.epoch_check()
        elif self.mod.consume_fuel and op in RELOAD_AFTER:
            self.fuel_load()

    def interrupts_exit(self) -> None:
        """Before the return at the function's end (its ``end`` is reachable)."""
        if self.mod.consume_fuel:
            self.fuel_save()

    def before_trapping_access(self) -> None:
        """Write the fuel back before an access that always traps, as Wasmtime does."""
        if self.mod.consume_fuel:
            self.fuel_add()
            self.fuel_save()

    # --- fuel ---

    def fuel_add(self) -> None:
        """Add the fuel counted so far to ``%fuel``."""
        n, self.fuel_consumed = self.fuel_consumed, 0
        if n:
            fuel = self.val("load i64, ptr %fuel")
            self.ins(f"store i64 {self.val(f'add i64 {fuel}, {n}')}, ptr %fuel")

    def fuel_load(self) -> None:
        """``%fuel`` = the store's count."""
        self.ins(f"store i64 {self.val(f'load i64, ptr {self.fuel_field}')}, ptr %fuel")

    def fuel_save(self) -> None:
        """The store's count = ``%fuel``."""
        self.ins(f"store i64 {self.val('load i64, ptr %fuel')}, ptr {self.fuel_field}")

    def fuel_check(self) -> None:
        """Add the fuel counted so far; when none is left, refuel or trap."""
        self.fuel_add()
        fuel = self.val("load i64, ptr %fuel")
        out = self.label()
        cont = self.label()
        cond = self.val(f"icmp sge i64 {fuel}, 0")
        self.ins(f"br i1 {cond}, label %{out}, label %{cont}, !prof !{self.mod.md_unlikely}")
        self.start_block(out)
        self.fuel_save()
        self.call_builtin_checked(Builtin.OUT_OF_GAS, Trap.OutOfFuel)
        self.fuel_load()
        self.ins(f"br label %{cont}")
        self.start_block(cont)

    # --- epochs ---

    def epoch_load(self) -> str:
        """The engine's current epoch."""
        return self.val(f"load atomic i64, ptr {self.epoch_ptr} monotonic, align 8")

    def epoch_check_full(self, epoch: str) -> None:
        """Reload the store's deadline into ``%epoch_deadline``; trap if ``epoch`` reached it."""
        deadline = self.val(f"load i64, ptr {self.deadline_field}")
        self.ins(f"store i64 {deadline}, ptr %epoch_deadline")
        self.trap_if(self.val(f"icmp uge i64 {epoch}, {deadline}"), Trap.Interrupt)

    def epoch_check(self) -> None:
        """At a loop header: compare with the cached deadline, and only when it has passed
        check the store's (which a host call may have moved)."""
        epoch = self.epoch_load()
        cached = self.val("load i64, ptr %epoch_deadline")
        slow = self.label()
        cont = self.label()
        cond = self.val(f"icmp uge i64 {epoch}, {cached}")
        self.ins(f"br i1 {cond}, label %{slow}, label %{cont}, !prof !{self.mod.md_unlikely}")
        self.start_block(slow)
        self.epoch_check_full(epoch)
        self.ins(f"br label %{cont}")
        self.start_block(cont)
