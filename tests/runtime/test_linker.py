"""Linker: define / define_func / define_instance / define_module / define_wasi, name
resolution, shadowing, get / get_default, and the errors for missing or mismatched imports."""

from __future__ import annotations

from typing import Any

import pytest

import cwasm
from cwasm.api import (
    Caller,
    Engine,
    ExitTrap,
    Func,
    FuncType,
    Global,
    GlobalType,
    Limits,
    Linker,
    LinkError,
    Memory,
    MemoryType,
    Module,
    Store,
    ValType,
    WasiConfig,
)
from tests.runtime.wat import wat

I32 = ValType.i32()

PROVIDER = """
(module
  (memory (export "mem") 1)
  (global (export "g") (mut i32) (i32.const 40))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
"""

CONSUMER = """
(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "g" (global $g (mut i32)))
  (import "env" "mem" (memory 1))
  (func (export "run") (param i32) (result i32)
    (i32.store (i32.const 0) (local.get 0))
    (call $add (global.get $g) (i32.load (i32.const 0)))))
"""

HOST_USER = """
(module
  (import "host" "twice" (func $twice (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "\\2a")
  (func (export "run") (param i32) (result i32) (call $twice (local.get 0))))
"""


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="module")
def modules(engine: Engine) -> dict[str, Module]:
    return {
        "provider": Module(engine, wat(PROVIDER)),
        "consumer": Module(engine, wat(CONSUMER)),
        "host_user": Module(engine, wat(HOST_USER)),
    }


def test_linker_is_exported_by_cwasm() -> None:
    assert cwasm.Linker is Linker
    assert cwasm.WasiConfig is WasiConfig


def test_define_instance_links_another_instances_exports(
    engine: Engine, modules: dict[str, Module]
) -> None:
    store = Store(engine)
    linker = Linker(engine)
    provider = linker.instantiate(store, modules["provider"])
    linker.define_instance(store, "env", provider)
    consumer = linker.instantiate(store, modules["consumer"])
    assert consumer.exports(store)["run"](store, 2) == 42
    # the consumer wrote into the provider's memory: it is shared, not copied
    mem = provider.exports(store)["mem"]
    assert isinstance(mem, Memory)
    assert mem.read(store, 0, 4) == bytearray(b"\x02\0\0\0")
    assert linker.get(store, "env", "add") is provider.exports(store)["add"]


def test_define_items_created_in_python(engine: Engine, modules: dict[str, Module]) -> None:
    store = Store(engine)
    linker = Linker(engine)
    memory = Memory(store, MemoryType(Limits(1, None)))
    glob = Global(store, GlobalType(I32, True), 100)
    add = Func(store, FuncType([I32, I32], [I32]), lambda a, b: a * 1000 + b)
    linker.define(store, "env", "mem", memory)
    linker.define(store, "env", "g", glob)
    linker.define(store, "env", "add", add)
    consumer = linker.instantiate(store, modules["consumer"])
    assert consumer.exports(store)["run"](store, 7) == 100_007
    assert memory.read(store, 0, 1) == bytearray(b"\x07")


def test_define_func_with_and_without_caller(engine: Engine, modules: dict[str, Module]) -> None:
    seen: list[Any] = []

    def twice(caller: Caller, x: int) -> int:
        mem = caller["memory"]
        seen.append(mem.read(caller.store, 8, 9))
        return 2 * x

    linker = Linker(engine)
    linker.define_func("host", "twice", FuncType([I32], [I32]), twice, access_caller=True)
    store = Store(engine)
    inst = linker.instantiate(store, modules["host_user"])
    assert inst.exports(store)["run"](store, 21) == 42
    assert seen == [bytearray(b"\x2a")]

    plain = Linker(engine)
    plain.define_func("host", "twice", FuncType([I32], [I32]), lambda x: x + x)
    store2 = Store(engine)
    assert plain.instantiate(store2, modules["host_user"]).exports(store2)["run"](store2, 5) == 10


def test_define_func_makes_one_func_per_store(engine: Engine) -> None:
    linker = Linker(engine)
    linker.define_func("host", "f", FuncType([], [I32]), lambda: 1)
    a, b = Store(engine), Store(engine)
    fa = linker.get(a, "host", "f")
    assert isinstance(fa, Func)
    assert linker.get(a, "host", "f") is fa
    fb = linker.get(b, "host", "f")
    assert fb is not fa and fb.store is b
    assert fa(a) == 1 and fb(b) == 1


def test_unknown_import_names_module_and_name(engine: Engine, modules: dict[str, Module]) -> None:
    store = Store(engine)
    with pytest.raises(LinkError, match=r"unknown import: `host::twice` has not been defined"):
        Linker(engine).instantiate(store, modules["host_user"])


def test_incompatible_import_types(engine: Engine, modules: dict[str, Module]) -> None:
    store = Store(engine)
    linker = Linker(engine)
    linker.define_func("host", "twice", FuncType([I32, I32], [I32]), lambda a, b: a)
    with pytest.raises(LinkError, match=r"incompatible import type for `host::twice`"):
        linker.instantiate(store, modules["host_user"])

    wrong_kind = Linker(engine)
    wrong_kind.define(store, "host", "twice", Memory(store, MemoryType(Limits(1))))
    with pytest.raises(LinkError, match=r"incompatible import type for `host::twice`"):
        wrong_kind.instantiate(store, modules["host_user"])


def test_shadowing(engine: Engine, modules: dict[str, Module]) -> None:
    linker = Linker(engine)
    ty = FuncType([I32], [I32])
    linker.define_func("host", "twice", ty, lambda x: x)
    with pytest.raises(LinkError, match=r"import of `host::twice` defined twice"):
        linker.define_func("host", "twice", ty, lambda x: 3 * x)
    assert linker.allow_shadowing is False
    linker.allow_shadowing = True
    linker.define_func("host", "twice", ty, lambda x: 3 * x)
    store = Store(engine)
    assert linker.instantiate(store, modules["host_user"]).exports(store)["run"](store, 5) == 15


def test_items_of_another_store_are_rejected(engine: Engine, modules: dict[str, Module]) -> None:
    a, b = Store(engine), Store(engine)
    linker = Linker(engine)
    provider = linker.instantiate(a, modules["provider"])
    with pytest.raises(LinkError):
        linker.define_instance(b, "env", provider)
    linker.define_instance(a, "env", provider)
    with pytest.raises(LinkError, match="another store"):
        linker.instantiate(b, modules["consumer"])


def test_module_of_another_engine_is_rejected(modules: dict[str, Module]) -> None:
    other = Engine()
    with pytest.raises(LinkError, match="different engines"):
        Linker(other).instantiate(Store(other), modules["provider"])


def test_get_unknown_item(engine: Engine) -> None:
    with pytest.raises(LinkError, match=r"`nope::x`"):
        Linker(engine).get(Store(engine), "nope", "x")


def test_get_default(engine: Engine) -> None:
    store = Store(engine)
    linker = Linker(engine)
    noop = linker.get_default(store, "missing")
    assert noop(store) is None
    calls: list[str] = []
    linker.define_func("m", "_start", FuncType([], []), lambda: calls.append("start"))
    linker.get_default(store, "m")(store)
    linker.define_func("m", "", FuncType([], []), lambda: calls.append("default"))
    linker.get_default(store, "m")(store)
    assert calls == ["start", "default"]


REACTOR = """
(module
  (global $n (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $n (i32.const 100)))
  (func (export "next") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (global.get $n)))
"""

COMMAND = """
(module
  (global $n (mut i32) (i32.const 0))
  (func (export "_start"))
  (func (export "next") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (global.get $n)))
"""


def test_define_module_reactor_and_command(engine: Engine) -> None:
    store = Store(engine)
    linker = Linker(engine)
    linker.define_module(store, "reactor", Module(engine, wat(REACTOR)))
    next_r = linker.get(store, "reactor", "next")
    assert [next_r(store), next_r(store)] == [101, 102]  # one instance, initialised once
    linker.define_module(store, "command", Module(engine, wat(COMMAND)))
    next_c = linker.get(store, "command", "next")
    assert [next_c(store), next_c(store)] == [1, 1]  # a fresh instance per call


EXIT_IN_NESTED_CALL = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "host" "call_back" (func $call_back))
  (memory (export "memory") 1)
  (func (export "leave") (param i32) (call $exit (local.get 0)))
  (func (export "_start") (call $call_back) unreachable))
"""


def test_proc_exit_crosses_compiled_and_host_frames(engine: Engine) -> None:
    store = Store(engine)
    store.set_wasi(WasiConfig())
    linker = Linker(engine)
    linker.define_wasi()
    holder: dict[str, Any] = {}
    # _start -> host call_back -> wasm leave -> proc_exit: the exit must come out of all of them
    linker.define_func(
        "host",
        "call_back",
        FuncType([], []),
        lambda: holder["inst"].exports(store)["leave"](store, 5),
    )
    inst = linker.instantiate(store, Module(engine, wat(EXIT_IN_NESTED_CALL)))
    holder["inst"] = inst
    with pytest.raises(ExitTrap) as info:
        inst.exports(store)["_start"](store)
    assert info.value.code == 5
    # the store is still usable afterwards
    with pytest.raises(ExitTrap) as again:
        inst.exports(store)["leave"](store, 0)
    assert again.value.code == 0
