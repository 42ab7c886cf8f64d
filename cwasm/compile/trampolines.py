"""IR text of the code around wasm functions: entry and host trampolines, trap routines.

* ``array_to_wasm``: the entry trampoline Python calls, ``i32 (vmctx, values)``. It
  pushes a fresh jump buffer into the store context, calls ``_setjmp`` through the
  pointer stored there, loads the arguments from the ``u64x2`` values array, calls
  the wasm function and stores its results back. Returns 0, or 1 after a trap or an
  exception its landing pad caught (it catches everything: the unwinder never
  reaches the Python frames below it).
* ``wasm_to_array``: one per distinct signature of the type section (host functions
  enter wasm's calls through it, imported or reached as funcrefs). Called like a wasm
  function with a host function context as its vmctx; it spills the arguments into
  a values array on its stack, calls the Python callback stored in the context and
  traps (code ``TRAP_HOST_EXCEPTION``) if the callback reports an exception, or throws
  on the wasm exception the host function let through (``HOST_RETHROW``).
* the throw routine and the personality routine: ``cwasm.compile.unwinding``.
* ``trap``: one routine per trap code. It records the code and a backtrace (the
  return addresses of the frame-pointer chain up to the innermost entry trampoline)
  in the store context and ``longjmp``s to that trampoline.
"""

from __future__ import annotations

from cwasm.abi.builtins import ENTRY_TRAMPOLINE, HOST_CALLBACK
from cwasm.abi.vmoffsets import (
    CTX_STORE,
    HOST_RETHROW,
    HOSTCTX_CALLBACK,
    JMP_BUF_SIZE,
    STORE_DEPTH,
    STORE_ENTRY_FP,
    STORE_EXN,
    STORE_GC_ROOTS,
    STORE_JMP_BUF,
    STORE_LONGJMP,
    STORE_SETJMP,
    STORE_STACK_FLOOR,
    STORE_STACK_LIMIT,
    STORE_STACK_SIZE,
    TRAP_HOST_EXCEPTION,
    TRAP_UNCAUGHT_EXCEPTION,
    VALUE_SLOT_SIZE,
)
from cwasm.compile.irmodule import (
    ATTR_HOST_TRAMPOLINE,
    ATTR_NORETURN_CALL,
    ATTR_RETURNS_TWICE,
    ATTR_THROW_CALL,
    ATTR_TRAMPOLINE,
    ATTR_TRAP_CALL,
    ATTR_TRAP_FN,
    SECTION,
    WASM_CC,
    IRModule,
    ir_type,
    return_type,
)
from cwasm.compile.translate import func_symbol, trap_symbol
from cwasm.compile.unwinding import record_backtrace
from cwasm.wasm.types import FuncType


def array_to_wasm_symbol(func_index: int) -> str:
    return f"@a2w{func_index}"


def wasm_to_array_symbol(type_index: int) -> str:
    return f"@w2a{type_index}"


def _gep(dst: str, base: str, offset: int) -> str:
    return f"  {dst} = getelementptr inbounds i8, ptr {base}, i64 {offset}"


def _save_roots(mod: IRModule) -> list[str]:
    """Keep the GC root chain's head (``STORE_GC_ROOTS``) for a trap (docs/gc.md)."""
    if not mod.gc_roots:
        return []
    return [
        _gep("%rtp", "%s", STORE_GC_ROOTS),
        "  %prev_r = load i64, ptr %rtp",
        _gep("%sv4", "%saved", 32),
        "  store volatile i64 %prev_r, ptr %sv4",
    ]


def _restore_roots(mod: IRModule) -> list[str]:
    """After a trap, the frames whose root areas were above the saved head are gone."""
    if not mod.gc_roots:
        return []
    return [
        _gep("%tsv4", "%saved", 32),
        "  %t_r = load volatile i64, ptr %tsv4",
        _gep("%trp", "%ts", STORE_GC_ROOTS),
        "  store i64 %t_r, ptr %trp",
    ]


def array_to_wasm(mod: IRModule, func_index: int, ft: FuncType) -> None:
    """Append the entry trampoline of ``func_index`` (signature ``ft``)."""
    fa = mod.use("llvm.frameaddress.p0")
    L = [
        f"define hidden i32 {array_to_wasm_symbol(func_index)}"
        f"({ENTRY_TRAMPOLINE.ir_params(['%vmctx', '%values'])}) "
        f"{ATTR_TRAMPOLINE} {SECTION} personality ptr {mod.personality()} {{",
        "entry:",
        "  %saved = alloca [5 x i64], align 8",
        f"  %jb = alloca [{JMP_BUF_SIZE // 8} x i64], align 16",
        _gep("%sp", "%vmctx", CTX_STORE),
        "  %s = load ptr, ptr %sp",
        _gep("%jbp", "%s", STORE_JMP_BUF),
        _gep("%efp", "%s", STORE_ENTRY_FP),
        _gep("%dp", "%s", STORE_DEPTH),
        "  %prev_jb = load i64, ptr %jbp",
        "  %prev_fp = load i64, ptr %efp",
        "  %depth = load i64, ptr %dp",
        "  store volatile i64 %prev_jb, ptr %saved",
        _gep("%sv1", "%saved", 8),
        "  store volatile i64 %prev_fp, ptr %sv1",
        _gep("%sv2", "%saved", 16),
        "  store volatile i64 %depth, ptr %sv2",
        *_save_roots(mod),
        f"  %fp = call ptr {fa}(i32 0)",
        "  %fpi = ptrtoint ptr %fp to i64",
        "  %outer = icmp eq i64 %depth, 0",
        "  br i1 %outer, label %setlimit, label %enter",
        "setlimit:",
        _gep("%ssp", "%s", STORE_STACK_SIZE),
        "  %ss = load i64, ptr %ssp",
        "  %want = sub i64 %fpi, %ss",
        _gep("%flp", "%s", STORE_STACK_FLOOR),
        "  %floor = load i64, ptr %flp",
        "  %above = icmp ugt i64 %want, %floor",
        "  %lim = select i1 %above, i64 %want, i64 %floor",
        _gep("%limp", "%s", STORE_STACK_LIMIT),
        "  store i64 %lim, ptr %limp",
        "  br label %enter",
        "enter:",
        "  %d1 = add i64 %depth, 1",
        "  store i64 %d1, ptr %dp",
        "  %jbi = ptrtoint ptr %jb to i64",
        "  store i64 %jbi, ptr %jbp",
        "  store i64 %fpi, ptr %efp",
        _gep("%sjp", "%s", STORE_SETJMP),
        "  %sj = load ptr, ptr %sjp",
        f"  %r = call i32 %sj(ptr %jb) {ATTR_RETURNS_TWICE}",
        "  %trapped = icmp ne i32 %r, 0",
        "  br i1 %trapped, label %trap, label %run",
        "run:",
    ]
    args = ["ptr %vmctx", "ptr %vmctx"]
    for i, t in enumerate(ft.params):
        ty = ir_type(t)
        L.append(_gep(f"%ap{i}", "%values", VALUE_SLOT_SIZE * i))
        L.append(f"  %a{i} = load {ty}, ptr %ap{i}, align 8")
        args.append(f"{ty} %a{i}")
    ret = return_type(ft.results)
    # an exception no wasm frame caught lands here (nothing below is unwound)
    call = (
        f"invoke {WASM_CC} {ret} {func_symbol(func_index)}({', '.join(args)}) "
        "to label %returned unwind label %uncaught"
    )
    if ft.results:
        L.append(f"  %res = {call}")
    else:
        L.append(f"  {call}")
    L.append("returned:")
    for i, rt in enumerate(ft.results):
        ty = ir_type(rt)
        v = "%res"
        if len(ft.results) > 1:
            v = f"%r{i}"
            L.append(f"  {v} = extractvalue {ret} %res, {i}")
        L.append(_gep(f"%rp{i}", "%values", VALUE_SLOT_SIZE * i))
        L.append(f"  store {ty} {v}, ptr %rp{i}, align 8")
    L += [
        "  store i64 %prev_jb, ptr %jbp",
        "  store i64 %prev_fp, ptr %efp",
        "  store i64 %depth, ptr %dp",
        "  ret i32 0",
        "uncaught:",  # the throw routine recorded the trap code and the backtrace
        "  %lp = landingpad { ptr, i32 } catch ptr null",
        "  br label %trap",
        "trap:",
        # after longjmp only memory is trustworthy: reload what was saved
        "  %t_jb = load volatile i64, ptr %saved",
        _gep("%tsv1", "%saved", 8),
        "  %t_fp = load volatile i64, ptr %tsv1",
        _gep("%tsv2", "%saved", 16),
        "  %t_depth = load volatile i64, ptr %tsv2",
        _gep("%tsp", "%vmctx", CTX_STORE),
        "  %ts = load ptr, ptr %tsp",
        _gep("%tjbp", "%ts", STORE_JMP_BUF),
        "  store i64 %t_jb, ptr %tjbp",
        _gep("%tefp", "%ts", STORE_ENTRY_FP),
        "  store i64 %t_fp, ptr %tefp",
        _gep("%tdp", "%ts", STORE_DEPTH),
        "  store i64 %t_depth, ptr %tdp",
        *_restore_roots(mod),
        "  ret i32 1",
        "}",
    ]
    mod.functions.append("\n".join(L))


def wasm_to_array(mod: IRModule, type_index: int, ft: FuncType) -> None:
    """Append the trampoline that calls a host function of type ``ft`` from wasm."""
    params = [ir_type(t) for t in ft.params]
    ret = return_type(ft.results)
    n = max(len(ft.params), len(ft.results), 1)
    # slot n holds the completion flag the callback sets when it ran to the end; if
    # ctypes could not even run the Python code, the flag stays 0 and we trap out
    arglist = ", ".join(["ptr %ctx", "ptr %caller"] + [f"{t} %p{i}" for i, t in enumerate(params)])
    mod.trap_codes.add(TRAP_HOST_EXCEPTION)
    mod.trap_codes.add(TRAP_UNCAUGHT_EXCEPTION)  # the throw routine comes with it
    L = [
        f"define hidden {WASM_CC} {ret} {wasm_to_array_symbol(type_index)}({arglist}) "
        f"{ATTR_HOST_TRAMPOLINE} {SECTION} {{",
        "entry:",
        f"  %buf = alloca [{(n + 1) * VALUE_SLOT_SIZE // 8} x i64], align 16",
        _gep("%donep", "%buf", VALUE_SLOT_SIZE * n),
        "  store i64 0, ptr %donep",
    ]
    for i, t in enumerate(params):
        L.append(_gep(f"%ap{i}", "%buf", VALUE_SLOT_SIZE * i))
        L.append(f"  store {t} %p{i}, ptr %ap{i}, align 8")
    L += [
        _gep("%cbp", "%ctx", HOSTCTX_CALLBACK),
        "  %cb = load ptr, ptr %cbp",
        f"  %st = {HOST_CALLBACK.ir_call('%cb', ['%ctx', '%caller', '%buf', str(n)])}",
        "  %done = load volatile i64, ptr %donep",
        "  %good = icmp eq i64 %done, 1",
        "  br i1 %good, label %ok, label %failed",
        "failed:",
        f"  %rethrow = icmp eq i64 %done, {HOST_RETHROW}",
        "  br i1 %rethrow, label %throw, label %trap",
        "throw:",  # the host function let a wasm exception through: it goes on
        _gep("%sp", "%ctx", CTX_STORE),
        "  %s = load ptr, ptr %sp",
        _gep("%ep", "%s", STORE_EXN),
        "  %exn = load ptr, ptr %ep",
        f"  call void @exnthrow(ptr %ctx, ptr %exn) {ATTR_THROW_CALL}",
        "  unreachable",
        "trap:",
        f"  notail call void {trap_symbol(TRAP_HOST_EXCEPTION)}(ptr %ctx) {ATTR_TRAP_CALL}",
        "  unreachable",
        "ok:",
    ]
    for i, rt in enumerate(ft.results):
        ty = ir_type(rt)
        L.append(_gep(f"%rp{i}", "%buf", VALUE_SLOT_SIZE * i))
        L.append(f"  %r{i} = load {ty}, ptr %rp{i}, align 8")
    if not ft.results:
        L.append("  ret void")
    elif len(ft.results) == 1:
        L.append(f"  ret {ret} %r0")
    else:
        agg = "poison"
        for i, rt in enumerate(ft.results):
            L.append(f"  %agg{i} = insertvalue {ret} {agg}, {ir_type(rt)} %r{i}, {i}")
            agg = f"%agg{i}"
        L.append(f"  ret {ret} {agg}")
    L.append("}")
    mod.functions.append("\n".join(L))


def trap_routine(mod: IRModule, code: int, symbol: str | None = None) -> None:
    """Append the routine that records trap ``code`` and its backtrace, then ``longjmp``s
    (named ``symbol``, by default the routine wasm functions call for ``code``)."""
    name = symbol or trap_symbol(code)
    L = [
        f"define hidden void {name}(ptr %ctx) {ATTR_TRAP_FN} {SECTION} {{",
        "entry:",
        _gep("%sp", "%ctx", CTX_STORE),
        "  %s = load ptr, ptr %sp",
        *record_backtrace(mod, "%s", code),
        _gep("%jbp", "%s", STORE_JMP_BUF),
        "  %jb = load ptr, ptr %jbp",
        _gep("%ljp", "%s", STORE_LONGJMP),
        "  %lj = load ptr, ptr %ljp",
        f"  call void %lj(ptr %jb, i32 1) {ATTR_NORETURN_CALL}",
        "  unreachable",
        "}",
    ]
    mod.functions.append("\n".join(L))
