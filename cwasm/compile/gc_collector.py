"""IR text of the native collector (docs/gc.md, "Collection"): ``cwasm_gc_collect``, a
non-moving mark-sweep over a store's GC heap, emitted into every artifact of a module
with struct or array types. Its contract (the control block, the shape table, the chunk
records, what it reads and writes) is ``cwasm.abi.gc_collect``; the runtime calls it
from ``cwasm.runtime.gc_collector``.

The routine has four phases:

1. **walk** each chunk from its start (object sizes from the shape table, free runs
   from their header), filling the chunk's object-start bitmap;
2. **mark** from the root words and the frames' root areas: a word is followed only if
   the bitmap says it is an object start, so a stale slot, a funcref or an arena word is
   never read as an object; a host word (``handle << 2 | 2``) in an object sets the
   handle's bit;
3. after a mark-stack overflow, **rescan** the heap for marked objects and scan them
   again, until no overflow happens;
4. **sweep** each chunk with live objects: dead objects are zeroed and merged with the
   free runs around them into one free run; the marks are cleared.

The helpers are ``internal`` and ``alwaysinline``; everything is plain loads, stores and
loops (``"no-builtins"``: LLVM must not turn the zeroing loops into a ``memset`` call,
which the artifact could not resolve).
"""

from __future__ import annotations

from cwasm.abi import gc_collect as gcc
from cwasm.abi.gc_layout import ARRAY_LENGTH, OBJ_GC_BITS, ROOTS_COUNT, ROOTS_PREV, ROOTS_SLOTS
from cwasm.compile.irmodule import SECTION, IRModule

_ROUTINE = f'nounwind noinline "frame-pointer"="all" "no-builtins" {SECTION}'
_CHUNK_SHIFT = 5  # a chunk record is 32 bytes
assert gcc.CHUNK_WORDS * 8 == 1 << _CHUNK_SHIFT


def _gep(dst: str, base: str, offset: int | str) -> str:
    return f"  {dst} = getelementptr inbounds i8, ptr {base}, i64 {offset}"


def _ctl(dst: str, ty: str, offset: int) -> list[str]:
    """Load the control block's word at ``offset``."""
    return [_gep(f"{dst}.p", "%ctl", offset), f"  {dst} = load {ty}, ptr {dst}.p"]


def _set_ctl(value: str, offset: int, name: str) -> list[str]:
    return [_gep(f"%{name}.p", "%ctl", offset), f"  store i64 {value}, ptr %{name}.p"]


def _size() -> list[str]:
    """``cwasm_gc_size(ctl, p)``: the bytes of the object or free run at ``p``; 0 when
    its header names no object type."""
    mask = gcc.SHAPE_FIELD_MASK
    return [
        f"define internal i64 @cwasm_gc_size(ptr %ctl, ptr %p) alwaysinline nounwind "
        f'"no-builtins" {SECTION} {{',
        "entry:",
        "  %tid = load i32, ptr %p",
        f"  %isfree = icmp eq i32 %tid, {gcc.FREE_ID - (1 << 32)}",
        "  br i1 %isfree, label %free, label %object",
        "free:",
        _gep("%wp", "%p", 4),
        "  %words = load i32, ptr %wp",
        "  %words64 = zext i32 %words to i64",
        "  %fsize = shl i64 %words64, 3",
        "  ret i64 %fsize",
        "object:",
        *_ctl("%nshapes", "i64", gcc.CTL_NUM_SHAPES),
        "  %t64 = zext i32 %tid to i64",
        "  %known = icmp ult i64 %t64, %nshapes",
        "  br i1 %known, label %shape, label %bad",
        "shape:",
        *_ctl("%shapes", "ptr", gcc.CTL_SHAPES),
        f"  %si = mul i64 %t64, {gcc.SHAPE_WORDS}",
        "  %sp = getelementptr inbounds i64, ptr %shapes, i64 %si",
        "  %w0 = load i64, ptr %sp",
        "  %isarray = icmp slt i64 %w0, 0",
        "  br i1 %isarray, label %array, label %struct",
        "struct:",
        "  ret i64 %w0",
        "array:",
        f"  %esize = and i64 %w0, {mask}",
        f"  %eoff0 = lshr i64 %w0, {gcc.SHAPE_OFFSET_SHIFT}",
        f"  %eoff = and i64 %eoff0, {mask}",
        _gep("%lp", "%p", ARRAY_LENGTH),
        "  %len = load i32, ptr %lp",
        "  %len64 = zext i32 %len to i64",
        "  %body = mul i64 %esize, %len64",
        "  %asize0 = add i64 %body, %eoff",
        "  %asize1 = add i64 %asize0, 7",
        "  %asize = and i64 %asize1, -8",
        "  ret i64 %asize",
        "bad:",
        "  ret i64 0",
        "}",
    ]


def _find() -> list[str]:
    """``cwasm_gc_find(ctl, w)``: the chunk record of the chunk where word ``w`` is an
    object start, or null (a binary search of the sorted chunks, then the bitmap)."""
    return [
        f'define internal ptr @cwasm_gc_find(ptr %ctl, i64 %w) alwaysinline nounwind "no-builtins" '
        f"{SECTION} {{",
        "entry:",
        "  %low = and i64 %w, 7",
        "  %aligned = icmp eq i64 %low, 0",
        "  %nonzero = icmp ne i64 %w, 0",
        "  %maybe = and i1 %aligned, %nonzero",
        "  br i1 %maybe, label %search, label %no",
        "search:",
        *_ctl("%chunks", "ptr", gcc.CTL_CHUNKS),
        *_ctl("%n", "i64", gcc.CTL_NUM_CHUNKS),
        "  %any = icmp ne i64 %n, 0",
        "  br i1 %any, label %loop, label %no",
        "loop:",
        "  %lo = phi i64 [ 0, %search ], [ %lo2, %step ]",
        "  %hi = phi i64 [ %n, %search ], [ %hi2, %step ]",
        "  %span = sub i64 %hi, %lo",
        "  %more = icmp ugt i64 %span, 1",
        "  br i1 %more, label %step, label %check",
        "step:",
        "  %half = lshr i64 %span, 1",
        "  %mid = add i64 %lo, %half",
        f"  %moff = shl i64 %mid, {_CHUNK_SHIFT}",
        _gep("%mrec", "%chunks", "%moff"),
        "  %mstart = load i64, ptr %mrec",
        "  %below = icmp ule i64 %mstart, %w",
        "  %lo2 = select i1 %below, i64 %mid, i64 %lo",
        "  %hi2 = select i1 %below, i64 %hi, i64 %mid",
        "  br label %loop",
        "check:",
        f"  %roff = shl i64 %lo, {_CHUNK_SHIFT}",
        _gep("%rec", "%chunks", "%roff"),
        "  %start = load i64, ptr %rec",
        _gep("%bytesp", "%rec", gcc.CHUNK_BYTES),
        "  %bytes = load i64, ptr %bytesp",
        "  %off = sub i64 %w, %start",
        "  %inside = icmp ult i64 %off, %bytes",
        "  br i1 %inside, label %bit, label %no",
        "bit:",
        _gep("%bmp", "%rec", gcc.CHUNK_STARTS),
        "  %bm = load ptr, ptr %bmp",
        "  %g = lshr i64 %off, 3",
        "  %gw = lshr i64 %g, 6",
        "  %gb = and i64 %g, 63",
        "  %wordp = getelementptr inbounds i64, ptr %bm, i64 %gw",
        "  %word = load i64, ptr %wordp",
        "  %mask = shl i64 1, %gb",
        "  %has = and i64 %word, %mask",
        "  %isstart = icmp ne i64 %has, 0",
        "  %found = select i1 %isstart, ptr %rec, ptr null",
        "  ret ptr %found",
        "no:",
        "  ret ptr null",
        "}",
    ]


def _visit() -> list[str]:
    """``cwasm_gc_visit(ctl, w, host)``: mark and push the object ``w`` is, if it is
    one; with ``host``, a host word sets its handle's bit."""
    mark = gcc.GC_BIT_MARK
    return [
        f'define internal void @cwasm_gc_visit(ptr %ctl, i64 %w, i1 %host) alwaysinline nounwind "no-builtins" '
        f"{SECTION} {{",
        "entry:",
        "  %tag = and i64 %w, 3",
        "  %ishost = icmp eq i64 %tag, 2",
        "  %report = and i1 %ishost, %host",
        "  br i1 %report, label %handle, label %object",
        "handle:",
        "  %h = lshr i64 %w, 2",
        *_ctl("%nh", "i64", gcc.CTL_NUM_HANDLES),
        "  %known = icmp ult i64 %h, %nh",
        "  br i1 %known, label %sethandle, label %out",
        "sethandle:",
        *_ctl("%hbits", "ptr", gcc.CTL_HANDLES),
        "  %hw = lshr i64 %h, 6",
        "  %hb = and i64 %h, 63",
        "  %hwp = getelementptr inbounds i64, ptr %hbits, i64 %hw",
        "  %hword = load i64, ptr %hwp",
        "  %hmask = shl i64 1, %hb",
        "  %hnew = or i64 %hword, %hmask",
        "  store i64 %hnew, ptr %hwp",
        "  br label %out",
        "object:",
        "  %rec = call ptr @cwasm_gc_find(ptr %ctl, i64 %w)",
        "  %isobj = icmp ne ptr %rec, null",
        "  br i1 %isobj, label %obj, label %out",
        "obj:",
        "  %p = inttoptr i64 %w to ptr",
        _gep("%bitsp", "%p", OBJ_GC_BITS),
        "  %bits = load i32, ptr %bitsp",
        f"  %m = and i32 %bits, {mark}",
        "  %marked = icmp ne i32 %m, 0",
        "  br i1 %marked, label %out, label %mark",
        "mark:",
        f"  %nbits = or i32 %bits, {mark}",
        "  store i32 %nbits, ptr %bitsp",
        "  %size = call i64 @cwasm_gc_size(ptr %ctl, ptr %p)",
        _gep("%livep", "%rec", gcc.CHUNK_LIVE),
        "  %live = load i64, ptr %livep",
        "  %live2 = add i64 %live, %size",
        "  store i64 %live2, ptr %livep",
        *_ctl("%len", "i64", gcc.CTL_STACK_LEN),
        *_ctl("%cap", "i64", gcc.CTL_STACK_CAP),
        "  %room = icmp ult i64 %len, %cap",
        "  br i1 %room, label %push, label %overflow",
        "push:",
        *_ctl("%stack", "ptr", gcc.CTL_STACK),
        "  %slot = getelementptr inbounds i64, ptr %stack, i64 %len",
        "  store i64 %w, ptr %slot",
        "  %len2 = add i64 %len, 1",
        "  store i64 %len2, ptr %len.p",
        "  br label %out",
        "overflow:",
        *_set_ctl("1", gcc.CTL_OVERFLOW, "flag"),
        "  br label %out",
        "out:",
        "  ret void",
        "}",
    ]


def _scan() -> list[str]:
    """``cwasm_gc_scan(ctl, a)``: visit every reference of the object at ``a``."""
    return [
        f'define internal void @cwasm_gc_scan(ptr %ctl, i64 %a) alwaysinline nounwind "no-builtins" '
        f"{SECTION} {{",
        "entry:",
        "  %p = inttoptr i64 %a to ptr",
        "  %tid = load i32, ptr %p",
        "  %t64 = zext i32 %tid to i64",
        *_ctl("%shapes", "ptr", gcc.CTL_SHAPES),
        f"  %si = mul i64 %t64, {gcc.SHAPE_WORDS}",
        "  %sp = getelementptr inbounds i64, ptr %shapes, i64 %si",
        "  %w0 = load i64, ptr %sp",
        "  %isarray = icmp slt i64 %w0, 0",
        "  br i1 %isarray, label %array, label %struct",
        "struct:",
        "  %w1p = getelementptr inbounds i64, ptr %sp, i64 1",
        "  %w1 = load i64, ptr %w1p",
        "  %first = lshr i64 %w1, 32",
        "  %count = and i64 %w1, 4294967295",
        *_ctl("%offs", "ptr", gcc.CTL_REF_OFFSETS),
        "  br label %sloop",
        "sloop:",
        "  %i = phi i64 [ 0, %struct ], [ %i1, %sbody ]",
        "  %sdone = icmp eq i64 %i, %count",
        "  br i1 %sdone, label %out, label %sbody",
        "sbody:",
        "  %k = add i64 %first, %i",
        "  %op = getelementptr inbounds i32, ptr %offs, i64 %k",
        "  %off = load i32, ptr %op",
        "  %off64 = zext i32 %off to i64",
        _gep("%fp", "%p", "%off64"),
        "  %fw = load i64, ptr %fp",
        "  call void @cwasm_gc_visit(ptr %ctl, i64 %fw, i1 true)",
        "  %i1 = add i64 %i, 1",
        "  br label %sloop",
        "array:",
        f"  %refs = and i64 %w0, {gcc.SHAPE_REFS}",
        "  %isref = icmp ne i64 %refs, 0",
        "  br i1 %isref, label %aref, label %out",
        "aref:",
        f"  %eoff0 = lshr i64 %w0, {gcc.SHAPE_OFFSET_SHIFT}",
        f"  %eoff = and i64 %eoff0, {gcc.SHAPE_FIELD_MASK}",
        _gep("%lp", "%p", ARRAY_LENGTH),
        "  %len = load i32, ptr %lp",
        "  %n = zext i32 %len to i64",
        _gep("%elems", "%p", "%eoff"),
        "  br label %aloop",
        "aloop:",
        "  %j = phi i64 [ 0, %aref ], [ %j1, %abody ]",
        "  %adone = icmp eq i64 %j, %n",
        "  br i1 %adone, label %out, label %abody",
        "abody:",
        "  %ep = getelementptr inbounds i64, ptr %elems, i64 %j",
        "  %ew = load i64, ptr %ep",
        "  call void @cwasm_gc_visit(ptr %ctl, i64 %ew, i1 true)",
        "  %j1 = add i64 %j, 1",
        "  br label %aloop",
        "out:",
        "  ret void",
        "}",
    ]


def _drain() -> list[str]:
    """``cwasm_gc_drain(ctl)``: scan objects off the mark stack until it is empty."""
    return [
        f'define internal void @cwasm_gc_drain(ptr %ctl) alwaysinline nounwind "no-builtins" '
        f"{SECTION} {{",
        "entry:",
        _gep("%lenp", "%ctl", gcc.CTL_STACK_LEN),
        *_ctl("%stack", "ptr", gcc.CTL_STACK),
        "  br label %loop",
        "loop:",
        "  %len = load i64, ptr %lenp",
        "  %empty = icmp eq i64 %len, 0",
        "  br i1 %empty, label %out, label %pop",
        "pop:",
        "  %top = sub i64 %len, 1",
        "  store i64 %top, ptr %lenp",
        "  %slot = getelementptr inbounds i64, ptr %stack, i64 %top",
        "  %a = load i64, ptr %slot",
        "  call void @cwasm_gc_scan(ptr %ctl, i64 %a)",
        "  br label %loop",
        "out:",
        "  ret void",
        "}",
    ]


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
        f"  %{p}roff = shl i64 %{p}ci, {_CHUNK_SHIFT}",
        _gep(f"%{p}rec", "%chunks", f"%{p}roff"),
        f"  %{p}start = load i64, ptr %{p}rec",
        _gep(f"%{p}bytesp", f"%{p}rec", gcc.CHUNK_BYTES),
        f"  %{p}bytes = load i64, ptr %{p}bytesp",
        *body,
        f"{p}next:",
        f"  %{p}ci1 = add i64 %{p}ci, 1",
        f"  br label %{p}head",
    ]


def _collect() -> list[str]:
    """``cwasm_gc_collect(ctl)``: the four phases; live bytes, or ``COLLECT_CORRUPT``."""
    free = gcc.FREE_ID - (1 << 32)
    walk = [
        _gep("%wlivep", "%wrec", gcc.CHUNK_LIVE),
        "  store i64 0, ptr %wlivep",
        _gep("%wbmp", "%wrec", gcc.CHUNK_STARTS),
        "  %wbm = load ptr, ptr %wbmp",
        "  %wbytes511 = add i64 %wbytes, 511",
        "  %wnbm = lshr i64 %wbytes511, 9",
        "  br label %wzero",
        "wzero:",
        "  %wz = phi i64 [ 0, %wchunk ], [ %wz1, %wzbody ]",
        "  %wzmore = icmp ult i64 %wz, %wnbm",
        "  br i1 %wzmore, label %wzbody, label %wobj",
        "wzbody:",
        "  %wzp = getelementptr inbounds i64, ptr %wbm, i64 %wz",
        "  store i64 0, ptr %wzp",
        "  %wz1 = add i64 %wz, 1",
        "  br label %wzero",
        "wobj:",
        "  %wat = phi i64 [ 0, %wzero ], [ %wat1, %wadvance ]",
        "  %wobjmore = icmp ult i64 %wat, %wbytes",
        "  br i1 %wobjmore, label %wbody, label %wend",
        "wbody:",
        "  %waddr = add i64 %wstart, %wat",
        "  %wp = inttoptr i64 %waddr to ptr",
        "  %wsize = call i64 @cwasm_gc_size(ptr %ctl, ptr %wp)",
        "  %wbad = icmp eq i64 %wsize, 0",
        "  br i1 %wbad, label %corrupt, label %wok",
        "wok:",
        "  %wtid = load i32, ptr %wp",
        f"  %wisfree = icmp eq i32 %wtid, {free}",
        "  br i1 %wisfree, label %wadvance, label %wsetbit",
        "wsetbit:",
        "  %wg = lshr i64 %wat, 3",
        "  %wgw = lshr i64 %wg, 6",
        "  %wgb = and i64 %wg, 63",
        "  %wgp = getelementptr inbounds i64, ptr %wbm, i64 %wgw",
        "  %wword = load i64, ptr %wgp",
        "  %wmask = shl i64 1, %wgb",
        "  %wnew = or i64 %wword, %wmask",
        "  store i64 %wnew, ptr %wgp",
        "  br label %wadvance",
        "wadvance:",
        "  %wat1 = add i64 %wat, %wsize",
        "  br label %wobj",
        "wend:",
        "  %wexact = icmp eq i64 %wat, %wbytes",
        "  %wendaddr = add i64 %wstart, %wat",
        "  br i1 %wexact, label %wnext, label %corrupt",
    ]
    rescan = [
        "  br label %robj",
        "robj:",
        "  %rat = phi i64 [ 0, %rchunk ], [ %rat1, %radvance ]",
        "  %robjmore = icmp ult i64 %rat, %rbytes",
        "  br i1 %robjmore, label %rbody, label %rnext",
        "rbody:",
        "  %raddr = add i64 %rstart, %rat",
        "  %rp = inttoptr i64 %raddr to ptr",
        "  %rsize = call i64 @cwasm_gc_size(ptr %ctl, ptr %rp)",
        "  %rtid = load i32, ptr %rp",
        f"  %risfree = icmp eq i32 %rtid, {free}",
        "  br i1 %risfree, label %radvance, label %rtest",
        "rtest:",
        _gep("%rbitsp", "%rp", OBJ_GC_BITS),
        "  %rbits = load i32, ptr %rbitsp",
        f"  %rm = and i32 %rbits, {gcc.GC_BIT_MARK}",
        "  %rmarked = icmp ne i32 %rm, 0",
        "  br i1 %rmarked, label %rscan, label %radvance",
        "rscan:",
        "  call void @cwasm_gc_scan(ptr %ctl, i64 %raddr)",
        "  call void @cwasm_gc_drain(ptr %ctl)",
        "  br label %radvance",
        "radvance:",
        "  %rat1 = add i64 %rat, %rsize",
        "  br label %robj",
    ]
    sweep = [
        _gep("%slivep", "%srec", gcc.CHUNK_LIVE),
        "  %slive = load i64, ptr %slivep",
        "  %sempty = icmp eq i64 %slive, 0",
        "  br i1 %sempty, label %snext, label %sgo",
        "sgo:",
        "  br label %sobj",
        "sobj:",
        "  %sat = phi i64 [ 0, %sgo ], [ %sat1, %sadvance ]",
        "  %srun = phi i64 [ -1, %sgo ], [ %srun1, %sadvance ]",
        "  %sobjmore = icmp ult i64 %sat, %sbytes",
        "  br i1 %sobjmore, label %sbody, label %send",
        "sbody:",
        "  %saddr = add i64 %sstart, %sat",
        "  %sp = inttoptr i64 %saddr to ptr",
        "  %ssize = call i64 @cwasm_gc_size(ptr %ctl, ptr %sp)",
        "  %stid = load i32, ptr %sp",
        f"  %sisfree = icmp eq i32 %stid, {free}",
        "  br i1 %sisfree, label %sfree, label %stest",
        "sfree:",  # a free run's body is already zero: clear its header
        "  store i64 0, ptr %sp",
        "  br label %sdead",
        "stest:",
        _gep("%sbitsp", "%sp", OBJ_GC_BITS),
        "  %sbits = load i32, ptr %sbitsp",
        f"  %sm = and i32 %sbits, {gcc.GC_BIT_MARK}",
        "  %smarked = icmp ne i32 %sm, 0",
        "  br i1 %smarked, label %slive_obj, label %szero",
        "slive_obj:",
        f"  %sclear = and i32 %sbits, {~gcc.GC_BIT_MARK}",
        "  store i32 %sclear, ptr %sbitsp",
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
        "  %sat1 = add i64 %sat, %ssize",
        "  br label %sobj",
        "send:",
        "  %stotal1 = add i64 %stotal, %slive",
        "  %shaslast = icmp sge i64 %srun, 0",
        "  br i1 %shaslast, label %slast, label %snext",
        "slast:",
        "  %sladdr = add i64 %sstart, %srun",
        "  %sllen = sub i64 %sbytes, %srun",
        "  call void @cwasm_gc_free_run(ptr %ctl, i64 %sladdr, i64 %sllen)",
        "  br label %snext",
    ]
    # the sweep's total of live bytes runs through its chunk loop
    sweep_loop = _chunk_loop("s", "sweep", "done", sweep)
    sweep_loop[1] = (
        "  %sci = phi i64 [ 0, %sweep ], [ %sci1, %snext ]\n"
        "  %stotal = phi i64 [ 0, %sweep ], [ %stotalnext, %snext ]"
    )
    snext = sweep_loop.index("snext:")
    sweep_loop.insert(
        snext + 1,
        "  %stotalnext = phi i64 [ %stotal, %schunk ], [ %stotal1, %send ], [ %stotal1, %slast ]",
    )
    roots_loop = [
        "roots_start:",
        *_ctl("%roots", "ptr", gcc.CTL_ROOTS),
        *_ctl("%nroots", "i64", gcc.CTL_NUM_ROOTS),
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
        *_ctl("%area0", "i64", gcc.CTL_ROOT_AREAS),
        "  br label %ahead",
        "ahead:",
        "  %area = phi i64 [ %area0, %areas ], [ %anext, %aslots ]",
        "  %ahas = icmp ne i64 %area, 0",
        "  br i1 %ahas, label %aarea, label %overflow",
        "aarea:",
        "  %ap = inttoptr i64 %area to ptr",
        _gep("%acountp", "%ap", ROOTS_COUNT),
        "  %acount = load i64, ptr %acountp",
        _gep("%aslot0", "%ap", ROOTS_SLOTS),
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
        _gep("%aprevp", "%ap", ROOTS_PREV),
        "  %anext = load i64, ptr %aprevp",
        "  br label %ahead",
    ]
    return [
        f"define i64 @{gcc.GC_COLLECT_SYMBOL}(ptr noalias %ctl) {_ROUTINE} {{",
        "entry:",
        *_set_ctl("0", gcc.CTL_STACK_LEN, "len"),
        *_set_ctl("0", gcc.CTL_OVERFLOW, "ovf"),
        *_set_ctl("0", gcc.CTL_NUM_FREE, "nfree"),
        *_set_ctl("0", gcc.CTL_OVERFLOWS, "novf0"),
        *_ctl("%chunks", "ptr", gcc.CTL_CHUNKS),
        *_ctl("%nchunks", "i64", gcc.CTL_NUM_CHUNKS),
        "  br label %whead",
        *_chunk_loop("w", "entry", "roots_start", walk),
        "corrupt:",
        "  %badaddr = phi i64 [ %waddr, %wbody ], [ %wendaddr, %wend ]",
        *_set_ctl("%badaddr", gcc.CTL_ERROR_AT, "err"),
        f"  ret i64 {gcc.COLLECT_CORRUPT}",
        *roots_loop,
        "overflow:",
        *_ctl("%flag", "i64", gcc.CTL_OVERFLOW),
        "  %again = icmp ne i64 %flag, 0",
        "  br i1 %again, label %rescan, label %sweep",
        "rescan:",
        *_set_ctl("0", gcc.CTL_OVERFLOW, "ovf2"),
        *_ctl("%novf", "i64", gcc.CTL_OVERFLOWS),
        "  %novf1 = add i64 %novf, 1",
        "  store i64 %novf1, ptr %novf.p",
        "  br label %rhead",
        *_chunk_loop("r", "rescan", "overflow", rescan),
        "sweep:",
        "  br label %shead",
        *sweep_loop,
        "done:",
        "  ret i64 %stotal",
        "}",
    ]


def _free_run() -> list[str]:
    """``cwasm_gc_free_run(ctl, addr, bytes)``: write a free run's header; list it when
    it is large enough and the list has room."""
    return [
        f'define internal void @cwasm_gc_free_run(ptr %ctl, i64 %addr, i64 %bytes) alwaysinline nounwind "no-builtins" '
        f"{SECTION} {{",
        "entry:",
        "  %p = inttoptr i64 %addr to ptr",
        f"  store i32 {gcc.FREE_ID - (1 << 32)}, ptr %p",
        "  %words = lshr i64 %bytes, 3",
        "  %words32 = trunc i64 %words to i32",
        _gep("%wp", "%p", 4),
        "  store i32 %words32, ptr %wp",
        f"  %big = icmp uge i64 %bytes, {gcc.MIN_LISTED_FREE}",
        "  br i1 %big, label %room, label %out",
        "room:",
        *_ctl("%n", "i64", gcc.CTL_NUM_FREE),
        *_ctl("%cap", "i64", gcc.CTL_FREE_CAP),
        "  %fits = icmp ult i64 %n, %cap",
        "  br i1 %fits, label %list, label %out",
        "list:",
        *_ctl("%free", "ptr", gcc.CTL_FREE),
        "  %i = shl i64 %n, 1",
        "  %ap = getelementptr inbounds i64, ptr %free, i64 %i",
        "  store i64 %addr, ptr %ap",
        "  %bp = getelementptr inbounds i64, ptr %ap, i64 1",
        "  store i64 %bytes, ptr %bp",
        "  %n1 = add i64 %n, 1",
        "  store i64 %n1, ptr %n.p",
        "  br label %out",
        "out:",
        "  ret void",
        "}",
    ]


def gc_collector_routine(mod: IRModule) -> None:
    """Append ``cwasm_gc_collect`` and its helpers to ``mod``."""
    for part in (_size(), _find(), _visit(), _scan(), _drain(), _free_run(), _collect()):
        mod.functions.append("\n".join(part))
