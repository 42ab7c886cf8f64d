"""The bench programs compiled once per test session, shared by the run tests.

Compiling a bench program takes a second or two, so every test that runs one uses
the artifact built here (default engine: this machine, opt level 2), in a
temporary directory removed when the session ends.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cwasm.api import compile_artifact
from cwasm.runtime.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
BENCH_WASM = ROOT / "bench" / "wasm"
EXPECTED: dict[str, Any] = json.loads((ROOT / "bench" / "expected.json").read_text())
NAMES = sorted(EXPECTED)
EXERCISE = ROOT / "tests" / "wasi" / "programs" / "wasi_exercise.wasm"


@functools.cache
def _directory() -> Path:
    path = Path(tempfile.mkdtemp(prefix="cwasm-test-artifacts-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def artifact(wasm_path: Path) -> Path:
    """The ``.cwasm`` of ``wasm_path``, compiled by a default ``Engine`` (once)."""
    out = _directory() / f"{wasm_path.stem}.cwasm"
    out.write_bytes(compile_artifact(Engine(), wasm_path.read_bytes()))
    return out


def bench_artifact(name: str) -> Path:
    return artifact(BENCH_WASM / f"{name}.wasm")
