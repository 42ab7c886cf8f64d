"""IR text of the signal builtins: the SIGSEGV/SIGBUS handler of guard pages, the SIGINT
handler that stops wasm on Ctrl-C, and their trap routines.

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
* ``cwasm_interrupt_handler`` and ``cwasm_interrupt_trap``: the same for SIGINT (see
  ``interrupt_builtins``); the trap routine records ``TRAP_KEYBOARD_INTERRUPT``.
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
    GS_FUNCS,
    GS_INTERRUPT_THREAD,
    GS_MEMORY,
    GS_PREV_SIGBUS,
    GS_PREV_SIGINT,
    GS_PREV_SIGSEGV,
    GS_PTHREAD_SELF,
    GS_SIGACTION,
    GS_SIGINT_COUNT,
    GS_STORES,
    GUARD_TRAP_SYMBOL,
    HANDLER_SYMBOL,
    INTERRUPT_HANDLER_SYMBOL,
    INTERRUPT_TRAP_SYMBOL,
    SA_SIGINFO,
    SIGACTION_FLAGS,
    SIGINFO_ADDR,
    SIGSEGV,
    STATE_SYMBOL,
    UC_RDI,
    UC_RIP,
    UC_RSP,
)
from cwasm.abi.vmoffsets import (
    CTX_STORE,
    STORE_DEPTH,
    STORE_ENTRY_FP,
    STORE_SELF,
    STORE_THREAD,
    TRAP_KEYBOARD_INTERRUPT,
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


def signal_builtins(mod: IRModule) -> None:
    """Append the whole block (x86-64 Linux only): both handlers, their trap routines and
    the state slot, last, so that the block is contiguous at the end of the code."""
    guard_builtins(mod)
    interrupt_builtins(mod)
    mod.functions.append(
        # the runtime writes the state address here before the copy becomes executable;
        # externally_initialized keeps LLVM from folding the load to the initializer
        f"@{STATE_SYMBOL} = internal externally_initialized constant i64 0, {SECTION}, align 8"
    )


def guard_builtins(mod: IRModule) -> None:
    """Append the guard-page handler and its trap routine."""
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
    ]
    mod.functions.append("\n".join(L))


def _chain_to_previous(prev_offset: int, done: str, p: str) -> list[str]:
    """Call the previous action at ``prev_offset`` of the state block, then go to
    ``done`` (nothing to call for SIG_DFL or SIG_IGN). ``p``: a prefix for names."""
    return [
        _gep(f"%{p}prev", "%st", prev_offset),
        f"  %{p}ph = load volatile i64, ptr %{p}prev",
        _gep(f"%{p}pflagsp", f"%{p}prev", SIGACTION_FLAGS),
        f"  %{p}pflags = load volatile i32, ptr %{p}pflagsp",
        f"  %{p}special = icmp ult i64 %{p}ph, 2",
        f"  br i1 %{p}special, label %{done}, label %{p}call",
        f"{p}call:",
        f"  %{p}phf = inttoptr i64 %{p}ph to ptr",
        f"  %{p}siginfo = and i32 %{p}pflags, {SA_SIGINFO}",
        f"  %{p}three = icmp ne i32 %{p}siginfo, 0",
        f"  br i1 %{p}three, label %{p}call3, label %{p}call1",
        f"{p}call3:",
        f"  call void %{p}phf(i32 %sig, ptr %info, ptr %uc)",
        f"  br label %{done}",
        f"{p}call1:",
        f"  call void %{p}phf(i32 %sig)",
        f"  br label %{done}",
    ]


def interrupt_builtins(mod: IRModule) -> None:
    """Append the SIGINT handler and its trap routine (x86-64 Linux only).

    ``cwasm_interrupt_handler(sig, siginfo, ucontext)`` counts the signal in the state
    block (``GS_SIGINT_COUNT``), then calls the previous action
    (Python's handler, which records the signal for ``KeyboardInterrupt``). Then, on the
    thread named in the state block (Python's main thread), if the interrupted pc lies in
    a wasm function of a registered module, it picks the store of that thread whose
    innermost entry is nearest above the stack pointer (live: entry depth non-zero) and
    rewrites the context into a call of ``cwasm_interrupt_trap`` with that store, as the
    guard handler does for a fault. Anywhere else (a trampoline, a runtime routine, a
    host function, other threads) it leaves the thread alone: Python's flag does the rest
    at its next bytecode."""
    trap_routine(mod, TRAP_KEYBOARD_INTERRUPT, symbol=f"@{INTERRUPT_TRAP_SYMBOL}")
    attrs = 'nounwind noinline "frame-pointer"="all" "no-builtins"'
    L = [
        f"define hidden void @{INTERRUPT_HANDLER_SYMBOL}(i32 %sig, ptr %info, ptr %uc) {attrs}"
        f" {SECTION} {{",
        "entry:",
        f"  %st = load volatile ptr, ptr @{STATE_SYMBOL}",
        _gep("%countp", "%st", GS_SIGINT_COUNT),
        "  %count = load volatile i64, ptr %countp",
        "  %count1 = add i64 %count, 1",
        "  store volatile i64 %count1, ptr %countp",
        *_chain_to_previous(GS_PREV_SIGINT, "chained", "c_"),
        "chained:",
        _gep("%threadp", "%st", GS_INTERRUPT_THREAD),
        "  %thread = load volatile i64, ptr %threadp",
        "  %enabled = icmp ne i64 %thread, 0",
        "  br i1 %enabled, label %who, label %done",
        "who:",
        _gep("%psp", "%st", GS_PTHREAD_SELF),
        "  %ps = load volatile ptr, ptr %psp",
        "  %self = call i64 %ps()",
        "  %ours = icmp eq i64 %self, %thread",
        "  br i1 %ours, label %find_module, label %done",
        # modules: [count, lo, hi, ranges, n, ...]; ranges: [lo, hi, ...]
        "find_module:",
        _gep("%ripp", "%uc", UC_RIP),
        "  %rip = load i64, ptr %ripp",
        _gep("%modsp", "%st", GS_FUNCS),
        "  %mods = load volatile ptr, ptr %modsp",
        "  %nmod = load i64, ptr %mods",
        "  br label %mod_loop",
        "mod_loop:",
        "  %mi = phi i64 [ 0, %find_module ], [ %mi1, %mod_next ]",
        "  %mmore = icmp ult i64 %mi, %nmod",
        "  br i1 %mmore, label %mod_test, label %done",
        "mod_test:",
        "  %mj = shl i64 %mi, 2",
        "  %mj1 = add i64 %mj, 1",
        "  %mlop = getelementptr inbounds i64, ptr %mods, i64 %mj1",
        "  %mlo = load i64, ptr %mlop",
        "  %mhip = getelementptr inbounds i64, ptr %mlop, i64 1",
        "  %mhi = load i64, ptr %mhip",
        "  %mge = icmp uge i64 %rip, %mlo",
        "  %mlt = icmp ult i64 %rip, %mhi",
        "  %min = and i1 %mge, %mlt",
        "  br i1 %min, label %funcs_start, label %mod_next",
        "mod_next:",
        "  %mi1 = add i64 %mi, 1",
        "  br label %mod_loop",
        "funcs_start:",
        "  %rangesp = getelementptr inbounds i64, ptr %mlop, i64 2",
        "  %ranges = load ptr, ptr %rangesp",
        "  %nfp = getelementptr inbounds i64, ptr %mlop, i64 3",
        "  %nf = load i64, ptr %nfp",
        "  br label %func_loop",
        "func_loop:",
        "  %fi = phi i64 [ 0, %funcs_start ], [ %fi1, %func_next ]",
        "  %fmore = icmp ult i64 %fi, %nf",
        "  br i1 %fmore, label %func_test, label %done",
        "func_test:",
        "  %fj = shl i64 %fi, 1",
        "  %flop = getelementptr inbounds i64, ptr %ranges, i64 %fj",
        "  %flo = load i64, ptr %flop",
        "  %fhip = getelementptr inbounds i64, ptr %flop, i64 1",
        "  %fhi = load i64, ptr %fhip",
        "  %fge = icmp uge i64 %rip, %flo",
        "  %flt = icmp ult i64 %rip, %fhi",
        "  %fin = and i1 %fge, %flt",
        "  br i1 %fin, label %find_store, label %func_next",
        "func_next:",
        "  %fi1 = add i64 %fi, 1",
        "  br label %func_loop",
        # stores: [count, ctx or 0, ...]: the live one of this thread with the lowest entry frame
        # above the stack pointer is the innermost
        "find_store:",
        _gep("%rspp", "%uc", UC_RSP),
        "  %rsp = load i64, ptr %rspp",
        _gep("%storesp", "%st", GS_STORES),
        "  %stores = load volatile ptr, ptr %storesp",
        "  %nst = load i64, ptr %stores",
        "  br label %st_loop",
        "st_loop:",
        "  %si = phi i64 [ 0, %find_store ], [ %si1, %st_body ], [ %si1, %st_slot ]",
        "  %best = phi i64 [ -1, %find_store ], [ %best1, %st_body ], [ %best, %st_slot ]",
        "  %bctx = phi i64 [ 0, %find_store ], [ %bctx1, %st_body ], [ %bctx, %st_slot ]",
        "  %smore = icmp ult i64 %si, %nst",
        "  br i1 %smore, label %st_slot, label %chosen",
        # a free slot holds 0
        "st_slot:",
        "  %si1 = add i64 %si, 1",
        "  %ctxp = getelementptr inbounds i64, ptr %stores, i64 %si1",
        "  %ctx = load volatile i64, ptr %ctxp",
        "  %used = icmp ne i64 %ctx, 0",
        "  br i1 %used, label %st_body, label %st_loop",
        "st_body:",
        "  %ctxa = inttoptr i64 %ctx to ptr",
        _gep("%depthp", "%ctxa", STORE_DEPTH),
        "  %depth = load volatile i64, ptr %depthp",
        _gep("%ownerp", "%ctxa", STORE_THREAD),
        "  %owner = load volatile i64, ptr %ownerp",
        _gep("%efpp", "%ctxa", STORE_ENTRY_FP),
        "  %efp = load volatile i64, ptr %efpp",
        "  %live = icmp ne i64 %depth, 0",
        "  %mine = icmp eq i64 %owner, %self",
        "  %above = icmp ugt i64 %efp, %rsp",
        "  %nearer = icmp ult i64 %efp, %best",
        "  %ok1 = and i1 %live, %mine",
        "  %ok2 = and i1 %above, %nearer",
        "  %ok = and i1 %ok1, %ok2",
        "  %best1 = select i1 %ok, i64 %efp, i64 %best",
        "  %bctx1 = select i1 %ok, i64 %ctx, i64 %bctx",
        "  br label %st_loop",
        "chosen:",
        "  %found = icmp ne i64 %bctx, 0",
        "  br i1 %found, label %redirect, label %done",
        # enter cwasm_interrupt_trap(ctx) as if the interrupted instruction had called it
        "redirect:",
        f"  %cell = add i64 %bctx, {STORE_SELF - CTX_STORE}",
        f"  %below = sub i64 %rsp, {RED_ZONE}",
        "  %aligned = and i64 %below, -16",
        "  %newsp = sub i64 %aligned, 8",
        f"  %ra = add i64 %rip, {CALL_SIZE}",
        "  %rap = inttoptr i64 %newsp to ptr",
        "  store volatile i64 %ra, ptr %rap",
        "  store i64 %newsp, ptr %rspp",
        _gep("%rdip", "%uc", UC_RDI),
        "  store i64 %cell, ptr %rdip",
        f"  %target = ptrtoint ptr @{INTERRUPT_TRAP_SYMBOL} to i64",
        "  store i64 %target, ptr %ripp",
        "  ret void",
        "done:",
        "  ret void",
        "}",
    ]
    mod.functions.append("\n".join(L))
