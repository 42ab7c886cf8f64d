"""Huge functions (bodies over ``HUGE_FUNCTION_BYTES`` of wasm code) get LLVM's short
pipeline, as do the trampolines and trap routines: only those are picked, and code
compiled that way runs, traps and reports its trap sites as wasmtime-py does."""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

import cwasm.api as cw
from cwasm.compile import compiler, llvm_driver
from cwasm.compile.compiler import CompileOptions, compile_module
from cwasm.compile.translate import driver
from cwasm.wasm.decoder import decode_module
from tests.runtime.wat import wat

# loops, memory, calls between functions, a table, traps of several codes, SIMD
PROGRAM = """
(module
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $sum $fill)
  (type $t (func (param i32) (result i32)))
  (func $sum (export "sum") (type $t) (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get 0)))
        (local.set $acc (i32.add (local.get $acc) (i32.load (i32.shl (local.get 0) (i32.const 2)))))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  (func $fill (export "fill") (type $t) (local $i i32)
    (loop $next
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.mul (local.get $i) (i32.const 3)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get 0))))
    (local.get $i))
  (func (export "via_table") (param i32 i32) (result i32)
    (call_indirect (type $t) (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i64) (i64.load offset=8 (local.get 0)))
  (func (export "fdiv") (param f64 f64) (result f64)
    (f64.add (f64.div (local.get 0) (local.get 1)) (f64.sqrt (local.get 0))))
  (func (export "trunc") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func (export "lanes") (param i32) (result i32)
    (i32x4.extract_lane 2 (i32x4.mul (i32x4.splat (local.get 0)) (v128.load (i32.const 16)))))
)
"""

CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("fill", (100,)),
    ("sum", (100,)),
    ("via_table", (50, 0)),
    ("via_table", (7, 1)),
    ("via_table", (7, 2)),  # null entry
    ("div", (7, -2)),
    ("div", (1, 0)),
    ("div", (-(2**31), -1)),
    ("load", (0,)),
    ("load", (65530,)),
    ("fdiv", (9.0, 4.0)),
    ("trunc", (-3.75,)),
    ("trunc", (float("nan"),)),
    ("lanes", (5,)),
]


def _outcome(call: Any, store: Any, args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        return "ok", call(store, *args)
    except (cw.Trap, wasmtime.Trap) as e:
        frame = e.frames[0]
        return e.trap_code.name, (frame.func_index, frame.module_offset)


@pytest.mark.parametrize("parts", [1, 3])
def test_only_bodies_over_the_threshold_are_huge(
    parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    translation = decode_module(wat(PROGRAM))
    sizes = {d: body.end - body.code_start for d, body in enumerate(translation.bodies)}
    threshold = sorted(sizes.values())[len(sizes) // 2]
    monkeypatch.setattr(driver, "HUGE_FUNCTION_BYTES", threshold)
    seen: list[tuple[str, ...]] = []
    real = compiler.compile_ir

    def spy(text: str, triple: str, opt_level: int, **kw: Any) -> bytes:
        seen.append(tuple(kw["short"]))
        return real(text, triple, opt_level, **kw)

    monkeypatch.setattr(compiler, "compile_ir", spy)
    monkeypatch.setattr(llvm_driver, "compile_ir", spy)  # what parallel calls
    if parts == 3:  # two parts of functions and the part of trampolines
        half = len(sizes) // 2
        monkeypatch.setattr(
            compiler, "partition", lambda t: [range(half), range(half, len(t.bodies))]
        )
    compile_module(translation, CompileOptions(), parallel=False)
    assert len(seen) == parts
    n_imp = translation.module.num_imported_funcs
    wasm_functions = {f"f{n_imp + d}" for d in sizes}
    want = {f"f{n_imp + d}" for d, size in sizes.items() if size > threshold}
    assert 0 < len(want) < len(sizes)
    short = {name for names in seen for name in names}
    assert short & wasm_functions == want
    # every entry trampoline, wasm-to-array trampoline and trap routine
    assert {name[:3] for name in short - wasm_functions} >= {"a2w", "w2a", "tra"}


def test_huge_functions_run_as_wasmtime_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "HUGE_FUNCTION_BYTES", 0)  # every function is huge
    picked: list[str] = []
    real = compiler.compile_ir

    def spy(text: str, triple: str, opt_level: int, **kw: Any) -> bytes:
        picked.extend(kw["short"])
        return real(text, triple, opt_level, **kw)

    monkeypatch.setattr(compiler, "compile_ir", spy)
    wasm = wat(PROGRAM)
    store = cw.Store(cw.Engine())
    ours = cw.Instance(store, cw.Module(store.engine, wasm), []).exports(store)
    wstore = wasmtime.Store()
    theirs = wasmtime.Instance(wstore, wasmtime.Module(wstore.engine, wasm), []).exports(wstore)
    translation = decode_module(wasm)
    n_imp = translation.module.num_imported_funcs
    assert {f"f{n_imp + d}" for d in range(len(translation.bodies))} <= set(picked)
    for name, args in CALLS:
        assert _outcome(ours[name], store, args) == _outcome(theirs[name], wstore, args), name
