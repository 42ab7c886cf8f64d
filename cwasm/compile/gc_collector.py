"""IR text of the native collector (docs/gc.md, "Collection"): ``cwasm_gc_collect``, a
non-moving mark-sweep over a store's GC heap, emitted into every artifact of a module
with struct or array types. It is compiled on its own (``collector_object``: once per
process and target) and laid out first in the artifact's code. Its contract (the control block, the shape table, the chunk
records, what it reads and writes) is ``cwasm.abi.gc_collect``; the runtime calls it
from ``cwasm.runtime.gc_collector``.

The routine has three phases:

1. **mark** from the root words and the frames' root areas. A root word is followed
   only if it is an object start: the first root that falls in a chunk has that chunk
   walked (object sizes from the shape table, free runs from their header) to fill its
   object-start bitmap. A word in a live object is followed if it lies in a chunk
   (``cwasm.abi.gc_collect`` says why that is enough); a host word
   (``handle << 2 | 2``) there sets the handle's bit. Each chunk counts its live bytes.
2. after a mark-stack overflow, **rescan** the chunks with live objects for marked
   objects and scan them again, until no overflow happens;
3. **sweep** each chunk with live objects: dead objects are zeroed and merged with the
   free runs around them into one free run; the marks are cleared.

The helpers are ``internal`` and ``alwaysinline``; everything is plain loads, stores and
loops (``"no-builtins"``: LLVM must not turn the zeroing loops into a ``memset`` call,
which the artifact could not resolve).
"""

from __future__ import annotations

import functools

from cwasm.abi import gc_collect as gcc
from cwasm.abi.gc_layout import OBJ_GC_BITS, ROOTS_COUNT, ROOTS_PREV, ROOTS_SLOTS
from cwasm.compile.gc_mark import RECORD, ctl_load, ctl_store, gep, helpers
from cwasm.compile.irmodule import SECTION, IRModule
from cwasm.compile.llvm_driver import compile_ir

_ROUTINE = f'nounwind noinline "frame-pointer"="all" "no-builtins" {SECTION}'


def _chunk_loop(prefix: str, entry: str, done: str, body: list[str]) -> list[str]:
    """A loop over the chunk records: ``%{prefix}rec``, ``%{prefix}start``,
    ``%{prefix}bytes`` in ``body``, which ends by branching to ``{prefix}next``."""
    p = prefix
    return [
        f"{p}head:",
        f"  %{p}ci = phi i64 [ 0, %{entry} ], [ %{p}ci1, %{p}next ]",
        f"  %{p}more = icmp ult i64 %{p}ci, %nchunks",
        f"  br i1 %{p}more, label %{p}chunk, label %{done}",
        f"{p}chunk:",
        f"  %{p}roff = mul i64 %{p}ci, {RECORD}",
        gep(f"%{p}rec", "%chunks", f"%{p}roff"),
        f"  %{p}start = load i64, ptr %{p}rec",
        gep(f"%{p}bytesp", f"%{p}rec", gcc.CHUNK_BYTES),
        f"  %{p}bytes = load i64, ptr %{p}bytesp",
        *body,
        f"{p}next:",
        f"  %{p}ci1 = add i64 %{p}ci, 1",
        f"  br label %{p}head",
    ]


def _collect() -> list[str]:
    """``cwasm_gc_collect(ctl)``: the three phases; live bytes, or ``COLLECT_CORRUPT``."""
    free = gcc.FREE_ID - (1 << 32)
    rescan = [
        gep("%rlivep", "%rrec", gcc.CHUNK_LIVE),
        "  %rlive = load i64, ptr %rlivep",
        "  %rnone = icmp eq i64 %rlive, 0",
        "  br i1 %rnone, label %rnext, label %rgo",
        "rgo:",
        "  br label %robj",
        "robj:",
        "  %rat = phi i64 [ 0, %rgo ], [ %rat1, %radvance ]",
        "  %robjmore = icmp ult i64 %rat, %rbytes",
        "  br i1 %robjmore, label %rbody, label %rnext",
        "rbody:",
        "  %raddr = add i64 %rstart, %rat",
        "  %rp = inttoptr i64 %raddr to ptr",
        "  %rsize = call i64 @cwasm_gc_size(ptr %ctl, ptr %rp)",
        "  %rbad = icmp eq i64 %rsize, 0",
        "  br i1 %rbad, label %rcorrupt, label %rok",
        "rcorrupt:",
        *ctl_store("%raddr", gcc.CTL_ERROR_AT, "rerr"),
        *ctl_store("1", gcc.CTL_CORRUPT, "rcor"),
        "  br label %rnext",
        "rok:",
        "  %rtid = load i32, ptr %rp",
        f"  %risfree = icmp eq i32 %rtid, {free}",
        "  br i1 %risfree, label %radvance, label %rtest",
        "rtest:",
        gep("%rbitsp", "%rp", OBJ_GC_BITS),
        "  %rbits = load i32, ptr %rbitsp",
        f"  %rm = and i32 %rbits, {gcc.GC_BIT_MARK}",
        "  %rmarked = icmp ne i32 %rm, 0",
        "  br i1 %rmarked, label %rscan, label %radvance",
        "rscan:",
        *ctl_load("%rstack", "ptr", gcc.CTL_STACK),  # the stack is empty: scan it there
        "  store i64 %raddr, ptr %rstack",
        *ctl_store("1", gcc.CTL_STACK_LEN, "rlen"),
        "  call void @cwasm_gc_drain(ptr %ctl)",
        "  br label %radvance",
        "radvance:",
        "  %rat1 = add i64 %rat, %rsize",
        "  br label %robj",
    ]
    sweep = [
        gep("%slivep", "%srec", gcc.CHUNK_LIVE),
        "  %slive = load i64, ptr %slivep",
        "  %sempty = icmp eq i64 %slive, 0",
        "  br i1 %sempty, label %snext, label %sgo",
        "sgo:",
        "  br label %sobj",
        "sobj:",
        "  %sat = phi i64 [ 0, %sgo ], [ %sat1, %sadvance ]",
        "  %srun = phi i64 [ -1, %sgo ], [ %srun1, %sadvance ]",
        "  %sacc = phi i64 [ 0, %sgo ], [ %sacc1, %sadvance ]",
        "  %sobjmore = icmp ult i64 %sat, %sbytes",
        "  br i1 %sobjmore, label %sbody, label %send",
        "sbody:",
        "  %saddr = add i64 %sstart, %sat",
        "  %sp = inttoptr i64 %saddr to ptr",
        "  %ssize = call i64 @cwasm_gc_size(ptr %ctl, ptr %sp)",
        "  %sbad = icmp eq i64 %ssize, 0",
        "  br i1 %sbad, label %corrupt, label %sok",
        "sok:",
        "  %stid = load i32, ptr %sp",
        f"  %sisfree = icmp eq i32 %stid, {free}",
        "  br i1 %sisfree, label %sfree, label %stest",
        "sfree:",  # a free run's body is already zero: clear its header
        "  store i64 0, ptr %sp",
        "  br label %sdead",
        "stest:",
        gep("%sbitsp", "%sp", OBJ_GC_BITS),
        "  %sbits = load i32, ptr %sbitsp",
        f"  %sm = and i32 %sbits, {gcc.GC_BIT_MARK}",
        "  %smarked = icmp ne i32 %sm, 0",
        "  br i1 %smarked, label %slive_obj, label %szero",
        "slive_obj:",
        f"  %sclear = and i32 %sbits, {~gcc.GC_BIT_MARK}",
        "  store i32 %sclear, ptr %sbitsp",
        "  %saccl = add i64 %sacc, %ssize",
        "  %shasrun = icmp sge i64 %srun, 0",
        "  br i1 %shasrun, label %sclose, label %sadvance",
        "sclose:",
        "  %scaddr = add i64 %sstart, %srun",
        "  %sclen = sub i64 %sat, %srun",
        "  call void @cwasm_gc_free_run(ptr %ctl, i64 %scaddr, i64 %sclen)",
        "  br label %sadvance",
        "szero:",  # a dead object: zero its words
        "  %swords = lshr i64 %ssize, 3",
        "  br label %szloop",
        "szloop:",
        "  %sz = phi i64 [ 0, %szero ], [ %sz1, %szbody ]",
        "  %szmore = icmp ult i64 %sz, %swords",
        "  br i1 %szmore, label %szbody, label %sdead",
        "szbody:",
        "  %szp = getelementptr inbounds i64, ptr %sp, i64 %sz",
        "  store i64 0, ptr %szp",
        "  %sz1 = add i64 %sz, 1",
        "  br label %szloop",
        "sdead:",
        "  %snorun = icmp slt i64 %srun, 0",
        "  %snewrun = select i1 %snorun, i64 %sat, i64 %srun",
        "  br label %sadvance",
        "sadvance:",
        "  %srun1 = phi i64 [ -1, %slive_obj ], [ -1, %sclose ], [ %snewrun, %sdead ]",
        "  %sacc1 = phi i64 [ %saccl, %slive_obj ], [ %saccl, %sclose ], [ %sacc, %sdead ]",
        "  %sat1 = add i64 %sat, %ssize",
        "  br label %sobj",
        "send:",
        "  store i64 %sacc, ptr %slivep",
        "  %stotal1 = add i64 %stotal, %sacc",
        "  %shaslast = icmp sge i64 %srun, 0",
        "  br i1 %shaslast, label %slast, label %snext",
        "slast:",
        "  %sladdr = add i64 %sstart, %srun",
        "  %sllen = sub i64 %sbytes, %srun",
        "  call void @cwasm_gc_free_run(ptr %ctl, i64 %sladdr, i64 %sllen)",
        "  br label %snext",
    ]
    # the sweep's total of live bytes runs through its chunk loop
    sweep_loop = _chunk_loop("s", "sweep_go", "done", sweep)
    sweep_loop[1] = (
        "  %sci = phi i64 [ 0, %sweep_go ], [ %sci1, %snext ]\n"
        "  %stotal = phi i64 [ 0, %sweep_go ], [ %stotalnext, %snext ]"
    )
    snext = sweep_loop.index("snext:")
    sweep_loop.insert(
        snext + 1,
        "  %stotalnext = phi i64 [ %stotal, %schunk ], [ %stotal1, %send ], [ %stotal1, %slast ]",
    )
    roots_loop = [
        "roots_start:",
        *ctl_load("%roots", "ptr", gcc.CTL_ROOTS),
        *ctl_load("%nroots", "i64", gcc.CTL_NUM_ROOTS),
        "  br label %rthead",
        "rthead:",
        "  %ri = phi i64 [ 0, %roots_start ], [ %ri1, %rtbody ]",
        "  %rtmore = icmp ult i64 %ri, %nroots",
        "  br i1 %rtmore, label %rtbody, label %areas",
        "rtbody:",
        "  %rtp = getelementptr inbounds i64, ptr %roots, i64 %ri",
        "  %rtw = load i64, ptr %rtp",
        "  call void @cwasm_gc_visit(ptr %ctl, i64 %rtw, i1 false)",
        "  call void @cwasm_gc_drain(ptr %ctl)",
        "  %ri1 = add i64 %ri, 1",
        "  br label %rthead",
        "areas:",
        *ctl_load("%area0", "i64", gcc.CTL_ROOT_AREAS),
        "  br label %ahead",
        "ahead:",
        "  %area = phi i64 [ %area0, %areas ], [ %anext, %aslots ]",
        "  %ahas = icmp ne i64 %area, 0",
        "  br i1 %ahas, label %aarea, label %overflow",
        "aarea:",
        "  %ap = inttoptr i64 %area to ptr",
        gep("%acountp", "%ap", ROOTS_COUNT),
        "  %acount = load i64, ptr %acountp",
        gep("%aslot0", "%ap", ROOTS_SLOTS),
        "  br label %aslot",
        "aslot:",
        "  %ak = phi i64 [ 0, %aarea ], [ %ak1, %aslotbody ]",
        "  %akmore = icmp ult i64 %ak, %acount",
        "  br i1 %akmore, label %aslotbody, label %aslots",
        "aslotbody:",
        "  %akp = getelementptr inbounds i64, ptr %aslot0, i64 %ak",
        "  %akw = load i64, ptr %akp",
        "  call void @cwasm_gc_visit(ptr %ctl, i64 %akw, i1 false)",
        "  call void @cwasm_gc_drain(ptr %ctl)",
        "  %ak1 = add i64 %ak, 1",
        "  br label %aslot",
        "aslots:",
        gep("%aprevp", "%ap", ROOTS_PREV),
        "  %anext = load i64, ptr %aprevp",
        "  br label %ahead",
    ]
    return [
        f"define i64 @{gcc.GC_COLLECT_SYMBOL}(ptr noalias %ctl) {_ROUTINE} {{",
        "entry:",
        *ctl_store("0", gcc.CTL_STACK_LEN, "len"),
        *ctl_store("0", gcc.CTL_OVERFLOW, "ovf"),
        *ctl_store("0", gcc.CTL_NUM_FREE, "nfree"),
        *ctl_store("0", gcc.CTL_OVERFLOWS, "novf0"),
        *ctl_store("0", gcc.CTL_CORRUPT, "cor0"),
        *ctl_store("0", gcc.CTL_LAST_CHUNK, "last0"),
        *ctl_load("%chunks", "ptr", gcc.CTL_CHUNKS),
        *ctl_load("%nchunks", "i64", gcc.CTL_NUM_CHUNKS),
        "  br label %roots_start",
        "corrupt:",  # a chunk the sweep cannot parse
        *ctl_store("%saddr", gcc.CTL_ERROR_AT, "err"),
        f"  ret i64 {gcc.COLLECT_CORRUPT}",
        "corrupt_found:",  # a chunk a walk could not parse
        f"  ret i64 {gcc.COLLECT_CORRUPT}",
        *roots_loop,
        "overflow:",
        *ctl_load("%flag", "i64", gcc.CTL_OVERFLOW),
        "  %again = icmp ne i64 %flag, 0",
        "  br i1 %again, label %rescan, label %sweep",
        "rescan:",
        *ctl_store("0", gcc.CTL_OVERFLOW, "ovf2"),
        *ctl_load("%novf", "i64", gcc.CTL_OVERFLOWS),
        "  %novf1 = add i64 %novf, 1",
        "  store i64 %novf1, ptr %novf.p",
        "  br label %rhead",
        *_chunk_loop("r", "rescan", "overflow", rescan),
        "sweep:",
        *ctl_load("%cor", "i64", gcc.CTL_CORRUPT),
        "  %iscor = icmp ne i64 %cor, 0",
        "  br i1 %iscor, label %corrupt_found, label %sweep_go",
        "sweep_go:",
        "  br label %shead",
        *sweep_loop,
        "done:",
        "  ret i64 %stotal",
        "}",
    ]


def gc_collector_routine(mod: IRModule) -> None:
    """Append ``cwasm_gc_collect`` and its helpers to ``mod``."""
    mod.functions.extend(helpers())
    mod.functions.append("\n".join(_collect()))


def collector_ir(triple: str) -> str:
    """The IR module of the routine alone, for ``triple``."""
    mod = IRModule(arch=triple.split("-", 1)[0])
    gc_collector_routine(mod)
    return mod.text()


@functools.cache
def collector_object(triple: str, opt_level: int) -> bytes:
    """The routine compiled for ``triple`` (an ELF object the pre-linker lays out with a
    module's parts): the same for every module, so compiled once per process (and kept
    in the part cache when the compiler has one)."""
    return compile_ir(collector_ir(triple), triple, opt_level)
