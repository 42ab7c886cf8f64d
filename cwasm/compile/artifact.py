"""wasm bytes to artifact bytes: decode, translate and build (the compiling half of a Module)."""

from __future__ import annotations

import time
from collections.abc import Callable

from cwasm.compile.compiler import CompileOptions, compile_module
from cwasm.compile.partcache import PartCache
from cwasm.obj.builder import build_artifact
from cwasm.obj.engine import EngineMetadata
from cwasm.wasm.features import decode_for_features

#: the compiler's progress reports: ``(stage, done, total)``
Progress = Callable[[str, int, int], None]

#: the stages ``timings`` reports, in the order they run (the LLVM ones summed over
#: the parts of the module, in whichever process compiled them)
STAGES = ("decode+validate", "translate", "ir parse", "optimise", "codegen", "link", "emit")


def compile_to_artifact(
    wasm: bytes,
    options: CompileOptions,
    engine: EngineMetadata,
    *,
    progress: Progress | None = None,
    parallel: bool = True,
    timings: dict[str, float] | None = None,
    part_cache: PartCache | None = None,
) -> bytes:
    """Decode and validate ``wasm`` (refusing the proposals the engine turns off), compile
    it with ``options`` (in worker processes too with ``parallel``) and build its
    artifact. ``timings``, if given, gains the seconds of each of ``STAGES`` and the
    wall-clock ``total``; ``part_cache`` reuses the parts compiled before."""
    clock = time.perf_counter
    t0 = clock()
    features = engine.wasm_features
    translation = decode_for_features(wasm, features, multi_memory="multi_memory" in features)
    t1 = clock()
    code = compile_module(
        translation,
        options,
        progress=progress,
        parallel=parallel,
        timings=timings,
        part_cache=part_cache,
    )
    t2 = clock()
    artifact = build_artifact(translation, code, engine)
    if timings is not None:
        t3 = clock()
        for stage, seconds in (("decode+validate", t1 - t0), ("emit", t3 - t2), ("total", t3 - t0)):
            timings[stage] = timings.get(stage, 0.0) + seconds
    return artifact
