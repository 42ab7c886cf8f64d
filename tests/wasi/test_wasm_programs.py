"""cwasm's WASI, plugged into wasmtime-py as the ``wasi_snapshot_preview1`` imports, runs
real wasi-libc programs exactly as wasmtime's own WASI does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

wasmtime = pytest.importorskip("wasmtime")

from cwasm.wasi import WasiConfig  # noqa: E402
from tests.wasi.wasmtime_bridge import run_with_cwasm_wasi, run_with_wasmtime_wasi  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = ROOT / "tests" / "wasi" / "programs" / "wasi_exercise.wasm"
EXPECTED = json.loads((ROOT / "bench" / "expected.json").read_text())


def snapshot(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): "dir" if path.is_dir() else path.read_text()
        for path in sorted(directory.rglob("*"))
    }


def run_exercise(tmp_path: Path, label: str, config: Any) -> dict[str, Any]:
    sandbox = tmp_path / label
    sandbox.mkdir()
    (tmp_path / f"{label}-outside").mkdir()
    config.argv = ["wasi_exercise", "/sandbox"]
    config.env = [("GREETING", "hello from the host")]
    config.stdout_file = str(tmp_path / f"{label}.out")
    config.stderr_file = str(tmp_path / f"{label}.err")
    config.preopen_dir(str(sandbox), "/sandbox")
    if isinstance(config, WasiConfig):
        code = run_with_cwasm_wasi(EXERCISE, config)
    else:
        code = run_with_wasmtime_wasi(EXERCISE, config)
    return {
        "exit": code,
        "stdout": (tmp_path / f"{label}.out").read_text(),
        "stderr": (tmp_path / f"{label}.err").read_text(),
        "files": snapshot(sandbox),
    }


def test_exercise_matches_wasmtime(tmp_path: Path) -> None:
    ours = run_exercise(tmp_path, "cwasm", WasiConfig())
    reference = run_exercise(tmp_path, "wasmtime", wasmtime.WasiConfig())
    assert ours == reference
    # The comparison is only meaningful if the program really did its work.
    assert ours["exit"] == 3
    assert ours["stderr"] == "to stderr\n"
    stdout = ours["stdout"]
    assert "GREETING=hello from the host\n" in stdout
    assert "lines=100 sum=4950 at70=line 10\n" in stdout
    assert "rename=0 errno=0\n" in stdout
    assert "nlink=2\n" in stdout
    assert "listing of /sandbox/sub: . .. moved.txt\n" in stdout
    assert "open escape=-1 errno_is_capable_or_perm=1\n" in stdout
    assert "slept at least 20ms=1\n" in stdout
    assert stdout.count("=-1") == 4  # the four failures the program provokes on purpose


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bench_programs_under_cwasm_wasi(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]["test"]
    config = WasiConfig()
    config.argv = [name, *expected["args"]]
    config.stdout_file = tmp_path / "out"
    code = run_with_cwasm_wasi(ROOT / "bench" / "wasm" / f"{name}.wasm", config)
    assert code == expected["exit_code"]
    assert (tmp_path / "out").read_text() == expected["stdout"]


def test_bench_program_argument_reaches_the_guest(tmp_path: Path) -> None:
    config = WasiConfig()
    config.argv = ["sieve", "1000"]
    config.stdout_file = tmp_path / "out"
    assert run_with_cwasm_wasi(ROOT / "bench" / "wasm" / "sieve.wasm", config) == 0
    assert (tmp_path / "out").read_text().startswith("sieve limit=1000 primes=168 ")
