"""Parallel compilation: a module split into parts gives the same artifact in worker
processes as in one process, runs as the single-module compilation does, and a dead
worker makes the compilation fall back to the calling process instead of hanging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
import wasmtime

import cwasm.api as cw
from cwasm.abi import guard_layout
from cwasm.compile import compiler, parallel
from cwasm.compile.artifact import STAGES, compile_to_artifact
from cwasm.compile.compiler import CompileOptions, compile_order, partition
from cwasm.compile.llvm_driver import HUGE_FUNCTION_BYTES, compile_ir
from cwasm.compile.parallel import Part, WorkerPool
from cwasm.obj.engine import EngineMetadata
from cwasm.wasm.decoder import decode_module
from cwasm.wasm.translation import ModuleTranslation
from tests.fresh_python import run_fresh
from tests.runtime.wat import wat

BENCH = Path(__file__).resolve().parents[2] / "bench"

# SIMD, calls between functions of different parts, traps of several codes, an export
# of every function (entry trampolines) and a table (call_indirect, wasm-to-array)
SIMD = """
(module
  (memory 1)
  (table 4 funcref)
  (type $v (func (param v128 v128) (result v128)))
  (elem (i32.const 0) $add $mul $shuffle $dot)
  (func $add (export "add") (type $v) (f32x4.add (local.get 0) (local.get 1)))
  (func $mul (export "mul") (type $v) (i32x4.mul (local.get 0) (call $add (local.get 0) (local.get 1))))
  (func $shuffle (export "shuffle") (type $v)
    (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (local.get 0) (call $mul (local.get 1) (local.get 0))))
  (func $dot (export "dot") (type $v) (i32x4.dot_i16x8_s (local.get 0) (local.get 1)))
  (func (export "via_table") (param i32 i32) (result i32)
    (i32x4.extract_lane 1
      (call_indirect (type $v) (i32x4.splat (local.get 0)) (i32x4.splat (i32.const 7)) (local.get 1))))
  (func (export "load_sum") (param i32) (result i32)
    (i32x4.extract_lane 0 (i32x4.add (v128.load (local.get 0)) (v128.load offset=16 (local.get 0)))))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
)
"""


@pytest.fixture
def tiny_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split even tiny modules into parts (a part per few bytes of code)."""
    monkeypatch.setattr(compiler, "PART_MIN_CODE_BYTES", 16)


def _artifact(wasm: bytes, parallel: bool, bounds_checks: str = guard_layout.EXPLICIT) -> bytes:
    engine = EngineMetadata(target=_triple(), bounds_checks=bounds_checks)
    options = CompileOptions(bounds_checks=bounds_checks)
    return compile_to_artifact(wasm, options, engine, parallel=parallel)


def _modules() -> list[tuple[str, bytes]]:
    out = [("simd", wat(SIMD))]
    out += [(p.stem, p.read_bytes()) for p in sorted((BENCH / "wasm").glob("*.wasm"))[:3]]
    return out


@pytest.mark.parametrize("name", [name for name, _ in _modules()])
def test_parallel_and_serial_artifacts_are_byte_identical(tiny_parts: None, name: str) -> None:
    wasm = dict(_modules())[name]
    assert len(partition(decode_module(wasm))) > 1
    serial = _artifact(wasm, parallel=False)
    assert _artifact(wasm, parallel=True) == serial
    assert _artifact(wasm, parallel=True) == serial  # the warm workers again


def test_parts_with_guard_pages_are_byte_identical(tiny_parts: None) -> None:
    if not guard_layout.supported(compiler.CompileOptions().resolved_triple()):
        pytest.skip("guard pages need x86_64 Linux")
    wasm = wat(SIMD)
    serial = _artifact(wasm, parallel=False, bounds_checks=guard_layout.GUARD_PAGES)
    assert _artifact(wasm, parallel=True, bounds_checks=guard_layout.GUARD_PAGES) == serial


def test_partition_covers_every_function_once_in_order(tiny_parts: None) -> None:
    translation = decode_module((BENCH / "wasm" / "vm.wasm").read_bytes())
    parts = partition(translation)
    assert [i for part in parts for i in part] == list(range(len(translation.bodies)))
    assert all(len(part) > 0 for part in parts)


def test_a_module_split_into_parts_runs_as_wasmtime_does(tiny_parts: None) -> None:
    wasm = wat(SIMD)
    config = cw.Config()
    config.parallel_compilation = True
    store = cw.Store(cw.Engine(config))
    inst = cw.Instance(store, cw.Module(store.engine, wasm), [])
    wstore = wasmtime.Store()
    winst = wasmtime.Instance(wstore, wasmtime.Module(wstore.engine, wasm), [])
    ours, theirs = inst.exports(store), winst.exports(wstore)
    for table_index in range(4):
        assert ours["via_table"](store, 3, table_index) == theirs["via_table"](
            wstore, 3, table_index
        )
    assert ours["load_sum"](store, 0) == theirs["load_sum"](wstore, 0)
    assert ours["div"](store, 7, 2) == theirs["div"](wstore, 7, 2)
    with pytest.raises(cw.Trap) as ours_trap:
        ours["div"](store, 1, 0)
    with pytest.raises(wasmtime.Trap) as theirs_trap:
        theirs["div"](wstore, 1, 0)
    assert ours_trap.value.trap_code.name == theirs_trap.value.trap_code.name


def test_a_dead_worker_makes_the_part_compile_here(
    tiny_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _part_texts(decode_module(wat(SIMD)), monkeypatch)
    want = [
        compile_ir(text, _triple(), 2, loop_free=light, short=short) for text, light, short in texts
    ]
    pool = WorkerPool(1)
    pool.start()
    worker = pool._idle[0]
    worker.proc.kill()
    worker.proc.wait()
    try:
        assert pool.compile_parts(iter(texts), _triple(), 2) == want
        assert pool._idle == []  # the dead worker is dropped, not reused
    finally:
        pool.close()


def test_timings_report_every_stage(tiny_parts: None) -> None:
    timings: dict[str, float] = {}
    engine = EngineMetadata(target=_triple())
    compile_to_artifact(wat(SIMD), CompileOptions(), engine, parallel=True, timings=timings)
    assert set(STAGES) <= set(timings)
    assert all(seconds >= 0 for seconds in timings.values())


def _triple() -> str:
    return CompileOptions().resolved_triple()


def _part_texts(translation: ModuleTranslation, monkeypatch: pytest.MonkeyPatch) -> list[Part]:
    """The parts of a module, as compile_module hands them to the pool."""
    captured: list[Part] = []

    class Capture(WorkerPool):
        def compile_parts(
            self,
            parts: Iterable[Part],
            triple: str,
            opt_level: int,
            timings: dict[str, float] | None = None,
        ) -> list[bytes]:
            captured.extend(parts)
            return [
                compile_ir(t, triple, opt_level, loop_free=lf, short=s) for t, lf, s in captured
            ]

    monkeypatch.setattr(parallel, "WorkerPool", Capture)
    compiler.compile_module(translation, CompileOptions(), parallel=False)
    monkeypatch.undo()
    return captured


def test_a_huge_function_is_a_part_of_its_own() -> None:
    translation = decode_module((BENCH / "wasm" / "vm.wasm").read_bytes())
    sizes = [body.end - body.code_start for body in translation.bodies]
    parts = partition(translation)
    assert [i for part in parts for i in part] == list(range(len(sizes)))
    huge = [i for i, size in enumerate(sizes) if size > HUGE_FUNCTION_BYTES]
    assert huge  # printf's core and malloc
    assert all(range(i, i + 1) in parts for i in huge)


def test_the_largest_parts_are_compiled_first(monkeypatch: pytest.MonkeyPatch) -> None:
    translation = decode_module((BENCH / "wasm" / "vm.wasm").read_bytes())
    parts = partition(translation)
    order = compile_order(translation, parts)
    assert sorted(order) == list(range(len(parts)))
    weights = [
        sum(translation.bodies[i].end - translation.bodies[i].code_start for i in parts[k])
        for k in order
    ]
    assert weights == sorted(weights, reverse=True)
    # and compile_module translates them in that order (the trampoline part last)
    texts = _part_texts(translation, monkeypatch)
    first_function = [translation.module.num_imported_funcs + parts[k].start for k in order]
    for (text, _, _), func_index in zip(texts, first_function, strict=False):
        first_define = next(line for line in text.splitlines() if line.startswith("define "))
        assert f"@f{func_index}(" in first_define
    assert len(texts) == len(parts) + 1


def test_a_worker_still_starting_takes_no_part(
    tiny_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _part_texts(decode_module(wat(SIMD)), monkeypatch)
    want = [compile_ir(t, _triple(), 2, loop_free=lf, short=s) for t, lf, s in texts]
    pool = WorkerPool(1)
    pool.start()
    worker = pool._idle[0]
    started = threading.Event()
    real_wait = worker.wait_ready

    def slow_start() -> None:
        started.wait(60)
        real_wait()

    worker.wait_ready = slow_start  # type: ignore[method-assign]
    try:
        # every part is compiled here while the worker starts, without waiting for it
        assert pool.compile_parts(iter(texts), _triple(), 2) == want
        assert pool._idle == []  # still starting: it has not taken its stop yet
        started.set()
        for _ in range(600):  # it comes back to the pool once ready
            if pool._idle:
                break
            time.sleep(0.05)
        assert pool._idle == [worker]
        assert pool.compile_parts(iter(texts), _triple(), 2) == want  # now a warm worker
    finally:
        started.set()
        pool.close()


def test_the_pool_starts_before_the_compiler_is_imported() -> None:
    """``start_early`` (what ``Module(engine, wasm)`` calls first) loads no LLVM and
    starts workers only for a module big enough to be compiled in parts."""
    code = (
        "import sys\n"
        "from cwasm.compile import parallel\n"
        "assert 'llvmlite' not in sys.modules and 'cwasm.compile.compiler' not in sys.modules\n"
        "parallel.start_early(parallel.EARLY_START_BYTES - 1)\n"
        "assert parallel._pool is None\n"
        "parallel.start_early(parallel.EARLY_START_BYTES)\n"
        "pool = parallel.shared_pool()\n"
        "assert len(pool._idle) == pool.size\n"
        "for w in pool._idle:\n"
        "    w.wait_ready()\n"
        "assert 'llvmlite' not in sys.modules\n"
        "print(pool.size)\n"
    )
    out = run_fresh(code)
    assert int(out) == max(parallel.available_cores() - 1, 0)


def test_a_backlog_of_parts_is_compiled_while_parts_are_still_produced(
    tiny_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _part_texts(decode_module(wat(SIMD)), monkeypatch)
    parts = (texts * 3)[: parallel.BACKLOG_PARTS + 3]
    compiled: list[int] = []
    real = parallel._compile_part

    def counting(part: Part, triple: str, opt_level: int, timings: dict[str, float]) -> bytes:
        compiled.append(len(compiled))
        return real(part, triple, opt_level, timings)

    monkeypatch.setattr(parallel, "_compile_part", counting)
    seen_before: list[int] = []  # parts compiled when each part was produced

    def produce() -> Iterable[Part]:
        for part in parts:
            seen_before.append(len(compiled))
            yield part

    want = [compile_ir(t, _triple(), 2, loop_free=lf, short=s) for t, lf, s in parts]
    assert WorkerPool(0).compile_parts(produce(), _triple(), 2) == want
    # with no worker, the calling thread started compiling before the last part came
    assert seen_before[-1] > 0
    assert seen_before[: parallel.BACKLOG_PARTS + 1] == [0] * (parallel.BACKLOG_PARTS + 1)
