"""Benchmarks cwasm against wasmtime-py (newest release) and native gcc -O2 builds.

For each bench program at its benchmark size (``--quick``: the small test size) it
measures, under cwasm (opt level 2) and under wasmtime-py, the compile, artifact
load, instantiate and run times (``bench/driver.py`` in a subprocess each), and
the native build's run time; it checks every run printed the checksum recorded in
``bench/expected.json`` and prints a table with the run-time ratios cwasm/wasmtime
and cwasm/native and their geometric means. A second table gives the start-up of a
process that only runs the precompiled artifact (``driver.py load``): the import, the
first ``Module.deserialize_file`` and instantiation in the process (what the CLI
pays) and their steady-state figures, with the ratios cwasm/wasmtime.

wasmtime-py lives in its own virtual environment, ``build/bench-venv-wasmtime``,
created (``python -m venv`` + ``pip install wasmtime``) on first use; native builds
go to ``build/native/`` (built with gcc if missing). Timings are single runs unless
``--repeat`` says otherwise (the best is kept): on a shared machine they are noisy.
Before measuring, cwasm's modules are compiled to bytecode, as pip does for
wasmtime-py when it installs it (``compile_bytecode``): an editable install under
``PYTHONDONTWRITEBYTECODE`` would otherwise compile cwasm's sources in every process.

With ``--interrupts`` it measures instead the run-time cost of fuel and of epochs
(``Config.consume_fuel``, ``Config.epoch_interruption``): each program runs under each
runtime without them, with fuel and with epochs (``driver.py interrupts``), the
repetitions interleaved, and the table gives each setting's run CPU time over the same
runtime's without it, with geometric means; ``--wasmtime-python`` picks the wasmtime-py
compared (e.g. the project's, 28).

With ``--big`` it also compiles ``bench/decode/big.wasm`` (4,044 functions, ~1.5 min
under cwasm on 2 cores) once per runtime on all cores (``bench/compile_scaling.py``,
which also gives the scaling over 1..N cores) and prints that row.

Usage: ``python bench/run.py [--quick] [--repeat N] [--only NAME...] [--json FILE]
[--interrupts] [--wasmtime-python PYTHON] [--big]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DRIVER = BENCH / "driver.py"
WASMTIME_VENV = ROOT / "build" / "bench-venv-wasmtime"
NATIVE_DIR = ROOT / "build" / "native"
EXPECTED: dict[str, Any] = json.loads((BENCH / "expected.json").read_text())
PHASES = ("compile", "load", "instantiate", "run")
#: the figures of driver.py's load mode: a fresh process that only loads and instantiates
START_PHASES = (
    "import",
    "load_first",
    "load_steady",
    "instantiate_first",
    "instantiate_steady",
)
#: phases measured and compared, but not shown as time columns
EXTRA_PHASES = ("compile_steady",)


@dataclass
class Result:
    """One program's timings (seconds) per runtime, and whether every output matched."""

    name: str
    args: list[str]
    times: dict[str, dict[str, float]] = field(default_factory=dict)
    #: cwasm's compile stage breakdown (seconds), from its steady-state compile
    stages: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_wasmtime_venv() -> tuple[Path, str]:
    """The python of the wasmtime-py environment (created on first use) and its version."""
    python = venv_python(WASMTIME_VENV)
    if not python.exists():
        print(f"creating {WASMTIME_VENV.relative_to(ROOT)} (pip install wasmtime)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(WASMTIME_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "wasmtime"],
            check=True,
        )
    return python, wasmtime_version_of(python)


def compile_bytecode() -> None:
    """Compile cwasm's modules to bytecode (``__pycache__``), as installing a wheel does.

    wasmtime-py comes from pip, which compiled its bytecode when it installed it; cwasm
    is an editable install, whose bytecode is only written when a module is first
    imported, and never with ``PYTHONDONTWRITEBYTECODE`` set: every fresh process would
    then compile cwasm's sources again inside the first-in-process figures (import,
    first compile, first load; ~2x the import's CPU time). This measures both runtimes
    as installed.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "cwasm"), quiet=1, workers=1)


def wasmtime_version_of(python: Path) -> str:
    """The version of the wasmtime-py that ``python`` imports."""
    probe = "from importlib.metadata import version; print(version('wasmtime'))"
    return subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True
    ).stdout.strip()


def ensure_native(name: str) -> Path | None:
    """The native build of ``name`` (gcc -O2, as bench/build.sh), or None without gcc."""
    exe = NATIVE_DIR / name
    source = BENCH / "programs" / f"{name}.c"
    if exe.exists() and exe.stat().st_mtime >= source.stat().st_mtime:
        return exe
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        return None
    NATIVE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(source)], check=True
    )
    return exe


def run_driver(python: Path, runtime: str, name: str, args: list[str], want: str) -> dict[str, Any]:
    """Compile, load, instantiate and run ``name`` in one process, then load and
    instantiate its artifact in a fresh one (driver.py's two modes)."""
    with tempfile.TemporaryDirectory(prefix="cwasm-bench-") as tmp:
        out = Path(tmp) / "stdout"
        artifact = Path(tmp) / f"{name}.{runtime}"
        wasm = BENCH / "wasm" / f"{name}.wasm"
        result = _driver(python, ["compile", runtime, str(wasm), str(out), str(artifact), *args])
        ok = out.read_text() == want
        started = _driver(python, ["load", runtime, str(artifact), str(out), *args])
        result.update({k: started[k] for k in START_PHASES})
        result["ok"] = ok and out.read_text() == want
    return result


def _driver(python: Path, argv: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [str(python), str(DRIVER), *argv], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        raise RuntimeError(f"driver {' '.join(argv[:3])} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def run_native(exe: Path, args: list[str], want: str) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    return {"run": elapsed, "ok": proc.stdout == want and proc.returncode == 0}


def best(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase, the fastest of the samples; ``ok`` only if every sample was."""
    merged = dict(samples[0])
    for key in (*PHASES, *START_PHASES, *EXTRA_PHASES):
        values = [s[key] for s in samples if key in s]
        if values:
            merged[key] = min(values)
    merged["ok"] = all(s["ok"] for s in samples)
    return merged


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f}ms"
    return f"{seconds:.3f}s"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}x"


def table(results: list[Result]) -> str:
    head = ["program"]
    for runtime in ("cwasm", "wasmtime"):
        head += [f"{runtime} {phase}" for phase in PHASES]
    head += ["native run", "run cwasm/wasmtime", "run cwasm/native", "compile cwasm/wasmtime"]
    head += ["compile steady cwasm/wasmtime"]
    rows: list[list[str]] = []
    keys = ("vs_wasmtime", "vs_native", "compile", "compile_steady")
    ratios: dict[str, list[float]] = {k: [] for k in keys}
    for r in results:
        row = [r.name]
        for runtime in ("cwasm", "wasmtime"):
            row += [fmt_time(r.times.get(runtime, {}).get(phase)) for phase in PHASES]
        native = r.times.get("native", {}).get("run")
        row.append(fmt_time(native))
        cw = r.times.get("cwasm", {})
        wt = r.times.get("wasmtime", {})
        vs_wt = cw["run"] / wt["run"] if "run" in cw and "run" in wt else None
        vs_native = cw["run"] / native if "run" in cw and native else None
        compile_ratio = (
            cw["compile"] / wt["compile"] if "compile" in cw and "compile" in wt else None
        )
        steady_ratio = (
            cw["compile_steady"] / wt["compile_steady"]
            if "compile_steady" in cw and "compile_steady" in wt
            else None
        )
        for key, value in zip(keys, (vs_wt, vs_native, compile_ratio, steady_ratio), strict=True):
            if value is not None:
                ratios[key].append(value)
        row += [fmt_ratio(v) for v in (vs_wt, vs_native, compile_ratio, steady_ratio)]
        rows.append(row)
    footer = ["geomean"] + [""] * (len(head) - 1 - len(keys))
    footer += [fmt_ratio(geomean(ratios[k])) for k in keys]
    rows.append(footer)
    return markdown_table(head, rows)


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with its columns padded to their widest cell."""
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(row) for row in rows)])


def startup_table(results: list[Result]) -> str:
    """Load and instantiate in a process that only runs a precompiled module: the first
    call (first-use costs included; what the CLI pays) and the steady state, with the
    ratios cwasm/wasmtime and their geometric means."""
    ratio_keys = START_PHASES[1:]
    head = ["program"]
    for runtime in ("cwasm", "wasmtime"):
        head += [f"{runtime} {phase}" for phase in START_PHASES]
    head += [f"{key} cwasm/wasmtime" for key in ratio_keys]
    rows: list[list[str]] = []
    ratios: dict[str, list[float]] = {key: [] for key in ratio_keys}
    for r in results:
        row = [r.name]
        for runtime in ("cwasm", "wasmtime"):
            row += [fmt_time(r.times.get(runtime, {}).get(phase)) for phase in START_PHASES]
        cw = r.times.get("cwasm", {})
        wt = r.times.get("wasmtime", {})
        for key in ratio_keys:
            value = cw[key] / wt[key] if key in cw and key in wt else None
            if value is not None:
                ratios[key].append(value)
            row.append(fmt_ratio(value))
        rows.append(row)
    footer = ["geomean"] + [""] * (len(head) - 1 - len(ratio_keys))
    footer += [fmt_ratio(geomean(ratios[key])) for key in ratio_keys]
    rows.append(footer)
    return markdown_table(head, rows)


def stage_table(results: list[Result]) -> str:
    """cwasm's compile stage breakdown per program (ms; LLVM's stages summed over parts)."""
    from cwasm.compile.artifact import STAGES

    stages = [s for s in STAGES if any(s in r.stages for r in results)]
    head = ["program", *stages, "total", "cpu/wall"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in results:
        if not r.stages:
            continue
        total = r.stages.get("total", 0.0)
        busy = sum(r.stages.get(s, 0.0) for s in STAGES)
        cells = [r.name] + [f"{r.stages.get(s, 0.0) * 1000:.0f}" for s in stages]
        cells += [f"{total * 1000:.0f}", fmt_ratio(busy / total if total else None)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: the settings ``--interrupts`` compares with ``none`` (``driver.py interrupts``)
INTERRUPT_SETTINGS = ("fuel", "epochs")


def run_interrupts(
    python: Path, runtime: str, setting: str, name: str, args: list[str], want: str
) -> dict[str, Any]:
    """One run of ``name`` under ``runtime`` with ``setting`` (``none``, ``fuel``, ``epochs``)."""
    with tempfile.TemporaryDirectory(prefix="cwasm-bench-") as tmp:
        out = Path(tmp) / "stdout"
        wasm = BENCH / "wasm" / f"{name}.wasm"
        result = _driver(python, ["interrupts", runtime, setting, str(wasm), str(out), *args])
        result["ok"] = out.read_text() == want
    return result


def measure_interrupts(
    names: list[str],
    size: str,
    repeat: int,
    wasmtime_python: Path | None,
    wasmtime_version: str,
    json_path: Path | None,
) -> int:
    """``--interrupts``: each setting's run CPU time over the same runtime's without it."""
    runtimes = [("cwasm", Path(sys.executable))]
    if wasmtime_python is not None:
        runtimes.append(("wasmtime", wasmtime_python))
    settings = ("none", *INTERRUPT_SETTINGS)
    cpu: dict[str, dict[tuple[str, str], float]] = {}
    failures: list[str] = []
    for name in names:
        expected = EXPECTED[name][size]
        args: list[str] = list(expected["args"])
        print(f"{name} {' '.join(args)}".rstrip(), file=sys.stderr)
        samples: dict[tuple[str, str], list[float]] = {}
        # interleaved, so that a burst of load elsewhere does not fall on one setting only
        for _ in range(max(repeat, 1)):
            for runtime, python in runtimes:
                for setting in settings:
                    r = run_interrupts(python, runtime, setting, name, args, expected["stdout"])
                    if not r["ok"]:
                        failures.append(f"{name}: {runtime} {setting}: output differs")
                    samples.setdefault((runtime, setting), []).append(float(r["run_cpu"]))
        cpu[name] = {key: min(values) for key, values in samples.items()}

    columns = [(rt, s) for rt, _ in runtimes for s in INTERRUPT_SETTINGS]
    head = ["program"] + [f"{rt} run (cpu)" for rt, _ in runtimes]
    head += [f"{rt} {s}" for rt, s in columns]
    ratios: dict[tuple[str, str], list[float]] = {c: [] for c in columns}
    rows = []
    for name, times in cpu.items():
        row = [name] + [fmt_time(times[(rt, "none")]) for rt, _ in runtimes]
        for rt, s in columns:
            ratio = times[(rt, s)] / times[(rt, "none")] if times[(rt, "none")] else math.nan
            ratios[(rt, s)].append(ratio)
            row.append(fmt_ratio(ratio))
        rows.append(row)
    rows.append(
        ["geomean"] + [""] * len(runtimes) + [fmt_ratio(geomean(ratios[c])) for c in columns]
    )
    print()
    print(
        "run CPU time with fuel / epochs over the same runtime without: cwasm (opt level 2), "
        f"wasmtime-py {wasmtime_version or '(skipped)'}; {size} sizes; {platform.machine()}, "
        f"{os.cpu_count()} cpus; best of {repeat}"
    )
    print(markdown_table(head, rows))
    print("checksums: " + ("all match bench/expected.json" if not failures else "MISMATCH"))
    for failure in failures:
        print(f"  {failure}")
    if json_path is not None:
        raw = {n: {f"{rt}:{s}": v for (rt, s), v in t.items()} for n, t in cpu.items()}
        json_path.write_text(json.dumps({"size": size, "run_cpu": raw}, indent=2))
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="use the small test sizes")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these programs")
    parser.add_argument("--no-wasmtime", action="store_true", help="skip wasmtime-py")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument(
        "--interrupts",
        action="store_true",
        help="measure the run-time cost of fuel and of epochs instead",
    )
    parser.add_argument(
        "--wasmtime-python",
        type=Path,
        help="the python whose wasmtime-py to compare with (default: the bench venv's)",
    )
    parser.add_argument(
        "--big",
        action="store_true",
        help="also compile bench/decode/big.wasm (4,044 functions) on all cores",
    )
    opts = parser.parse_args(argv)

    size = "test" if opts.quick else "bench"
    names = opts.only or sorted(EXPECTED)
    unknown = [n for n in names if n not in EXPECTED]
    if unknown:
        parser.error(f"unknown program(s): {', '.join(unknown)}")
    wasmtime_python: Path | None
    if opts.no_wasmtime:
        wasmtime_python, wasmtime_version = None, ""
    elif opts.wasmtime_python is not None:
        wasmtime_python = opts.wasmtime_python
        wasmtime_version = wasmtime_version_of(wasmtime_python)
    else:
        wasmtime_python, wasmtime_version = ensure_wasmtime_venv()
    if opts.interrupts:
        return measure_interrupts(
            names, size, opts.repeat, wasmtime_python, wasmtime_version, opts.json
        )

    compile_bytecode()
    results: list[Result] = []
    for name in names:
        expected = EXPECTED[name][size]
        args: list[str] = list(expected["args"])
        want: str = expected["stdout"]
        result = Result(name, args)
        print(f"{name} {' '.join(args)}".rstrip(), file=sys.stderr)
        runners: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("cwasm", partial(run_driver, Path(sys.executable), "cwasm", name, args, want))
        ]
        if wasmtime_python is not None:
            runners.append(
                ("wasmtime", partial(run_driver, wasmtime_python, "wasmtime", name, args, want))
            )
        exe = ensure_native(name)
        if exe is not None:
            runners.append(("native", partial(run_native, exe, args, want)))
        for runtime, run in runners:
            sample = best([run() for _ in range(max(opts.repeat, 1))])
            if not sample["ok"]:
                result.errors.append(f"{runtime}: output differs from bench/expected.json")
            result.times[runtime] = {
                k: float(sample[k]) for k in (*PHASES, *START_PHASES, *EXTRA_PHASES) if k in sample
            }
            if runtime == "cwasm" and sample.get("timings"):
                result.stages = {k: float(v) for k, v in sample["timings"].items()}
        results.append(result)

    print()
    print(
        f"cwasm (opt level 2) vs wasmtime-py {wasmtime_version or '(skipped)'} vs gcc -O2; "
        f"{size} sizes; {platform.machine()}, {os.cpu_count()} cpus; best of {opts.repeat}"
    )
    print(table(results))
    print()
    print(
        "start-up: a fresh process imports the runtime, then loads the artifact "
        "(Module.deserialize_file) and instantiates it; first call and best of "
        "later repetitions"
    )
    print(startup_table(results))
    if any(r.stages for r in results):
        print()
        print("cwasm compile stages (steady-state compile, ms):")
        print(stage_table(results))
    failures = [f"{r.name}: {e}" for r in results for e in r.errors]
    print("checksums: " + ("all match bench/expected.json" if not failures else "MISMATCH"))
    for failure in failures:
        print(f"  {failure}")
    big: list[dict[str, Any]] = []
    if opts.big:
        from compile_scaling import BIG, scaling, scaling_table  # beside this script

        big = scaling(BIG, [len(os.sched_getaffinity(0))], 1, wasmtime_python)
        print()
        print(scaling_table(BIG, big))
    if opts.json is not None:
        opts.json.write_text(
            json.dumps(
                {
                    "size": size,
                    "wasmtime_version": wasmtime_version,
                    "results": [r.__dict__ for r in results],
                    "big": big,
                },
                indent=2,
            )
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
