"""Bugs the differential fuzzer found in the WebAssembly 3.0 groups (threads, memory64,
exceptions, typed function references: ``fuzz.groups``), each as a small module.

Each is compared with wasmtime-py 28 where it has the feature. For exception handling
(which wasmtime-py 28 lacks) a module is compared with an equivalent one without
exceptions that wasmtime-py 28 runs, or with wasmtime-py 51 (the fuzzer's reference for
exceptions) when its venv is there.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import wasmtime

import cwasm
from fuzz.groups import wasmtime51_python
from fuzz.worker import ROOT
from tests.runtime.wat import wat

# A try_table in unreachable code, with a parameter: the translator skipped it (it was not
# one of the instructions that open a frame in dead code), so its ``end`` closed the
# enclosing block instead and the stack underflowed ("pop from empty list").
DEAD_TRY_TABLE = """
(module
  (type $p (func (param f32)))
  (func (export "f") (param i32) (result i32)
    (block
      (block
        (br_if 0 (local.get 0))
        (br 0)
        (f32.const 1)
        (BODY (type $p) CATCH
          (i32.reinterpret_f32)
          (drop))))
    (i32.const 7))
  (func (export "g") (param i32) (result i32)
    (block
      (block (result i32)
        (local.get 0)
        (return)
        (BODY (result i32) CATCH (i32.const 1))
        (drop)
        (i32.const 2))
      (return))
    (i32.const 3)))
"""


def _observe(api: Any, text: str, calls: list[tuple[str, tuple[int, ...]]]) -> list[Any]:
    engine = api.Engine(api.Config()) if api is cwasm else api.Engine()
    store = api.Store(engine)
    exports = api.Instance(store, api.Module(engine, wat(text)), []).exports(store)
    return [exports[name](store, *args) for name, args in calls]


@pytest.mark.parametrize("opt_level", [0, 2])
def test_dead_try_table_is_a_frame(opt_level: int) -> None:
    calls = [("f", (0,)), ("f", (1,)), ("g", (5,))]
    with_exceptions = DEAD_TRY_TABLE.replace("BODY", "try_table").replace("CATCH", "(catch_all 1)")
    # the same control flow without exceptions: a try_table that never catches is a block
    plain = DEAD_TRY_TABLE.replace("BODY", "block").replace("CATCH", "")
    config = cwasm.Config()
    config.opt_level = opt_level
    store = cwasm.Store(cwasm.Engine(config))
    module = cwasm.Module(store.engine, wat(with_exceptions))
    exports = cwasm.Instance(store, module, []).exports(store)
    got = [exports[name](store, *args) for name, args in calls]
    assert got == _observe(wasmtime, plain, calls)
    assert got == _observe(cwasm, plain, calls)


# An exception leaving the start function: wasmtime-py 51 fails the instantiation with a
# WasmtimeError (a call that throws raises a Trap); cwasm raised its ThrownException (a Trap)
# from Instance too.
START_THROWS = """
(module
  (tag $t (param i32))
  (global $g (export "g") (mut i32) (i32.const 0))
  (func $start (global.set $g (i32.const 5)) (throw $t (i32.const 1)))
  (func (export "f") (throw $t (i32.const 2)))
  (start $start))
"""

_PROBE = """
import json, sys, wasmtime
config = wasmtime.Config()
config.wasm_exceptions = True
engine = wasmtime.Engine(config)
store = wasmtime.Store(engine)
out = {}
try:
    wasmtime.Instance(store, wasmtime.Module(engine, sys.stdin.buffer.read()), [])
except Exception as e:
    out["instantiate"] = [type(e).__name__, str(e).rstrip().splitlines()[-1].strip()]
print(json.dumps(out))
"""


def _wasmtime51(wasm: bytes) -> dict[str, Any]:
    python = wasmtime51_python(ROOT)
    if python is None:
        pytest.skip("no wasmtime-py 51 (build/bench-venv-wasmtime)")
    proc = subprocess.run(
        [python, "-c", _PROBE], input=wasm, capture_output=True, check=True, timeout=120
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_start_function_exception_is_an_instantiation_error() -> None:
    wasm = wat(START_THROWS)
    store = cwasm.Store(cwasm.Engine())
    with pytest.raises(cwasm.WasmtimeError) as info:
        cwasm.Instance(store, cwasm.Module(store.engine, wasm), [])
    assert not isinstance(info.value, cwasm.Trap)
    assert isinstance(info.value.__cause__, cwasm.ThrownException)
    got = ["WasmtimeError", str(info.value).rstrip().splitlines()[-1].strip()]
    assert {"instantiate": got} == _wasmtime51(wasm)
