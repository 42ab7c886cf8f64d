"""The LLVM driver: IR text in, optimised relocatable object bytes out (through llvmlite).

Always the pic/small code model (so the object can be pre-linked into one
position-independent blob) and a CPU baseline that has the rounding instructions
wasm needs (``x86-64-v2``: SSE4.1 ``roundss``), so LLVM never calls libm.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm

from cwasm.errors import CwasmError

_init_lock = threading.Lock()
_initialised = False
_machines: dict[tuple[str, int], Any] = {}
#: the function pipeline's speed level for loop-free functions at opt level 2
LIGHT_SPEED_LEVEL = 1
#: a defined function whose body holds more than this many bytes of wasm code gets the
#: short pipeline at opt levels 1 and 2 (``compile_ir``)
HUGE_FUNCTION_BYTES = 4096


class CodegenError(CwasmError):
    """LLVM rejected the generated IR or the target."""


def initialise() -> None:
    """Initialise LLVM's targets and our options once per process."""
    global _initialised
    with _init_lock:
        if not _initialised:
            llvm.initialize_all_targets()
            llvm.initialize_all_asmprinters()
            llvm.initialize_native_asmparser()  # inline asm (relaxed SIMD's FMA on x86-64)
            # The IR parser otherwise verifies modules that carry debug info itself and
            # aborts the process on a broken one; we verify afterwards and raise instead.
            llvm.set_option("cwasm", "-disable-auto-upgrade-debug-info")
            # Our debug info is line rows only, no variables: the instruction-referencing
            # LiveDebugValues analysis (x86's default) found nothing to track but cost ~2%
            # of compile time; the location-list one does nothing here. Same objects.
            llvm.set_option("cwasm", "-experimental-debug-variable-locations=false")
            _initialised = True


def host_triple() -> str:
    """The normalised triple of the machine we run on (``x86_64-unknown-linux-gnu``)."""
    initialise()
    triple = str(llvm.get_process_triple())
    arch, _, rest = triple.partition("-")
    if arch == "arm64":
        arch = "aarch64"
    parts = rest.split("-")
    if len(parts) == 3 and parts[0] == "pc":
        parts[0] = "unknown"
    return "-".join([arch, *parts])


@dataclass(frozen=True, slots=True)
class TargetSpec:
    triple: str
    cpu: str
    features: str


def target_spec(triple: str) -> TargetSpec:
    """The CPU and features cwasm compiles for on ``triple``."""
    arch = triple.split("-", 1)[0]
    if arch == "x86_64":
        return TargetSpec(triple, "x86-64-v2", "")
    if arch in ("aarch64", "arm64"):
        return TargetSpec(triple, "generic", "+neon,+fp-armv8")
    raise CodegenError(f"target architecture {arch!r} is unsupported")


def target_machine(triple: str, opt_level: int) -> Any:
    """A cached llvmlite TargetMachine for ``triple`` at ``opt_level`` (0–3)."""
    key = (triple, opt_level)
    tm = _machines.get(key)
    if tm is None:
        initialise()
        spec = target_spec(triple)
        try:
            target = llvm.Target.from_triple(triple)
        except RuntimeError as e:
            raise CodegenError(f"unknown target {triple!r}: {e}") from None
        tm = target.create_target_machine(
            cpu=spec.cpu, features=spec.features, opt=opt_level, reloc="pic", codemodel="small"
        )
        _machines[key] = tm
    return tm


def data_layout(triple: str) -> str:
    return str(target_machine(triple, 2).target_data)


def compile_ir(
    ir_text: str,
    triple: str,
    opt_level: int,
    *,
    loop_free: Collection[str] = (),
    short: Collection[str] = (),
    on_stage: Callable[[str], None] | None = None,
    timings: dict[str, float] | None = None,
) -> bytes:
    """Parse, verify, optimise (``opt_level`` 0–3) and emit an ELF object for ``triple``.

    At ``opt_level`` 2 the functions named in ``loop_free`` get the function pipeline of
    level 1 (``LIGHT_SPEED_LEVEL``): without loops, LLVM's level-2 extras buy them little.
    At levels 1 and 2 the functions named in ``short`` get the short pipeline instead:
    SROA, InstCombine and SimplifyCFG, with code generation as for every other function.
    The compiler names the huge wasm functions (bodies of more than
    ``HUGE_FUNCTION_BYTES``): in C programs they are mostly library code run a few times
    (a libc's ``printf`` core, ``malloc``) that took half of LLVM's time, and a hot one
    loses little (docs/compile-pipeline.md). It names the trampolines, trap routines and
    signal builtins too: our own IR, whose trampolines come out the same.

    ``on_stage`` (for progress reports) is told ``"optimize"`` and ``"codegen"`` as
    those stages begin; ``timings``, if given, gains the seconds spent in each LLVM
    stage (``ir parse``, ``optimise``, ``codegen``), added to what it holds.
    """
    clock = time.perf_counter
    t0 = clock()
    tm = target_machine(triple, opt_level)
    try:
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
    except RuntimeError as e:
        raise CodegenError(f"LLVM rejected the generated IR: {e}") from None
    t1 = clock()
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    if opt_level > 0:
        if on_stage is not None:
            on_stage("optimize")
        pto = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        pb = llvm.create_pass_builder(tm, pto)
        if opt_level >= 3:
            pb.getModulePassManager().run(mod, pb)
        else:
            # LLVM's function simplification pipeline, function by function: no inliner
            # and no module passes. The input is wasm that its producer already optimised
            # and inlined; this cleans up our translation at about 80% of the O2 module
            # pipeline's compile time, with run times within noise (bench/run.py).
            fpm = pb.getFunctionPassManager()
            light = set(loop_free) if opt_level == 2 and LIGHT_SPEED_LEVEL < 2 else set()
            if light:
                lpb = llvm.create_pass_builder(
                    tm, llvm.create_pipeline_tuning_options(speed_level=LIGHT_SPEED_LEVEL)
                )
                lfpm = lpb.getFunctionPassManager()
            by_short = set(short) if opt_level <= 2 else set()
            if by_short:
                spm = llvm.create_new_function_pass_manager()
                spm.add_sroa_pass()
                spm.add_instruction_combine_pass()
                spm.add_simplify_cfg_pass()
            for fn in mod.functions:
                if fn.is_declaration:
                    continue
                if fn.name in by_short:
                    spm.run(fn, pb)
                elif fn.name in light:
                    lfpm.run(fn, lpb)
                else:
                    fpm.run(fn, pb)
    t2 = clock()
    if on_stage is not None:
        on_stage("codegen")
    obj = bytes(tm.emit_object(mod))
    if timings is not None:
        for stage, seconds in (
            ("ir parse", t1 - t0),
            ("optimise", t2 - t1),
            ("codegen", clock() - t2),
        ):
            timings[stage] = timings.get(stage, 0.0) + seconds
    return obj
