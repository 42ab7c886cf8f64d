"""Compile, load, instantiate and call costs of cwasm, next to wasmtime-py's, in one run.

    .venv/bin/python bench/runtime_bench.py [--quick] [--calls N] [--indirect]

Reports, per bench program (bench/wasm/*.wasm): compile time per function at O0 and
O2 (decode + translate + LLVM + pre-link + artifact), artifact load time
(``Module.deserialize``) and instantiation time; then the cost of one Python → wasm
call (``nop()`` and ``add(i32, i32)``), and of one ``call_indirect`` from a wasm loop to
a host function and to a wasm function in a table. Every number is the minimum over
several repetitions on this machine (``call_indirect``: one run of ``--indirect-calls``
calls); wasmtime-py (the project environment's, 28) is measured the same way for
comparison. ``--indirect`` measures only ``call_indirect``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cwasm  # noqa: E402
from cwasm.wasm.decoder import decode_module  # noqa: E402

CALLS_WAT = """
(module
  (func (export "nop"))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
"""

#: ``run(n, index)`` calls table element ``index`` ``n`` times through ``call_indirect``,
#: each call adding one to the accumulator: element 0 is a host function (set by the
#: embedder), element 1 the wasm function ``$inc`` (set by the element segment);
#: ``run_import(n)`` calls the same host function, imported, with ``call``
INDIRECT_WAT = """
(module
  (type $t (func (param i32) (result i32)))
  (import "" "f" (func $f (type $t)))
  (import "" "t" (table 2 funcref))
  (func $inc (type $t) local.get 0 i32.const 1 i32.add)
  (elem (i32.const 1) $inc)
  (func (export "run") (param $n i32) (param $index i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call_indirect (type $t) (local.get $acc) (local.get $index)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    local.get $acc)
  (func (export "run_import") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $f (local.get $acc)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    local.get $acc))
"""


def best(fn: Callable[[], Any], repeat: int) -> float:
    """Minimum wall time of ``fn()`` in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def cwasm_engine(opt: int) -> cwasm.Engine:
    config = cwasm.Config()
    config.opt_level = opt
    return cwasm.Engine(config)


def dummy_imports(store: cwasm.Store, module: cwasm.Module) -> list[Any]:
    """Host functions that only satisfy the import types (nothing is called)."""
    out: list[Any] = []
    for imp in module.imports:
        if not isinstance(imp.type, cwasm.FuncType):
            raise SystemExit(f"unsupported import kind in {imp.module}::{imp.name}")
        nres = len(imp.type.results)
        out.append(cwasm.Func(store, imp.type, lambda *a, _n=nres: [0] * _n if _n > 1 else 0))
    return out


def wasmtime_dummy_imports(store: Any, module: Any) -> list[Any]:
    import wasmtime

    out = []
    for imp in module.imports:
        ty = imp.type
        nres = len(ty.results)
        out.append(wasmtime.Func(store, ty, lambda *a, _n=nres: [0] * _n if _n > 1 else 0))
    return out


def bench_programs(repeat: int, programs: list[Path]) -> None:
    import wasmtime

    print("compile (ms per function; whole module: decode, LLVM, pre-link, artifact)")
    header = f"{'program':10} {'funcs':>5} {'O0':>8} {'O2':>8} {'wasmtime':>9}"
    header += f" {'load ms':>8} {'wt load':>8} {'inst ms':>8} {'wt inst':>8}"
    print(header)
    o0, o2 = cwasm_engine(0), cwasm_engine(2)
    wt_engine = wasmtime.Engine()
    for path in programs:
        print(bench_program(path, o0, o2, wt_engine, repeat))


def bench_program(
    path: Path, o0: cwasm.Engine, o2: cwasm.Engine, wt_engine: Any, repeat: int
) -> str:
    """One row of the compile/load/instantiate table."""
    import wasmtime

    wasm = path.read_bytes()
    nfuncs = len(decode_module(wasm).bodies)
    t0 = best(lambda: cwasm.Module(o0, wasm), repeat)
    t2 = best(lambda: cwasm.Module(o2, wasm), repeat)
    twt = best(lambda: wasmtime.Module(wt_engine, wasm), repeat)
    module = cwasm.Module(o2, wasm)
    data = module.serialize()
    load = best(lambda: cwasm.Module.deserialize(o2, data), repeat * 5)
    wt_module = wasmtime.Module(wt_engine, wasm)
    wt_data = wt_module.serialize()
    wt_load = best(lambda: wasmtime.Module.deserialize(wt_engine, wt_data), repeat * 5)
    store = cwasm.Store(o2)
    imports = dummy_imports(store, module)
    inst = best(lambda: cwasm.Instance(store, module, imports), repeat * 5)
    wt_store = wasmtime.Store(wt_engine)
    wt_imports = wasmtime_dummy_imports(wt_store, wt_module)
    wt_inst = best(lambda: wasmtime.Instance(wt_store, wt_module, wt_imports), repeat * 5)
    return (
        f"{path.stem:10} {nfuncs:5d} {t0 / nfuncs * 1e3:8.2f} {t2 / nfuncs * 1e3:8.2f} "
        f"{twt / nfuncs * 1e3:9.3f} {load * 1e3:8.3f} {wt_load * 1e3:8.3f} "
        f"{inst * 1e3:8.3f} {wt_inst * 1e3:8.3f}"
    )


def bench_calls(n: int, repeat: int) -> None:
    import wasmtime

    engine = cwasm_engine(2)
    store = cwasm.Store(engine)
    ex = cwasm.Instance(store, cwasm.Module(engine, CALLS_WAT), []).exports(store)
    nop, add = ex["nop"], ex["add"]
    wt_store = wasmtime.Store()
    wt_mod = wasmtime.Module(wt_store.engine, CALLS_WAT)
    wt_ex = wasmtime.Instance(wt_store, wt_mod, []).exports(wt_store)
    wt_nop, wt_add = wt_ex["nop"], wt_ex["add"]

    def loop(f: Any, s: Any, args: tuple[Any, ...], count: int) -> Callable[[], None]:
        def run() -> None:
            for _ in range(count):
                f(s, *args)

        return run

    assert add(store, 2, 3) == 5 and wt_add(wt_store, 2, 3) == 5
    wt_n = max(n // 20, 1000)
    rows = [
        ("nop()", loop(nop, store, (), n), n, loop(wt_nop, wt_store, (), wt_n), wt_n),
        (
            "add(i32, i32)",
            loop(add, store, (7, 8), n),
            n,
            loop(wt_add, wt_store, (7, 8), wt_n),
            wt_n,
        ),
    ]
    print()
    print(f"Python -> wasm call (ns/call, min of {repeat})")
    print(f"{'call':16} {'cwasm':>10} {'wasmtime-py':>12} {'ratio':>7}")
    for name, ours, n_ours, theirs, n_theirs in rows:
        a = best(ours, repeat) / n_ours * 1e9
        b = best(theirs, repeat) / n_theirs * 1e9
        print(f"{name:16} {a:10.0f} {b:12.0f} {b / a:6.1f}x")


def bench_indirect(n: int) -> None:
    """ns per ``call_indirect`` to a host function and to a wasm function (and per ``call``
    of the host function imported), one run of ``n`` calls each."""
    import wasmtime

    def runner(api: Any) -> Callable[[str, int], float]:
        engine = api.Engine()
        store = api.Store(engine)
        i32 = api.ValType.i32()
        host = api.Func(store, api.FuncType([i32], [i32]), lambda x: x + 1)
        table = api.Table(store, api.TableType(api.ValType.funcref(), api.Limits(2, None)), host)
        module = api.Module(engine, INDIRECT_WAT)
        ex = api.Instance(store, module, [host, table]).exports(store)
        calls = {
            "host": lambda count: ex["run"](store, count, 0),
            "wasm": lambda count: ex["run"](store, count, 1),
            "import": lambda count: ex["run_import"](store, count),
        }
        assert all(call(10) == 10 for call in calls.values())  # warm, and all work

        def per_call(which: str) -> float:
            t = time.perf_counter()
            assert calls[which](n) == n
            return (time.perf_counter() - t) / n * 1e9

        return per_call

    ours, theirs = runner(cwasm), runner(wasmtime)
    print()
    print(f"wasm -> host or wasm function (ns/call, one run of {n:,} calls)")
    print(f"{'callee':42} {'cwasm':>10} {'wasmtime-py':>12} {'ratio':>7}")
    rows = (
        ("host", "host function in a table, call_indirect"),
        ("wasm", "wasm function in a table, call_indirect"),
        ("import", "host function imported, call"),
    )
    for which, name in rows:
        a, b = ours(which), theirs(which)
        print(f"{name:42} {a:10.1f} {b:12.1f} {b / a:6.2f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one program, fewer repetitions")
    ap.add_argument("--calls", type=int, default=200_000, help="calls per timing loop")
    ap.add_argument("--indirect", action="store_true", help="only the call_indirect costs")
    ap.add_argument(
        "--indirect-calls", type=int, default=1_000_000, help="call_indirects per measurement"
    )
    args = ap.parse_args(argv)
    if args.indirect:
        bench_indirect(args.indirect_calls)
        return 0
    programs = sorted((ROOT / "bench" / "wasm").glob("*.wasm"))
    repeat = 2 if args.quick else 3
    if args.quick:
        programs = programs[:1]
    bench_programs(repeat, programs)
    bench_calls(args.calls // (10 if args.quick else 1), 5)
    bench_indirect(args.indirect_calls // (10 if args.quick else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
