"""compile_module: a validated ModuleTranslation → CompiledCode (pre-linked native code + tables).

One LLVM module holds, in this order (the artifact's ``.text`` bucket order): every
defined wasm function, the entry trampoline of every escaping function, one
wasm-to-array trampoline per distinct signature of the type section, and the trap
routines.
After LLVM has emitted the object, the pre-linker turns it into one blob; the trap
table comes from the calls to trap routines inside the rows the line table marks
(column = trap code + 1), and the address map from the line table itself
(line = wasm module offset). With guard-page bounds checks the ``ss:``-prefixed
memory accesses are trap sites too (found by walking the functions' instructions), and
the signal-handler builtins (``cwasm.compile.signals``) end the code.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cwasm.abi import guard_layout
from cwasm.abi.gc_collect import GC_COLLECT_SYMBOL, carries_collector
from cwasm.abi.vmoffsets import TRAP_HOST_EXCEPTION, TRAP_UNCAUGHT_EXCEPTION, VMOffsets
from cwasm.compile.gc_collector import collector_ir, collector_object
from cwasm.compile.irmodule import IRModule
from cwasm.compile.llvm_driver import HUGE_FUNCTION_BYTES, compile_ir, host_triple
from cwasm.compile.parallel import Part
from cwasm.compile.partcache import PartCache, module_facts_digest
from cwasm.compile.prelink import EM_AARCH64, LineRow, LinkedCode, parse_object, prelink
from cwasm.compile.signals import signal_builtins
from cwasm.compile.trampolines import array_to_wasm, trap_routine, wasm_to_array
from cwasm.compile.translate import FunctionTranslator
from cwasm.compile.translate.gc_roots import uses_gc
from cwasm.compile.unwinding import personality_routine, throw_routine
from cwasm.compile.x86 import guarded_accesses
from cwasm.errors import CwasmError
from cwasm.obj.builder import CompiledCode
from cwasm.obj.info import CompiledFunctionInfo, FunctionLoc
from cwasm.obj.traps import Trap
from cwasm.wasm.module import ModuleRecord
from cwasm.wasm.translation import ModuleTranslation
from cwasm.wasm.types import ConstOpKind, ExternKind, FuncType


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """What changes the generated code: the target, the optimisation level, the bounds
    checks, the interruption checks (fuel, epochs) and relaxed SIMD's choices."""

    triple: str = ""
    opt_level: int = 2
    bounds_checks: str = guard_layout.EXPLICIT  # or guard_layout.GUARD_PAGES (x86-64 Linux)
    consume_fuel: bool = False
    epoch_interruption: bool = False
    fma: bool = False  # the code may use x86-64's FMA instructions (relaxed SIMD)
    relaxed_simd_deterministic: bool = False

    def resolved_triple(self) -> str:
        return self.triple or host_triple()


def escaping_functions(translation: ModuleTranslation) -> set[int]:
    """Functions whose address leaves their body: exported, in tables, ``ref.func``, start."""
    out = set(translation.declared_refs)
    m = translation.module
    for e in m.exports:
        if e.kind == ExternKind.FUNC:
            out.add(e.index)
    for seg in m.elements:
        if seg.functions is not None:
            out.update(seg.functions)
        for expr in seg.expressions or ():
            out.update(op.value for op in expr.ops if op.kind == ConstOpKind.REF_FUNC)
    for init in m.global_inits:
        out.update(op.value for op in init.ops if op.kind == ConstOpKind.REF_FUNC)
    if m.start is not None:
        out.add(m.start)
    return out


def trampoline_types(m: ModuleRecord) -> list[tuple[int, FuncType]]:
    """(type index, type) of one wasm-to-array trampoline per distinct signature of the
    type section, each at its first type index, in type index order.

    Every signature, not only the imported ones (as Wasmtime does): a host function of
    any type may reach this module's code as a funcref, and ``call_indirect`` of a type
    needs that type in the module, so the store that instantiated it finds the
    trampoline there. Wasmtime interns the type section first, so its
    ``signatures[N]`` count distinct types; ``N`` here is a type section index.
    """
    if m.sub_types:
        # GC: equal signatures in different recursion groups are distinct types (with
        # their own engine ids), so one trampoline per equivalence class
        canon = m.type_canon()
        return [
            (ti, ft)
            for ti, ft in enumerate(m.types)
            if type(ft) is FuncType and canon[ti] == ti  # (no struct/array trampolines)
        ]
    seen: dict[FuncType, int] = {}
    for ti, ft in enumerate(m.types):
        seen.setdefault(ft, ti)  # type: ignore[arg-type]
    return [(ti, ft) for ft, ti in seen.items()]


#: progress callback: ``(stage, done, total)``; stage ``"translate"`` counts functions,
#: ``"optimize"`` and ``"codegen"`` (LLVM) report ``(0, 0)`` as they begin
Progress = Callable[[str, int, int], None]


#: wasm code bytes a part of functions holds at least (a module of less than twice this
#: is one part, compiled without workers): a part's fixed costs (an IPC round trip, a
#: module header) stay small
PART_MIN_CODE_BYTES = 8 * 1024
#: a part is cut once it holds this many times ``PART_MIN_CODE_BYTES``
PART_MAX_FACTOR = 4
#: past the minimum size, about one function in this many ends a part
ANCHOR_PERIOD = 16


def _is_anchor(func_index: int) -> bool:
    """Whether a part may end after function ``func_index`` (a fixed pseudo-random choice)."""
    mixed = (func_index * 0x9E3779B1) & 0xFFFFFFFF
    return (mixed >> 16) % ANCHOR_PERIOD == 0


def partition(translation: ModuleTranslation) -> list[range]:
    """The defined functions, split into parts compiled as separate LLVM modules.

    Runs of consecutive functions: a part ends after an *anchor* function once it holds
    ``PART_MIN_CODE_BYTES`` of wasm code, or wherever it reaches ``PART_MAX_FACTOR``
    times that. Anchors are chosen by function index, never by content, so an edit
    inside a function moves no boundary unless its size carries a part across the
    minimum or the maximum, and the boundaries after the next anchor stay where they
    were: the other parts are unchanged, and incremental compilation reuses them.
    A huge function (``HUGE_FUNCTION_BYTES``) is a part of its own: it is the longest
    single job of a compilation, so it starts first and the rest is shared out around
    it (``compile_module``). The split depends only on the module (never on the cores),
    so parallel and serial compilation produce the same code.
    """
    sizes = [body.end - body.code_start for body in translation.bodies]
    if sum(sizes) < 2 * PART_MIN_CODE_BYTES:
        return [range(len(sizes))]
    n_imp = translation.module.num_imported_funcs
    parts: list[range] = []
    start = held = 0
    for i, size in enumerate(sizes):
        if size > HUGE_FUNCTION_BYTES:
            if start < i:
                parts.append(range(start, i))
            parts.append(range(i, i + 1))
            start, held = i + 1, 0
            continue
        held += size
        if (held >= PART_MIN_CODE_BYTES and _is_anchor(n_imp + i)) or (
            held >= PART_MIN_CODE_BYTES * PART_MAX_FACTOR
        ):
            parts.append(range(start, i + 1))
            start, held = i + 1, 0
    if start < len(sizes):
        last = parts[-1] if parts else None
        if held < PART_MIN_CODE_BYTES and last is not None and not _is_huge_part(last, sizes):
            parts[-1] = range(last.start, len(sizes))  # no small last part
        else:
            parts.append(range(start, len(sizes)))
    return parts


def _is_huge_part(part: range, sizes: list[int]) -> bool:
    return len(part) == 1 and sizes[part.start] > HUGE_FUNCTION_BYTES


def compile_order(translation: ModuleTranslation, parts: list[range]) -> list[int]:
    """The order to compile ``parts`` in: the most wasm code first (then by position).

    The parts are handed to the cores in this order, each core taking the next as it
    finishes one, so the longest jobs never start last (a longest-first schedule);
    the artifact does not depend on the order.
    """
    sizes = [body.end - body.code_start for body in translation.bodies]
    weight = [sum(sizes[i] for i in part) for part in parts]
    return sorted(range(len(parts)), key=lambda k: (-weight[k], k))


def compile_module(
    translation: ModuleTranslation,
    options: CompileOptions | None = None,
    *,
    progress: Progress | None = None,
    parallel: bool = True,
    timings: dict[str, float] | None = None,
    part_cache: PartCache | None = None,
) -> CompiledCode:
    """Compile every function of ``translation`` and its trampolines for ``options.triple``.

    The functions are split into parts (``partition``), each its own LLVM module, and a
    module of more than one part gets a final part of its own for the trampolines and
    trap routines; with ``parallel`` the parts are compiled in worker processes too
    (``cwasm.compile.parallel``). With ``part_cache`` the parts compiled before are
    reused (``cwasm.compile.partcache``). The code is the same either way. ``timings``,
    if given, gains the seconds of each stage (``translate``, then LLVM's, summed over
    the parts, then ``link``).
    """
    options = options or CompileOptions()
    triple = options.resolved_triple()
    if not 0 <= options.opt_level <= 3:
        raise CwasmError(f"optimisation level must be 0..3, not {options.opt_level}")
    guarded = options.bounds_checks == guard_layout.GUARD_PAGES
    if options.bounds_checks not in guard_layout.BOUNDS_CHECKS:
        raise CwasmError(f"unknown bounds_checks setting {options.bounds_checks!r}")
    if guarded and not guard_layout.supported(triple):
        raise CwasmError(f"guard-page bounds checks need x86_64 Linux, not {triple}")
    m = translation.module
    n_imp = m.num_imported_funcs
    escaping = sorted(f for f in escaping_functions(translation) if f >= n_imp)
    offsets = VMOffsets.for_module(m)
    arch = triple.split("-", 1)[0]
    total = len(translation.bodies)
    parts = partition(translation)
    single = len(parts) == 1
    collector_cache = part_cache  # the GC collector is a part of every GC module
    if single:
        part_cache = None  # the module cache keeps whole small modules
    w2a = trampoline_types(m)
    trap_codes: set[int] = set()
    signals = guard_layout.supported(triple)
    clock = time.perf_counter
    spent = {"translate": 0.0}
    setting = f"{triple} O{options.opt_level} {options.bounds_checks}"
    #: index in the link order -> (object, trap codes) found in the cache
    found: dict[int, tuple[bytes, frozenset[int]]] = {}
    keys: dict[int, str] = {}
    if part_cache is not None:
        facts = module_facts_digest(translation.wasm)
        for k, defined in enumerate(parts):
            keys[k] = part_cache.function_part_key(
                setting,
                facts,
                (
                    (n_imp + d, translation.bodies[d].type_index, translation.body_bytes(d))
                    for d in defined
                ),
            )
            hit = part_cache.load(keys[k])
            if hit is not None:
                found[k] = hit
                trap_codes.update(hit[1])
    #: the link order's indices of the parts compiled now, in the order they are compiled
    compiled: list[int] = []
    compiled_codes: dict[int, set[int]] = {}

    gc_roots_on = uses_gc(m)
    collector = carries_collector(m.types)

    def new_module() -> IRModule:
        mod = IRModule(
            arch=arch,
            guard_pages=guarded,
            consume_fuel=options.consume_fuel,
            epoch_interruption=options.epoch_interruption,
            fma=options.fma,
            relaxed_simd_deterministic=options.relaxed_simd_deterministic,
        )
        mod.gc_roots = gc_roots_on
        return mod

    def add_tail(mod: IRModule) -> None:
        for func_index in escaping:
            array_to_wasm(mod, func_index, m.func_type(func_index))
        mod.callees.update(escaping)
        for ti, ft in w2a:
            wasm_to_array(mod, ti, ft)
        trap_codes.update(mod.trap_codes)
        for code in sorted(trap_codes):
            trap_routine(mod, code)
        if TRAP_UNCAUGHT_EXCEPTION in trap_codes:  # some code throws
            throw_routine(mod)
        # the entry trampolines' landing pads (and any function's) name it
        personality_routine(mod)
        if signals:  # every x86-64 Linux artifact: SIGINT stops wasm in either bounds mode
            signal_builtins(mod)  # last, so that the block is contiguous at the end

    def finish(mod: IRModule, defined: range) -> str:
        here = range(n_imp + defined.start, n_imp + defined.stop)
        for fi in sorted(mod.callees):
            if fi not in here:
                mod.declare_function(fi, m.func_type(fi))
        return mod.text()

    def part_texts() -> Iterator[Part]:
        done = 0  # functions translated (or found in the cache) so far
        for k in compile_order(translation, parts):
            defined = parts[k]
            if k in found:
                done += len(defined)
                if progress is not None:
                    progress("translate", done, total)
                continue
            t0 = clock()
            mod = new_module()
            for d in defined:
                FunctionTranslator(translation, offsets, mod, d).translate()
                done += 1
                if progress is not None:
                    progress("translate", done, total)
            trap_codes.update(mod.trap_codes)
            compiled_codes[k] = set(mod.trap_codes)
            short = list(mod.huge)
            if single:
                wasm_functions = len(mod.functions)
                add_tail(mod)
                short += mod.function_names(wasm_functions)
            else:
                for code in sorted(mod.trap_codes):
                    mod.declare_trap_routine(code)
            text = finish(mod, defined)
            spent["translate"] += clock() - t0
            compiled.append(k)
            yield text, tuple(mod.loop_free), tuple(short)
        if single:
            return
        t0 = clock()
        mod = new_module()
        add_tail(mod)
        text = finish(mod, range(0))
        spent["translate"] += clock() - t0
        tail = len(parts)
        if part_cache is not None:
            keys[tail] = part_cache.ir_part_key(setting, text)
            hit = part_cache.load(keys[tail])
            if hit is not None:
                found[tail] = hit
                return
        compiled_codes[tail] = set()
        compiled.append(tail)
        yield text, (), tuple(mod.function_names())

    if single:
        on_stage = None if progress is None else (lambda stage: progress(stage, 0, 0))
        text, loop_free, short = next(part_texts())
        new = [
            compile_ir(
                text,
                triple,
                options.opt_level,
                loop_free=loop_free,
                short=short,
                on_stage=on_stage,
                timings=timings,
            )
        ]
    else:
        from cwasm.compile.parallel import WorkerPool, shared_pool

        pool = shared_pool() if parallel else WorkerPool(0)
        if len(parts) + 1 - len(found) > 1:
            pool.start()  # the workers start up while the first part is translated

        def reported() -> Iterator[Part]:
            yield from part_texts()
            if progress is not None:
                progress("optimize", 0, 0)

        new = pool.compile_parts(reported(), triple, options.opt_level, timings)
    objs = {k: obj for k, obj in zip(compiled, new, strict=True)}
    if part_cache is not None:
        for k, obj in objs.items():
            part_cache.store(keys[k], obj, compiled_codes[k])
    objs.update((k, hit[0]) for k, hit in found.items())
    t0 = clock()
    parsed = [parse_object(objs[k]) for k in sorted(objs)]
    if collector:  # first: the signal builtins stay the end of the code
        parsed.insert(0, parse_object(_collector(triple, options.opt_level, collector_cache)))
    linked = prelink(*parsed)
    code = _collect(translation, linked, escaping, w2a, trap_codes, guarded, signals, collector)
    if timings is not None:
        timings["translate"] = timings.get("translate", 0.0) + spent["translate"]
        timings["link"] = timings.get("link", 0.0) + clock() - t0
    return code


def _collector(triple: str, opt_level: int, part_cache: PartCache | None) -> bytes:
    """The GC collector's object (``gc_collector.collector_object``), from the part cache
    when there is one."""
    if part_cache is None:
        return collector_object(triple, opt_level)
    key = part_cache.ir_part_key(f"{triple} O{opt_level}", collector_ir(triple))
    hit = part_cache.load(key)
    if hit is not None:
        return hit[0]
    obj = collector_object(triple, opt_level)
    part_cache.store(key, obj, ())
    return obj


def _loc(linked: LinkedCode, name: str) -> FunctionLoc:
    try:
        start, size = linked.functions[name]
    except KeyError:
        raise CwasmError(f"LLVM dropped the function {name}") from None
    return FunctionLoc(start, size)


def _collect(
    translation: ModuleTranslation,
    linked: LinkedCode,
    escaping: list[int],
    w2a: list[tuple[int, FuncType]],
    trap_codes: set[int],
    guarded: bool = False,
    signals: bool = False,
    collector: bool = False,
) -> CompiledCode:
    n_imp = translation.module.num_imported_funcs
    escaping_set = set(escaping)
    funcs: list[CompiledFunctionInfo] = []
    for defined, body in enumerate(translation.bodies):
        fi = n_imp + defined
        funcs.append(
            CompiledFunctionInfo(
                start_srcloc=body.offset,
                wasm_func_loc=_loc(linked, f"f{fi}"),
                array_to_wasm_trampoline=_loc(linked, f"a2w{fi}") if fi in escaping_set else None,
            )
        )
    trampolines = [(ti, _loc(linked, f"w2a{ti}")) for ti, _ in w2a]
    stubs = {code: _loc(linked, f"trap{code}") for code in trap_codes}
    extra = [(f"cwasm_trap[{code}]", loc.start, loc.length) for code, loc in sorted(stubs.items())]
    ranges = [(f.wasm_func_loc.start, f.wasm_func_loc.end) for f in funcs]
    traps = find_trap_sites(linked, stubs, ranges)
    if signals:
        extra.extend(_signal_symbols(linked))
    if collector:
        gc = _loc(linked, GC_COLLECT_SYMBOL)
        extra.append((GC_COLLECT_SYMBOL, gc.start, gc.length))
    if guarded:
        oob = Trap.MemoryOutOfBounds
        traps = sorted(traps + [(pc, oob) for pc in guarded_accesses(linked.text, ranges)])
    return CompiledCode(
        text=linked.text,
        funcs=tuple(funcs),
        wasm_to_array_trampolines=tuple(trampolines),
        traps=tuple(traps),
        address_map=tuple(
            address_map(
                linked.rows,
                [(*r, b.offset) for r, b in zip(ranges, translation.bodies, strict=True)],
            )
        ),
        extra_symbols=tuple(extra),
        eh_frame=linked.eh_frame,
        eh_fixups=linked.eh_fixups,
    )


def _signal_symbols(linked: LinkedCode) -> list[tuple[str, int, int]]:
    """Symbols of the signal builtins; the block spans the handlers .. state slot."""
    names = (
        guard_layout.HANDLER_SYMBOL,
        guard_layout.GUARD_TRAP_SYMBOL,
        guard_layout.INTERRUPT_HANDLER_SYMBOL,
        guard_layout.INTERRUPT_TRAP_SYMBOL,
    )
    locs = [_loc(linked, name) for name in names]
    state = _loc(linked, guard_layout.STATE_SYMBOL)
    start = min(loc.start for loc in locs)
    end = state.start + 8
    # the slot may land after the code (LLVM gives it a section of its own, which the
    # pre-linker places after the executable ones); the block then spans both
    if state.start < max(loc.end for loc in locs) or end > len(linked.text):
        raise CwasmError("LLVM laid out the signal builtins unexpectedly")
    return [
        (guard_layout.BLOCK_SYMBOL, start, end - start),
        *((name, loc.start, loc.length) for name, loc in zip(names, locs, strict=True)),
        (guard_layout.STATE_SYMBOL, state.start, 8),
    ]


def _row_spans(rows: list[LineRow]) -> list[tuple[int, int, LineRow]]:
    """(start, end, row) for every row that covers code."""
    spans = []
    for i, row in enumerate(rows):
        if row.end_sequence or i + 1 >= len(rows):
            continue
        end = rows[i + 1].address
        if end > row.address:
            spans.append((row.address, end, row))
    return spans


def find_trap_sites(
    linked: LinkedCode,
    stubs: dict[int, FunctionLoc],
    func_ranges: list[tuple[int, int]],
) -> list[tuple[int, Trap]]:
    """The text offset of every call to a trap routine inside a wasm function, with its code."""
    text = linked.text
    by_start = {loc.start: code for code, loc in stubs.items() if code != TRAP_HOST_EXCEPTION}
    found: dict[int, Trap] = {}
    for start, end, row in _row_spans(linked.rows):
        if row.column == 0:
            continue
        want = row.column - 1
        site = None
        if linked.machine == EM_AARCH64:
            for p in range(start & ~3, end - 3, 4):
                insn = struct.unpack_from("<I", text, p)[0]
                if insn & 0xFC000000 == 0x94000000:  # BL
                    imm = insn & 0x3FFFFFF
                    if imm & 0x2000000:
                        imm -= 0x4000000
                    if by_start.get(p + 4 * imm) == want:
                        site = p
        else:
            for p in range(start, end - 4):
                if text[p] == 0xE8:  # call rel32
                    rel = struct.unpack_from("<i", text, p + 1)[0]
                    if by_start.get(p + 5 + rel) == want:
                        site = p
        if site is not None:
            found[site] = Trap(want)
    inside = sorted(found.items())
    ranges = sorted(func_ranges)
    out: list[tuple[int, Trap]] = []
    j = 0
    for off, code in inside:
        while j < len(ranges) and ranges[j][1] <= off:
            j += 1
        if j < len(ranges) and ranges[j][0] <= off:
            out.append((off, code))
    return out


def address_map(
    rows: list[LineRow], funcs: list[tuple[int, int, int]]
) -> list[tuple[int, int | None]]:
    """Text offset → wasm offset entries for the wasm functions, from the line rows.

    ``funcs`` holds each function's ``(text start, text end, body offset)``: its lines
    count from its body's start (line ``n`` is ``n - 1`` bytes into it; 0 is none).
    """
    spans = _row_spans(rows)
    spans.sort(key=lambda s: s[0])
    out: list[tuple[int, int | None]] = []
    k = 0
    for fstart, fend, base in sorted(funcs):
        entries: dict[int, int | None] = {fstart: None}
        while k < len(spans) and spans[k][0] < fstart:
            k += 1
        while k < len(spans) and spans[k][0] < fend:
            start, _end, row = spans[k]
            entries[start] = row.line - 1 + base if row.line else None
            k += 1
        last: object = object()
        for off in sorted(entries):
            pos = entries[off]
            if pos != last:
                out.append((off, pos))
                last = pos
    return out
