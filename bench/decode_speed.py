"""Measure decode and decode+validate throughput, in MB/s of code section.

    .venv/bin/python bench/decode_speed.py [MODULE.wasm ...] [--repeat N]

Without arguments it measures the largest valid module of the spec testsuite
(taken from build/spec/ when the spec harness has converted the .wast files there,
otherwise converted into a temporary directory with ``wasm-tools json-from-wast``)
and bench/decode/big.wasm (a >1 MB C program, see bench/decode/gen_big.py).
It also says whether the function-body validator is real, by checking that it
rejects an ill-typed body.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cwasm.errors import InvalidError, WasmError  # noqa: E402
from cwasm.wasm import decode_module  # noqa: E402

SPEC_DIR = Path("/work/shared/spec-testsuite")
BIG = ROOT / "bench" / "decode" / "big.wasm"

# (func (result i32) i32.add): must be rejected by a real body validator.
ILL_TYPED = (
    b"\0asm\1\0\0\0"
    + b"\x01\x05\x01\x60\x00\x01\x7f"  # type 0: [] -> [i32]
    + b"\x03\x02\x01\x00"  # function 0: type 0
    + b"\x0a\x05\x01\x03\x00\x6a\x0b"  # body: i32.add end
)


def _wasm_tools() -> str:
    local = Path(sys.executable).parent / "wasm-tools"
    return str(local) if local.exists() else (shutil.which("wasm-tools") or "wasm-tools")


def _largest_valid(paths: list[Path]) -> Path | None:
    for path in sorted(paths, key=lambda p: p.stat().st_size, reverse=True):
        try:
            decode_module(path.read_bytes())
        except WasmError:
            continue
        return path
    return None


def largest_spec_module(workdir: Path) -> Path | None:
    built = list((ROOT / "build" / "spec").glob("**/*.wasm"))
    if built:
        return _largest_valid(built)
    tool = _wasm_tools()
    for wast in sorted(SPEC_DIR.glob("*.wast")):
        out = workdir / wast.stem
        out.mkdir()
        subprocess.run(
            [tool, "json-from-wast", str(wast), "-o", str(out / "x.json"), "--wasm-dir", str(out)],
            check=True,
            capture_output=True,
        )
    return _largest_valid(list(workdir.glob("**/*.wasm")))


def code_section_size(wasm: bytes) -> int:
    m = decode_module(wasm, validate=False)
    if not m.bodies:
        return 0
    return m.bodies[-1].end - m.code_section_offset


def best_time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def body_validator_is_real() -> bool:
    try:
        decode_module(ILL_TYPED)
    except InvalidError:
        return True
    return False


def measure(path: Path, repeat: int) -> None:
    wasm = path.read_bytes()
    code = code_section_size(wasm)
    module = decode_module(wasm, validate=False)
    t_decode = best_time(lambda: decode_module(wasm, validate=False), repeat)
    t_full = best_time(lambda: decode_module(wasm), repeat)
    mb = code / 1e6
    print(f"{path}")
    print(
        f"  module {len(wasm):,} bytes, code section {code:,} bytes, "
        f"{len(module.bodies):,} function bodies"
    )
    print(f"  decode only:       {t_decode * 1e3:9.2f} ms  {mb / t_decode:8.2f} MB/s")
    print(f"  decode + validate: {t_full * 1e3:9.2f} ms  {mb / t_full:8.2f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs (default 5)")
    args = parser.parse_args()
    real = body_validator_is_real()
    print(f"function-body validator: {'real' if real else 'PLACEHOLDER (accepts anything)'}")
    with tempfile.TemporaryDirectory() as tmp:
        modules: list[Path] = list(args.modules)
        if not modules:
            spec = largest_spec_module(Path(tmp))
            if spec is not None:
                modules.append(spec)
            if BIG.exists():
                modules.append(BIG)
        for path in modules:
            measure(path, args.repeat)


if __name__ == "__main__":
    main()
