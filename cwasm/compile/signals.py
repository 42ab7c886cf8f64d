"""IR text of the guard-page builtins: the SIGSEGV/SIGBUS handler and its trap routine.

In guard-page mode linear-memory accesses carry no bounds check; an access past the
accessible prefix of a memory's reservation faults instead. Every guard-mode artifact
ends with this block, which the runtime copies once into a persistent executable
mapping and installs as the process's SIGSEGV and SIGBUS handler:

* ``cwasm_guard_handler(sig, siginfo, ucontext)``: if the faulting pc lies in a
  registered code range and the fault address in a registered memory reservation, it
  rewrites the interrupted context into a call of ``cwasm_guard_trap`` (as if the
  faulting instruction had called it, so the backtrace starts at the faulting pc) and
  returns; otherwise it hands the signal to the previous handler, or reinstalls the
  previous action and returns so the fault re-executes under it.
* ``cwasm_guard_trap``: the out-of-bounds trap routine, reached with a context whose
  store pointer the handler picked from the memory's registration.
* ``cwasm_guard_state``: an 8-byte slot the runtime fills, before the mapping becomes
  executable, with the address of the handler state (``cwasm.runtime.guard``).

The handler only reads plain memory and calls ``sigaction`` or the previous handler,
so it is async-signal-safe. Offsets are those of x86-64 Linux (glibc).
"""

from __future__ import annotations

from cwasm.abi.guard_layout import (
    GS_CODE,
    GS_MEMORY,
    GS_PREV_SIGBUS,
    GS_PREV_SIGSEGV,
    GS_SIGACTION,
    GUARD_TRAP_SYMBOL,
    HANDLER_SYMBOL,
    SA_SIGINFO,
    SIGACTION_FLAGS,
    SIGINFO_ADDR,
    SIGSEGV,
    STATE_SYMBOL,
    UC_RDI,
    UC_RIP,
    UC_RSP,
)
from cwasm.compile.irmodule import SECTION, IRModule
from cwasm.compile.trampolines import trap_routine
from cwasm.obj.traps import Trap

#: the x86-64 SysV red zone, which the interrupted leaf function may be using
RED_ZONE = 128
#: length of ``call rel32``: the runtime maps the first backtrace entry with ``ra - 5``
CALL_SIZE = 5


def _gep(dst: str, base: str, offset: int) -> str:
    return f"  {dst} = getelementptr inbounds i8, ptr {base}, i64 {offset}"


def guard_builtins(mod: IRModule) -> None:
    """Append the handler, its trap routine and the state slot (x86-64 Linux only)."""
    trap_routine(mod, Trap.MemoryOutOfBounds, symbol=f"@{GUARD_TRAP_SYMBOL}")
    attrs = 'nounwind noinline "frame-pointer"="all" "no-builtins"'
    L = [
        f"define hidden void @{HANDLER_SYMBOL}(i32 %sig, ptr %info, ptr %uc) {attrs} {SECTION} {{",
        "entry:",
        f"  %st = load volatile ptr, ptr @{STATE_SYMBOL}",
        _gep("%addrp", "%info", SIGINFO_ADDR),
        "  %addr = load i64, ptr %addrp",
        _gep("%ripp", "%uc", UC_RIP),
        "  %rip = load i64, ptr %ripp",
        _gep("%codesp", "%st", GS_CODE),
        "  %codes = load volatile ptr, ptr %codesp",
        "  %ncode = load i64, ptr %codes",
        "  br label %code_loop",
        # code ranges: [count, lo0, hi0, lo1, hi1, ...]
        "code_loop:",
        "  %ci = phi i64 [ 0, %entry ], [ %ci1, %code_next ]",
        "  %cmore = icmp ult i64 %ci, %ncode",
        "  br i1 %cmore, label %code_test, label %chain",
        "code_test:",
        "  %cj = shl i64 %ci, 1",
        "  %cj1 = add i64 %cj, 1",
        "  %clop = getelementptr inbounds i64, ptr %codes, i64 %cj1",
        "  %clo = load i64, ptr %clop",
        "  %chip = getelementptr inbounds i64, ptr %clop, i64 1",
        "  %chi = load i64, ptr %chip",
        "  %cge = icmp uge i64 %rip, %clo",
        "  %clt = icmp ult i64 %rip, %chi",
        "  %cin = and i1 %cge, %clt",
        "  br i1 %cin, label %mem_start, label %code_next",
        "code_next:",
        "  %ci1 = add i64 %ci, 1",
        "  br label %code_loop",
        # memory reservations: [count, lo0, hi0, ctx0, lo1, hi1, ctx1, ...]
        "mem_start:",
        _gep("%memsp", "%st", GS_MEMORY),
        "  %mems = load volatile ptr, ptr %memsp",
        "  %nmem = load i64, ptr %mems",
        "  br label %mem_loop",
        "mem_loop:",
        "  %mi = phi i64 [ 0, %mem_start ], [ %mi1, %mem_next ]",
        "  %mmore = icmp ult i64 %mi, %nmem",
        "  br i1 %mmore, label %mem_test, label %chain",
        "mem_test:",
        "  %mj = mul i64 %mi, 3",
        "  %mj1 = add i64 %mj, 1",
        "  %mlop = getelementptr inbounds i64, ptr %mems, i64 %mj1",
        "  %mlo = load i64, ptr %mlop",
        "  %mhip = getelementptr inbounds i64, ptr %mlop, i64 1",
        "  %mhi = load i64, ptr %mhip",
        "  %mge = icmp uge i64 %addr, %mlo",
        "  %mlt = icmp ult i64 %addr, %mhi",
        "  %min = and i1 %mge, %mlt",
        "  br i1 %min, label %redirect, label %mem_next",
        "mem_next:",
        "  %mi1 = add i64 %mi, 1",
        "  br label %mem_loop",
        # enter cwasm_guard_trap(ctx) as if the faulting instruction had called it
        "redirect:",
        "  %ctxp = getelementptr inbounds i64, ptr %mlop, i64 2",
        "  %ctx = load i64, ptr %ctxp",
        _gep("%rspp", "%uc", UC_RSP),
        "  %rsp = load i64, ptr %rspp",
        f"  %below = sub i64 %rsp, {RED_ZONE}",
        "  %aligned = and i64 %below, -16",
        "  %newsp = sub i64 %aligned, 8",
        f"  %ra = add i64 %rip, {CALL_SIZE}",
        "  %rap = inttoptr i64 %newsp to ptr",
        "  store volatile i64 %ra, ptr %rap",
        "  store i64 %newsp, ptr %rspp",
        _gep("%rdip", "%uc", UC_RDI),
        "  store i64 %ctx, ptr %rdip",
        f"  %target = ptrtoint ptr @{GUARD_TRAP_SYMBOL} to i64",
        "  store i64 %target, ptr %ripp",
        "  ret void",
        # not ours: the previous action takes over
        "chain:",
        f"  %is_segv = icmp eq i32 %sig, {SIGSEGV}",
        f"  %prev_off = select i1 %is_segv, i64 {GS_PREV_SIGSEGV}, i64 {GS_PREV_SIGBUS}",
        "  %prev = getelementptr inbounds i8, ptr %st, i64 %prev_off",
        "  %ph = load volatile i64, ptr %prev",
        _gep("%pflagsp", "%prev", SIGACTION_FLAGS),
        "  %pflags = load volatile i32, ptr %pflagsp",
        "  %special = icmp ult i64 %ph, 2",  # SIG_DFL or SIG_IGN
        "  br i1 %special, label %reinstall, label %call_prev",
        "call_prev:",
        "  %phf = inttoptr i64 %ph to ptr",
        f"  %siginfo = and i32 %pflags, {SA_SIGINFO}",
        "  %three = icmp ne i32 %siginfo, 0",
        "  br i1 %three, label %call3, label %call1",
        "call3:",
        "  call void %phf(i32 %sig, ptr %info, ptr %uc)",
        "  ret void",
        "call1:",
        "  call void %phf(i32 %sig)",
        "  ret void",
        "reinstall:",
        _gep("%sap", "%st", GS_SIGACTION),
        "  %sa = load volatile ptr, ptr %sap",
        "  %r = call i32 %sa(i32 %sig, ptr %prev, ptr null)",
        "  ret void",
        "}",
        # the runtime writes the state address here before the copy becomes executable;
        # externally_initialized keeps LLVM from folding the load to the initializer
        f"@{STATE_SYMBOL} = internal externally_initialized constant i64 0, {SECTION}, align 8",
    ]
    mod.functions.append("\n".join(L))
