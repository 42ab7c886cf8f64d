"""Bugs the differential fuzzer found in the WebAssembly 3.0 groups (threads, memory64,
exceptions, typed function references: ``fuzz.groups``), each as a small module.

Each is compared with wasmtime-py 28 where it has the feature. For exception handling
(which wasmtime-py 28 lacks) the module is compared with an equivalent one without
exceptions that wasmtime-py 28 runs: the fuzzer's own reference there is wasmtime-py 51.
"""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

import cwasm
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
