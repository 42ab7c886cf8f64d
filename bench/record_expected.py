"""Record each bench program's expected output, from its native build, in bench/expected.json.

Every program runs twice: at its small default size (``test``, used by the test suite)
and at the size chosen for benchmarking (``bench``, about 0.5-2 s natively).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "build" / "native"
EXPECTED = ROOT / "bench" / "expected.json"

BENCH_ARGS: dict[str, list[str]] = {
    "crc32": ["40000"],
    "fib": ["42"],
    "matmul": ["1000"],
    "sieve": ["50000000"],
    "sort": ["4000000"],
    "tailcall": ["30000000"],
    "vm": ["600000"],
}


def run(name: str, args: list[str]) -> dict[str, object]:
    done = subprocess.run(
        [str(NATIVE / name), *args], capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        sys.exit(f"{name} {args} exited with {done.returncode}: {done.stderr}")
    return {"args": args, "stdout": done.stdout, "exit_code": done.returncode}


def main() -> None:
    programs = sorted(p.stem for p in (ROOT / "bench" / "programs").glob("*.c"))
    missing = set(programs) ^ set(BENCH_ARGS)
    if missing:
        sys.exit(f"bench sizes and programs disagree: {sorted(missing)}")
    expected = {
        name: {"test": run(name, []), "bench": run(name, BENCH_ARGS[name])} for name in programs
    }
    EXPECTED.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
