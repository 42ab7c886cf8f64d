"""wasm bytes to artifact bytes: decode, translate and build (the compiling half of a Module)."""

from __future__ import annotations

from collections.abc import Callable

from cwasm.compile.compiler import CompileOptions, compile_module
from cwasm.obj.builder import build_artifact
from cwasm.obj.engine import EngineMetadata
from cwasm.wasm.decoder import decode_module
from cwasm.wasm.features import check_features

#: the compiler's progress reports: ``(stage, done, total)``
Progress = Callable[[str, int, int], None]


def compile_to_artifact(
    wasm: bytes,
    options: CompileOptions,
    engine: EngineMetadata,
    *,
    progress: Progress | None = None,
) -> bytes:
    """Decode and validate ``wasm`` (refusing the proposals the engine turns off), compile
    it with ``options`` and build its artifact."""
    translation = decode_module(wasm)
    check_features(translation, engine.wasm_features)
    code = compile_module(translation, options, progress=progress)
    return build_artifact(translation, code, engine)
