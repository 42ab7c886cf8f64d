"""The memory64 bench: a sieve whose flags lie above 4 GiB in a 64-bit memory.

``bench/memory64/sieve64.wasm`` (built from ``sieve64.c`` by ``bench/build.sh``) has a
64-bit memory; ``sieve(n)`` grows it past 4 GiB + n and sieves there. Each runtime
(cwasm, and wasmtime-py with ``Config.wasm_memory64`` — the release ``run.py`` installs
in ``build/``) runs it in a fresh process; the result is checked against the native
build's (``build/native/sieve64``) and the best wall time of the call is printed beside
the native run time.

    python bench/memory64.py [--n N] [--repeat R] [--wasmtime-python PYTHON]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WASM = BENCH / "memory64" / "sieve64.wasm"
SOURCE = BENCH / "memory64" / "sieve64.c"
NATIVE = ROOT / "build" / "native" / "sieve64"
DEFAULT_N = 100_000_000


def worker(runtime_name: str, n: int) -> dict[str, Any]:
    """Call ``sieve(n)`` once under one runtime (in this process)."""
    if runtime_name == "cwasm":
        import cwasm.api as rt
    else:
        import wasmtime as rt
    config = rt.Config()
    config.wasm_memory64 = True
    engine = rt.Engine(config)
    module = rt.Module.from_file(engine, str(WASM))
    store = rt.Store(engine)
    sieve = rt.Instance(store, module, []).exports(store)["sieve"]
    started = time.perf_counter()
    total = sieve(store, n)
    elapsed = time.perf_counter() - started
    return {"line": f"sieve64 n={n} sum={total}\n", "seconds": elapsed}


def ensure_native() -> Path:
    """The native build of sieve64.c (built with gcc if missing)."""
    if not NATIVE.exists():
        NATIVE.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(NATIVE), str(SOURCE)],
            check=True,
        )
    return NATIVE


def run_native(n: int) -> tuple[str, float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [str(ensure_native()), str(n)], capture_output=True, text=True, check=True
    )
    return proc.stdout, time.perf_counter() - started


def run_worker_process(python: str, runtime: str, n: int) -> dict[str, Any]:
    proc = subprocess.run(
        [python, str(Path(__file__)), "--worker", runtime, "--n", str(n)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{runtime} worker failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="sieve size (bytes of flags)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (best kept)")
    ap.add_argument("--wasmtime-python", help="python of the wasmtime-py to compare with")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n)))
        return 0
    if args.wasmtime_python:
        wasmtime_python = args.wasmtime_python
    else:
        sys.path.insert(0, str(BENCH))
        from run import ensure_wasmtime_venv

        wasmtime_python = str(ensure_wasmtime_venv()[0])  # (already the venv's python)
    want, native = run_native(args.n)
    for _ in range(args.repeat - 1):
        native = min(native, run_native(args.n)[1])
    best: dict[str, float] = {}
    failed = False
    for runtime, python in (("cwasm", sys.executable), ("wasmtime", wasmtime_python)):
        runs = [run_worker_process(python, runtime, args.n) for _ in range(args.repeat)]
        for r in runs:
            if r["line"] != want:
                print(f"{runtime} printed {r['line']!r}, native {want!r}", file=sys.stderr)
                failed = True
        best[runtime] = min(r["seconds"] for r in runs)
    print(f"sieve64 n={args.n}, best of {args.repeat}, wall seconds of the call")
    print("| cwasm | wasmtime-py | native | cwasm/wasmtime | cwasm/native |")
    print("|---|---|---|---|---|")
    print(
        f"| {best['cwasm']:.3f} s | {best['wasmtime']:.3f} s | {native:.3f} s "
        f"| {best['cwasm'] / best['wasmtime']:.2f}× | {best['cwasm'] / native:.2f}× |"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
