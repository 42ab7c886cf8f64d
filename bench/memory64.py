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
import time
from pathlib import Path
from typing import Any

from side_by_side import BENCH, ROOT, best_native, best_of_runtimes, ensure_native, wasmtime_python

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
    exe = ensure_native(SOURCE, NATIVE)
    want, native = best_native(exe, [str(args.n)], args.repeat)
    best, failed = best_of_runtimes(
        Path(__file__),
        ["--n", str(args.n)],
        want,
        args.repeat,
        wasmtime_python(args.wasmtime_python),
    )
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
