"""The threads bench: a parallel sum over one shared memory, driven from Python threads.

``bench/threads/psum.wasm`` (built from ``psum.c`` by ``bench/build.sh``) imports one
shared memory; each Python thread instantiates it in a store of its own over the same
``SharedMemory`` and calls ``run_worker(n)``, which takes chunks from an atomic counter
in that memory and adds their sums to an atomic total. The total is checked against the
native pthreads build's output (``build/native/psum``) and the wall time of the sum is
given for 1 and 2 threads under cwasm, wasmtime-py (the release ``run.py`` installs in
``build/``) and native code, each runtime in a fresh process.

    python bench/threads.py [--n N] [--repeat R] [--wasmtime-python PYTHON]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from side_by_side import BENCH, ROOT, best_native, best_of_runtimes, ensure_native, wasmtime_python

WASM = BENCH / "threads" / "psum.wasm"
SOURCE = BENCH / "threads" / "psum.c"
NATIVE = ROOT / "build" / "native" / "psum"
#: the shared memory psum.wasm imports: 2 pages, shared, maximum 2
PAGES = 2
DEFAULT_N = 400_000_000
THREAD_COUNTS = (1, 2)


def _fix_wasmtime_shared_memory_import(rt: Any) -> None:
    """wasmtime-py (28 to 51 at least) cannot pass a ``SharedMemory`` as an import: its
    ``_as_extern`` wraps the pointer in a second pointer and ctypes refuses it
    (``TypeError: incompatible types, LP_LP_wasmtime_sharedmemory``). The bench passes the
    pointer itself, as the C API expects."""
    from wasmtime import _ffi as ffi

    def as_extern(self: Any) -> Any:
        union = ffi.wasmtime_extern_union(sharedmemory=self.ptr())
        return ffi.wasmtime_extern_t(ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)

    rt.SharedMemory._as_extern = as_extern


def worker(runtime_name: str, n: int, threads: int) -> dict[str, Any]:
    """Run the sum on ``threads`` Python threads under one runtime (in this process)."""
    if runtime_name == "cwasm":
        import cwasm.api as rt
    else:
        import wasmtime as rt

        _fix_wasmtime_shared_memory_import(rt)
    config = rt.Config()
    if hasattr(type(config), "shared_memory"):
        # newer wasmtime-py releases also ask for Wasmtime's `Config::shared_memory`
        config.shared_memory = True
    engine = rt.Engine(config)
    module = rt.Module.from_file(engine, str(WASM))
    memory = rt.SharedMemory(engine, rt.MemoryType(rt.Limits(PAGES, PAGES), shared=True))
    stores = [rt.Store(engine) for _ in range(threads)]
    instances = [rt.Instance(s, module, [memory]) for s in stores]
    exports = [i.exports(s) for i, s in zip(instances, stores, strict=True)]
    exports[0]["reset"](stores[0])
    chunks = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def run(k: int) -> None:
        barrier.wait()
        chunks[k] = exports[k]["run_worker"](stores[k], n)

    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    total = exports[0]["result"](stores[0])
    return {"line": f"psum n={n} total={total}\n", "seconds": elapsed, "chunks": chunks}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="numbers to sum")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (best kept)")
    ap.add_argument("--wasmtime-python", help="python of the wasmtime-py to compare with")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.threads)))
        return 0
    wasmtime = wasmtime_python(args.wasmtime_python)
    exe = ensure_native(SOURCE, NATIVE, "-pthread")
    print(f"psum n={args.n}, best of {args.repeat}, wall seconds of the sum")
    print("| threads | cwasm | wasmtime-py | native | cwasm/wasmtime | cwasm/native |")
    print("|---|---|---|---|---|---|")
    failed = False
    for threads in THREAD_COUNTS:
        want, native = best_native(exe, [str(args.n), str(threads)], args.repeat)
        argv_ = ["--n", str(args.n), "--threads", str(threads)]
        best, bad = best_of_runtimes(Path(__file__), argv_, want, args.repeat, wasmtime)
        failed |= bad
        print(
            f"| {threads} | {best['cwasm']:.3f} s | {best['wasmtime']:.3f} s | {native:.3f} s "
            f"| {best['cwasm'] / best['wasmtime']:.2f}× | {best['cwasm'] / native:.2f}× |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
