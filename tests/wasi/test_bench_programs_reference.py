"""The committed bench programs, run under wasmtime-py 28, print what their native builds print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

wasmtime = pytest.importorskip("wasmtime")

from tests.wasi.wasmtime_bridge import run_with_wasmtime_wasi  # noqa: E402

BENCH = Path(__file__).resolve().parents[2] / "bench"
EXPECTED: dict[str, dict[str, dict[str, object]]] = json.loads(
    (BENCH / "expected.json").read_text()
)
WORKLOADS = {"sieve", "matmul", "fib", "crc32", "sort", "vm"}


def test_every_program_is_built_and_recorded() -> None:
    sources = {p.stem for p in (BENCH / "programs").glob("*.c")}
    wasm = {p.stem for p in (BENCH / "wasm").glob("*.wasm")}
    assert WORKLOADS <= sources
    assert sources == wasm == set(EXPECTED)
    for name, sizes in EXPECTED.items():
        assert sizes["test"]["args"] == [], name
        assert sizes["bench"]["args"], name
        assert sizes["test"]["stdout"] != sizes["bench"]["stdout"], name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_wasm_matches_native_at_test_size(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]["test"]
    args = expected["args"]
    assert isinstance(args, list)
    config = wasmtime.WasiConfig()
    config.argv = [name, *args]
    config.stdout_file = str(tmp_path / "stdout")
    config.stderr_file = str(tmp_path / "stderr")
    exit_code = run_with_wasmtime_wasi(BENCH / "wasm" / f"{name}.wasm", config)
    assert (tmp_path / "stdout").read_text() == expected["stdout"]
    assert (tmp_path / "stderr").read_text() == ""
    assert exit_code == expected["exit_code"]
