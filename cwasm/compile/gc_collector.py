"""IR text of the native collector (docs/gc.md, "Collection"): ``cwasm_gc_collect``, a
non-moving mark-sweep over a store's GC heap, emitted into every artifact of a module
with struct or array types. Its contract (the control block, the shape table, the chunk
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

from cwasm.abi import gc_collect as gcc
from cwasm.abi.gc_layout import ARRAY_LENGTH, OBJ_GC_BITS, ROOTS_COUNT, ROOTS_PREV, ROOTS_SLOTS
from cwasm.compile.irmodule import SECTION, IRModule

_ROUTINE = f'nounwind noinline "frame-pointer"="all" "no-builtins" {SECTION}'


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


_RECORD = gcc.CHUNK_WORDS * 8  # bytes of a chunk record


def _define(name: str, result: str, params: str) -> str:
    return (
        f"define internal {result} @{name}({params}) alwaysinline nounwind "
        f'"no-builtins" {SECTION} {{'
    )


def _chunk() -> list[str]:
    """``cwasm_gc_chunk(ctl, w)``: the record of the chunk word ``w`` lies in, or null
    (the chunk last found first, else a binary search of the sorted chunks)."""
    return [
        _define("cwasm_gc_chunk", "ptr", "ptr %ctl, i64 %w"),
        "entry:",
        "  %low = and i64 %w, 7",
        "  %aligned = icmp eq i64 %low, 0",
        "  %nonzero = icmp ne i64 %w, 0",
        "  %maybe = and i1 %aligned, %nonzero",
        "  br i1 %maybe, label %last, label %no",
        "last:",
        *_ctl("%lrec", "ptr", gcc.CTL_LAST_CHUNK),
        "  %lhas = icmp ne ptr %lrec, null",
        "  br i1 %lhas, label %ltest, label %search",
        "ltest:",
        "  %lstart = load i64, ptr %lrec",
        _gep("%lbytesp", "%lrec", gcc.CHUNK_BYTES),
        "  %lbytes = load i64, ptr %lbytesp",
        "  %loff = sub i64 %w, %lstart",
        "  %lin = icmp ult i64 %loff, %lbytes",
        "  br i1 %lin, label %hit, label %search",
        "hit:",
        "  ret ptr %lrec",
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
        f"  %moff = mul i64 %mid, {_RECORD}",
        _gep("%mrec", "%chunks", "%moff"),
        "  %mstart = load i64, ptr %mrec",
        "  %below = icmp ule i64 %mstart, %w",
        "  %lo2 = select i1 %below, i64 %mid, i64 %lo",
        "  %hi2 = select i1 %below, i64 %hi, i64 %mid",
        "  br label %loop",
        "check:",
        f"  %roff = mul i64 %lo, {_RECORD}",
        _gep("%rec", "%chunks", "%roff"),
        "  %start = load i64, ptr %rec",
        _gep("%bytesp", "%rec", gcc.CHUNK_BYTES),
        "  %bytes = load i64, ptr %bytesp",
        "  %off = sub i64 %w, %start",
        "  %inside = icmp ult i64 %off, %bytes",
        "  br i1 %inside, label %found, label %no",
        "found:",
        "  store ptr %rec, ptr %lrec.p",
        "  ret ptr %rec",
        "no:",
        "  ret ptr null",
        "}",
    ]


def _walk_chunk() -> list[str]:
    """``cwasm_gc_walk_chunk(ctl, rec)``: fill the chunk's object-start bitmap by
    walking it; a chunk that does not parse sets ``CTL_CORRUPT`` and ``CTL_ERROR_AT``."""
    free = gcc.FREE_ID - (1 << 32)
    return [
        f"define internal void @cwasm_gc_walk_chunk(ptr %ctl, ptr %rec) noinline nounwind "
        f'"no-builtins" {SECTION} {{',
        "entry:",
        _gep("%walkedp", "%rec", gcc.CHUNK_WALKED),
        "  store i64 1, ptr %walkedp",
        "  %start = load i64, ptr %rec",
        _gep("%bytesp", "%rec", gcc.CHUNK_BYTES),
        "  %bytes = load i64, ptr %bytesp",
        _gep("%bmp", "%rec", gcc.CHUNK_STARTS),
        "  %bm = load ptr, ptr %bmp",
        "  %bytes511 = add i64 %bytes, 511",
        "  %nbm = lshr i64 %bytes511, 9",
        "  br label %zero",
        "zero:",
        "  %z = phi i64 [ 0, %entry ], [ %z1, %zbody ]",
        "  %zmore = icmp ult i64 %z, %nbm",
        "  br i1 %zmore, label %zbody, label %obj",
        "zbody:",
        "  %zp = getelementptr inbounds i64, ptr %bm, i64 %z",
        "  store i64 0, ptr %zp",
        "  %z1 = add i64 %z, 1",
        "  br label %zero",
        "obj:",
        "  %at = phi i64 [ 0, %zero ], [ %at1, %advance ]",
        "  %more = icmp ult i64 %at, %bytes",
        "  br i1 %more, label %body, label %end",
        "body:",
        "  %addr = add i64 %start, %at",
        "  %p = inttoptr i64 %addr to ptr",
        "  %size = call i64 @cwasm_gc_size(ptr %ctl, ptr %p)",
        "  %bad = icmp eq i64 %size, 0",
        "  br i1 %bad, label %corrupt, label %ok",
        "ok:",
        "  %tid = load i32, ptr %p",
        f"  %isfree = icmp eq i32 %tid, {free}",
        "  br i1 %isfree, label %advance, label %setbit",
        "setbit:",
        "  %g = lshr i64 %at, 3",
        "  %gw = lshr i64 %g, 6",
        "  %gb = and i64 %g, 63",
        "  %gp = getelementptr inbounds i64, ptr %bm, i64 %gw",
        "  %word = load i64, ptr %gp",
        "  %mask = shl i64 1, %gb",
        "  %new = or i64 %word, %mask",
        "  store i64 %new, ptr %gp",
        "  br label %advance",
        "advance:",
        "  %at1 = add i64 %at, %size",
        "  br label %obj",
        "end:",
        "  %exact = icmp eq i64 %at, %bytes",
        "  %endaddr = add i64 %start, %at",
        "  br i1 %exact, label %out, label %corrupt",
        "corrupt:",
        "  %badaddr = phi i64 [ %addr, %body ], [ %endaddr, %end ]",
        *_set_ctl("%badaddr", gcc.CTL_ERROR_AT, "err"),
        *_set_ctl("1", gcc.CTL_CORRUPT, "cor"),
        "  br label %out",
        "out:",
        "  ret void",
        "}",
    ]


def _is_start() -> list[str]:
    """``cwasm_gc_is_start(ctl, rec, w)``: whether ``w`` is an object start of the chunk
    of record ``rec`` (walked first if it has not been in this collection)."""
    return [
        _define("cwasm_gc_is_start", "i1", "ptr %ctl, ptr %rec, i64 %w"),
        "entry:",
        _gep("%walkedp", "%rec", gcc.CHUNK_WALKED),
        "  %walked = load i64, ptr %walkedp",
        "  %todo = icmp eq i64 %walked, 0",
        "  br i1 %todo, label %walk, label %bit",
        "walk:",
        "  call void @cwasm_gc_walk_chunk(ptr %ctl, ptr %rec)",
        "  br label %bit",
        "bit:",
        "  %start = load i64, ptr %rec",
        "  %off = sub i64 %w, %start",
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
        "  ret i1 %isstart",
        "}",
    ]


def _visit() -> list[str]:
    """``cwasm_gc_visit(ctl, w, inner)``: mark and push the object ``w`` is, if it is
    one. ``inner``: ``w`` comes from a live object (an object if it lies in a chunk; a
    host word sets its handle's bit); else it is a root, followed only if it is an
    object start."""
    mark = gcc.GC_BIT_MARK
    return [
        _define("cwasm_gc_visit", "void", "ptr %ctl, i64 %w, i1 %inner"),
        "entry:",
        "  %tag = and i64 %w, 3",
        "  %ishost = icmp eq i64 %tag, 2",
        "  %report = and i1 %ishost, %inner",
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
        "  %rec = call ptr @cwasm_gc_chunk(ptr %ctl, i64 %w)",
        "  %inchunk = icmp ne ptr %rec, null",
        "  br i1 %inchunk, label %kind, label %out",
        "kind:",
        "  br i1 %inner, label %obj, label %root",
        "root:",
        "  %isstart = call i1 @cwasm_gc_is_start(ptr %ctl, ptr %rec, i64 %w)",
        "  br i1 %isstart, label %obj, label %out",
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
        _gep("%livep", "%rec", gcc.CHUNK_LIVE),  # the sweep counts the bytes
        "  store i64 1, ptr %livep",
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
    """``cwasm_gc_scan(ctl, a)``: visit every reference of the object at ``a`` (none
    if its header names no known type: a corrupt heap is not read further)."""
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
        f"  %{p}roff = mul i64 %{p}ci, {_RECORD}",
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
    """``cwasm_gc_collect(ctl)``: the three phases; live bytes, or ``COLLECT_CORRUPT``."""
    free = gcc.FREE_ID - (1 << 32)
    rescan = [
        _gep("%rlivep", "%rrec", gcc.CHUNK_LIVE),
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
        *_set_ctl("%raddr", gcc.CTL_ERROR_AT, "rerr"),
        *_set_ctl("1", gcc.CTL_CORRUPT, "rcor"),
        "  br label %rnext",
        "rok:",
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
        _gep("%sbitsp", "%sp", OBJ_GC_BITS),
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
        *_set_ctl("0", gcc.CTL_CORRUPT, "cor0"),
        *_set_ctl("0", gcc.CTL_LAST_CHUNK, "last0"),
        *_ctl("%chunks", "ptr", gcc.CTL_CHUNKS),
        *_ctl("%nchunks", "i64", gcc.CTL_NUM_CHUNKS),
        "  br label %roots_start",
        "corrupt:",  # a chunk the sweep cannot parse
        *_set_ctl("%saddr", gcc.CTL_ERROR_AT, "err"),
        f"  ret i64 {gcc.COLLECT_CORRUPT}",
        "corrupt_found:",  # a chunk a walk could not parse
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
        *_ctl("%cor", "i64", gcc.CTL_CORRUPT),
        "  %iscor = icmp ne i64 %cor, 0",
        "  br i1 %iscor, label %corrupt_found, label %sweep_go",
        "sweep_go:",
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
    parts = (_size(), _chunk(), _walk_chunk(), _is_start(), _visit(), _scan(), _drain())
    for part in (*parts, _free_run(), _collect()):
        mod.functions.append("\n".join(part))
