"""Incremental compilation of ``bench/decode/big.wasm``: a one-function edit, recompiled.

Compiles the module from scratch (no cache), then with an empty part cache (every part
compiled and stored), then again unchanged (every part reused), then after changing
one ``i32.const`` in one function body (same encoded size): the parts reused, the
parts compiled and the wall-clock time of each, and whether every incremental
artifact equals the from-scratch compile of the same module.

Usage: ``python bench/incremental.py [--module FILE] [--function N] [--serial]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from cwasm.compile.artifact import compile_to_artifact
from cwasm.compile.compiler import CompileOptions, partition
from cwasm.compile.llvm_driver import host_triple
from cwasm.compile.partcache import PartCache
from cwasm.obj.engine import EngineMetadata
from cwasm.wasm.decoder import decode_module
from cwasm.wasm.operators import OPERATORS, READ_IMMEDIATES, read_opcode
from cwasm.wasm.reader import BinaryReader

BIG = Path(__file__).resolve().parent / "decode" / "big.wasm"
I32_CONST = 0x41


def edit_one_constant(wasm: bytes, defined_index: int) -> tuple[bytes, int]:
    """``wasm`` with the first ``i32.const`` of function ``defined_index`` (or of the
    first function after it that has one) changed, keeping its encoded size; and the
    defined index of the function edited."""
    translation = decode_module(wasm)
    for d in range(defined_index, len(translation.bodies)):
        body = translation.bodies[d]
        r = BinaryReader(wasm, body.code_start, body.end)
        while r.pos < body.end:
            op = read_opcode(r)
            info = OPERATORS[op]
            assert info is not None
            start = r.pos
            READ_IMMEDIATES[info.imm](r)
            if op == I32_CONST:
                out = bytearray(wasm)
                out[start] ^= 0x01  # the low bit of the first LEB byte: same length
                return bytes(out), d
    raise SystemExit("no i32.const to edit")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", type=Path, default=BIG)
    parser.add_argument("--function", type=int, default=None, help="defined function to edit")
    parser.add_argument("--serial", action="store_true", help="no worker processes")
    args = parser.parse_args()
    wasm = args.module.read_bytes()
    translation = decode_module(wasm)
    target = args.function if args.function is not None else len(translation.bodies) // 2
    edited, where = edit_one_constant(wasm, target)
    parts = partition(translation)
    part_of = next(k for k, p in enumerate(parts) if where in p)
    triple = host_triple()
    options = CompileOptions(triple=triple)
    engine = EngineMetadata(target=triple)
    parallel = not args.serial
    print(
        f"{args.module.name}: {len(translation.bodies)} functions, {len(parts)} parts "
        f"(+ trampolines); edit: one i32.const of function {where} (part {part_of}); "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    def compile_with(data: bytes, cache: PartCache | None) -> tuple[bytes, float]:
        t0 = time.perf_counter()
        out = compile_to_artifact(data, options, engine, parallel=parallel, part_cache=cache)
        return out, time.perf_counter() - t0

    scratch, t_scratch = compile_with(wasm, None)
    scratch_edited, t_scratch_edited = compile_with(edited, None)
    print(f"{'from scratch':>28}: {t_scratch:7.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        ok = True
        for label, data, want in (
            ("empty cache", wasm, scratch),
            ("unchanged", wasm, scratch),
            ("one-function edit", edited, scratch_edited),
        ):
            cache = PartCache(Path(tmp), b"k" * 32, b"bench")
            artifact, seconds = compile_with(data, cache)
            looked_up = cache.hits + cache.misses
            same = artifact == want
            ok &= same
            print(
                f"{label:>28}: {seconds:7.2f} s  parts reused {cache.hits}/{looked_up} "
                f"({100 * cache.hits / max(looked_up, 1):.1f}%), compiled {cache.misses}, "
                f"artifact {'==' if same else '!='} from scratch"
            )
    print(f"{'from scratch (edited)':>28}: {t_scratch_edited:7.2f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
