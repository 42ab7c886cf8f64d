"""Real wasi-libc programs on cwasm's own runtime: Linker.define_wasi + Store.set_wasi.

Every bench program at its small size prints the checksum its native build printed
(``bench/expected.json``), and the WASI exercise program behaves as under Wasmtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cwasm.api import Engine, ExitTrap, Linker, Module, Store, WasiConfig
from cwasm.wasi import WasiExit
from tests.bench_artifacts import EXERCISE, EXPECTED, NAMES, artifact, bench_artifact


def run_command(path: Path, config: WasiConfig) -> int:
    """Runs the command's ``_start`` from its artifact; returns its exit status."""
    engine = Engine()
    module = Module.deserialize_file(engine, path)
    linker = Linker(engine)
    linker.define_wasi()
    store = Store(engine)
    store.set_wasi(config)
    instance = linker.instantiate(store, module)
    try:
        instance.exports(store)["_start"](store)
    except ExitTrap as e:
        return int(e.code)
    return 0


@pytest.mark.parametrize("name", NAMES)
def test_bench_program_prints_the_native_checksum(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]["test"]
    config = WasiConfig()
    config.argv = [name, *expected["args"]]
    config.stdout_file = tmp_path / "out"
    assert run_command(bench_artifact(name), config) == expected["exit_code"]
    assert (tmp_path / "out").read_text() == expected["stdout"]


def test_argument_reaches_the_guest(tmp_path: Path) -> None:
    config = WasiConfig()
    config.argv = ["sieve", "1000"]
    config.stdout_file = tmp_path / "out"
    assert run_command(bench_artifact("sieve"), config) == 0
    assert (tmp_path / "out").read_text().startswith("sieve limit=1000 primes=168 ")


def test_exercise_program_in_a_preopened_directory(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    config = WasiConfig()
    config.argv = ["wasi_exercise", "/sandbox"]
    config.env = [("GREETING", "hello from the host")]
    config.stdout_file = tmp_path / "out"
    config.stderr_file = tmp_path / "err"
    config.preopen_dir(sandbox, "/sandbox")
    assert run_command(artifact(EXERCISE), config) == 3  # the program's own exit status
    out = (tmp_path / "out").read_text()
    assert "argc=2 argv1=/sandbox\n" in out
    assert "GREETING=hello from the host\n" in out
    assert "lines=100 sum=4950 at70=line 10\n" in out
    assert "listing of /sandbox/sub: . .. moved.txt\n" in out
    assert "open escape=-1 errno_is_capable_or_perm=1\n" in out
    assert (tmp_path / "err").read_text() == "to stderr\n"
    # the program cleans up after itself, inside the sandbox only
    assert list(sandbox.iterdir()) == []


def test_exit_trap_is_wasi_exit_with_code() -> None:
    assert ExitTrap is WasiExit
    assert ExitTrap(7).code == 7


def test_wasi_without_set_wasi_is_an_error() -> None:
    engine = Engine()
    module = Module.deserialize_file(engine, bench_artifact("sieve"))
    linker = Linker(engine)
    linker.define_wasi()
    store = Store(engine)
    instance = linker.instantiate(store, module)
    with pytest.raises(Exception, match="no WASI configuration") as info:
        instance.exports(store)["_start"](store)
    assert not isinstance(info.value, WasiExit)


def test_set_wasi_again_replaces_the_context(tmp_path: Path) -> None:
    engine = Engine()
    module = Module.deserialize_file(engine, bench_artifact("fib"))
    linker = Linker(engine)
    linker.define_wasi()
    store = Store(engine)
    first: Any = WasiConfig()
    first.argv = ["fib", "5"]
    first.stdout_file = tmp_path / "first"
    store.set_wasi(first)
    old = store.wasi
    second = WasiConfig()
    second.argv = ["fib", "10"]
    second.stdout_file = tmp_path / "second"
    store.set_wasi(second)
    assert store.wasi is not old
    instance = linker.instantiate(store, module)
    instance.exports(store)["_start"](store)
    assert (tmp_path / "first").read_text() == ""
    assert (tmp_path / "second").read_text().startswith("fib n=10 fib=55 ")
