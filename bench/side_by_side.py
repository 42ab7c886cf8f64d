"""What the standalone benches (``threads.py``, ``memory64.py``) share: a native build
of their C program, and the best of several runs of one measurement under cwasm and
wasmtime-py, each run in a fresh process of the bench script's own ``--worker`` mode,
checked against the native program's output line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def ensure_native(source: Path, exe: Path, *flags: str) -> Path:
    """``exe``, built from ``source`` with gcc -O2 (and ``flags``) if missing."""
    if not exe.exists():
        exe.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", *flags, "-o", str(exe), str(source)]
        subprocess.run(cmd, check=True)
    return exe


def best_native(exe: Path, args: list[str], repeat: int) -> tuple[str, float]:
    """The native program's output and its best wall time over ``repeat`` runs."""
    best = float("inf")
    out = ""
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run([str(exe), *args], capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - started)
        out = proc.stdout
    return out, best


def wasmtime_python(explicit: str | None) -> str:
    """The python of the wasmtime-py to compare with: ``explicit``, else the release
    ``run.py`` installs in ``build/``."""
    if explicit:
        return explicit
    sys.path.insert(0, str(BENCH))
    from run import ensure_wasmtime_venv

    return str(ensure_wasmtime_venv()[0])


def _worker(python: str, script: Path, runtime: str, argv: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [python, str(script), "--worker", runtime, *argv], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{runtime} worker failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def best_of_runtimes(
    script: Path, argv: list[str], want: str, repeat: int, wasmtime: str
) -> tuple[dict[str, float], bool]:
    """The best ``seconds`` of ``repeat`` worker runs of ``script`` under cwasm and
    wasmtime-py, and whether any printed a ``line`` other than ``want`` (reported on
    stderr)."""
    best: dict[str, float] = {}
    failed = False
    for runtime, python in (("cwasm", sys.executable), ("wasmtime", wasmtime)):
        runs = [_worker(python, script, runtime, argv) for _ in range(repeat)]
        for r in runs:
            if r["line"] != want:
                print(f"{runtime} printed {r['line']!r}, native {want!r}", file=sys.stderr)
                failed = True
        best[runtime] = min(r["seconds"] for r in runs)
    return best, failed
