"""The GC bench: binary-trees over WebAssembly GC structs, beside wasmtime-py.

``bench/gc/binary_trees.wat`` (the Benchmarks Game's allocation benchmark) builds a
stretch tree of depth n+1, a long-lived tree of depth n, and 2^(n-d+4) short-lived trees
of each depth d = 4, 6, ..., n, and sums the node counts it checks. Each runtime (cwasm,
and wasmtime-py with ``Config.wasm_gc`` — the release ``run.py`` installs in ``build/``)
runs ``run(n)`` in a fresh process; the result is checked against the closed form and
the best wall time of the call is printed.

    python bench/binary_trees.py [--n N] [--repeat R] [--wasmtime-python PYTHON]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from side_by_side import BENCH, best_of_runtimes, wasmtime_python

WAT = BENCH / "gc" / "binary_trees.wat"
DEFAULT_N = 18


def expected(n: int) -> int:
    """What ``run(n)`` returns: the node counts of every tree it checks."""
    nodes = lambda depth: 2 ** (depth + 1) - 1  # noqa: E731 - a tree of depth ``depth``
    checked = sum(2 ** (n - d + 4) * nodes(d) for d in range(4, n + 1, 2))
    return nodes(n + 1) + checked + nodes(n)


def _wasm() -> bytes:
    tool = Path(sys.executable).with_name("wasm-tools")
    return subprocess.run(
        [str(tool if tool.exists() else "wasm-tools"), "parse", str(WAT)],
        check=True,
        capture_output=True,
    ).stdout


def worker(runtime_name: str, n: int, wasm: bytes) -> dict[str, Any]:
    """Call ``run(n)`` once under one runtime (in this process)."""
    if runtime_name == "cwasm":
        import cwasm.api as rt
    else:
        import wasmtime as rt
    config = rt.Config()
    config.wasm_gc = True
    config.wasm_function_references = True
    engine = rt.Engine(config)
    module = rt.Module(engine, wasm)
    store = rt.Store(engine)
    run = rt.Instance(store, module, []).exports(store)["run"]
    started = time.perf_counter()
    total = run(store, n)
    elapsed = time.perf_counter() - started
    return {"line": f"binary_trees n={n} sum={total}\n", "seconds": elapsed}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="depth of the trees")
    ap.add_argument("--repeat", type=int, default=1, help="runs per figure (best kept)")
    ap.add_argument("--wasmtime-python", help="python of the wasmtime-py to compare with")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--wasm", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, Path(args.wasm).read_bytes())))
        return 0
    want = f"binary_trees n={args.n} sum={expected(args.n)}\n"
    with tempfile.TemporaryDirectory() as tmp:
        wasm_path = Path(tmp) / "binary_trees.wasm"
        wasm_path.write_bytes(_wasm())
        best, failed = best_of_runtimes(
            Path(__file__),
            ["--n", str(args.n), "--wasm", str(wasm_path)],
            want,
            args.repeat,
            wasmtime_python(args.wasmtime_python),
        )
    print(f"binary_trees n={args.n}, best of {args.repeat}, wall seconds of the call")
    print("| cwasm | wasmtime-py | cwasm/wasmtime |")
    print("|---|---|---|")
    print(
        f"| {best['cwasm']:.3f} s | {best['wasmtime']:.3f} s "
        f"| {best['cwasm'] / best['wasmtime']:.2f}× |"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
