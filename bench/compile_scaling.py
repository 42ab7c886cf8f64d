"""Compile time of ``bench/decode/big.wasm`` (4,044 functions) by cores, beside wasmtime-py.

Each measurement is a fresh process restricted to the first N CPUs
(``os.sched_setaffinity``; cwasm's compile workers inherit it and
``parallel.available_cores()`` reads it, as wasmtime's thread pool does) that times
its first ``Module(engine, wasm)``, which is what ``cwasm compile`` and a new process
pay. For each N it prints the wall time and the CPU time of the process and its
children (cwasm's workers) for cwasm and for wasmtime-py (the bench virtual
environment's, as ``bench/run.py``), and the ratio of the wall times.

Usage: ``python bench/compile_scaling.py [--module FILE] [--cores 1,2] [--repeat N]
[--no-wasmtime]`` (the default cores: 1, 2, ... up to all of them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BIG = BENCH / "decode" / "big.wasm"

#: the measuring child: argv is (runtime, cores, wasm path); prints its wall seconds
CHILD = """
import os, sys, time
runtime, cores, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
if runtime == "cwasm":
    import cwasm.api as rt
else:
    import wasmtime as rt
engine = rt.Engine()
wasm = open(path, "rb").read()
t0 = time.perf_counter()
rt.Module(engine, wasm)
print(time.perf_counter() - t0)
"""


def measure(python: Path, runtime: str, cores: int, module: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one compile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [str(python), "-c", CHILD, runtime, str(cores), str(module)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(out.split()[-1]), cpu


def scaling(
    module: Path, cores: list[int], repeat: int, wasmtime_python: Path | None
) -> list[dict[str, float | int | None]]:
    """One row per core count: the best wall time of ``repeat`` compiles per runtime."""
    rows: list[dict[str, float | int | None]] = []
    for n in cores:
        row: dict[str, float | int | None] = {"cores": n}
        runtimes = [("cwasm", Path(sys.executable))]
        if wasmtime_python is not None:
            runtimes.append(("wasmtime", wasmtime_python))
        for runtime, python in runtimes:
            wall, cpu = min(measure(python, runtime, n, module) for _ in range(max(repeat, 1)))
            row[f"{runtime}_wall"], row[f"{runtime}_cpu"] = wall, cpu
            print(f"{module.name}: {runtime}, {n} core(s): {wall:.2f} s", file=sys.stderr)
        wt = row.get("wasmtime_wall")
        row["ratio"] = None if not wt else float(row["cwasm_wall"] or 0) / float(wt)
        rows.append(row)
    return rows


def scaling_table(module: Path, rows: list[dict[str, float | int | None]]) -> str:
    """The rows as a markdown table."""

    def cell(value: float | int | None, unit: str) -> str:
        return "" if value is None else f"{value:.2f}{unit}"

    lines = [
        f"compile of {module.name} ({module.stat().st_size:,} bytes), first Module() in a "
        "fresh process restricted to N cores",
        "| cores | cwasm wall | cwasm cpu | wasmtime wall | wasmtime cpu | wall cwasm/wasmtime |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cores']} | {cell(r.get('cwasm_wall'), 's')} | {cell(r.get('cwasm_cpu'), 's')}"
            f" | {cell(r.get('wasmtime_wall'), 's')} | {cell(r.get('wasmtime_cpu'), 's')}"
            f" | {cell(r.get('ratio'), 'x')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from run import compile_bytecode, ensure_wasmtime_venv  # bench/run.py, beside this

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", type=Path, default=BIG)
    parser.add_argument("--cores", help="comma-separated core counts (default 1..all)")
    parser.add_argument("--repeat", type=int, default=1, help="compiles per figure (best kept)")
    parser.add_argument("--no-wasmtime", action="store_true", help="skip wasmtime-py")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    opts = parser.parse_args(argv)
    available = len(os.sched_getaffinity(0))
    cores = [int(c) for c in opts.cores.split(",")] if opts.cores else list(range(1, available + 1))
    if any(not 1 <= c <= available for c in cores):
        parser.error(f"core counts must be 1..{available}")
    wasmtime_python = None if opts.no_wasmtime else ensure_wasmtime_venv()[0]
    compile_bytecode()  # both runtimes as installed
    rows = scaling(opts.module, cores, opts.repeat, wasmtime_python)
    print(scaling_table(opts.module, rows))
    if opts.json is not None:
        opts.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    sys.exit(main())
