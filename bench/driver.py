"""Times one WASI command under one runtime and prints the timings as JSON (used by run.py).

The same script drives cwasm and wasmtime-py, since cwasm's API has wasmtime-py's
names. It has two modes, each run in a fresh process:

``driver.py compile cwasm|wasmtime WASM STDOUT_FILE ARTIFACT_FILE ARGS...`` measures

* compile: ``Module(engine, wasm)`` (translation, code generation, making it runnable),
  the first in the process;
* compile_steady: a second compile of the same module in the same process (for cwasm:
  ``compile_artifact`` with its stage ``timings``, which the JSON also gives, then
  ``Module.deserialize``, which is what ``Module(engine, wasm)`` does);
* load: ``Module.deserialize`` of that module's serialized artifact (warm: the process
  has already compiled);
* instantiate: ``Linker.instantiate`` with the WASI imports defined;
* run: the call of ``_start`` until it returns or the program exits;

and writes the serialized artifact to ``ARTIFACT_FILE``.

``driver.py load cwasm|wasmtime ARTIFACT_FILE STDOUT_FILE ARGS...`` measures what a
process that only runs a precompiled module pays (as ``cwasm run x.cwasm`` does):

* import: ``import cwasm.api`` / ``import wasmtime``;
* load_first / instantiate_first: the first ``Module.deserialize_file`` and the first
  ``Linker.instantiate`` in the process (first-use costs included);
* load_steady / instantiate_steady: the best of further repetitions of each;

then runs ``_start`` of the first instance so the output can be checked.

``driver.py interrupts cwasm|wasmtime none|fuel|epochs WASM STDOUT_FILE ARGS...`` (used
by ``bench/interrupts.py``) compiles with ``Config.consume_fuel`` (``fuel``: the store
gets all the fuel it can hold) or ``Config.epoch_interruption`` (``epochs``: a deadline
never reached) or neither, and measures only the run: its wall time (``run``) and the
CPU time the process spent on it (``run_cpu``, less disturbed by other load).

It needs only the runtime it drives, so it also runs in wasmtime's own virtual
environment, where cwasm is not installed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

#: repetitions behind each steady-state figure of the load mode
STEADY_REPEAT = 20


def import_runtime(runtime_name: str) -> Any:
    """The API module of ``runtime_name`` (cwasm's has wasmtime-py's names)."""
    if runtime_name == "cwasm":
        import cwasm.api as rt
    else:
        import wasmtime as rt
    return rt


def runtime_version(rt: Any, runtime_name: str) -> str:
    version = getattr(rt, "__version__", None)
    if version is None:
        from importlib import metadata

        version = metadata.version("cwasm" if runtime_name == "cwasm" else "wasmtime")
    return str(version)


def wasi_store(rt: Any, engine: Any, argv0: str, stdout_path: str, args: list[str]) -> Any:
    """A store whose WASI context writes stdout to ``stdout_path``."""
    store = rt.Store(engine)
    wasi = rt.WasiConfig()
    wasi.argv = [argv0, *args]
    wasi.stdout_file = stdout_path
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    return store


def run_start(rt: Any, instance: Any, store: Any) -> tuple[int, float]:
    """Call ``_start``; the exit code and the time it took."""
    start = instance.exports(store)["_start"]
    exit_code = 0
    t0 = time.perf_counter()
    try:
        start(store)
    except rt.ExitTrap as e:
        exit_code = int(e.code)
    return exit_code, time.perf_counter() - t0


def compile_mode(
    runtime_name: str, wasm_path: str, stdout_path: str, artifact_path: str, args: list[str]
) -> dict[str, Any]:
    rt = import_runtime(runtime_name)
    wasm = Path(wasm_path).read_bytes()
    clock = time.perf_counter

    engine = rt.Engine()
    t0 = clock()
    compiled = rt.Module(engine, wasm)
    t1 = clock()
    artifact = compiled.serialize()
    t2 = clock()
    module = rt.Module.deserialize(engine, artifact)
    t3 = clock()
    timings: dict[str, float] = {}
    if runtime_name == "cwasm":
        rt.Module.deserialize(engine, rt.compile_artifact(engine, wasm, timings=timings))
    else:
        rt.Module(engine, wasm)
    steady = clock() - t3
    Path(artifact_path).write_bytes(artifact)

    linker = rt.Linker(engine)
    linker.define_wasi()
    store = wasi_store(rt, engine, Path(wasm_path).stem, stdout_path, args)
    t4 = clock()
    instance = linker.instantiate(store, module)
    t5 = clock()
    exit_code, run = run_start(rt, instance, store)
    return {
        "runtime": runtime_name,
        "version": runtime_version(rt, runtime_name),
        "compile": t1 - t0,
        "compile_steady": steady,
        "timings": timings,
        "load": t3 - t2,
        "instantiate": t5 - t4,
        "run": run,
        "exit_code": exit_code,
        "artifact_bytes": len(artifact),
    }


def load_mode(
    runtime_name: str, artifact_path: str, stdout_path: str, args: list[str]
) -> dict[str, Any]:
    clock = time.perf_counter
    t0 = clock()
    rt = import_runtime(runtime_name)
    t1 = clock()
    engine = rt.Engine()
    linker = rt.Linker(engine)
    linker.define_wasi()
    argv0 = Path(artifact_path).stem
    t2 = clock()
    module = rt.Module.deserialize_file(engine, artifact_path)
    t3 = clock()
    store = wasi_store(rt, engine, argv0, stdout_path, args)
    t4 = clock()
    instance = linker.instantiate(store, module)
    t5 = clock()

    loads: list[float] = []
    for _ in range(STEADY_REPEAT):
        s = clock()
        rt.Module.deserialize_file(engine, artifact_path)
        loads.append(clock() - s)
    instantiations: list[float] = []
    for _ in range(STEADY_REPEAT):
        other = wasi_store(rt, engine, argv0, stdout_path, args)
        s = clock()
        linker.instantiate(other, module)
        instantiations.append(clock() - s)

    exit_code, _ = run_start(rt, instance, store)
    return {
        "runtime": runtime_name,
        "import": t1 - t0,
        "load_first": t3 - t2,
        "instantiate_first": t5 - t4,
        "load_steady": min(loads),
        "instantiate_steady": min(instantiations),
        "exit_code": exit_code,
    }


def interrupts_mode(
    runtime_name: str, setting: str, wasm_path: str, stdout_path: str, args: list[str]
) -> dict[str, Any]:
    rt = import_runtime(runtime_name)
    config = rt.Config()
    if setting == "fuel":
        config.consume_fuel = True
    elif setting == "epochs":
        config.epoch_interruption = True
    elif setting != "none":
        raise SystemExit(f"unknown setting {setting!r}: expected none, fuel or epochs")
    engine = rt.Engine(config)
    module = rt.Module(engine, Path(wasm_path).read_bytes())
    linker = rt.Linker(engine)
    linker.define_wasi()
    store = wasi_store(rt, engine, Path(wasm_path).stem, stdout_path, args)
    if setting == "fuel":
        store.set_fuel((1 << 64) - 1)
    elif setting == "epochs":
        store.set_epoch_deadline(1 << 62)
    instance = linker.instantiate(store, module)
    cpu = time.process_time()
    exit_code, run = run_start(rt, instance, store)
    return {
        "runtime": runtime_name,
        "setting": setting,
        "run": run,
        "run_cpu": time.process_time() - cpu,
        "exit_code": exit_code,
    }


def main(argv: list[str]) -> int:
    mode, *rest = argv
    if mode == "compile":
        runtime_name, wasm_path, stdout_path, artifact_path, *args = rest
        result = compile_mode(runtime_name, wasm_path, stdout_path, artifact_path, args)
    elif mode == "load":
        runtime_name, artifact_path, stdout_path, *args = rest
        result = load_mode(runtime_name, artifact_path, stdout_path, args)
    elif mode == "interrupts":
        runtime_name, setting, wasm_path, stdout_path, *args = rest
        result = interrupts_mode(runtime_name, setting, wasm_path, stdout_path, args)
    else:
        print(f"unknown mode {mode!r}: expected compile, load or interrupts", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
