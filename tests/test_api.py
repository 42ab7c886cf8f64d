"""The Python API: wasmtime-py's names and shapes, and the same answers as wasmtime-py."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
from typing import Any

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

import cwasm
from cwasm import api
from tests.runtime.wat import wat

OPS = """
(module
  (func (export "i32_ops") (param i32 i32) (result i32 i32 i32 i32 i32 i32)
    local.get 0 local.get 1 i32.add
    local.get 0 local.get 1 i32.mul
    local.get 0 local.get 1 i32.shr_s
    local.get 0 local.get 1 i32.rotl
    local.get 0 i32.clz
    local.get 0 local.get 1 i32.lt_u)
  (func (export "i32_div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func (export "i64_rem") (param i64 i64) (result i64) local.get 0 local.get 1 i64.rem_s)
  (func (export "i64_ops") (param i64 i64) (result i64 i64 i64)
    local.get 0 local.get 1 i64.sub
    local.get 0 local.get 1 i64.shl
    local.get 0 i64.popcnt)
  (func (export "f64_ops") (param f64 f64) (result f64 f64 f64 f64)
    local.get 0 local.get 1 f64.div
    local.get 0 local.get 1 f64.min
    local.get 0 f64.nearest
    local.get 0 f64.sqrt)
  (func (export "f32_conv") (param f32) (result i32 i64 f64)
    local.get 0 i32.trunc_sat_f32_s
    local.get 0 i64.trunc_sat_f32_u
    local.get 0 f64.promote_f32)
  (func (export "trunc") (param f64) (result i32) local.get 0 i32.trunc_f64_u)
)
"""

i32s = st.integers(-(2**31), 2**31 - 1)
i64s = st.integers(-(2**63), 2**63 - 1)
f64s = st.floats(allow_nan=True, allow_infinity=True)
f32s = st.floats(width=32, allow_nan=False)


class Engines:
    def __init__(self) -> None:
        self.engine = api.Engine()
        self.store = api.Store(self.engine)
        self.ours = api.Instance(self.store, api.Module(self.engine, wat(OPS)), []).exports(
            self.store
        )
        self.wt_store = wasmtime.Store()
        module = wasmtime.Module(self.wt_store.engine, wat(OPS))
        self.theirs = wasmtime.Instance(self.wt_store, module, []).exports(self.wt_store)

    def both(self, name: str, *args: Any) -> tuple[Any, Any]:
        try:
            a: Any = self.ours[name](self.store, *args)
        except api.Trap as t:
            assert t.trap_code is not None
            a = ("trap", t.trap_code.name)
        try:
            b: Any = self.theirs[name](self.wt_store, *args)
        except wasmtime.Trap as t:
            assert t.trap_code is not None
            b = ("trap", t.trap_code.name)
        return a, b


@pytest.fixture(scope="module")
def engines() -> Engines:
    return Engines()


def _same_floats(a: list[float], b: list[float]) -> bool:
    return all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True))


@settings(max_examples=150, deadline=None)
@given(a=i32s, b=i32s)
def test_i32_matches_wasmtime(engines: Engines, a: int, b: int) -> None:
    ours, theirs = engines.both("i32_ops", a, b)
    assert ours == theirs
    ours, theirs = engines.both("i32_div", a, b if b % 7 else 0)
    assert ours == theirs


@settings(max_examples=150, deadline=None)
@given(a=i64s, b=i64s)
def test_i64_matches_wasmtime(engines: Engines, a: int, b: int) -> None:
    assert engines.both("i64_ops", a, b)[0] == engines.both("i64_ops", a, b)[1]
    for divisor in (b, 0, -1):
        ours, theirs = engines.both("i64_rem", a, divisor)
        assert ours == theirs


@settings(max_examples=150, deadline=None)
@given(a=f64s, b=f64s, c=f32s)
def test_floats_match_wasmtime(engines: Engines, a: float, b: float, c: float) -> None:
    ours, theirs = engines.both("f64_ops", a, b)
    assert _same_floats(ours, theirs)
    ours, theirs = engines.both("f32_conv", c)
    assert ours[:2] == theirs[:2] and _same_floats(ours[2:], theirs[2:])
    ours, theirs = engines.both("trunc", a)
    assert ours == theirs


def test_wasmtime_py_shaped_program() -> None:
    engine = cwasm.Engine()
    store = cwasm.Store(engine)
    seen: list[int] = []
    log = cwasm.Func(store, cwasm.FuncType([cwasm.ValType.i32()], []), seen.append)
    module = cwasm.Module(
        engine,
        """(module
             (import "" "log" (func $log (param i32)))
             (memory (export "memory") 1)
             (func (export "run") (param i32) (result i32)
               local.get 0 call $log
               local.get 0 i32.const 2 i32.mul))""",
    )
    assert [str(i.type) for i in module.imports] == ["(func (param i32) (result ))"]
    instance = cwasm.Instance(store, module, [log])
    exports = instance.exports(store)
    run = exports["run"]
    assert isinstance(run, cwasm.Func)
    assert run.type(store).params == [cwasm.ValType.i32()]
    assert run.type(store).results == [cwasm.ValType.i32()]
    assert run(store, 21) == 42 and seen == [21]
    assert exports.get("missing") is None and "memory" in exports
    assert isinstance(exports["memory"], cwasm.Memory)
    with pytest.raises(KeyError):
        exports["missing"]


def test_caller_gives_host_functions_the_instance_memory() -> None:
    engine = cwasm.Engine()
    store = cwasm.Store(engine)

    def peek(caller: cwasm.Caller, addr: int) -> int:
        mem = caller["memory"]
        return mem.read(store, addr, addr + 1)[0]  # type: ignore[no-any-return]

    f = cwasm.Func(
        store,
        cwasm.FuncType([cwasm.ValType.i32()], [cwasm.ValType.i32()]),
        peek,
        access_caller=True,
    )
    module = cwasm.Module(
        engine,
        """(module (import "" "peek" (func $peek (param i32) (result i32)))
             (memory (export "memory") 1) (data (i32.const 5) "\\2a")
             (func (export "go") (result i32) i32.const 5 call $peek))""",
    )
    assert cwasm.Instance(store, module, [f]).exports(store)["go"](store) == 42


def test_config_and_opt_levels() -> None:
    config = cwasm.Config()
    config.cranelift_opt_level = "none"
    assert config.opt_level == 0
    engine = cwasm.Engine(config)
    store = cwasm.Store(engine)
    inst = cwasm.Instance(store, cwasm.Module(engine, wat(OPS)), [])
    assert inst.exports(store)["i32_div"](store, 7, 2) == 3
    with pytest.raises(cwasm.WasmtimeError):
        cwasm.Config().cranelift_opt_level = "fastest"
    bad = cwasm.Config()
    bad.opt_level = 4
    with pytest.raises(cwasm.WasmtimeError):
        cwasm.Engine(bad)


def test_invalid_wasm_raises_a_wasm_error() -> None:
    from cwasm.errors import WasmError

    engine = cwasm.Engine()
    with pytest.raises(WasmError):
        cwasm.Module(engine, b"\0asm\x01\0\0\0\x05")
    with pytest.raises(cwasm.WasmtimeError):
        cwasm.Module(engine, "(module (func (result i32)))")


def test_importing_cwasm_does_not_import_llvmlite() -> None:
    code = "import sys, cwasm; cwasm.Engine(); cwasm.Store(); print('llvmlite' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_val_boxes() -> None:
    assert api.Val.i32(0xFFFFFFFF).value == -1
    assert api.Val.i64(2**63).value == -(2**63)
    assert api.Val.f32(1.5) == 1.5
    assert struct.pack("<f", api.Val.f32(0.1).value) == struct.pack("<f", 0.1)
    assert str(api.ValType.externref()) == "externref"
    assert api.FuncType([api.ValType.i32()], []) == api.FuncType([api.ValType.i32()], [])


def test_trap_codes_have_wasmtime_py_names_and_values() -> None:

    from cwasm import TrapCode
    from cwasm.obj.traps import Trap as TrapKind

    for code in wasmtime.TrapCode:
        assert TrapCode[code.name] == code.value
    assert TrapCode.UNREACHABLE_CODE_REACHED is TrapCode.UNREACHABLE  # alias
    assert [int(c) for c in TrapCode] == [int(t) for t in TrapKind]


def test_wasmtime_py_accessors() -> None:
    from cwasm import Engine, Limits, Memory, MemoryType, Store, Val, ValType

    v = Val.i32(-3)
    assert (v.as_i32(), v.as_i64(), v.as_f64()) == (-3, None, None)
    assert Val.f64(0.5).as_f64() == 0.5 and Val.externref("x").as_externref() == "x"
    ty = MemoryType(Limits(1, 2))
    assert (ty.is_64, ty.is_shared) == (False, False)
    store = Store(Engine())
    mem = Memory(store, ty)
    mem.write(store, b"abc", 10)
    buf = mem.get_buffer_ptr(store)
    assert len(buf) == 65536 and bytes(buf[10:13]) == b"abc"
    window = mem.get_buffer_ptr(store, 2, 11)
    window[0] = ord("Z")
    assert mem.read(store, 10, 13) == b"aZc"
    with pytest.raises(cwasm.CwasmError):
        mem.get_buffer_ptr(store, 16, 65530)
    assert ValType.i32() == Val.i32(0).type


def _undocumented(name: str, obj: Any) -> list[str]:
    """``name`` and its public methods and properties (those cwasm defines) that have no
    docstring."""
    import inspect

    missing = [] if (obj.__doc__ or "").strip() else [name]
    if not inspect.isclass(obj):
        return missing
    for klass in obj.__mro__:
        if not klass.__module__.startswith("cwasm"):
            continue
        for attr, value in vars(klass).items():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            documented = isinstance(value, property) or inspect.isfunction(value)
            if not attr.startswith("_") and documented and not (value.__doc__ or "").strip():
                missing.append(f"{name}.{attr}")
    return missing


def test_every_public_name_and_method_has_a_docstring() -> None:
    assert [m for name in api.__all__ for m in _undocumented(name, getattr(api, name))] == []
