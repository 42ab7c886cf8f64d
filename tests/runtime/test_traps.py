"""Traps seen from Python: codes, messages, backtraces, stack exhaustion, host exceptions."""

from __future__ import annotations

import gc

import pytest

from cwasm.api import Engine, Func, FuncType, Instance, Module, Store, Trap, TrapCode, ValType
from cwasm.runtime.store import HostCallError
from cwasm.wasm.decoder import decode_module
from tests.compile.test_compiler import instruction_offsets
from tests.runtime.wat import wat

NESTED = """
(module
  (func $outer (export "outer") (param i32) (result i32)
    local.get 0
    call $middle
    i32.const 1
    i32.add)
  (func $middle (param i32) (result i32)
    local.get 0
    call $inner)
  (func $inner (param i32) (result i32)
    i32.const 100
    local.get 0
    i32.div_u)
  (func $recurse (export "recurse") (param i32) (result i32)
    local.get 0
    i32.const 1
    i32.add
    call $recurse
    i32.const 1
    i32.add)
  (func $runaway (export "runaway") call $runaway)
  (func (export "unreachable") unreachable)
  (memory 1)
  (func (export "oob") (param i32) (result i32) local.get 0 i32.load)
)
"""


@pytest.fixture(scope="module")
def nested() -> tuple[Store, Instance, bytes]:
    engine = Engine()
    store = Store(engine)
    wasm = wat(NESTED)
    return store, Instance(store, Module(engine, wasm), []), wasm


def test_trap_has_code_message_and_backtrace(nested: tuple[Store, Instance, bytes]) -> None:
    store, inst, wasm = nested
    outer = inst.exports(store)["outer"]
    assert outer(store, 5) == 21
    with pytest.raises(Trap) as info:
        outer(store, 0)
    trap = info.value
    assert trap.trap_code == TrapCode.INTEGER_DIVISION_BY_ZERO
    assert trap.description == "wasm trap: integer divide by zero"
    m = decode_module(wasm)
    div_at = instruction_offsets(m, 2)["i32.div_u"][0]
    call_inner = instruction_offsets(m, 1)["call"][0]
    call_middle = instruction_offsets(m, 0)["call"][0]
    frames = [(f.func_index, f.func_name, f.module_offset) for f in trap.frames]
    assert frames == [
        (2, "inner", div_at),
        (1, "middle", call_inner),
        (0, "outer", call_middle),
    ]
    assert trap.frames[0].func_offset == div_at - m.bodies[2].offset
    assert (
        str(trap)
        == trap.message
        == (
            "error while executing at wasm backtrace:\n"
            f"    0: {div_at:#6x} - <unknown>!inner\n"
            f"    1: {call_inner:#6x} - <unknown>!middle\n"
            f"    2: {call_middle:#6x} - <unknown>!outer\n"
            "\n"
            "Caused by:\n"
            "    wasm trap: integer divide by zero"
        )
    )


def test_other_trap_codes(nested: tuple[Store, Instance, bytes]) -> None:
    store, inst, _ = nested
    ex = inst.exports(store)
    with pytest.raises(Trap) as info:
        ex["unreachable"](store)
    assert info.value.trap_code == TrapCode.UNREACHABLE_CODE_REACHED
    assert "unreachable" in info.value.message
    with pytest.raises(Trap) as info:
        ex["oob"](store, 65533)
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert ex["oob"](store, 65532) == 0


def test_infinite_recursion_is_call_stack_exhausted(nested: tuple[Store, Instance, bytes]) -> None:
    store, inst, _ = nested
    ex = inst.exports(store)
    for name, args in (("recurse", (0,)), ("runaway", ())):
        with pytest.raises(Trap) as info:
            ex[name](store, *args)
        assert info.value.trap_code == TrapCode.STACK_OVERFLOW
        assert info.value.description == "wasm trap: call stack exhausted"
        assert info.value.frames and info.value.frames[0].func_name == name
    # the store is fine afterwards
    assert ex["outer"](store, 50) == 3


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


def test_ten_thousand_traps_do_not_grow_memory(nested: tuple[Store, Instance, bytes]) -> None:
    store, inst, _ = nested
    outer = inst.exports(store)["outer"]
    unreachable = inst.exports(store)["unreachable"]

    def burst(n: int) -> None:
        for _ in range(n):
            try:
                outer(store, 0)
            except Trap:
                pass
            try:
                unreachable(store)
            except Trap:
                pass

    burst(2000)  # warm up allocator caches
    gc.collect()
    before = _rss_kib()
    burst(5000)  # 10,000 traps
    gc.collect()
    after = _rss_kib()
    assert after - before < 2048, (before, after)


class Boom(Exception):
    pass


def test_host_exception_comes_back_as_itself() -> None:
    engine = Engine()
    store = Store(engine)
    raised = Boom("from the host")

    def host(x: int) -> int:
        if x == 7:
            raise raised
        return x * 2

    f = Func(store, FuncType([ValType.i32()], [ValType.i32()]), host)
    module = Module(
        engine,
        wat(
            """(module (import "m" "f" (func $f (param i32) (result i32)))
               (func (export "g") (param i32) (result i32) local.get 0 call $f i32.const 1 i32.add))"""
        ),
    )
    g = Instance(store, module, [f]).exports(store)["g"]
    assert g(store, 3) == 7
    with pytest.raises(Boom) as info:
        g(store, 7)
    assert info.value is raised
    assert g(store, 4) == 9
    # a host function returning the wrong type is reported as an error, not garbage
    bad = Func(store, FuncType([ValType.i32()], [ValType.i32()]), lambda x: "nope")
    g2 = Instance(store, module, [bad]).exports(store)["g"]
    with pytest.raises(TypeError):
        g2(store, 1)


def test_reentry_at_any_depth_and_traps_through_host_frames() -> None:
    engine = Engine()
    store = Store(engine)
    module = Module(
        engine,
        wat(
            """(module
                 (import "host" "down" (func $down (param i32) (result i32)))
                 (func (export "f") (param i32) (result i32)
                   local.get 0
                   i32.eqz
                   if (result i32)
                     i32.const 0
                   else
                     local.get 0
                     i32.const 1
                     i32.sub
                     call $down
                     i32.const 1
                     i32.add
                   end)
                 (func (export "trap_at") (param i32) (result i32)
                   local.get 0
                   i32.const 3
                   i32.eq
                   if unreachable end
                   local.get 0
                   i32.const 1
                   i32.add
                   call $down))"""
        ),
    )
    holder: dict[str, Func] = {}
    depth = {"max": 0}

    def down(n: int) -> int:
        depth["max"] = max(depth["max"], n)
        return holder["f"](store, n)  # type: ignore[no-any-return]

    inst = Instance(store, module, [Func(store, FuncType([ValType.i32()], [ValType.i32()]), down)])
    holder["f"] = inst.exports(store)["f"]
    assert holder["f"](store, 100) == 100
    assert depth["max"] == 99
    # unbounded re-entry ends cleanly: Python's recursion limit (raised in the host function
    # and re-raised here, or reported by ctypes) or the wasm stack limit, whichever comes
    # first on this thread's stack
    with pytest.raises((Trap, HostCallError, RecursionError)):
        holder["f"](store, 100_000)
    holder["f"] = inst.exports(store)["trap_at"]
    with pytest.raises(Trap) as info:
        holder["f"](store, 0)
    assert info.value.trap_code == TrapCode.UNREACHABLE_CODE_REACHED
    holder["f"] = inst.exports(store)["f"]
    assert holder["f"](store, 10) == 10  # all nesting state was restored
