"""Fuel (``Config.consume_fuel``): the same fuel figures as Wasmtime 28, beside wasmtime-py.

Every case runs a function under cwasm and under wasmtime-py with the same fuel and
compares what is left afterwards (``get_fuel``), and whether and where it trapped:
straight-line code, loops, calls, ``call_indirect``, branches, memory and table
operations, host calls, traps in the middle of a run, and running out of fuel part way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import wasmtime

import cwasm
from cwasm.api import Config, Engine, Instance, Module, Store, Trap, TrapCode
from tests.runtime.wat import wat

MODULE = """
(module
  (import "" "host" (func $host (param i32) (result i32)))
  (memory (export "mem") 1)
  (table 4 funcref)
  (elem (i32.const 0) $leaf $add1)
  (global $g (export "g") (mut i32) (i32.const 0))
  (type $t (func (param i32) (result i32)))
  (func $leaf (param i32) (result i32) local.get 0)
  (func $add1 (param i32) (result i32) local.get 0 i32.const 1 i32.add)
  (func (export "empty"))
  (func (export "free") nop nop (drop (i32.const 1)) (block (loop)) (block nop))
  (func (export "countdown") (param i32) (local i32)
    local.get 0 local.set 1
    loop local.get 1 i32.const 1 i32.sub local.tee 1 br_if 0 end)
  (func (export "block_loop") (param i32) (result i32) (local i32)
    (block $out
      (loop $top
        (br_if $out (i32.eqz (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (local.get 0)))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $top)))
    local.get 1)
  (func (export "calls") (param i32) (result i32) (local i32)
    (loop $top
      (local.set 1 (call $add1 (local.get 1)))
      (br_if $top (i32.lt_u (local.get 1) (local.get 0))))
    local.get 1)
  (func (export "indirect") (param i32) (result i32) (local i32)
    (loop $top
      (local.set 1 (i32.add (local.get 1)
        (call_indirect (type $t) (local.get 0) (i32.and (local.get 0) (i32.const 1)))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $top (local.get 0)))
    local.get 1)
  (func (export "switch") (param i32) (result i32) (local i32)
    (loop $top
      (block $c (block $b (block $a
        (br_table $a $b $c (i32.rem_u (local.get 0) (i32.const 4))))
        (local.set 1 (i32.add (local.get 1) (i32.const 1))))
        (local.set 1 (i32.mul (local.get 1) (i32.const 3))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $top (local.get 0)))
    local.get 1)
  (func (export "ifs") (param i32) (result i32) (local i32)
    (loop $top
      (if (i32.and (local.get 0) (i32.const 1))
        (then (local.set 1 (i32.add (local.get 1) (i32.const 3))))
        (else (if (i32.eqz (i32.and (local.get 0) (i32.const 2)))
          (then (local.set 1 (i32.sub (local.get 1) (i32.const 1)))))))
      (local.set 1 (select (local.get 1) (i32.const 7) (local.get 0)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $top (local.get 0)))
    local.get 1)
  (func (export "memory") (param i32) (result i32) (local i32)
    (loop $top
      (i32.store (i32.shl (local.get 0) (i32.const 2)) (local.get 0))
      (local.set 1 (i32.add (local.get 1) (i32.load8_u offset=1 (local.get 0))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $top (local.get 0)))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 64))
    (memory.copy (i32.const 100) (i32.const 0) (i32.const 64))
    (drop (memory.grow (i32.const 0)))
    (i32.add (local.get 1) (memory.size)))
  (func (export "host") (param i32) (result i32) (local i32)
    (loop $top
      (local.set 1 (i32.add (local.get 1) (call $host (local.get 0))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $top (local.get 0)))
    local.get 1)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (return (local.get 0)))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "multi") (param i32) (result i32 i32)
    (block (result i32 i32) (local.get 0) (i32.const 2) (br 0)))
  (func (export "early") (param i32) (result i32)
    (if (local.get 0) (then (return (i32.const 5))))
    (global.set $g (i32.const 1))
    (i32.const 6))
  (func (export "div") (param i32) (result i32)
    (i32.add (i32.const 1) (i32.const 2)) (i32.div_u (local.get 0)))
  (func (export "trap_unreachable") (param i32)
    (global.set $g (local.get 0)) unreachable)
  (func (export "trap_oob") (param i32) (result i32)
    (i32.add (i32.const 1) (i32.load (local.get 0))))
  (func (export "trap_offset") (param i32) (result i32)
    (i32.add (i32.const 1) (i32.load offset=0xfffffffe (local.get 0))))
  (func (export "trap_null") (param i32) (result i32)
    (i32.const 1) (call_indirect (type $t) (local.get 0) (i32.const 3)) (i32.add))
  (func (export "trap_in_callee") (param i32) (result i32)
    (i32.const 1) (call $div_in (local.get 0)) (i32.add))
  (func $div_in (param i32) (result i32) (i32.div_s (i32.const 10) (local.get 0)))
  (func (export "spin")
    (loop $top (global.set $g (i32.add (global.get $g) (i32.const 1))) (br $top)))
)
"""

#: (export, arguments) run with plenty of fuel: the fuel used must be Wasmtime's
CASES = [
    ("empty", ()),
    ("free", ()),
    ("countdown", (1000,)),
    ("block_loop", (100,)),
    ("calls", (50,)),
    ("indirect", (40,)),
    ("switch", (30,)),
    ("ifs", (25,)),
    ("memory", (20,)),
    ("host", (10,)),
    ("fib", (12,)),
    ("multi", (3,)),
    ("early", (1,)),
    ("early", (0,)),
    ("div", (3,)),
    ("div", (0,)),
    ("trap_unreachable", (4,)),
    ("trap_oob", (8,)),
    ("trap_oob", (70000,)),
    ("trap_offset", (0,)),
    ("trap_null", (1,)),
    ("trap_in_callee", (0,)),
]

PLENTY = 10**9
#: both settings
INTERRUPTS = ("consume_fuel", "epoch_interruption")


class Run:
    """One runtime's instance of MODULE in a store with fuel, and a log of host calls."""

    def __init__(self, rt: Any, bounds_checks: str | None = None) -> None:
        self.rt = rt
        config = rt.Config()
        config.consume_fuel = True
        if bounds_checks is not None:
            config.bounds_checks = bounds_checks
        engine = rt.Engine(config)
        self.store = rt.Store(engine)
        #: the fuel left at each host call, as the host saw it
        self.seen: list[int] = []
        self.refuel_at_host: int | None = None

        def host(x: int) -> int:
            self.seen.append(self.store.get_fuel())
            if self.refuel_at_host is not None:
                self.store.set_fuel(self.refuel_at_host)
            return x * 2

        ty = rt.FuncType([rt.ValType.i32()], [rt.ValType.i32()])
        func = rt.Func(self.store, ty, host)
        self.instance = rt.Instance(self.store, rt.Module(engine, wat(MODULE)), [func])

    def call(self, name: str, *args: int) -> tuple[str, Any]:
        """``("ok", results)`` or ``("trap", the trap's message line)``."""
        f = self.instance.exports(self.store)[name]
        try:
            return "ok", f(self.store, *args)
        except self.rt.Trap as e:
            return "trap", wasm_trap_line(str(e))

    def global_g(self) -> int:
        return int(self.instance.exports(self.store)["g"].value(self.store))


def wasm_trap_line(message: str) -> str:
    """The ``wasm trap: ...`` line of a trap's message (both runtimes have it)."""
    line = next(line for line in message.splitlines() if "wasm trap:" in line)
    return line[line.index("wasm trap:") :]


def both(bounds_checks: str | None = None) -> list[Run]:
    """cwasm's run (with these bounds checks; None: the platform's default) and wasmtime-py's."""
    return [Run(cwasm.api, bounds_checks), Run(wasmtime)]


@pytest.mark.parametrize("bounds_checks", [None, "explicit"])
@pytest.mark.parametrize(("name", "args"), CASES, ids=[f"{n}{a}" for n, a in CASES])
def test_fuel_used_is_wasmtimes(
    name: str, args: tuple[int, ...], bounds_checks: str | None
) -> None:
    runs = both(bounds_checks)
    outcomes = []
    for run in runs:
        run.store.set_fuel(PLENTY)
        outcome = run.call(name, *args)
        outcomes.append((outcome, PLENTY - run.store.get_fuel(), run.seen))
    assert outcomes[0] == outcomes[1]
    (kind, _), used, _ = outcomes[0]
    assert used > 0 or kind == "trap"  # a trap before any write-back leaves it untouched


@pytest.mark.parametrize("fuel", [0, 1, 2, 3, 7, 8, 9, 10, 11, 12, 100, 1001])
def test_running_out_part_way_stops_where_wasmtime_does(fuel: int) -> None:
    """With little fuel, the loop runs as many iterations as under Wasmtime (the global
    counts them) and traps with the same code, with no fuel left."""
    results = []
    for run in both():
        run.store.set_fuel(fuel)
        kind, what = run.call("spin")
        results.append((kind, what, run.global_g(), run.store.get_fuel()))
    assert results[0] == results[1]
    kind, what, _, left = results[0]
    assert (kind, what, left) == ("trap", "wasm trap: all fuel consumed by WebAssembly", 0)


def test_out_of_fuel_trap_code_and_the_store_stays_usable() -> None:
    run = Run(cwasm.api)
    run.store.set_fuel(10_000)
    f = run.instance.exports(run.store)["spin"]
    with pytest.raises(Trap) as info:
        f(run.store)
    assert info.value.trap_code == TrapCode.OUT_OF_FUEL
    assert "wasm trap: all fuel consumed by WebAssembly" in str(info.value)
    assert run.store.get_fuel() == 0
    # refuelled, the same store and instance run again
    run.store.set_fuel(PLENTY)
    assert run.call("fib", 10) == ("ok", 55)
    assert run.store.get_fuel() < PLENTY


@pytest.mark.parametrize("refuel", [0, 5, 1000])
def test_host_changes_fuel_mid_run(refuel: int) -> None:
    """A host function that sets the fuel: the code goes on with what it was given."""
    results = []
    for run in both():
        run.store.set_fuel(PLENTY)
        run.refuel_at_host = refuel
        outcome = run.call("host", 5)
        results.append((outcome, run.store.get_fuel(), run.seen))
    assert results[0] == results[1]


def test_fuel_beyond_i64_is_kept_in_reserve() -> None:
    """More fuel than an i64 holds: the rest is handed out when the first share runs out
    (``Builtin.OUT_OF_GAS``), and ``get_fuel`` counts both, as Wasmtime's."""
    big = (1 << 64) - 1
    results = []
    for run in both():
        run.store.set_fuel(big)
        got = run.store.get_fuel()
        outcome = run.call("countdown", 100)
        results.append((got, outcome, run.store.get_fuel()))
    assert results[0] == results[1]
    assert results[0][0] == big


def test_set_and_get_fuel_need_consume_fuel() -> None:
    for rt in (cwasm.api, wasmtime):
        store = rt.Store()
        with pytest.raises(rt.WasmtimeError, match="fuel is not configured in this store"):
            store.set_fuel(1)
        with pytest.raises(rt.WasmtimeError, match="fuel is not configured in this store"):
            store.get_fuel()


def test_a_store_starts_with_no_fuel() -> None:
    for run in both():
        assert run.store.get_fuel() == 0
        assert run.call("empty") == ("trap", "wasm trap: all fuel consumed by WebAssembly")


def _artifact(rt: Any, setting: str) -> Callable[[Any], Any]:
    """Compile MODULE with ``setting`` on; return a loader into another engine."""
    config = rt.Config()
    setattr(config, setting, True)
    data = rt.Module(rt.Engine(config), wat('(module (func (export "f")))')).serialize()
    return lambda engine: rt.Module.deserialize(engine, data)


@pytest.mark.parametrize(
    ("setting", "name"),
    [("consume_fuel", "fuel support"), ("epoch_interruption", "epoch interruption")],
)
def test_artifacts_are_refused_across_the_setting(setting: str, name: str) -> None:
    """An artifact compiled with the setting is refused by an engine without it, and the
    other way round, with Wasmtime's message naming it."""
    for rt in (cwasm.api, wasmtime):
        with_it = rt.Config()
        setattr(with_it, setting, True)
        with pytest.raises(
            rt.WasmtimeError, match=f"Module was compiled with {name} but it is not enabled"
        ):
            _artifact(rt, setting)(rt.Engine())
        plain = rt.Module(rt.Engine(), wat('(module (func (export "f")))')).serialize()
        with pytest.raises(
            rt.WasmtimeError, match=f"Module was compiled without {name} but it is enabled"
        ):
            rt.Module.deserialize(rt.Engine(with_it), plain)
        # and the engine with it loads its own
        again = rt.Config()
        setattr(again, setting, True)
        assert _artifact(rt, setting)(rt.Engine(again)) is not None


def test_engine_without_fuel_compiles_no_fuel_code() -> None:
    """No setting, no check: the IR of a function has no fuel or epoch code unless the
    engine has the setting on."""
    from cwasm.abi.vmoffsets import VMOffsets
    from cwasm.compile.compiler import CompileOptions, compile_module
    from cwasm.compile.irmodule import IRModule
    from cwasm.compile.translate import FunctionTranslator
    from cwasm.wasm.decoder import decode_module

    translation = decode_module(wat(MODULE))
    offsets = VMOffsets.for_module(translation.module)

    def ir(**flags: bool) -> str:
        mod = IRModule(**flags)
        for i in range(len(translation.bodies)):
            FunctionTranslator(translation, offsets, mod, i).translate()
        return "\n".join(mod.functions)

    plain, fuel, epochs = ir(), ir(consume_fuel=True), ir(epoch_interruption=True)
    assert "%fuel" not in plain and "%epoch_deadline" not in plain
    assert "%fuel" in fuel and "%epoch_deadline" not in fuel
    assert "%epoch_deadline" in epochs and "%fuel" not in epochs
    # the compiler takes both from its options
    assert compile_module(translation, CompileOptions(consume_fuel=True)).text


def test_an_empty_function_costs_one() -> None:
    config = Config()
    config.consume_fuel = True
    engine = Engine(config)
    store = Store(engine)
    store.set_fuel(3)
    assert store.get_fuel() == 3
    instance = Instance(store, Module(engine, wat('(module (func (export "f")))')), [])
    assert instance.exports(store)["f"](store) is None
    assert store.get_fuel() == 2  # an empty function costs 1
    with pytest.raises(ValueError):
        config.consume_fuel = False  # the engine consumed the config


def test_the_compile_cache_key_changes_with_the_settings() -> None:
    """The cache must not hand an artifact compiled without a setting to an engine with it."""
    from cwasm.cache import cache_key

    wasm = wat('(module (func (export "f")))')
    keys = set()
    for settings in ((), ("consume_fuel",), ("epoch_interruption",), INTERRUPTS):
        config = Config()
        for name in settings:
            setattr(config, name, True)
        keys.add(cache_key(Engine(config), wasm))
    assert len(keys) == 4
