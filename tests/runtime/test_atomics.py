"""The threads proposal's instructions against wasmtime-py (28, threads on by default):
every atomic load, store, RMW and cmpxchg, their traps, wait/notify on an unshared
memory, and ``Config.wasm_threads = False``."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import pytest

import cwasm.api as cw
from cwasm.wasm import operators as ops

wasmtime: ModuleType | None = (
    importlib.import_module("wasmtime") if importlib.util.find_spec("wasmtime") else None
)
needs_wasmtime = pytest.mark.skipif(wasmtime is None, reason="needs wasmtime-py")

_ATOMICS = [ops.OPERATORS[c] for c in sorted(ops.ATOMIC_OPS) if ops.OPERATORS[c] is not None]
_ACCESSES = [
    i
    for i in _ATOMICS
    if i is not None and ".atomic." in i.name and not i.name.startswith("memory.")
]
_TYPE_NAMES = {ops.I32: "i32", ops.I64: "i64"}


def _func(info: Any) -> str:
    params = " ".join(_TYPE_NAMES[p] for p in info.params)
    results = " ".join(_TYPE_NAMES[r] for r in info.results)
    gets = " ".join(f"(local.get {k})" for k in range(len(info.params)))
    result = f"(result {results})" if results else ""
    return f'(func (export "{info.name}") (param {params}) {result} ({info.name} {gets}))'


#: one export per atomic access, named as the instruction, over a shared memory
MODULE = (
    '(module (memory (export "mem") 1 1 shared)\n'
    + "\n".join(_func(i) for i in _ACCESSES)
    + "\n"
    + '(func (export "fence") (atomic.fence))'
    + '(func (export "wait32") (param i32 i32 i64) (result i32)'
    " (memory.atomic.wait32 offset=4 (local.get 0) (local.get 1) (local.get 2)))"
    '(func (export "notify") (param i32 i32) (result i32)'
    " (memory.atomic.notify (local.get 0) (local.get 1))))"
)

#: the memory contents each operation starts from, and the operands it is given
_INIT = bytes(range(0xE1, 0xF1))
_VALUES = {
    ops.I32: (0, 1, 0x80, 0x1234_5678, 0xF5F6_F7F8, -1),
    ops.I64: (0, 1, 0xF5F6, 0xF1F2_F3F4_F5F6_F7F8, 0x0102_0304_0506_0708, -1),
}


class _Engine:
    """One engine's instance of ``MODULE``: call an export, read and reset the memory."""

    def __init__(self, api: ModuleType) -> None:
        self.api = api
        self.store = api.Store(api.Engine())
        self.exports = api.Instance(self.store, api.Module(self.store.engine, MODULE), []).exports(
            self.store
        )
        self.mem = self.exports["mem"]

    def reset(self) -> None:
        ptr = self.mem.data_ptr()
        for k, b in enumerate(_INIT):
            ptr[8 + k] = b

    def memory(self) -> bytes:
        ptr = self.mem.data_ptr()
        return bytes(ptr[k] for k in range(32))

    def call(self, name: str, *args: Any) -> tuple[str, Any]:
        try:
            return "ok", self.exports[name](self.store, *args)
        except self.api.Trap as e:
            return "trap", _trap_text(e)


def _trap_text(e: BaseException) -> str:
    """The ``wasm trap: ...`` line of a trap's message."""
    text = str(e)
    start = text.index("wasm trap:")
    return text[start:].splitlines()[0]


@pytest.fixture(scope="module")
def engines() -> tuple[_Engine, _Engine]:
    """``MODULE`` instantiated by cwasm and by wasmtime-py (compiled once for the file)."""
    if wasmtime is None:
        pytest.skip("needs wasmtime-py")
    return _Engine(cw), _Engine(wasmtime)


def _cases(info: Any) -> list[tuple[int, ...]]:
    size = 1 << info.align
    operands = info.params[1:]
    pool = _VALUES[operands[0]] if operands else (0,)
    cases: list[tuple[int, ...]] = []
    for addr in (8, 8 + size, 8 + 2 * size, 65536 - size, 65536):
        for k, v in enumerate(pool):
            cases.append((addr, *(v, pool[(k + 3) % len(pool)])[: len(operands)]))
    if size > 1:
        cases.append((9, *[pool[-1]] * len(operands)))  # misaligned
    return cases


@needs_wasmtime
@pytest.mark.parametrize("info", _ACCESSES, ids=lambda i: i.name)
def test_atomic_access_agrees_with_wasmtime(info: Any, engines: tuple[_Engine, _Engine]) -> None:
    ours, theirs = engines
    trapped: set[str] = set()
    for args in _cases(info):
        ours.reset()
        theirs.reset()
        got, want = ours.call(info.name, *args), theirs.call(info.name, *args)
        assert got == want, (info.name, args)
        trapped.add(got[1] if got[0] == "trap" else "")
        assert ours.memory() == theirs.memory(), (info.name, args)
    misaligned = {"wasm trap: unaligned atomic"} if info.align else set()
    assert trapped == {"", "wasm trap: out of bounds memory access", *misaligned}


@needs_wasmtime
def test_compare_exchange_compares_the_wrapped_expected_value(
    engines: tuple[_Engine, _Engine],
) -> None:
    ours, theirs = engines
    for name, expected in (
        ("i32.atomic.rmw8.cmpxchg_u", 0xAB00 | 0xE1),
        ("i64.atomic.rmw16.cmpxchg_u", 0x7777_0000 | 0xE2E1),
        ("i64.atomic.rmw32.cmpxchg_u", 0x1_0000_0000 | 0xE4E3_E2E1),
    ):
        ours.reset()
        theirs.reset()
        got = ours.call(name, 8, expected, 0x55)
        assert got == theirs.call(name, 8, expected, 0x55)
        assert ours.memory() == theirs.memory()
        assert ours.memory()[8] == 0x55  # the wrapped value matched: replaced


@needs_wasmtime
def test_fence_wait_and_notify_agree_with_wasmtime(engines: tuple[_Engine, _Engine]) -> None:
    ours, theirs = engines
    for e in (ours, theirs):
        e.reset()
    for name, args in (
        ("fence", ()),
        ("wait32", (8, 0, 0)),  # offset=4: the cell at 12 holds 0xE8E7E6E5
        ("wait32", (8, 0xE8E7E6E5, 0)),
        ("wait32", (6, 0, 0)),  # misaligned
        ("wait32", (65532, 0, 0)),  # out of bounds
        ("notify", (8, 1)),
        ("notify", (9, 1)),
        ("notify", (65536, 1)),
    ):
        assert ours.call(name, *args) == theirs.call(name, *args), (name, args)


UNSHARED = """
(module (memory 1 1)
  (func (export "wait32") (param i32 i32 i64) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait64") (param i32 i64 i64) (result i32)
    (memory.atomic.wait64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32 i32) (result i32)
    (memory.atomic.notify (local.get 0) (local.get 1)))
  (func (export "add") (param i32 i32) (result i32)
    (i32.atomic.rmw.add (local.get 0) (local.get 1))))
"""


@needs_wasmtime
def test_unshared_memory_atomics_agree_with_wasmtime() -> None:
    assert wasmtime is not None
    results = []
    for api in (cw, wasmtime):
        store = api.Store(api.Engine())
        ex = api.Instance(store, api.Module(store.engine, UNSHARED), []).exports(store)
        out = []
        for name, args in (
            ("wait32", (0, 0, 0)),
            ("wait32", (0, 1, -1)),
            ("wait64", (8, 0, 0)),
            ("wait32", (2, 0, 0)),
            ("wait32", (65536, 0, 0)),
            ("notify", (0, 3)),
            ("notify", (2, 3)),
            ("add", (4, 3)),
            ("add", (4, 3)),
        ):
            try:
                out.append(("ok", ex[name](store, *args)))
            except api.Trap as e:
                out.append(("trap", _trap_text(e)))
        results.append(out)
    assert results[0] == results[1]
    assert ("trap", "wasm trap: atomic wait on non-shared memory") in results[0]


def _refusal(api: ModuleType, wat: str) -> str:
    config = api.Config()
    config.wasm_threads = False
    with pytest.raises(api.WasmtimeError) as e:
        api.Module(api.Engine(config), wat)
    return str(e.value)


@needs_wasmtime
@pytest.mark.parametrize(
    ("wat", "message"),
    [
        ("(module (memory 1 2 shared))", "threads must be enabled for shared memories"),
        (
            "(module (memory 1 2) (func (drop (i32.atomic.load (i32.const 0)))))",
            "threads support is not enabled",
        ),
        ("(module (func (atomic.fence)))", "threads support is not enabled"),
    ],
)
def test_threads_off_refuses_with_wasmparser_wording(wat: str, message: str) -> None:
    assert wasmtime is not None
    assert message in _refusal(cw, wat)
    assert message in _refusal(wasmtime, wat)


def test_threads_are_on_by_default_and_recorded_in_the_engine() -> None:
    assert cw.Config().wasm_threads is True
    assert "threads" in cw.Engine().wasm_features
    config = cw.Config()
    config.wasm_threads = False
    engine = cw.Engine(config)
    assert "threads" not in engine.wasm_features
    artifact = cw.Module(cw.Engine(), "(module (memory 1 1 shared))").serialize()
    with pytest.raises(cw.WasmtimeError, match="wasm_features"):
        cw.Module.deserialize(engine, artifact)


def test_atomic_alignment_must_be_natural() -> None:
    with pytest.raises(cw.WasmtimeError, match="atomic alignment must be natural"):
        cw.Module(
            cw.Engine(),
            "(module (memory 1 1 shared) (func (drop (i32.atomic.load align=2 (i32.const 0)))))",
        )


#: atomics on the second of two memories (multi-memory): the first is unshared and 1
#: page, the second shared and 2 pages, so indices and bounds both tell them apart
TWO_MEMORIES = """(module
  (memory $a 1)
  (memory $b (export "b") 2 2 shared)
  (func (export "rmw") (param i32 i32) (result i32)
    (i32.atomic.rmw.add $b (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i64) (i64.atomic.load $b offset=8 (local.get 0)))
  (func (export "cmpxchg") (param i32 i32 i32) (result i32)
    (i32.atomic.rmw.cmpxchg $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32) (result i32)
    (memory.atomic.notify $b (local.get 0) (i32.const 1)))
  (func (export "wait") (param i32) (result i32)
    (memory.atomic.wait32 $b (local.get 0) (i32.const 7) (i64.const 0))))"""


def _run_two_memories(rt: Any) -> list[object]:
    engine = rt.Engine()
    store = rt.Store(engine)
    exports = rt.Instance(store, rt.Module(engine, TWO_MEMORIES), []).exports(store)
    out: list[object] = []
    for name, args in (
        ("rmw", (70000, 5)),  # past the first memory's page: only the second has it
        ("rmw", (70000, 6)),
        ("load", (69992,)),
        ("cmpxchg", (70000, 11, 1)),
        ("notify", (70000,)),
        ("wait", (70000,)),  # holds 1, expected 7: "not-equal"
        ("rmw", (131072, 1)),  # past the second memory's 2 pages
        ("rmw", (70001, 1)),  # misaligned
    ):
        try:
            out.append(exports[name](store, *args))
        except rt.Trap as trap:
            # wasmtime may follow the message with a Rust backtrace: the trap line only
            message = [
                line.split("wasm trap: ")[1]
                for line in str(trap).splitlines()
                if "wasm trap: " in line
            ]
            out.append((trap.trap_code.name, message))
    return out


@needs_wasmtime
def test_atomics_address_their_own_memory() -> None:
    assert wasmtime is not None
    ours = _run_two_memories(cw)
    assert ours == _run_two_memories(wasmtime)
    assert ours[:6] == [0, 5, 11, 11, 0, 1]
