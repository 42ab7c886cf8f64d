"""Tail calls (``return_call``, ``return_call_indirect``) beside wasmtime-py 28, which has
them on by default: results, constant stack, traps and their backtraces, fuel, host
functions and calls across instances.
"""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.api import Config, Engine, Module
from tests.runtime.test_fuel import wasm_trap_line
from tests.runtime.wat import wat

MODULE = """
(module
  (import "" "host" (func $host (param i64) (result i64)))
  (type $pred (func (param i64) (result i32)))
  (type $wide (func (param i64 i64 i64 i64 i64 i64 f64) (result i64 f64)))
  (table $t 8 funcref)
  (type $many (func (param i64 i64 i64 i64 i64 i64 i64 i64) (result i64)))
  (elem (i32.const 0) $even_i $odd_i $wide_a $host $boom $sink)
  (global $g (mut i32) (i32.const 0))

  (func $even (export "even") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 44))
      (else (return_call $odd (i64.sub (local.get 0) (i64.const 1))))))
  (func $odd (export "odd") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 99))
      (else (return_call $even (i64.sub (local.get 0) (i64.const 1))))))

  (func $even_i (export "even_indirect") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 44))
      (else (return_call_indirect (type $pred)
        (i64.sub (local.get 0) (i64.const 1)) (i32.const 1)))))
  (func $odd_i (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 99))
      (else (return_call_indirect (type $pred)
        (i64.sub (local.get 0) (i64.const 1)) (i32.const 0)))))

  (func $even_c (export "even_call") (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 44))
      (else (return (call $odd_c (i64.sub (local.get 0) (i64.const 1)))))))
  (func $odd_c (param i64) (result i32)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 99))
      (else (return (call $even_c (i64.sub (local.get 0) (i64.const 1)))))))

  ;; signatures that differ, with arguments on the native stack and several results
  (func $wide_a (export "wide") (param $n i64) (param i64 i64 i64 i64 i64 f64) (result i64 f64)
    (if (i64.eqz (local.get $n)) (then (return (local.get 1) (local.get 6))))
    (return_call $wide_b (i64.sub (local.get $n) (i64.const 1)) (local.get 1)
      (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5) (i64.const 6) (i64.const 7)
      (i64.const 8) (local.get 2) (v128.const i64x2 1 2)))
  (func $wide_b (param $n i64) (param i64 i64 i64 i64 i64 i64 i64 i64 i64 v128)
    (result i64 f64)
    (return_call_indirect (type $wide) (local.get $n)
      (i64.add (local.get 1) (local.get 9)) (i64.add (local.get 9) (i64.const 1))
      (i64.const 0) (i64.const 0) (i64.const 0)
      (f64.convert_i64_s (i64x2.extract_lane 1 (local.get 10))) (i32.const 2)))

  ;; traps after many tail calls: the replaced frames are not in the backtrace
  (func $boom (param i64) (result i64)
    (global.set $g (i32.wrap_i64 (local.get 0)))
    (i64.div_u (i64.const 1) (i64.const 0)))
  (func $countdown (param i64) (result i64)
    (if (i64.eqz (local.get 0)) (then (return_call $boom (i64.const 5))))
    (return_call $countdown (i64.sub (local.get 0) (i64.const 1))))
  (func (export "trap_after") (param i64) (result i64)
    (i64.add (i64.const 1) (call $countdown (local.get 0))))
  (func (export "trap_indirect") (param i64 i32) (result i32)
    (return_call_indirect (type $pred) (local.get 0) (local.get 1)))
  (func (export "boom_indirect") (param i64) (result i64)
    (return_call_indirect (param i64) (result i64) (local.get 0) (i32.const 4)))

  ;; a tail call to a function taking more stack arguments than the caller received: a
  ;; trap before it still shows the caller's caller in the backtrace
  (func $sink (param i64 i64 i64 i64 i64 i64 i64 i64) (result i64) (local.get 7))
  (func $grow (param i64 i32) (result i64)
    (return_call_indirect (type $many) (local.get 0) (local.get 0) (local.get 0)
      (local.get 0) (local.get 0) (local.get 0) (local.get 0) (local.get 0) (local.get 1)))
  (func (export "grow") (param i64 i32) (result i64)
    (i64.add (i64.const 1) (call $grow (local.get 0) (local.get 1))))

  ;; host functions: imported, and through the table
  (func (export "to_host") (param i64) (result i64)
    (return_call $host (i64.add (local.get 0) (i64.const 1))))
  (func $down_to_host (export "down_to_host") (param i64) (result i64)
    (if (i64.eqz (local.get 0))
      (then (return_call_indirect (param i64) (result i64) (i64.const 7) (i32.const 3))))
    (return_call $down_to_host (i64.sub (local.get 0) (i64.const 1))))
)
"""

#: (export, arguments) that return, with the same results in both runtimes
RETURNING = [
    ("even", (0,)),
    ("even", (7,)),
    ("odd", (1000,)),
    ("even_indirect", (1001,)),
    ("even_call", (100,)),
    ("wide", (0, 1, 0, 0, 0, 0, 0.5)),
    ("wide", (5, 1, 0, 0, 0, 0, 0.5)),
    ("grow", (9, 5)),
    ("to_host", (41,)),
    ("down_to_host", (1000,)),
]
#: (export, arguments) that trap
TRAPPING = [
    ("trap_after", (1000,)),
    ("trap_indirect", (3, 6)),  # null element
    ("trap_indirect", (3, 2)),  # signature mismatch
    ("trap_indirect", (3, 8)),  # out of the table
    ("boom_indirect", (3,)),
    ("grow", (9, 7)),  # null element
    ("grow", (9, 0)),  # signature mismatch
]
DEEP = 1_000_000


class Run:
    """One runtime's instance of MODULE; ``fuel`` turns ``consume_fuel`` on."""

    def __init__(self, rt: Any, fuel: bool = False) -> None:
        self.rt = rt
        config = rt.Config()
        config.consume_fuel = fuel
        engine = rt.Engine(config)
        self.store = rt.Store(engine)
        if fuel:
            self.store.set_fuel(10**12)
        #: the host function's arguments
        self.seen: list[int] = []

        def host(x: int) -> int:
            self.seen.append(x)
            return x * 2

        ty = rt.FuncType([rt.ValType.i64()], [rt.ValType.i64()])
        func = rt.Func(self.store, ty, host)
        self.instance = rt.Instance(self.store, rt.Module(engine, wat(MODULE)), [func])

    def call(self, name: str, *args: Any) -> Any:
        return self.instance.exports(self.store)[name](self.store, *args)

    def trap(self, name: str, *args: Any) -> Any:
        with pytest.raises(self.rt.Trap) as info:
            self.call(name, *args)
        return info.value


def both(fuel: bool = False) -> list[Run]:
    return [Run(cwasm.api, fuel), Run(wasmtime, fuel)]


def frames(trap: Any) -> list[tuple[int, str | None, int]]:
    return [(f.func_index, f.func_name, f.module_offset) for f in trap.frames]


@pytest.mark.parametrize(("name", "args"), RETURNING, ids=[f"{n}{a}" for n, a in RETURNING])
def test_results_and_host_calls_as_wasmtime(name: str, args: tuple[Any, ...]) -> None:
    ours, theirs = both()
    assert ours.call(name, *args) == theirs.call(name, *args)
    assert ours.seen == theirs.seen


@pytest.mark.parametrize("name", ["even", "odd", "even_indirect", "down_to_host"])
def test_a_million_tail_calls_run_in_constant_stack(name: str) -> None:
    ours, theirs = both()
    result = ours.call(name, DEEP)
    assert result == theirs.call(name, DEEP)
    assert result == (7 * 2 if name == "down_to_host" else 44 if name != "odd" else 99)


def test_a_million_tail_calls_with_stack_arguments_and_several_results() -> None:
    ours, theirs = both()
    args = (DEEP, 1, 0, 0, 0, 0, 0.5)
    assert ours.call("wide", *args) == theirs.call("wide", *args)


@pytest.mark.parametrize("opt_level", [0, 1, 3])
def test_tail_calls_stay_tail_calls_at_every_opt_level(opt_level: int) -> None:
    # (level 2, the default, is every other test's): LLVM must neither drop a tail call
    # (no optimisation) nor turn one into a plain call (whole-module optimisation)
    config = Config()
    config.opt_level = opt_level
    store = cwasm.api.Store(Engine(config))
    host = cwasm.api.Func(
        store,
        cwasm.api.FuncType([cwasm.api.ValType.i64()], [cwasm.api.ValType.i64()]),
        lambda x: x * 2,
    )
    ex = cwasm.api.Instance(store, Module(store.engine, wat(MODULE)), [host]).exports(store)
    theirs = Run(wasmtime)
    for name, args in [("odd", (DEEP,)), ("wide", (DEEP, 1, 0, 0, 0, 0, 0.5))]:
        assert ex[name](store, *args) == theirs.call(name, *args)


def test_the_same_recursion_through_call_exhausts_the_stack() -> None:
    for run in both():
        trap = run.trap("even_call", DEEP)
        assert trap.trap_code == run.rt.TrapCode.STACK_OVERFLOW
        assert "call stack exhausted" in str(trap)


@pytest.mark.parametrize(("name", "args"), TRAPPING, ids=[f"{n}{a}" for n, a in TRAPPING])
def test_traps_and_backtraces_as_wasmtime(name: str, args: tuple[Any, ...]) -> None:
    ours, theirs = both()
    mine, want = ours.trap(name, *args), theirs.trap(name, *args)
    assert mine.trap_code.name == want.trap_code.name
    assert wasm_trap_line(mine.message) == wasm_trap_line(want.message)
    # the frames tail calls replaced are gone from both backtraces
    assert frames(mine) == frames(want)


def test_a_trap_after_a_million_tail_calls_unwinds_to_the_entry() -> None:
    ours, theirs = both()
    for _ in range(3):  # the store runs on after each trap
        mine, want = ours.trap("trap_after", DEEP), theirs.trap("trap_after", DEEP)
        assert frames(mine) == frames(want)
        assert len(mine.frames) == 2  # $boom, and the export that called $countdown
    assert ours.call("even", 10) == 44


@pytest.mark.parametrize(
    ("name", "args"), RETURNING + TRAPPING, ids=[f"{n}{a}" for n, a in RETURNING + TRAPPING]
)
def test_fuel_as_wasmtime(name: str, args: tuple[Any, ...]) -> None:
    ours, theirs = both(fuel=True)
    for run in (ours, theirs):
        try:
            run.call(name, *args)
        except run.rt.Trap:
            pass
    assert ours.store.get_fuel() == theirs.store.get_fuel()


def test_out_of_fuel_in_a_tail_call_chain_as_wasmtime() -> None:
    left = []
    for run in both(fuel=True):
        run.store.set_fuel(5_000)
        trap = run.trap("even", DEEP)
        # (wasmtime-py 28's TrapCode has no member for this code: compare the message)
        assert wasm_trap_line(trap.message) == "wasm trap: all fuel consumed by WebAssembly"
        left.append(run.store.get_fuel())
    assert left[0] == left[1] == 0


PING = """
(module
  (table (export "t") 1 funcref)
  (type $f (func (param i64) (result i64)))
  (func (export "ping") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 7))
      (else (return_call_indirect (type $f) (i64.sub (local.get 0) (i64.const 1))
        (i32.const 0))))))
"""
PONG = """
(module
  (import "a" "t" (table 1 funcref))
  (import "a" "ping" (func $ping (param i64) (result i64)))
  (elem (i32.const 0) $pong)
  (func $pong (param i64) (result i64) (return_call $ping (local.get 0))))
"""


def test_tail_calls_across_instances_run_in_constant_stack() -> None:
    results = []
    for rt in (cwasm.api, wasmtime):
        store = rt.Store(rt.Engine())
        a = rt.Instance(store, rt.Module(store.engine, wat(PING)), [])
        ex = a.exports(store)
        rt.Instance(store, rt.Module(store.engine, wat(PONG)), [ex["t"], ex["ping"]])
        results.append(ex["ping"](store, DEEP))
    assert results[0] == results[1] == 7


def test_switched_off_tail_calls_are_refused_with_wasmparsers_message() -> None:
    source = wat("(module (func $f return_call $f))")
    for rt in (cwasm.api, wasmtime):
        config = rt.Config()
        config.wasm_tail_call = False
        with pytest.raises(rt.WasmtimeError, match="tail calls support is not enabled"):
            rt.Module(rt.Engine(config), source)


def test_artifacts_record_whether_tail_calls_are_on() -> None:
    artifact = Module(Engine(), "(module)").serialize()
    off = Config()
    off.wasm_tail_call = False
    with pytest.raises(cwasm.api.WasmtimeError, match="wasm_features"):
        Module.deserialize(Engine(off), artifact)


REF_MODULE = """
(module
  (type $pred (func (param i64) (result i32)))
  (elem declare func $even $odd)
  (func $even (export "even") (type $pred)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 44))
      (else (return_call_ref $pred (i64.sub (local.get 0) (i64.const 1)) (ref.func $odd)))))
  (func $odd (type $pred)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 99))
      (else (return_call_ref $pred (i64.sub (local.get 0) (i64.const 1)) (ref.func $even)))))
  (func (export "null") (param i64) (result i32)
    (return_call_ref $pred (local.get 0) (ref.null $pred))))
"""


def test_return_call_ref_runs_in_constant_stack_and_traps_on_null() -> None:
    # (wasmtime-py 28 cannot switch typed function references on: cwasm alone)
    store = cwasm.api.Store(Engine())
    ex = cwasm.api.Instance(store, Module(store.engine, wat(REF_MODULE)), []).exports(store)
    assert ex["even"](store, DEEP) == 44
    assert ex["even"](store, DEEP + 1) == 99
    with pytest.raises(cwasm.api.Trap) as info:
        ex["null"](store, 1)
    assert info.value.trap_code == cwasm.api.TrapCode.NULL_REFERENCE


#: ``return_call_indirect`` through a 64-bit table (memory64): its index is an i64
TABLE64_TAIL_CALLS = """(module
  (type $t (func (param i64) (result i64)))
  (table $tab i64 2 funcref)
  (elem (table $tab) (i64.const 0) func $count)
  (func $count (type $t) (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 42))
      (else (return_call_indirect $tab (type $t)
        (i64.sub (local.get 0) (i64.const 1)) (i64.const 0)))))
  (func (export "run") (param i64) (result i64) (call $count (local.get 0)))
  (func (export "oob") (result i64)
    (return_call_indirect $tab (type $t) (i64.const 1) (i64.const 0x100000000))))"""


def _table64_results(rt: Any) -> list[object]:
    config = rt.Config()
    config.wasm_memory64 = True
    engine = rt.Engine(config)
    store = rt.Store(engine)
    exports = rt.Instance(store, rt.Module(engine, TABLE64_TAIL_CALLS), []).exports(store)
    out: list[object] = [exports["run"](store, 1_000_000)]
    with pytest.raises(rt.Trap) as trap:
        exports["oob"](store)
    out.append(wasm_trap_line(str(trap.value)))
    return out


def test_return_call_indirect_through_a_64_bit_table() -> None:
    ours = _table64_results(cwasm)
    assert ours == _table64_results(wasmtime)
    assert ours[0] == 42
