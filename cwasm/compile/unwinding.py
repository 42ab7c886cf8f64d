"""IR text of the routines that carry a wasm exception across frames (docs/exceptions.md).

* ``exnthrow`` (``void (ptr vmctx, ptr exn)``): throws an exception out of a wasm
  function. It leaves the exception at ``STORE_EXN``, records the backtrace an uncaught
  exception reports (the frames are gone once it lands), and raises it with the system
  unwinder (``_Unwind_RaiseException``, reached through the store context's unwind
  record, ``STORE_UNWIND``, whose header is the exception object the unwinder sees).
  The unwinder lands at the landing pad of the innermost ``try_table`` around a call on
  the way, or at the entry trampoline's, which catches everything. Should it return (no
  frame catches: never below an entry trampoline), the exception traps out as uncaught.
* ``cwasm_personality``: the personality routine every function with landing pads
  names. It reads the function's call-site table (LLVM's LSDA: call-site ranges,
  uleb128-encoded, relative to the function's start) and, for a call inside a range
  with a landing pad, reports a handler (search phase) or installs the landing pad
  (cleanup phase). The libgcc routines it needs come from the unwind record, reached
  from the exception object: the artifact holds no pointer to fix up at load time.
"""

from __future__ import annotations

from cwasm.abi.vmoffsets import (
    CTX_STORE,
    MAX_FRAMES,
    STORE_ENTRY_FP,
    STORE_EXN,
    STORE_FRAMES,
    STORE_NUM_FRAMES,
    STORE_TRAP_CODE,
    STORE_UNWIND,
    TRAP_UNCAUGHT_EXCEPTION,
    UNWIND_EXCEPTION_CLASS,
    UNWIND_GET_IP,
    UNWIND_GET_LSDA,
    UNWIND_GET_REGION_START,
    UNWIND_RAISE,
    UNWIND_SET_GR,
    UNWIND_SET_IP,
)
from cwasm.compile.irmodule import (
    ATTR_THROW_FN,
    ATTR_TRAMPOLINE,
    ATTR_TRAP_CALL,
    PERSONALITY,
    SECTION,
    IRModule,
)
from cwasm.compile.translate import trap_symbol

#: what the personality routine returns (the unwinder's ``_Unwind_Reason_Code``)
_URC_HANDLER_FOUND = 6
_URC_INSTALL_CONTEXT = 7
_URC_CONTINUE_UNWIND = 8
#: the search-phase bit of the unwinder's ``_Unwind_Action``
_UA_SEARCH_PHASE = 1


def _gep(dst: str, base: str, offset: int) -> str:
    return f"  {dst} = getelementptr inbounds i8, ptr {base}, i64 {offset}"


def record_backtrace(mod: IRModule, sctx: str, code: int) -> list[str]:
    """Lines recording trap ``code`` and the return addresses of the frame-pointer
    chain, from the current frame up to the innermost entry trampoline, in the store
    context ``sctx``. Uses the labels ``walk``, ``more`` and ``done`` (ends in ``done``)."""
    fa = mod.use("llvm.frameaddress.p0")
    return [
        _gep("%codep", sctx, STORE_TRAP_CODE),
        f"  store i64 {int(code)}, ptr %codep",
        _gep("%stopp", sctx, STORE_ENTRY_FP),
        "  %stop = load ptr, ptr %stopp",
        _gep("%frames", sctx, STORE_FRAMES),
        f"  %fp0 = call ptr {fa}(i32 0)",
        "  br label %walk",
        "walk:",
        "  %fp = phi ptr [ %fp0, %entry ], [ %next, %more ]",
        "  %n = phi i64 [ 0, %entry ], [ %n1, %more ]",
        _gep("%rap", "%fp", 8),
        "  %ra = load i64, ptr %rap",
        "  %slot = getelementptr inbounds i64, ptr %frames, i64 %n",
        "  store i64 %ra, ptr %slot",
        "  %n1 = add i64 %n, 1",
        "  %next = load ptr, ptr %fp",
        "  %at_entry = icmp eq ptr %next, %stop",
        "  %ascending = icmp ugt ptr %next, %fp",
        f"  %room = icmp ult i64 %n1, {MAX_FRAMES}",
        "  %ok1 = and i1 %ascending, %room",
        "  %go = select i1 %at_entry, i1 false, i1 %ok1",
        "  br i1 %go, label %more, label %done",
        "more:",
        "  br label %walk",
        "done:",
        _gep("%nfp", sctx, STORE_NUM_FRAMES),
        "  store i64 %n1, ptr %nfp",
    ]


def throw_routine(mod: IRModule) -> None:
    """Append ``@exnthrow``: see the module docstring."""
    L = [
        f"define hidden void @exnthrow(ptr %ctx, ptr %exn) {ATTR_THROW_FN} {SECTION} {{",
        "entry:",
        _gep("%sp", "%ctx", CTX_STORE),
        "  %s = load ptr, ptr %sp",
        _gep("%ep", "%s", STORE_EXN),
        "  store ptr %exn, ptr %ep",
        *record_backtrace(mod, "%s", TRAP_UNCAUGHT_EXCEPTION),
        _gep("%ue", "%s", STORE_UNWIND),
        _gep("%rp", "%ue", UNWIND_RAISE),
        "  %raise = load ptr, ptr %rp",
        "  %r = call i32 %raise(ptr %ue)",
        # no frame caught it (the unwinder found no entry trampoline): trap out
        f"  call void {trap_symbol(TRAP_UNCAUGHT_EXCEPTION)}(ptr %ctx) {ATTR_TRAP_CALL}",
        "  unreachable",
        "}",
    ]
    mod.functions.append("\n".join(L))


def personality_routine(mod: IRModule) -> None:
    """Append ``@cwasm_personality`` and its LEB128 reader: see the module docstring."""
    mod.defines_personality = True

    def routine(dst: str, offset: int) -> list[str]:
        return [_gep(f"{dst}p", "%ue", offset), f"  {dst} = load ptr, ptr {dst}p"]

    def uleb(n: int, at: str) -> list[str]:
        return [
            f"  %u{n} = call {{ i64, ptr }} @cwasm_uleb(ptr {at})",
            f"  %v{n} = extractvalue {{ i64, ptr }} %u{n}, 0",
            f"  %q{n} = extractvalue {{ i64, ptr }} %u{n}, 1",
        ]

    L = [
        f"define hidden i32 {PERSONALITY}(i32 %version, i32 %actions, i64 %class, ptr %ue, "
        f"ptr %uctx) {ATTR_TRAMPOLINE} {SECTION} {{",
        "entry:",
        f"  %ours = icmp eq i64 %class, {UNWIND_EXCEPTION_CLASS}",
        "  br i1 %ours, label %lsda, label %continue",
        "lsda:",
        *routine("%get_lsda", UNWIND_GET_LSDA),
        "  %table = call ptr %get_lsda(ptr %uctx)",
        "  %none = icmp eq ptr %table, null",
        "  br i1 %none, label %continue, label %header",
        "header:",
        *routine("%get_start", UNWIND_GET_REGION_START),
        "  %start = call i64 %get_start(ptr %uctx)",
        *routine("%get_ip", UNWIND_GET_IP),
        "  %ip = call i64 %get_ip(ptr %uctx)",
        # the return address is just past the call: the call itself is one byte before
        "  %ip1 = sub i64 %ip, 1",
        "  %pc = sub i64 %ip1, %start",
        # header: landing pad base encoding (omitted: the function start), type table
        # encoding and, unless omitted, its offset, then the call-site table's
        # encoding (uleb128) and length
        "  %ttencp = getelementptr inbounds i8, ptr %table, i64 1",
        "  %ttenc = load i8, ptr %ttencp",
        "  %after = getelementptr inbounds i8, ptr %table, i64 2",
        "  %hastt = icmp ne i8 %ttenc, -1",
        "  br i1 %hastt, label %skiptt, label %callsites",
        "skiptt:",
        *uleb(0, "%after"),
        "  br label %callsites",
        "callsites:",
        "  %csenc = phi ptr [ %after, %header ], [ %q0, %skiptt ]",
        "  %cslen = getelementptr inbounds i8, ptr %csenc, i64 1",
        *uleb(1, "%cslen"),
        "  %end = getelementptr inbounds i8, ptr %q1, i64 %v1",
        "  br label %loop",
        "loop:",
        "  %p = phi ptr [ %q1, %callsites ], [ %q5, %next ]",
        "  %more = icmp ult ptr %p, %end",
        "  br i1 %more, label %site, label %continue",
        "site:",
        *uleb(2, "%p"),  # start
        *uleb(3, "%q2"),  # length
        *uleb(4, "%q3"),  # landing pad
        *uleb(5, "%q4"),  # action (every landing pad catches everything)
        "  %before = icmp ult i64 %pc, %v2",
        "  br i1 %before, label %continue, label %check",
        "check:",
        "  %siteend = add i64 %v2, %v3",
        "  %inside = icmp ult i64 %pc, %siteend",
        "  br i1 %inside, label %found, label %next",
        "next:",
        "  br label %loop",
        "found:",
        "  %nolp = icmp eq i64 %v4, 0",
        "  br i1 %nolp, label %continue, label %handler",
        "handler:",
        f"  %search = and i32 %actions, {_UA_SEARCH_PHASE}",
        "  %searching = icmp ne i32 %search, 0",
        "  br i1 %searching, label %report, label %install",
        "report:",
        f"  ret i32 {_URC_HANDLER_FOUND}",
        "install:",
        *routine("%set_gr", UNWIND_SET_GR),
        "  %uei = ptrtoint ptr %ue to i64",
        "  call void %set_gr(ptr %uctx, i32 0, i64 %uei)",
        "  call void %set_gr(ptr %uctx, i32 1, i64 0)",
        *routine("%set_ip", UNWIND_SET_IP),
        "  %pad = add i64 %start, %v4",
        "  call void %set_ip(ptr %uctx, i64 %pad)",
        f"  ret i32 {_URC_INSTALL_CONTEXT}",
        "continue:",
        f"  ret i32 {_URC_CONTINUE_UNWIND}",
        "}",
        f"define internal {{ i64, ptr }} @cwasm_uleb(ptr %p0) {ATTR_TRAMPOLINE} {SECTION} {{",
        "entry:",
        "  br label %loop",
        "loop:",
        "  %p = phi ptr [ %p0, %entry ], [ %pn, %loop ]",
        "  %acc = phi i64 [ 0, %entry ], [ %acc1, %loop ]",
        "  %shift = phi i64 [ 0, %entry ], [ %shift1, %loop ]",
        "  %b = load i8, ptr %p",
        "  %pn = getelementptr inbounds i8, ptr %p, i64 1",
        "  %low = and i8 %b, 127",
        "  %low64 = zext i8 %low to i64",
        "  %part = shl i64 %low64, %shift",
        "  %acc1 = or i64 %acc, %part",
        "  %shift1 = add i64 %shift, 7",
        "  %cont = icmp slt i8 %b, 0",
        "  br i1 %cont, label %loop, label %done",
        "done:",
        "  %r0 = insertvalue { i64, ptr } poison, i64 %acc1, 0",
        "  %r1 = insertvalue { i64, ptr } %r0, ptr %pn, 1",
        "  ret { i64, ptr } %r1",
        "}",
    ]
    mod.functions.append("\n".join(L))
