"""``cwasm run`` and ``cwasm compile`` end to end, as subprocesses: bench programs from
``.wasm`` and ``.cwasm``, exit statuses, traps, ``--invoke``, ``--dir``, ``--env`` and the
compile cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cwasm.cache import CompileCache
from cwasm.runtime.engine import Engine
from cwasm.runtime.module import ArtifactModule
from tests.bench_artifacts import BENCH_WASM, EXERCISE, EXPECTED, NAMES, bench_artifact

HELLO = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""

EXIT = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const {code})) unreachable))
"""

TRAP = """
(module
  (memory (export "memory") 1)
  (func $inner (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $outer (drop (call $inner (i32.const 0))))
  (export "_start" (func $outer)))
"""

# Opens PATH relative to the first preopened directory (fd 3), copies it to stdout;
# exits with status 1 if it cannot be opened.
READ_FILE = """
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{path}")
  (func (export "_start")
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const {length})
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100))
      (then (call $exit (i32.const 1))))
    (i32.store (i32.const 200) (i32.const 1024))
    (i32.store (i32.const 204) (i32.const 4096))
    (drop (call $fd_read (i32.load (i32.const 100)) (i32.const 200) (i32.const 1) (i32.const 208)))
    (i32.store (i32.const 300) (i32.const 1024))
    (i32.store (i32.const 304) (i32.load (i32.const 208)))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 308)))))
"""

INVOKE = """
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "mixed") (param i64 f32 f64) (result i64 f32 f64)
    (i64.mul (local.get 0) (i64.const -1)) (local.get 1) (f64.mul (local.get 2) (f64.const 2)))
  (func (export "nothing")))
"""


def cwasm(
    *args: str | Path, cache: Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CWASM_CACHE_DIR=str(cache))
    return subprocess.run(
        [sys.executable, "-m", "cwasm.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def seeded_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache already holding every bench program (compiled once per session)."""
    directory = tmp_path_factory.mktemp("seeded-cache")
    cache = CompileCache(directory)
    engine = Engine()
    for name in NAMES:
        wasm = (BENCH_WASM / f"{name}.wasm").read_bytes()
        assert cache.store(engine, wasm, bench_artifact(name).read_bytes()) is not None
    return directory


@pytest.mark.parametrize("name", NAMES)
def test_bench_program_from_wasm_hits_the_cache(name: str, seeded_cache: Path) -> None:
    expected = EXPECTED[name]["test"]
    entry = CompileCache(seeded_cache).path(Engine(), (BENCH_WASM / f"{name}.wasm").read_bytes())
    before = entry.stat().st_mtime_ns
    proc = cwasm("run", BENCH_WASM / f"{name}.wasm", *expected["args"], cache=seeded_cache)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        expected["exit_code"],
        expected["stdout"],
        "",
    )
    assert entry.stat().st_mtime_ns == before


@pytest.mark.parametrize("name", NAMES)
def test_bench_program_from_cwasm(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]["test"]
    proc = cwasm("run", bench_artifact(name), *expected["args"], cache=tmp_path / "cache")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        expected["exit_code"],
        expected["stdout"],
        "",
    )
    assert not (tmp_path / "cache").exists()  # artifacts never go through the cache


def test_program_arguments_after_double_dash(tmp_path: Path) -> None:
    proc = cwasm("run", bench_artifact("sieve"), "--", "1000", cache=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("sieve limit=1000 primes=168 ")


def test_second_run_hits_the_cache_and_no_cache_bypasses(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    program = write(tmp_path / "hello.wat", HELLO)
    first = cwasm("run", program, cache=cache)
    assert (first.returncode, first.stdout) == (0, "hello\n")
    entries = [p for p in cache.rglob("*.cwasm") if p.is_file()]
    assert len(entries) == 1 and entries[0].suffix == ".cwasm"
    stamp = entries[0].stat().st_mtime_ns

    # A cache hit loads the artifact without ever importing the compiler (or llvmlite).
    probe = (
        "import sys; from cwasm.cli import main; code = main(['run', sys.argv[1]]); "
        "sys.stdout.flush(); print('llvmlite' in sys.modules, 'cwasm.compile' in sys.modules); "
        "sys.exit(code)"
    )
    env = dict(os.environ, CWASM_CACHE_DIR=str(cache))
    second = subprocess.run(
        [sys.executable, "-c", probe, str(program)], capture_output=True, text=True, env=env
    )
    assert (second.returncode, second.stdout) == (0, "hello\nFalse False\n")
    assert [p for p in cache.rglob("*.cwasm") if p.is_file()] == entries
    assert entries[0].stat().st_mtime_ns == stamp

    other = tmp_path / "other-cache"
    bypass = cwasm("run", "--no-cache", program, cache=other)
    assert (bypass.returncode, bypass.stdout) == (0, "hello\n")
    assert not other.exists()

    # a different optimisation level is different code: a second entry
    o1 = cwasm("run", "-O", "1", program, cache=cache)
    assert (o1.returncode, o1.stdout) == (0, "hello\n")
    assert len([p for p in cache.rglob("*.cwasm") if p.is_file()]) == 2


def test_corrupt_cache_entry_is_recompiled(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    program = write(tmp_path / "hello.wat", HELLO)
    assert cwasm("run", program, cache=cache).returncode == 0
    (entry,) = [p for p in cache.rglob("*.cwasm") if p.is_file()]
    entry.write_bytes(entry.read_bytes()[:-100])
    proc = cwasm("run", program, cache=cache)
    assert (proc.returncode, proc.stdout) == (0, "hello\n")
    ArtifactModule.deserialize(Engine(), entry.read_bytes())  # replaced by a sound artifact


def test_proc_exit_status_becomes_the_exit_status(tmp_path: Path) -> None:
    proc = cwasm("run", write(tmp_path / "exit.wat", EXIT.format(code=3)), cache=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "", "")


def test_exit_status_of_126_or_more_is_an_error(tmp_path: Path) -> None:
    proc = cwasm("run", write(tmp_path / "exit.wat", EXIT.format(code=200)), cache=tmp_path)
    assert proc.returncode == 1
    assert "exit with invalid exit status outside of [0..126)" in proc.stderr


def test_trap_prints_message_and_backtrace_and_exits_134(tmp_path: Path) -> None:
    proc = cwasm("run", write(tmp_path / "trap.wat", TRAP), cache=tmp_path)
    assert proc.returncode == 134
    lines = proc.stderr.splitlines()
    # Wasmtime's layout: the failure, then its causes (the backtrace, the trap)
    assert lines[:4] == [
        f"cwasm: error: failed to run main module `{tmp_path / 'trap.wat'}`",
        "",
        "Caused by:",
        "    0: error while executing at wasm backtrace:",
    ]
    assert lines[4].endswith(" - <unknown>!inner") and lines[5].endswith(" - <unknown>!outer")
    assert lines[-1] == "    1: wasm trap: integer divide by zero"


def test_exercise_program_with_dir_env_and_argv(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    proc = cwasm(
        "run",
        "--dir",
        f"{sandbox}::/sandbox",
        "--env",
        "GREETING=hello from the host",
        EXERCISE,
        "/sandbox",
        cache=tmp_path / "cache",
    )
    assert proc.returncode == 3
    assert proc.stdout.startswith("argc=2 argv1=/sandbox\nGREETING=hello from the host\n")
    assert "listing of /sandbox/sub: . .. moved.txt\n" in proc.stdout
    assert "open escape=-1 errno_is_capable_or_perm=1\n" in proc.stdout
    assert proc.stderr == "to stderr\n"


def test_guest_reads_a_file_only_inside_its_preopened_dir(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("contents of data.txt\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    reader = write(tmp_path / "read.wat", READ_FILE.format(path="data.txt", length=8))
    escaper = write(tmp_path / "escape.wat", READ_FILE.format(path="../secret.txt", length=13))
    cache = tmp_path / "cache"

    ok = cwasm("run", "--dir", shared, reader, cache=cache)
    assert (ok.returncode, ok.stdout) == (0, "contents of data.txt\n")
    mapped = cwasm("run", "--dir", f"{shared}::/data", reader, cache=cache)
    assert (mapped.returncode, mapped.stdout) == (0, "contents of data.txt\n")
    assert cwasm("run", reader, cache=cache).returncode == 1  # no --dir: nothing to open
    escaped = cwasm("run", "--dir", shared, escaper, cache=cache)
    assert (escaped.returncode, escaped.stdout) == (1, "")


def test_env_without_value_is_inherited(tmp_path: Path) -> None:
    env_program = EXERCISE  # prints GREETING if set
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "cwasm.cli", "run", "--dir", f"{sandbox}::/s", "--env", "GREETING"]
        + [str(env_program), "/s"],
        capture_output=True,
        text=True,
        env=dict(os.environ, CWASM_CACHE_DIR=str(tmp_path / "cache"), GREETING="from outside"),
    )
    assert proc.returncode == 3
    assert "GREETING=from outside\n" in proc.stdout


def test_invoke_prints_results(tmp_path: Path) -> None:
    program = write(tmp_path / "invoke.wat", INVOKE)
    cache = tmp_path / "cache"
    add = cwasm("run", "--invoke", "add", program, "40", "2", cache=cache)
    assert (add.returncode, add.stdout) == (0, "42\n")
    wrap = cwasm("run", "--invoke", "add", program, "0x7fffffff", "1", cache=cache)
    assert wrap.stdout == "-2147483648\n"
    mixed = cwasm("run", "--invoke", "mixed", program, "5", "1.5", "1e-7", cache=cache)
    assert (mixed.returncode, mixed.stdout) == (0, "-5\n1.5\n0.0000002\n")
    f32 = cwasm("run", "--invoke", "mixed", program, "0", "0.1", "-inf", cache=cache)
    assert f32.stdout == "0\n0.1\n-inf\n"
    nothing = cwasm("run", "--invoke", "nothing", program, cache=cache)
    assert (nothing.returncode, nothing.stdout) == (0, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--invoke", "add", "1"], "not enough arguments for `add`"),
        (["--invoke", "add", "1", "2", "3"], "too many arguments for `add`"),
        (["--invoke", "add", "1", "one"], "invalid i32 argument 'one'"),
        (["--invoke", "add", "1", "4294967296"], "out of range"),
        (["--invoke", "missing"], "no exported function named `missing`"),
    ],
)
def test_invoke_errors(tmp_path: Path, args: list[str], message: str) -> None:
    program = write(tmp_path / "invoke.wat", INVOKE)
    proc = cwasm("run", args[0], args[1], program, *args[2:], cache=tmp_path / "cache")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and message in proc.stderr


def test_unknown_import_is_one_line_error(tmp_path: Path) -> None:
    program = write(
        tmp_path / "imp.wat", '(module (import "env" "f" (func)) (func (export "_start")))'
    )
    proc = cwasm("run", program, cache=tmp_path / "cache")
    assert proc.returncode == 1
    assert proc.stderr == "cwasm: error: unknown import: `env::f` has not been defined\n"


def test_compile_default_output_name_and_run(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    program = write(src / "invoke.wat", INVOKE)
    work = tmp_path / "work"
    work.mkdir()
    proc = cwasm("compile", program, cache=tmp_path / "cache", cwd=work)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert sorted(p.name for p in work.iterdir()) == ["invoke.cwasm"]  # no temp file left
    out = cwasm("run", "--invoke", "add", work / "invoke.cwasm", "1", "2", cache=tmp_path / "c")
    assert (out.returncode, out.stdout) == (0, "3\n")
    inspected = cwasm("inspect", "--json", work / "invoke.cwasm", cache=tmp_path / "c")
    assert inspected.returncode == 0 and json.loads(inspected.stdout)


def test_compile_options_and_progress(tmp_path: Path) -> None:
    program = write(tmp_path / "invoke.wat", INVOKE)
    out = tmp_path / "o0.cwasm"
    proc = cwasm("compile", "-O", "0", "--progress", program, "-o", out, cache=tmp_path)
    assert proc.returncode == 0
    assert proc.stderr.startswith("\n[")  # "\r" as universal newlines read it
    assert "compiled 3 functions in " in proc.stderr
    # the optimisation level is recorded but, as in Wasmtime, need not match to run
    inspected = cwasm("inspect", "--json", out, cache=tmp_path)
    assert '"opt_level": 0' in inspected.stdout
    default = cwasm("run", "--invoke", "add", out, "1", "2", cache=tmp_path)
    assert (default.returncode, default.stdout) == (0, "3\n")
    same = cwasm("run", "-O", "0", "--invoke", "add", out, "1", "2", cache=tmp_path)
    assert (same.returncode, same.stdout) == (0, "3\n")


def test_compile_timings_and_no_parallel(tmp_path: Path) -> None:
    from cwasm.compile.artifact import STAGES

    program = BENCH_WASM / "vm.wasm"  # large enough to be compiled as several parts
    parallel, serial = tmp_path / "parallel.cwasm", tmp_path / "serial.cwasm"
    proc = cwasm("compile", "--timings", program, "-o", parallel, cache=tmp_path)
    assert proc.returncode == 0
    shown = [line.split(":")[0].strip() for line in proc.stderr.splitlines()]
    assert [s for s in shown if s in STAGES] == list(STAGES)
    assert "total" in shown
    proc = cwasm("compile", "--no-parallel", program, "-o", serial, cache=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert parallel.read_bytes() == serial.read_bytes()


def test_compile_cache_reuses_the_parts(tmp_path: Path) -> None:
    program = BENCH_WASM / "vm.wasm"  # large enough to be compiled as several parts
    plain, cold, warm = (tmp_path / f"{name}.cwasm" for name in ("plain", "cold", "warm"))
    assert cwasm("compile", program, "-o", plain, cache=tmp_path).returncode == 0
    assert not (tmp_path / "parts").exists()  # without --cache, no part is kept
    first = cwasm("compile", "--cache", "--timings", program, "-o", cold, cache=tmp_path)
    assert first.returncode == 0
    assert list((tmp_path / "parts").rglob("*.part"))
    again = cwasm("compile", "--cache", "--timings", program, "-o", warm, cache=tmp_path)
    assert again.returncode == 0
    reused = [line for line in again.stderr.splitlines() if "parts reused" in line]
    assert len(reused) == 1
    hits, looked_up = reused[0].split(":")[1].split(" of ")
    assert int(hits) == int(looked_up) > 1
    assert plain.read_bytes() == cold.read_bytes() == warm.read_bytes()


def test_compile_for_another_target_then_refuse_to_run(tmp_path: Path) -> None:
    program = write(tmp_path / "invoke.wat", INVOKE)
    out = tmp_path / "arm.cwasm"
    proc = cwasm(
        "compile", "--target", "aarch64-unknown-linux-gnu", program, "-o", out, cache=tmp_path
    )
    assert proc.returncode == 0 and out.read_bytes()[:4] == b"\x7fELF"
    run = cwasm("run", "--invoke", "add", out, "1", "2", cache=tmp_path)
    assert run.returncode == 1 and run.stderr.startswith("cwasm: error: ")


def test_compile_rejects_an_artifact(tmp_path: Path) -> None:
    proc = cwasm("compile", bench_artifact("fib"), "-o", tmp_path / "x.cwasm", cache=tmp_path)
    assert proc.returncode == 1
    assert "already a compiled artifact" in proc.stderr
    assert not (tmp_path / "x.cwasm").exists()


# exits with 7 if memory.grow by one page fails, else 0; table.grow alike with 8
GROW = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (table 1 funcref)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (call $exit (i32.const 7))))
    (if (i32.eq (table.grow (ref.null func) (i32.const 1)) (i32.const -1))
      (then (call $exit (i32.const 8))))))
"""


@pytest.mark.parametrize(
    ("options", "status"),
    [
        ([], 0),
        (["-W", "max-memory-size=65536"], 7),
        (["-W", "max-memory-size=131_072"], 0),
        (["-W", "max-memory-size=0x20000,max-table-elements=1"], 8),
        (["-W", "max-memory-size=131072", "-W", "max-table-elements=1"], 8),
    ],
)
def test_wasm_option_limits(tmp_path: Path, options: list[str], status: int) -> None:
    proc = cwasm("run", *options, write(tmp_path / "g.wat", GROW), cache=tmp_path / "c")
    assert (proc.returncode, proc.stderr) == (status, "")


def test_wasm_option_trap_on_grow_failure(tmp_path: Path) -> None:
    guest = write(tmp_path / "g.wat", GROW)
    opts = "max-memory-size=65536,trap-on-grow-failure"
    proc = cwasm("run", "-W", opts, guest, cache=tmp_path / "c")
    assert proc.returncode == 1
    assert "forcing trap when growing memory to 131072 bytes" in proc.stderr
    proc = cwasm("run", "-W", opts + "=n", guest, cache=tmp_path / "c")
    assert proc.returncode == 7


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("max-instances=0", "resource limit exceeded: instance count too high at 1"),
        ("max-memories=0", "resource limit exceeded: memory count too high at 1"),
        ("max-tables=0", "resource limit exceeded: table count too high at 1"),
    ],
)
def test_wasm_option_counts(tmp_path: Path, option: str, message: str) -> None:
    proc = cwasm("run", "-W", option, write(tmp_path / "g.wat", GROW), cache=tmp_path / "c")
    assert proc.returncode == 1
    assert message in proc.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("frobnicate=1", "unknown -W / --wasm option: frobnicate"),
        ("max-memory-size=lots", "failed to parse -W option `max-memory-size=lots`"),
        ("max-memory-size", "value must be specified with `key=val` syntax"),
        ("trap-on-grow-failure=maybe", "unknown boolean flag `maybe`"),
    ],
)
def test_wasm_option_errors(tmp_path: Path, option: str, message: str) -> None:
    proc = cwasm("run", "-W", option, write(tmp_path / "g.wat", GROW), cache=tmp_path / "c")
    assert proc.returncode == 2
    assert message in proc.stderr


SPIN = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "spinning\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 9))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop (br 0))))
"""


@pytest.mark.parametrize("bounds_checks", ["guard-pages", "explicit"])
def test_sigint_stops_a_spinning_guest_with_status_130(tmp_path: Path, bounds_checks: str) -> None:
    guest = write(tmp_path / "spin.wat", SPIN)
    env = dict(os.environ, CWASM_CACHE_DIR=str(tmp_path / "c"), CWASM_BOUNDS_CHECKS=bounds_checks)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cwasm.cli", "run", str(guest)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "spinning\n"  # the guest is in its loop now
        # as a user would press Ctrl-C again if the first one landed outside the wasm
        # functions (e.g. while the host call that printed was still returning)
        for _ in range(60):
            proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=1)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        proc.kill()
    assert (proc.returncode, err) == (130, "")


COUNT = """
(module
  (func (export "count") (param i32) (result i32)
    (loop $l
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (local.get 0)))
    (local.get 0)))
"""


def test_wasm_option_fuel(tmp_path: Path) -> None:
    """``-W fuel=N``: enough fuel runs to the end, too little traps as Wasmtime's CLI does
    (the figure a call costs is the same as wasmtime-py's: tests/runtime/test_fuel.py)."""
    guest = write(tmp_path / "count.wat", COUNT)
    ok = cwasm("run", "-W", "fuel=10_000", "--invoke", "count", guest, "100", cache=tmp_path)
    assert (ok.returncode, ok.stdout) == (0, "0\n")
    out = cwasm("run", "-W", "fuel=100", "--invoke", "count", guest, "100", cache=tmp_path)
    assert out.returncode == 134
    assert out.stderr.rstrip().endswith("wasm trap: all fuel consumed by WebAssembly")
    assert "<wasm function 0>" in out.stderr  # the backtrace is there


def test_wasm_option_timeout_stops_a_spinning_guest(tmp_path: Path) -> None:
    """``-W timeout=DURATION``: epochs stop the loop; the message names the timeout."""
    guest = write(tmp_path / "spin.wat", SPIN)
    proc = cwasm("run", "-W", "timeout=200ms", guest, cache=tmp_path / "c")
    assert proc.returncode == 134
    assert proc.stdout == "spinning\n"
    assert "0: timeout of 200ms exceeded" in proc.stderr
    assert proc.stderr.rstrip().endswith("wasm trap: interrupt")
    # a program that ends in time is not disturbed
    count = write(tmp_path / "count.wat", COUNT)
    ok = cwasm("run", "-W", "timeout=60", "--invoke", "count", count, "5", cache=tmp_path / "c")
    assert (ok.returncode, ok.stdout) == (0, "0\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2", 2.0), ("1s", 1.0), ("500ms", 0.5), ("1m 30s", 90.0), ("1min", 60.0), ("250us", 25e-5)],
)
def test_timeout_durations(text: str, seconds: float) -> None:
    from cwasm.cli_options import parse_duration

    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("timeout=1x", 'unknown time unit "x"'),
        ("timeout=1.5", "time unit needed"),
        ("timeout=5s x", "expected number at 2"),
        ("timeout", "value must be specified with `key=val` syntax"),
        ("fuel=-1", "failed to parse -W option `fuel=-1`"),
    ],
)
def test_wasm_option_fuel_and_timeout_errors(tmp_path: Path, option: str, message: str) -> None:
    proc = cwasm("run", "-W", option, write(tmp_path / "s.wat", SPIN), cache=tmp_path / "c")
    assert proc.returncode == 2
    assert message in proc.stderr
