"""Times one WASI command under one runtime and prints the timings as JSON (used by run.py).

The same script drives cwasm and wasmtime-py, since cwasm's API has wasmtime-py's
names: ``driver.py cwasm|wasmtime WASM STDOUT_FILE ARGS...``. It measures

* compile: ``Module(engine, wasm)`` (translation, code generation, making it runnable),
  the first in the process;
* compile_steady: a second compile of the same module in the same process (for cwasm:
  ``compile_artifact`` with its stage ``timings``, which the JSON also gives, then
  ``Module.deserialize``, which is what ``Module(engine, wasm)`` does);
* load: ``Module.deserialize`` of that module's serialized artifact;
* instantiate: ``Linker.instantiate`` with the WASI imports defined;
* run: the call of ``_start`` until it returns or the program exits.

It needs only the runtime it drives, so it also runs in wasmtime's own virtual
environment, where cwasm is not installed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    runtime_name, wasm_path, stdout_path, *args = argv
    rt: Any
    if runtime_name == "cwasm":
        import cwasm.api as rt
    else:
        import wasmtime as rt
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

    linker = rt.Linker(engine)
    linker.define_wasi()
    store = rt.Store(engine)
    wasi = rt.WasiConfig()
    wasi.argv = [Path(wasm_path).stem, *args]
    wasi.stdout_file = stdout_path
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    t4 = clock()
    instance = linker.instantiate(store, module)
    t5 = clock()
    start = instance.exports(store)["_start"]
    exit_code = 0
    t6 = clock()
    try:
        start(store)
    except rt.ExitTrap as e:
        exit_code = int(e.code)
    t7 = clock()

    version = getattr(rt, "__version__", None)
    if version is None:
        from importlib import metadata

        version = metadata.version("cwasm" if runtime_name == "cwasm" else "wasmtime")
    result = {
        "runtime": runtime_name,
        "version": version,
        "compile": t1 - t0,
        "compile_steady": steady,
        "timings": timings,
        "load": t3 - t2,
        "instantiate": t5 - t4,
        "run": t7 - t6,
        "exit_code": exit_code,
        "artifact_bytes": len(artifact),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
