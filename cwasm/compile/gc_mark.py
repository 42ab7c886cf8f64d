"""IR text of the helpers of the native collector (``cwasm.compile.gc_collector``): the
size of an object, the chunk a word lies in, a chunk's walk filling its object-start
bitmap, the visit of one word (mark and push), the scan of one object's references, the
mark stack's drain and the writing of a free run. All take the control block of
``cwasm.abi.gc_collect`` first; all but the chunk walk (rare) are ``alwaysinline``.
"""

from __future__ import annotations

from cwasm.abi import gc_collect as gcc
from cwasm.abi.gc_layout import ARRAY_LENGTH, OBJ_GC_BITS
from cwasm.compile.irmodule import SECTION


def gep(dst: str, base: str, offset: int | str) -> str:
    """``dst = base + offset`` (bytes)."""
    return f"  {dst} = getelementptr inbounds i8, ptr {base}, i64 {offset}"


def ctl_load(dst: str, ty: str, offset: int) -> list[str]:
    """Load the control block's word at ``offset``."""
    return [gep(f"{dst}.p", "%ctl", offset), f"  {dst} = load {ty}, ptr {dst}.p"]


def ctl_store(value: str, offset: int, name: str) -> list[str]:
    """Store ``value`` into the control block's word at ``offset`` (through ``%name.p``)."""
    return [gep(f"%{name}.p", "%ctl", offset), f"  store i64 {value}, ptr %{name}.p"]


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
        gep("%wp", "%p", 4),
        "  %words = load i32, ptr %wp",
        "  %words64 = zext i32 %words to i64",
        "  %fsize = shl i64 %words64, 3",
        "  ret i64 %fsize",
        "object:",
        *ctl_load("%nshapes", "i64", gcc.CTL_NUM_SHAPES),
        "  %t64 = zext i32 %tid to i64",
        "  %known = icmp ult i64 %t64, %nshapes",
        "  br i1 %known, label %shape, label %bad",
        "shape:",
        *ctl_load("%shapes", "ptr", gcc.CTL_SHAPES),
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
        gep("%lp", "%p", ARRAY_LENGTH),
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


RECORD = gcc.CHUNK_WORDS * 8  # bytes of a chunk record


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
        *ctl_load("%lrec", "ptr", gcc.CTL_LAST_CHUNK),
        "  %lhas = icmp ne ptr %lrec, null",
        "  br i1 %lhas, label %ltest, label %search",
        "ltest:",
        "  %lstart = load i64, ptr %lrec",
        gep("%lbytesp", "%lrec", gcc.CHUNK_BYTES),
        "  %lbytes = load i64, ptr %lbytesp",
        "  %loff = sub i64 %w, %lstart",
        "  %lin = icmp ult i64 %loff, %lbytes",
        "  br i1 %lin, label %hit, label %search",
        "hit:",
        "  ret ptr %lrec",
        "search:",
        *ctl_load("%chunks", "ptr", gcc.CTL_CHUNKS),
        *ctl_load("%n", "i64", gcc.CTL_NUM_CHUNKS),
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
        f"  %moff = mul i64 %mid, {RECORD}",
        gep("%mrec", "%chunks", "%moff"),
        "  %mstart = load i64, ptr %mrec",
        "  %below = icmp ule i64 %mstart, %w",
        "  %lo2 = select i1 %below, i64 %mid, i64 %lo",
        "  %hi2 = select i1 %below, i64 %hi, i64 %mid",
        "  br label %loop",
        "check:",
        f"  %roff = mul i64 %lo, {RECORD}",
        gep("%rec", "%chunks", "%roff"),
        "  %start = load i64, ptr %rec",
        gep("%bytesp", "%rec", gcc.CHUNK_BYTES),
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
        gep("%walkedp", "%rec", gcc.CHUNK_WALKED),
        "  store i64 1, ptr %walkedp",
        "  %start = load i64, ptr %rec",
        gep("%bytesp", "%rec", gcc.CHUNK_BYTES),
        "  %bytes = load i64, ptr %bytesp",
        gep("%bmp", "%rec", gcc.CHUNK_STARTS),
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
        *ctl_store("%badaddr", gcc.CTL_ERROR_AT, "err"),
        *ctl_store("1", gcc.CTL_CORRUPT, "cor"),
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
        gep("%walkedp", "%rec", gcc.CHUNK_WALKED),
        "  %walked = load i64, ptr %walkedp",
        "  %todo = icmp eq i64 %walked, 0",
        "  br i1 %todo, label %walk, label %bit",
        "walk:",
        "  call void @cwasm_gc_walk_chunk(ptr %ctl, ptr %rec)",
        "  br label %bit",
        "bit:",
        "  %start = load i64, ptr %rec",
        "  %off = sub i64 %w, %start",
        gep("%bmp", "%rec", gcc.CHUNK_STARTS),
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
        *ctl_load("%nh", "i64", gcc.CTL_NUM_HANDLES),
        "  %known = icmp ult i64 %h, %nh",
        "  br i1 %known, label %sethandle, label %out",
        "sethandle:",
        *ctl_load("%hbits", "ptr", gcc.CTL_HANDLES),
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
        gep("%bitsp", "%p", OBJ_GC_BITS),
        "  %bits = load i32, ptr %bitsp",
        f"  %m = and i32 %bits, {mark}",
        "  %marked = icmp ne i32 %m, 0",
        "  br i1 %marked, label %out, label %mark",
        "mark:",
        f"  %nbits = or i32 %bits, {mark}",
        "  store i32 %nbits, ptr %bitsp",
        gep("%livep", "%rec", gcc.CHUNK_LIVE),  # the sweep counts the bytes
        "  store i64 1, ptr %livep",
        *ctl_load("%len", "i64", gcc.CTL_STACK_LEN),
        *ctl_load("%cap", "i64", gcc.CTL_STACK_CAP),
        "  %room = icmp ult i64 %len, %cap",
        "  br i1 %room, label %push, label %overflow",
        "push:",
        *ctl_load("%stack", "ptr", gcc.CTL_STACK),
        "  %slot = getelementptr inbounds i64, ptr %stack, i64 %len",
        "  store i64 %w, ptr %slot",
        "  %len2 = add i64 %len, 1",
        "  store i64 %len2, ptr %len.p",
        "  br label %out",
        "overflow:",
        *ctl_store("1", gcc.CTL_OVERFLOW, "flag"),
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
        *ctl_load("%shapes", "ptr", gcc.CTL_SHAPES),
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
        *ctl_load("%offs", "ptr", gcc.CTL_REF_OFFSETS),
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
        gep("%fp", "%p", "%off64"),
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
        gep("%lp", "%p", ARRAY_LENGTH),
        "  %len = load i32, ptr %lp",
        "  %n = zext i32 %len to i64",
        gep("%elems", "%p", "%eoff"),
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
    """``cwasm_gc_drain(ctl)``: scan objects off the mark stack until it is empty (not
    inlined: its loop is the collector's, one copy of it)."""
    return [
        f'define internal void @cwasm_gc_drain(ptr %ctl) noinline nounwind "no-builtins" '
        f"{SECTION} {{",
        "entry:",
        gep("%lenp", "%ctl", gcc.CTL_STACK_LEN),
        *ctl_load("%stack", "ptr", gcc.CTL_STACK),
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
        gep("%wp", "%p", 4),
        "  store i32 %words32, ptr %wp",
        f"  %big = icmp uge i64 %bytes, {gcc.MIN_LISTED_FREE}",
        "  br i1 %big, label %room, label %out",
        "room:",
        *ctl_load("%n", "i64", gcc.CTL_NUM_FREE),
        *ctl_load("%cap", "i64", gcc.CTL_FREE_CAP),
        "  %fits = icmp ult i64 %n, %cap",
        "  br i1 %fits, label %list, label %out",
        "list:",
        *ctl_load("%free", "ptr", gcc.CTL_FREE),
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


def helpers() -> list[str]:
    """The helpers' definitions, each one IR text."""
    parts = (_size(), _chunk(), _walk_chunk(), _is_start(), _visit(), _scan(), _drain())
    return ["\n".join(part) for part in (*parts, _free_run())]
